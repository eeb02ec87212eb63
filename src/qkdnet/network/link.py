"""Links where one atom's photon travels to the other atom: remote entanglement and direct state transfer.

:class:`TwoNodeLink`, remote entanglement by emission and absorption (Ritter et al., Nature 484, 195 (2012)),
with an event-ready herald:

1. Each attempt, atom A emits a photon entangled with it; the photon crosses the fiber and atom B
   absorbs it; a click at B heralds success. p_true = η_gen(A) · T_fiber · η_abs(B) · η_det, where η_det
   includes the fraction of the photon inside the detection window (and a dead-time live fraction).
2. A dark count in the herald window fakes a success: p_herald = p_true + p_dark·(1 − p_true), and a
   herald is false (its pair maximally mixed) with probability p_dark·(1 − p_true)/p_herald.
3. A true pair is Φ+ after depolarizing steps: emission V_emit(A), the fiber's polarization noise,
   absorption V_abs(B) (all Pauli channels, composed in :mod:`qkdnet.hardware.noise`).
4. A single atom cannot retry before it learns the outcome: attempts start every P = max(1/rate, 2τ)
   (τ the fiber delay), and after a success the next one waits until the pair is measured.
5. Memories decohere while they wait for measurement: atom A from its emission, for the herald's round
   trip 2τ plus the measurement delay d; atom B from absorption, for τ + d. Readout errors come last.
Attempts per herald are geometric(p_herald) and drawn in bulk, never one failed attempt at a time.

:class:`StateTransferLink`, the seed's "read a qubit off a photon, store it, write it out": atom A's
qubit is mapped onto a photon (V_map), sent, and stored in atom B (V_abs). Each delivered row is the
Choi state of that transfer (what the transfer does to one half of Φ+), so its Φ+ weight is the
process fidelity F_p and the average state fidelity is (2F_p + 1)/3.

>>> import numpy as np
>>> from qkdnet.network import link_from_preset
>>> link = link_from_preset("ritter2012")
>>> pairs = link.generate(1000, rng=np.random.default_rng(1))
>>> pairs.states.weights.shape, pairs.herald_times_ps.dtype.name
((1000, 4), 'int64')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import AtomCavityNode, Detector, Fiber, Preset, noise
from qkdnet.network._sampling import HeraldClass, HeraldedPairs, Timing, check_delay, check_modes, check_rate
from qkdnet.network.base import HeraldedLink
from qkdnet.units import PS_PER_S

_MIXED = np.full(4, 0.25)
_MIXED.setflags(write=False)


def _check_types(owner: str, fields: dict[str, tuple[object, type]]) -> None:
    for name, (value, cls) in fields.items():
        if not isinstance(value, cls):
            raise InvalidParameter(f"{owner}.{name} must be a {cls.__name__}")


def _period_ps(attempt_rate_hz: float, busy_ps: int) -> int:
    """Time between attempts: max(1/rate, the time a node is busy with one attempt), at least 1 ps."""
    return max(round(PS_PER_S / attempt_rate_hz), busy_ps, 1)


def _herald_click(
    detector: Detector, photon_probability: float, photon_decay_time_s: float, period_ps: int
) -> tuple[float, float]:
    """(p_true, p_false) of one herald detector: a photon arriving with ``photon_probability`` or a dark count."""
    p_true = photon_probability * detector.detection_probability(photon_decay_time_s)
    p_dark = detector.dark_count_probability
    p_false = p_dark * (1.0 - p_true)
    if detector.dead_time_s > 0.0:
        live = detector.live_fraction((p_true + p_false) * PS_PER_S / period_ps)
        p_true, p_false = live * p_true, live * p_false
    return p_true, p_false


@dataclass(frozen=True, slots=True)
class TwoNodeLink(HeraldedLink):
    """Emitter → fiber → receiver, heralded by ``detector`` at the receiver (see the module docstring)."""

    emitter: AtomCavityNode
    receiver: AtomCavityNode
    fiber: Fiber
    detector: Detector
    attempt_rate_hz: float
    measurement_delay_s: float = 0.0
    preset: Preset | None = field(default=None, compare=False, repr=False)
    """The preset the link was built from, if any: its provenance, for reports (not compared)."""
    modes: int = 1
    """Independent modes per attempt round (multiplexing, see :mod:`qkdnet.network.base`); 1: none."""

    scheme = "emission-absorption"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _check_types(
            owner,
            {
                "emitter": (self.emitter, AtomCavityNode),
                "receiver": (self.receiver, AtomCavityNode),
                "fiber": (self.fiber, Fiber),
                "detector": (self.detector, Detector),
            },
        )
        if self.preset is not None and not isinstance(self.preset, Preset):
            raise InvalidParameter(f"{owner}.preset must be a Preset or None")
        object.__setattr__(self, "attempt_rate_hz", check_rate(self.attempt_rate_hz, f"{owner}.attempt_rate_hz"))
        object.__setattr__(
            self, "measurement_delay_s", check_delay(self.measurement_delay_s, f"{owner}.measurement_delay_s")
        )
        object.__setattr__(self, "modes", check_modes(self.modes, f"{owner}.modes"))

    @classmethod
    def from_preset(cls, preset: Preset, *, measurement_delay_s: float = 0.0, modes: int = 1) -> TwoNodeLink:
        """The link a hardware preset describes, with ``modes`` modes per attempt round."""
        return cls(
            emitter=preset.emitter,
            receiver=preset.receiver,
            fiber=preset.fiber,
            detector=preset.detector,
            attempt_rate_hz=preset.attempt_rate_hz,
            measurement_delay_s=measurement_delay_s,
            preset=preset,
            modes=modes,
        )

    def with_length(self, length_km: float) -> TwoNodeLink:
        """The same link over a fiber of another length."""
        preset = None if self.preset is None else self.preset.with_length(length_km)
        return dataclasses.replace(self, fiber=self.fiber.with_length(length_km), preset=preset)

    def _nodes(self) -> tuple[AtomCavityNode, AtomCavityNode]:
        return self.emitter, self.receiver

    @property
    def herald_round_trip_ps(self) -> int:
        """Photon to B plus the herald's way back to A: 2τ."""
        return 2 * self.fiber.delay_ps

    def _timing(self) -> Timing:
        tau = self.fiber.delay_ps
        period = _period_ps(self.attempt_rate_hz, 2 * tau)
        return Timing(period_ps=period, herald_ps=tau, ready_ps=2 * tau, wait_a_ps=2 * tau, wait_b_ps=tau)

    @property
    def pair_visibility(self) -> float:
        """Werner visibility of a true pair before memory and fiber noise: V_emit(A) · V_abs(B)."""
        return self.emitter.atom_photon_visibility * self.receiver.photon_absorption_visibility

    def _true_lambdas(self) -> np.ndarray:
        return noise.compose(
            noise.depolarizing(self.emitter.atom_photon_visibility),
            self.fiber.noise_lambdas,
            noise.depolarizing(self.receiver.photon_absorption_visibility),
        )

    def _mode_classes(self) -> list[HeraldClass]:
        photon = (
            self.emitter.photon_generation_efficiency
            * self.fiber.transmission
            * self.receiver.photon_absorption_efficiency
        )
        p_true, p_false = _herald_click(
            self.detector, photon, self.emitter.photon_decay_time_s, self._timing().period_ps
        )
        return [
            HeraldClass(p_true, noise.bell_weights(self._true_lambdas()), true=True),
            HeraldClass(p_false, _MIXED, true=False),
        ]


