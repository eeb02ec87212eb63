"""The common interface of every link scheme, and the base class that implements it from herald classes.

A scheduler (the network layer) needs the same few things from any link, whatever physics makes its
pairs: how often it tries, how likely a try heralds, what state a herald leaves, and a bulk sampler.
:class:`Link` names them; :class:`HeraldedLink` derives them all from a scheme's herald classes and timing.

Multiplexing. A link has ``modes`` M ≥ 1 (spatial, temporal or frequency modes): each attempt round, M
independent modes each herald with the scheme's per-mode probability p (:attr:`mode_success_probability`),
all within one attempt period (the round's timing is the single mode's). The nodes hold one memory qubit per
link attempt, so a round that heralds stores *one* pair, the first mode that heralded (Collins et al.,
PRL 98, 060502 (2007); Sinclair et al., PRL 113, 053603 (2014)): the round heralds with
1 − (1 − p)^M (:attr:`success_probability`), and its pair is distributed as one mode's. The M·p pairs a
round would yield with M memories per node are reported (:attr:`mean_heralded_modes_per_round`) but not
stored. Rounds until a herald stay geometric, drawn in bulk as for one mode; M = 1 is the unmultiplexed link,
bit for bit. Per-mode effects of many modes (a shared herald detector's dead time, the later time bins'
extra memory wait) are left out.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

from qkdnet._display import html_table, significant
from qkdnet.hardware import AtomCavityNode, Fiber, Preset, noise
from qkdnet.network import _sampling
from qkdnet.network._sampling import HeraldClass, HeraldedPairs, Timing
from qkdnet.quantum import BellDiagonal
from qkdnet.units import PS_PER_S


@runtime_checkable
class Link(Protocol):
    """What every link offers a scheduler: rates, the delivered state, and bulk sampling of heralds."""

    @property
    def attempt_rate_hz(self) -> float: ...

    @property
    def length_km(self) -> float: ...

    @property
    def success_probability(self) -> float: ...

    @property
    def expected_pair_rate_hz(self) -> float: ...

    @property
    def expected_fidelity(self) -> float: ...

    def expected_weights(self, measurement_delay_s: float | None = None) -> BellDiagonal: ...

    def with_length(self, length_km: float) -> Self: ...

    def generate(
        self,
        n_pairs: int,
        *,
        rng: np.random.Generator,
        start_ps: int = 0,
        measurement_delay_s: ArrayLike | None = None,
    ) -> HeraldedPairs: ...


class HeraldedLink:
    """Everything a link reports, computed from :meth:`_classes` and :meth:`_timing` of a concrete scheme."""

    __slots__ = ()
    scheme: str = ""
    attempt_rate_hz: float
    measurement_delay_s: float
    modes: int
    """Independent modes tried in parallel each attempt round (1: no multiplexing; see the module docstring)."""
    preset: Preset | None

    if TYPE_CHECKING:  # a field in some schemes, a property in others; no class attribute at run time

        @property
        def fiber(self) -> Fiber:
            """The fiber between the two nodes (for two-photon schemes: both arms together)."""

    # ---- what a scheme defines --------------------------------------------------------------------
    def _mode_classes(self) -> list[HeraldClass]:
        """The herald classes of one mode's attempt (the scheme's physics)."""
        raise NotImplementedError

    def _timing(self) -> Timing:
        raise NotImplementedError

    def _nodes(self) -> tuple[AtomCavityNode, AtomCavityNode]:
        raise NotImplementedError

    def with_length(self, length_km: float) -> Self:
        """The same link over a fiber of another length."""
        raise NotImplementedError

    def _classes(self) -> list[HeraldClass]:
        """The herald classes of one attempt round: the scheme's per-mode classes over :attr:`modes` modes."""
        return _sampling.multiplexed_classes(self._mode_classes(), self.modes)

    # ---- description ------------------------------------------------------------------------------
    @property
    def length_km(self) -> float:
        """Fiber length between the nodes."""
        return self.fiber.length_km

    @property
    def description(self) -> str:
        """One line naming the hardware: the preset's title, or the nodes and fiber."""
        if self.preset is None:
            a, b = self._nodes()
            return f"{a.name} → {b.name} over {self.fiber.length_km:g} km of fiber ({self.scheme})"
        published = self.preset.published_length_km
        if published is not None and not math.isclose(published, self.fiber.length_km):
            here = f"its hardware over {self.fiber.length_km:g} km"
            return f"{self.preset.title}; {here} (published: {published:g} km)"
        return self.preset.title

    def _repr_html_(self) -> str:
        """What the link delivers, as ``qkdnet link`` prints it (Jupyter)."""
        rows: list[tuple[str, object]] = [
            ("scheme", f"{self.scheme}, {self.length_km:g} km of fiber"),
            *([("modes", f"{self.modes} per round")] if self.modes > 1 else []),
            ("attempt rate", f"{significant(PS_PER_S / self.attempt_period_ps)} /s"),
            ("success per try", significant(self.success_probability)),
            ("heralded pairs", f"{significant(self.expected_pair_rate_hz)} /s"),
            ("pair fidelity", f"{self.expected_fidelity:.4f}"),
            ("expected QBER", f"{100 * self.expected_qber:.2f} %"),
            ("CHSH S", f"{self.expected_chsh:.3f}"),
            ("secret key rate", f"{significant(self.expected_key_rate_bps)} bit/s (asymptotic BBM92)"),
        ]
        return html_table(self.description, rows)

    def provenance_lines(self) -> list[str]:
        """Where the numbers come from, one short line each, every estimate marked ``(estimate)``."""
        if self.preset is None:
            return ["custom link: every number set by the caller (no published source)"]
        return self.preset.provenance_lines()

    # ---- timing -----------------------------------------------------------------------------------
    @property
    def attempt_period_ps(self) -> int:
        """Time between attempts: max(1/attempt_rate, time until both nodes know the outcome), ≥ 1 ps."""
        return self._timing().period_ps

    @property
    def mean_time_between_heralds_s(self) -> float:
        """Expected time between heralds: P/p + (max(P, ready + d) − P); infinite if p = 0."""
        return _sampling.mean_time_between_heralds_s(self.success_probability, self._timing(), self.measurement_delay_s)

    @property
    def expected_pair_rate_hz(self) -> float:
        """Heralded pairs per second, in the long run."""
        return 1.0 / self.mean_time_between_heralds_s

    def wait_times_s(self, measurement_delay_s: float | None = None) -> tuple[float, float]:
        """How long atoms A and B hold the pair before it is measured."""
        d = self.measurement_delay_s if measurement_delay_s is None else measurement_delay_s
        t = self._timing()
        return t.wait_a_ps / PS_PER_S + d, t.wait_b_ps / PS_PER_S + d

    # ---- probabilities and states -----------------------------------------------------------------
    @property
    def success_probability(self) -> float:
        """Probability that an attempt round heralds (true or false): 1 − (1 − p)^M over M modes."""
        return _sampling.mean_weights(self._classes())[0]

    @property
    def mode_success_probability(self) -> float:
        """Probability p that one mode of an attempt round heralds (the success probability when M = 1)."""
        return _sampling.mean_weights(self._mode_classes())[0]

    @property
    def mean_heralded_modes_per_round(self) -> float:
        """Expected heralding modes per round, M·p: the pairs per round with M memories (one is stored here)."""
        return self.modes * self.mode_success_probability

    @property
    def true_herald_probability(self) -> float:
        """Probability that an attempt heralds a true pair."""
        return sum(c.probability for c in self._classes() if c.true)

    @property
    def false_herald_fraction(self) -> float:
        """Fraction of heralds that are false (0 if the link never heralds)."""
        p = self.success_probability
        return 0.0 if p == 0.0 else (p - self.true_herald_probability) / p

    def expected_weights(self, measurement_delay_s: float | None = None) -> BellDiagonal:
        """Mean Bell-diagonal state of a herald at measurement (all herald classes in their proportions)."""
        _, w = _sampling.mean_weights(self._classes())
        wait_a, wait_b = self.wait_times_s(measurement_delay_s)
        a, b = self._nodes()
        lam = _sampling.memory_lambdas(a, b, wait_a, wait_b)
        return BellDiagonal._unchecked(noise.apply(BellDiagonal._unchecked(w), lam).weights)

    @property
    def expected_fidelity(self) -> float:
        """Mean fidelity with Φ+ of a heralded pair at measurement."""
        return float(self.expected_weights().fidelity)

    @property
    def expected_qber_z(self) -> float:
        """Error rate of the heralded pairs in the Z (0°) basis: w_Ψ+ + w_Ψ−."""
        return _sampling.qber_chsh(self.expected_weights().weights)[0]

    @property
    def expected_qber_x(self) -> float:
        """Error rate in the X (45°) basis: w_Φ− + w_Ψ−."""
        return _sampling.qber_chsh(self.expected_weights().weights)[1]

    @property
    def expected_qber(self) -> float:
        """Mean error rate of BBM92's two key bases, (Q_Z + Q_X)/2 (what a BBM92 run reports)."""
        q_z, q_x, _ = _sampling.qber_chsh(self.expected_weights().weights)
        return (q_z + q_x) / 2.0

    @property
    def expected_chsh(self) -> float:
        """CHSH value at the E91 angles (X–Z plane): 2√2(1 − Q_Z − Q_X)."""
        return _sampling.qber_chsh(self.expected_weights().weights)[2]

    @property
    def expected_key_rate_bps(self) -> float:
        """Asymptotic BBM92 key rate: pairs/s × 1/2 (basis sifting) × (1 − h(Q_Z) − h(Q_X)), trusted devices."""
        q_z, q_x, _ = _sampling.qber_chsh(self.expected_weights().weights)
        rate = self.expected_pair_rate_hz
        return 0.0 if rate == 0.0 else 0.5 * rate * _sampling.bbm92_key_fraction(q_z, q_x)

    # ---- sampling ---------------------------------------------------------------------------------
    @property
    def max_pairs_per_block(self) -> int:
        """Pairs one :meth:`generate` call can safely count: a quarter of int64 in attempts, and in restart time."""
        p, _ = _sampling.mean_weights(self._classes())
        timing = self._timing()
        restart_ps = max(timing.period_ps, timing.ready_ps + round(self.measurement_delay_s * PS_PER_S))
        if not p > 0.0:
            return 1
        quarter = _sampling.INT64_SAFE / 4.0
        return max(1, min(1 << 40, int(quarter * min(p, 1.0)), int(quarter / restart_ps)))

    def generate(
        self,
        n_pairs: int,
        *,
        rng: np.random.Generator,
        start_ps: int = 0,
        measurement_delay_s: ArrayLike | None = None,
    ) -> HeraldedPairs:
        """Sample the next ``n_pairs`` heralds: their times, attempt counts and states, all at once.

        The first attempt is at ``start_ps``; pass ``previous.next_start_ps`` to continue a stream.
        ``measurement_delay_s`` (scalar or one per pair) overrides the link's measurement delay.
        """
        a, b = self._nodes()
        return _sampling.sample(
            n_pairs,
            rng=rng,
            start_ps=start_ps,
            measurement_delay_s=self.measurement_delay_s if measurement_delay_s is None else measurement_delay_s,
            classes=self._classes(),
            timing=self._timing(),
            node_a=a,
            node_b=b,
        )


__all__ = ["HeraldClass", "HeraldedLink", "HeraldedPairs", "Link", "Timing"]
