"""Heralded entanglement between two atom-cavity nodes over one fiber, sampled in bulk.

Model (Ritter et al. 2012's emit → absorb scheme, with an event-ready herald):
1. Each attempt, atom A emits a photon entangled with it; the photon crosses the fiber and atom B
   absorbs it; a click at B heralds success. p_true = η_gen(A) · T_fiber · η_abs(B) · η_det.
2. A dark count in the herald window fakes a success: p_herald = p_true + p_dark·(1 − p_true), and a
   herald is false (its pair maximally mixed) with probability p_dark·(1 − p_true)/p_herald.
3. A true pair is Φ+ after two depolarizing steps: Werner of visibility V = V_emit(A) · V_abs(B).
4. A single atom cannot retry before it learns the outcome: attempts start every P = max(1/rate, 2τ)
   (τ the fiber delay), and after a success the next one waits until the pair is measured.
5. Memories dephase (e^(−t/T2)) while they wait for measurement: atom A from its emission, for the
   herald's round trip 2τ plus the measurement delay d; atom B from absorption, for τ + d.
Attempts per herald are geometric(p_herald) and drawn in bulk, never one failed attempt at a time.

>>> import numpy as np
>>> link = link_from_preset("ritter2012")
>>> pairs = link.generate(1000, rng=np.random.default_rng(1))
>>> pairs.states.weights.shape, pairs.herald_times_ps.dtype.name
((1000, 4), 'int64')
>>> round(link.expected_fidelity, 3)
0.85
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import AtomCavityNode, Detector, Fiber, Preset, get_preset
from qkdnet.quantum import BellDiagonal, dephase
from qkdnet.units import PS_PER_S

_INT64_SAFE = float(2**62)  # herald times stay well inside int64 picoseconds (~53 days)


_A = TypeVar("_A", bound=np.ndarray)


def _readonly(a: _A) -> _A:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, slots=True)
class HeraldedPairs:
    """A batch of heralded pairs, one row per pair (arrays are read-only).

    ``states`` is each pair's state when it is measured (after all noise); ``herald_times_ps`` the
    click at node B; ``ready_times_ps`` when node A has the herald too. ``false_herald`` is simulator
    truth (dark-count heralds): observers may read it, protocols must not.
    """

    herald_times_ps: NDArray[np.int64]
    ready_times_ps: NDArray[np.int64]
    states: BellDiagonal
    attempts: int
    attempts_per_pair: NDArray[np.int64]
    wait_a_s: NDArray[np.float64]
    wait_b_s: NDArray[np.float64]
    false_herald: NDArray[np.bool_]
    next_start_ps: int

    def __post_init__(self) -> None:
        n = len(self.herald_times_ps)
        arrays = (
            self.ready_times_ps,
            self.attempts_per_pair,
            self.wait_a_s,
            self.wait_b_s,
            self.false_herald,
        )
        if any(len(a) != n for a in arrays) or (n and (self.states.shared or len(self.states) != n)):
            raise InvalidParameter("HeraldedPairs arrays must all have one row per pair")

    def __len__(self) -> int:
        return len(self.herald_times_ps)


@dataclass(frozen=True, slots=True)
class TwoNodeLink:
    """Emitter → fiber → receiver, heralded by ``detector`` at the receiver (see the module docstring)."""

    emitter: AtomCavityNode
    receiver: AtomCavityNode
    fiber: Fiber
    detector: Detector
    attempt_rate_hz: float
    measurement_delay_s: float = 0.0
    preset: Preset | None = field(default=None, compare=False, repr=False)
    """The preset the link was built from, if any: its provenance, for reports (not compared)."""

    def __post_init__(self) -> None:
        for name, cls in (
            ("emitter", AtomCavityNode),
            ("receiver", AtomCavityNode),
            ("fiber", Fiber),
            ("detector", Detector),
        ):
            if not isinstance(getattr(self, name), cls):
                raise InvalidParameter(f"TwoNodeLink.{name} must be a {cls.__name__}")
        if self.preset is not None and not isinstance(self.preset, Preset):
            raise InvalidParameter("TwoNodeLink.preset must be a Preset or None")
        rate = _as_float(self.attempt_rate_hz, "TwoNodeLink.attempt_rate_hz")
        if not math.isfinite(rate) or rate <= 0.0:
            raise InvalidParameter(f"TwoNodeLink.attempt_rate_hz must be finite and positive, got {rate!r}")
        object.__setattr__(self, "attempt_rate_hz", rate)
        delay = _as_float(self.measurement_delay_s, "TwoNodeLink.measurement_delay_s")
        if not math.isfinite(delay) or delay < 0.0:
            raise InvalidParameter(f"TwoNodeLink.measurement_delay_s must be finite and ≥ 0, got {delay!r}")
        object.__setattr__(self, "measurement_delay_s", delay)

    @classmethod
    def from_preset(cls, preset: Preset, *, measurement_delay_s: float = 0.0) -> TwoNodeLink:
        """The link a hardware preset describes."""
        return cls(
            emitter=preset.emitter,
            receiver=preset.receiver,
            fiber=preset.fiber,
            detector=preset.detector,
            attempt_rate_hz=preset.attempt_rate_hz,
            measurement_delay_s=measurement_delay_s,
            preset=preset,
        )

    def with_length(self, length_km: float) -> TwoNodeLink:
        """The same link over a fiber of another length."""
        preset = None if self.preset is None else self.preset.with_length(length_km)
        return dataclasses.replace(self, fiber=self.fiber.with_length(length_km), preset=preset)

    # ---- description ------------------------------------------------------------------------------
    @property
    def length_km(self) -> float:
        """Fiber length between the nodes."""
        return self.fiber.length_km

    @property
    def description(self) -> str:
        """One line naming the hardware: the preset's title, or the nodes and fiber."""
        if self.preset is None:
            return f"{self.emitter.name} → {self.receiver.name} over {self.fiber.length_km:g} km of fiber"
        published = self.preset.published_length_km
        if published is not None and published != self.fiber.length_km:
            here = f"its hardware over {self.fiber.length_km:g} km"
            return f"{self.preset.title}; {here} (published: {published:g} km)"
        return self.preset.title

    def provenance_lines(self) -> list[str]:
        """Where the numbers come from, one short line each, every estimate marked ``(estimate)``.

        >>> link_from_preset("ritter2012").provenance_lines()[1]
        'nodes.photon_generation_efficiency = 0.0458 (estimate)'
        """
        if self.preset is None:
            return ["custom link: every number set by the caller (no published source)"]
        p = self.preset
        lines = [f"source: {p.reference}"]
        for key, record in p.provenance.items():
            component, name = key.split(".", 1)
            if component in ("emitter", "receiver"):
                other = p.provenance.get(f"{'receiver' if component == 'emitter' else 'emitter'}.{name}")
                if other is not None and other.value == record.value and other.status == record.status:
                    if component == "receiver":
                        continue
                    key = f"nodes.{name}"
            lines.append(f"{key} = {record.value:g} ({record.status})")
        for name, record in p.headline.items():
            if name in p.reproduces:
                pm = "" if record.uncertainty is None else f" ± {record.uncertainty:g}"
                lines.append(f"published {name} = {record.value:g}{pm} ({record.status}), reproduced by the model")
        return lines

    # ---- timing -----------------------------------------------------------------------------------
    @property
    def herald_round_trip_ps(self) -> int:
        """Photon to B plus the herald's way back to A: 2τ."""
        return 2 * self.fiber.delay_ps

    @property
    def attempt_period_ps(self) -> int:
        """Time between attempts: max(1/attempt_rate, 2τ), at least 1 ps."""
        return max(round(PS_PER_S / self.attempt_rate_hz), self.herald_round_trip_ps, 1)

    def _restart_ps(self, measurement_delay_ps: NDArray[np.int64]) -> NDArray[np.int64]:
        """Emission of a success → first attempt after it: max(P, 2τ + d), per pair."""
        out = np.maximum(self.attempt_period_ps, self.herald_round_trip_ps + measurement_delay_ps)
        return np.asarray(out, dtype=np.int64)

    # ---- probabilities ----------------------------------------------------------------------------
    @property
    def true_herald_probability(self) -> float:
        """Per attempt: photon emitted, transmitted, absorbed and its herald detected."""
        return (
            self.emitter.photon_generation_efficiency
            * self.fiber.transmission
            * self.receiver.photon_absorption_efficiency
            * self.detector.efficiency
        )

    @property
    def success_probability(self) -> float:
        """Per attempt, any herald: p_true + p_dark·(1 − p_true)."""
        p = self.true_herald_probability
        return p + self.detector.dark_count_probability * (1.0 - p)

    @property
    def false_herald_fraction(self) -> float:
        """Fraction of heralds caused by dark counts alone (0 if the link never heralds)."""
        p_herald = self.success_probability
        if p_herald == 0.0:
            return 0.0
        return self.detector.dark_count_probability * (1.0 - self.true_herald_probability) / p_herald

    @property
    def pair_visibility(self) -> float:
        """Werner visibility of a true pair before memory noise: V_emit(A) · V_abs(B)."""
        return self.emitter.atom_photon_visibility * self.receiver.photon_absorption_visibility

    @property
    def mean_time_between_heralds_s(self) -> float:
        """Expected time between heralds: P/p + (max(P, 2τ + d) − P); infinite if p = 0."""
        p = self.success_probability
        if p == 0.0:
            return math.inf
        period = self.attempt_period_ps
        restart = max(period, self.herald_round_trip_ps + round(self.measurement_delay_s * PS_PER_S))
        return (period / p + restart - period) / PS_PER_S

    @property
    def expected_pair_rate_hz(self) -> float:
        """Heralded pairs per second, in the long run."""
        return 1.0 / self.mean_time_between_heralds_s

    # ---- states -----------------------------------------------------------------------------------
    def wait_times_s(self, measurement_delay_s: float | None = None) -> tuple[float, float]:
        """How long atoms A and B hold the pair before it is measured: (2τ + d, τ + d)."""
        d = self.measurement_delay_s if measurement_delay_s is None else measurement_delay_s
        tau = self.fiber.delay_ps / PS_PER_S
        return 2.0 * tau + d, tau + d

    def expected_weights(self, measurement_delay_s: float | None = None) -> BellDiagonal:
        """Mean Bell-diagonal state of a herald (true and false heralds mixed in their proportions)."""
        wait_a, wait_b = self.wait_times_s(measurement_delay_s)
        true_pair = BellDiagonal.werner(self.pair_visibility)
        true_pair = dephase(true_pair, self.emitter.dephasing_probability(wait_a))
        true_pair = dephase(true_pair, self.receiver.dephasing_probability(wait_b))
        f = self.false_herald_fraction
        return BellDiagonal((1.0 - f) * true_pair.weights + f * np.full(4, 0.25))

    @property
    def expected_fidelity(self) -> float:
        """Mean fidelity with Φ+ of a heralded pair at measurement."""
        return float(self.expected_weights().fidelity)

    # ---- sampling ---------------------------------------------------------------------------------
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
        if isinstance(n_pairs, bool) or not isinstance(n_pairs, int | np.integer) or n_pairs < 0:
            raise InvalidParameter(f"n_pairs must be a non-negative integer, got {n_pairs!r}")
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameter("rng must be a numpy.random.Generator")
        if isinstance(start_ps, bool) or not isinstance(start_ps, int | np.integer) or start_ps < 0:
            raise InvalidParameter(f"start_ps must be a non-negative integer, got {start_ps!r}")
        n = int(n_pairs)
        d_s = self.measurement_delay_s if measurement_delay_s is None else measurement_delay_s
        try:
            delay_s = np.broadcast_to(np.asarray(d_s, dtype=np.float64), (n,))
        except (TypeError, ValueError):
            raise InvalidParameter(
                f"measurement_delay_s must be a number or one per pair ({n}), got shape {np.shape(d_s)}"
            ) from None
        if not np.all(np.isfinite(delay_s)) or np.any(delay_s < 0.0):
            raise InvalidParameter("measurement_delay_s must be finite and non-negative")
        p = self.success_probability
        if p <= 0.0 and n > 0:
            raise InvalidParameter("this link never heralds (success probability 0): no pairs to generate")

        period = self.attempt_period_ps
        tau = self.fiber.delay_ps
        delay_ps = np.rint(delay_s * PS_PER_S).astype(np.int64)
        restart = self._restart_ps(delay_ps)

        k = rng.geometric(p, size=n).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
        span = float(start_ps) + float(np.sum(k - 1, dtype=np.float64)) * period + float(np.sum(restart))
        if span > _INT64_SAFE:
            raise InvalidParameter(
                f"{n} pairs would span {span / PS_PER_S:.3g} s, beyond int64 picoseconds; generate fewer per call"
            )
        # Emission of success i: after the restart that follows success i−1, K_i − 1 failed attempts.
        gaps = (k - 1) * period
        gaps[1:] += restart[:-1]
        emission = int(start_ps) + np.cumsum(gaps, dtype=np.int64)
        herald = emission + tau
        ready = emission + 2 * tau
        next_start = int(emission[-1] + restart[-1]) if n else int(start_ps)

        false = rng.random(n) < self.false_herald_fraction
        base = BellDiagonal.werner(self.pair_visibility).weights
        weights = np.where(false[:, None], 0.25, base[None, :])
        wait_a = (2 * tau + delay_ps) / PS_PER_S
        wait_b = (tau + delay_ps) / PS_PER_S
        # Z errors on both atoms compose into one Z error on the pair with p = p_a + p_b − 2 p_a p_b.
        p_a = self.emitter.dephasing_probability(wait_a)
        p_b = self.receiver.dephasing_probability(wait_b)
        states = dephase(BellDiagonal._unchecked(weights), p_a + p_b - 2.0 * p_a * p_b)
        return HeraldedPairs(
            herald_times_ps=_readonly(herald),
            ready_times_ps=_readonly(ready),
            states=BellDiagonal._unchecked(_readonly(states.weights)),
            attempts=int(np.sum(k)),
            attempts_per_pair=_readonly(k),
            wait_a_s=_readonly(np.asarray(wait_a, dtype=np.float64)),
            wait_b_s=_readonly(np.asarray(wait_b, dtype=np.float64)),
            false_herald=_readonly(false),
            next_start_ps=next_start,
        )


def _as_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidParameter(f"{name} must be a real number, got {value!r}")
    return float(value)


def link_from_preset(name: str, length_km: float | None = None, *, measurement_delay_s: float = 0.0) -> TwoNodeLink:
    """The link of hardware preset ``name``, optionally rebuilt over ``length_km`` of the same fiber.

    >>> link_from_preset("zhang2022", length_km=0.06).fiber.length_km
    0.06
    """
    preset = get_preset(name)
    if length_km is not None:
        preset = preset.with_length(length_km)
    return TwoNodeLink.from_preset(preset, measurement_delay_s=measurement_delay_s)


__all__ = ["HeraldedPairs", "TwoNodeLink", "link_from_preset"]