@dataclass(frozen=True, slots=True)
class StateTransferLink(TwoNodeLink):
    """Direct state transfer atom A → photon → atom B; rows are the transfer's Choi states.

    A's qubit is written onto the photon at once (no storage at A), and A may start the next transfer
    right away: attempts every 1/rate. B stores the qubit from absorption until read out after d.
    """

    scheme = "state-transfer"

    @classmethod
    def from_preset(cls, preset: Preset, *, measurement_delay_s: float = 0.0, modes: int = 1) -> StateTransferLink:
        """The state-transfer link of a hardware preset (its emitter sends, its receiver stores)."""
        return cls(
            emitter=preset.emitter,
            receiver=preset.receiver,
            fiber=preset.fiber,
            detector=preset.detector,
            attempt_rate_hz=preset.attempt_rate_hz,
            measurement_delay_s=measurement_delay_s,
            preset=preset,
            modes=modes,
        )

    def _timing(self) -> Timing:
        tau = self.fiber.delay_ps
        return Timing(
            period_ps=_period_ps(self.attempt_rate_hz, 0), herald_ps=tau, ready_ps=tau, wait_a_ps=0, wait_b_ps=0
        )

    def _nodes(self) -> tuple[AtomCavityNode, AtomCavityNode]:
        # The Choi state's first half is a noiseless reference, not a stored atom.
        return AtomCavityNode.perfect(f"{self.emitter.name} (input)"), self.receiver

    @property
    def efficiency(self) -> float:
        """Probability that a transfer attempt succeeds (the photon is stored and heralded)."""
        return self.true_herald_probability

    @property
    def process_fidelity(self) -> float:
        """Process (entanglement) fidelity of the transfer channel: the Choi state's Φ+ weight."""
        return self.expected_fidelity

    @property
    def average_fidelity(self) -> float:
        """Average fidelity over input states: (2F_p + 1)/3 (Horodecki et al., PRA 60, 1888 (1999))."""
        return (2.0 * self.process_fidelity + 1.0) / 3.0


__all__ = ["HeraldedPairs", "StateTransferLink", "TwoNodeLink"]
