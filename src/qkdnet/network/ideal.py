"""An idealised heralded link: a fixed success probability per attempt and Werner pairs (what-ifs, tests, benchmarks).

The herald comes from a station in the middle of the fiber (as in two-photon heralding): it clicks half
a fiber delay τ/2 after the attempt and reaches both nodes after τ; each node has held its qubit for τ
by then; attempts come every max(1/rate, τ), because a node must learn the outcome before it retries.
Memory noise is not part of the link: the network applies each node's own memory for the actual wait.

>>> from qkdnet.hardware import Fiber
>>> link = IdealLink(herald_probability=0.1, visibility=0.9, attempt_rate_hz=1e4, fiber=Fiber(10.0, 0.2))
>>> round(link.expected_fidelity, 4), link.success_probability
(0.925, 0.1)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from qkdnet.checks import probability
from qkdnet.errors import InvalidParameter
from qkdnet.hardware import AtomCavityNode, Fiber, Preset
from qkdnet.network._sampling import HeraldClass, Timing, check_delay, check_modes, check_rate
from qkdnet.network.base import HeraldedLink
from qkdnet.network.link import _period_ps
from qkdnet.quantum import BellDiagonal

_PERFECT = AtomCavityNode.perfect("ideal")


@dataclass(frozen=True, slots=True)
class IdealLink(HeraldedLink):
    """Each attempt heralds with ``herald_probability`` a Werner pair of ``visibility`` (see the module docstring)."""

    herald_probability: float
    visibility: float
    attempt_rate_hz: float
    fiber: Fiber
    measurement_delay_s: float = 0.0
    preset: Preset | None = field(default=None, compare=False, repr=False)
    modes: int = 1
    """Independent modes per attempt round (multiplexing, see :mod:`qkdnet.network.base`); 1: none."""

    scheme = "two-photon"

    def __post_init__(self) -> None:
        p = probability(self.herald_probability, "IdealLink.herald_probability")
        object.__setattr__(self, "herald_probability", p)
        object.__setattr__(self, "visibility", probability(self.visibility, "IdealLink.visibility"))
        object.__setattr__(self, "attempt_rate_hz", check_rate(self.attempt_rate_hz, "IdealLink.attempt_rate_hz"))
        object.__setattr__(
            self, "measurement_delay_s", check_delay(self.measurement_delay_s, "IdealLink.measurement_delay_s")
        )
        object.__setattr__(self, "modes", check_modes(self.modes, "IdealLink.modes"))
        if not isinstance(self.fiber, Fiber):
            raise InvalidParameter("IdealLink.fiber must be a Fiber")

    def with_length(self, length_km: float) -> IdealLink:
        """The same link over another fiber length (the success probability stays as given)."""
        return dataclasses.replace(self, fiber=self.fiber.with_length(length_km))

    def _nodes(self) -> tuple[AtomCavityNode, AtomCavityNode]:
        return _PERFECT, _PERFECT

    def _timing(self) -> Timing:
        tau = self.fiber.delay_ps
        return Timing(
            period_ps=_period_ps(self.attempt_rate_hz, tau),
            herald_ps=tau // 2,
            ready_ps=tau,
            wait_a_ps=tau,
            wait_b_ps=tau,
        )

    def _mode_classes(self) -> list[HeraldClass]:
        return [HeraldClass(self.herald_probability, BellDiagonal.werner(self.visibility).weights, true=True)]


__all__ = ["IdealLink"]
