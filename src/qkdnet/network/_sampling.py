"""The shared machinery of every heralded link: herald classes, timing, memories, bulk sampling.

A scheme describes one attempt by its *herald classes*: the probability that an attempt ends in each kind
of herald (a true one, or a false one made by a dark count, a double excitation...) and the Bell-diagonal
state (relative to Φ+, after the Pauli correction the herald asks for) each kind leaves. Timing is four
offsets from an attempt's reference time, and the two memories decohere for each pair's own wait.
Sampling draws the attempt count of each herald from a geometric distribution, the herald's class from
the classes' conditional probabilities, and applies the memory and readout channel per pair, all at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import AtomCavityNode, noise
from qkdnet.quantum import BellDiagonal
from qkdnet.units import PS_PER_S, binary_entropy

INT64_SAFE = float(2**62)  # sums of attempt periods or of picoseconds stay well inside int64
INT64_MAX = 2**63 - 1
FloatArray = NDArray[np.float64]
_A = TypeVar("_A", bound=np.ndarray)


def readonly(a: _A) -> _A:
    """Mark an array read-only and return it."""
    a.setflags(write=False)
    return a


@dataclass(frozen=True, slots=True)
class HeraldClass:
    """One kind of herald: its probability per attempt, the pair it leaves, and whether it is a true one."""

    probability: float
    weights: FloatArray
    true: bool


@dataclass(frozen=True, slots=True)
class Timing:
    """Offsets (ps) from an attempt's reference time: herald click, both nodes informed, and each memory's
    wait before the measurement delay; ``period_ps`` is the time between attempts."""

    period_ps: int
    herald_ps: int
    ready_ps: int
    wait_a_ps: int
    wait_b_ps: int


@dataclass(frozen=True, slots=True)
class HeraldedPairs:
    """A batch of heralded pairs, one row per pair (arrays are read-only).

    ``states`` is each pair's state when it is measured (after all noise). Times are exact integers of
    picoseconds however long the batch lasts (a slow link spends days per pair): herald ``i`` clicks at
    ``start_ps + herald_periods[i]·period_ps + herald_offsets_ps[i]``, whole attempt periods plus the
    restarts and the herald's own delay, each part an exact int64. :attr:`herald_times_ps` gives those times
    as one int64 array while they fit in it (about 106 days), :attr:`last_herald_ps` the end of the batch
    as a Python int always. ``false_herald`` is simulator truth (dark-count heralds and the like): observers
    may read it, protocols must not.
    """

    start_ps: int
    period_ps: int
    herald_periods: NDArray[np.int64]
    herald_offsets_ps: NDArray[np.int64]
    ready_delay_ps: int
    states: BellDiagonal
    attempts: int
    attempts_per_pair: NDArray[np.int64]
    wait_a_s: NDArray[np.float64]
    wait_b_s: NDArray[np.float64]
    false_herald: NDArray[np.bool_]
    next_start_ps: int

    def __post_init__(self) -> None:
        n = len(self.herald_periods)
        arrays = (
            self.herald_offsets_ps,
            self.attempts_per_pair,
            self.wait_a_s,
            self.wait_b_s,
            self.false_herald,
        )
        if any(len(a) != n for a in arrays) or (n and (self.states.shared or len(self.states) != n)):
            raise InvalidParameter("HeraldedPairs arrays must all have one row per pair")

    def __len__(self) -> int:
        return len(self.herald_periods)

    @property
    def last_herald_ps(self) -> int:
        """Exact time of the last herald (``start_ps`` when there is none), unbounded."""
        if not len(self):
            return int(self.start_ps)
        whole = int(self.herald_periods[-1]) * int(self.period_ps)
        return int(self.start_ps) + whole + int(self.herald_offsets_ps[-1])

    @property
    def herald_times_ps(self) -> NDArray[np.int64]:
        """Each herald's click in ps (int64); InvalidParameter past int64 (see :attr:`herald_times_s`)."""
        return self._exact_times(0)

    @property
    def ready_times_ps(self) -> NDArray[np.int64]:
        """When both nodes know of each herald, in ps (int64, with the limit of :attr:`herald_times_ps`)."""
        return self._exact_times(self.ready_delay_ps)

    @property
    def herald_times_s(self) -> FloatArray:
        """Each herald's click in seconds (float64: rounded, but never out of range)."""
        whole = self.herald_periods * (self.period_ps / PS_PER_S)
        return readonly(whole + (self.herald_offsets_ps + float(self.start_ps)) / PS_PER_S)

    def wrapped_herald_times_ps(self) -> NDArray[np.int64]:
        """Each herald's click modulo 2⁶⁴ ps, as a hardware time tagger's 64-bit counter holds it (int64 bits)."""
        with np.errstate(over="ignore"):
            return readonly(
                self.herald_periods * np.int64(_int64_bits(self.period_ps))
                + self.herald_offsets_ps
                + np.int64(_int64_bits(self.start_ps))
            )

    def _exact_times(self, delay_ps: int) -> NDArray[np.int64]:
        last = self.last_herald_ps + delay_ps
        if last > INT64_MAX:
            raise InvalidParameter(
                f"these {len(self)} heralds last until {last / PS_PER_S:.3g} s, beyond int64 picoseconds "
                "(about 106 days): read herald_times_s, last_herald_ps, or generate fewer pairs per call"
            )
        offsets = self.herald_offsets_ps + (int(self.start_ps) + delay_ps)
        return readonly(self.herald_periods * self.period_ps + offsets)


def _int64_bits(value: int) -> int:
    """``value`` modulo 2⁶⁴, as the int64 with the same bits."""
    return (int(value) + 2**63) % 2**64 - 2**63


def as_float(value: object, name: str) -> float:
    """A real number, or InvalidParameter naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidParameter(f"{name} must be a real number, got {value!r}")
    return float(value)


def check_rate(value: object, name: str) -> float:
    """A finite positive rate."""
    rate = as_float(value, name)
    if not math.isfinite(rate) or rate <= 0.0:
        raise InvalidParameter(f"{name} must be finite and positive, got {rate!r}")
    return rate


def check_delay(value: object, name: str) -> float:
    """A finite non-negative time."""
    delay = as_float(value, name)
    if not math.isfinite(delay) or delay < 0.0:
        raise InvalidParameter(f"{name} must be finite and ≥ 0, got {delay!r}")
    return delay


def check_modes(value: object, name: str) -> int:
    """A whole number of modes ≥ 1 (a bool, a float such as 2.0, or 0 is refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidParameter(f"{name} must be an integer ≥ 1, got {value!r}")
    return int(value)


def round_probability(p: float, modes: int) -> float:
    """Probability that at least one of ``modes`` independent modes, each heralding with ``p``, heralds:
    1 − (1 − p)^M, computed as −expm1(M·log1p(−p)) so that a small p keeps its digits (M·p for M·p ≪ 1)."""
    if modes == 1 or p <= 0.0:
        return p
    if p >= 1.0:
        return 1.0
    return -math.expm1(modes * math.log1p(-p))


def multiplexed_classes(classes: list[HeraldClass], modes: int) -> list[HeraldClass]:
    """The herald classes of one attempt round of ``modes`` independent, identical modes into one memory.

    A round heralds when at least one mode does, with probability 1 − (1 − p)^M (p the classes' total);
    the memory keeps the first mode that heralded, whose class is distributed as one mode's, p_i/p. So each
    class is scaled by the same factor (1 − (1 − p)^M)/p and keeps its state; ``modes == 1`` returns
    ``classes`` itself, so a single-mode link samples bit for bit as before.
    """
    p = sum(c.probability for c in classes)
    if modes == 1 or p <= 0.0:
        return classes
    scale = round_probability(p, modes) / p
    return [HeraldClass(c.probability * scale, c.weights, c.true) for c in classes]


def mean_weights(classes: list[HeraldClass]) -> tuple[float, FloatArray]:
    """(herald probability, mean Bell weights of a herald) over the classes; weights of I/4 if none."""
    total = sum(c.probability for c in classes)
    if total == 0.0:
        return 0.0, np.full(4, 0.25)
    w = sum((c.probability * c.weights for c in classes), np.zeros(4))
    return total, np.asarray(w / total, dtype=np.float64)


def memory_lambdas(
    node_a: AtomCavityNode, node_b: AtomCavityNode, wait_a_s: ArrayLike, wait_b_s: ArrayLike
) -> FloatArray:
    """Both memories for their waits, then both readouts: one λ triple per pair."""
    return noise.compose(
        node_a.memory_lambdas(wait_a_s),
        node_b.memory_lambdas(wait_b_s),
        node_a.memory.readout_lambdas,
        node_b.memory.readout_lambdas,
    )


def mean_time_between_heralds_s(p: float, timing: Timing, measurement_delay_s: float) -> float:
    """Expected time between heralds: P/p + (max(P, ready + d) − P); infinite if p = 0."""
    if p == 0.0:
        return math.inf
    period = timing.period_ps
    restart = max(period, timing.ready_ps + round(measurement_delay_s * PS_PER_S))
    return (period / p + restart - period) / PS_PER_S


def qber_chsh(weights: ArrayLike) -> tuple[float, float, float]:
    """(Z-basis QBER, X-basis error, CHSH S at the E91 angles in the X–Z plane) of Bell weights w.r.t. Φ+.

    Q_Z = w_Ψ+ + w_Ψ−, Q_X = w_Φ− + w_Ψ−, and S = √2(⟨ZZ⟩ + ⟨XX⟩) = 2√2(1 − Q_Z − Q_X).
    """
    w = np.asarray(weights, dtype=np.float64)
    q_z = float(w[2] + w[3])
    q_x = float(w[1] + w[3])
    return q_z, q_x, 2.0 * math.sqrt(2.0) * (1.0 - q_z - q_x)


def bbm92_key_fraction(q_z: float, q_x: float) -> float:
    """Asymptotic secret bits per sifted bit with trusted devices, 1 − h(Q_Z) − h(Q_X) (Shor–Preskill), ≥ 0."""
    return max(0.0, 1.0 - binary_entropy(q_z) - binary_entropy(q_x))


def sample(
    n_pairs: int,
    *,
    rng: np.random.Generator,
    start_ps: int,
    measurement_delay_s: ArrayLike,
    classes: list[HeraldClass],
    timing: Timing,
    node_a: AtomCavityNode,
    node_b: AtomCavityNode,
) -> HeraldedPairs:
    """Sample ``n_pairs`` heralds in bulk (see the module docstring)."""
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int | np.integer) or n_pairs < 0:
        raise InvalidParameter(f"n_pairs must be a non-negative integer, got {n_pairs!r}")
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameter("rng must be a numpy.random.Generator")
    if isinstance(start_ps, bool) or not isinstance(start_ps, int | np.integer) or start_ps < 0:
        raise InvalidParameter(f"start_ps must be a non-negative integer, got {start_ps!r}")
    n = int(n_pairs)
    scalar_delay = np.ndim(measurement_delay_s) == 0
    try:
        delay_s = np.broadcast_to(np.asarray(measurement_delay_s, dtype=np.float64), (n,))
    except (TypeError, ValueError):
        raise InvalidParameter(
            f"measurement_delay_s must be a number or one per pair ({n}), got shape {np.shape(measurement_delay_s)}"
        ) from None
    if not np.all(np.isfinite(delay_s)) or np.any(delay_s < 0.0):
        raise InvalidParameter("measurement_delay_s must be finite and non-negative")
    p, _ = mean_weights(classes)
    if p <= 0.0 and n > 0:
        raise InvalidParameter("this link never heralds (success probability 0): no pairs to generate")

    period = timing.period_ps
    delay_ps = np.rint(delay_s * PS_PER_S).astype(np.int64)
    restart = np.maximum(period, timing.ready_ps + delay_ps)

    k = rng.geometric(min(p, 1.0), size=n).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
    # Attempt of success i: after the restart that follows success i−1, K_i − 1 failed attempts. The two
    # parts of its time, whole periods and the restarts, are summed apart so that each stays an exact int64.
    total_attempts = float(np.sum(k, dtype=np.float64))
    total_restart = float(np.sum(restart, dtype=np.float64))
    if total_attempts > INT64_SAFE or total_restart > INT64_SAFE:
        raise InvalidParameter(
            f"{n} pairs would take {total_attempts:.3g} attempts, too many to count in int64; generate fewer per call"
        )
    periods = np.cumsum(k - 1, dtype=np.int64)
    offsets = np.zeros(n, dtype=np.int64)
    if n > 1:
        np.cumsum(restart[:-1], out=offsets[1:])
    start = int(start_ps)
    next_start = start + int(periods[-1]) * period + int(offsets[-1]) + int(restart[-1]) if n else start

    # Herald class of each pair, from the classes' conditional probabilities.
    live = [c for c in classes if c.probability > 0.0]
    if len(live) == 1 or n == 0:
        kind = np.zeros(n, dtype=np.intp)
    else:
        cumulative = np.cumsum([c.probability for c in live]) / p
        kind = np.minimum(np.searchsorted(cumulative, rng.random(n), side="right"), len(live) - 1)
    table = np.stack([c.weights for c in live]) if live else np.full((1, 4), 0.25)
    true_kind = np.array([c.true for c in live] or [False])
    false = ~true_kind[kind]

    wait_a_ps = timing.wait_a_ps + delay_ps
    wait_b_ps = timing.wait_b_ps + delay_ps
    wait_a = wait_a_ps / PS_PER_S
    wait_b = wait_b_ps / PS_PER_S
    if scalar_delay:
        # Every pair waits the same: apply the memories to the few class states, then pick per pair.
        lam = memory_lambdas(node_a, node_b, wait_a[:1] if n else 0.0, wait_b[:1] if n else 0.0).reshape(3)
        weights = noise.apply(BellDiagonal._unchecked(table), lam).weights[kind]
    else:
        lam = memory_lambdas(node_a, node_b, wait_a, wait_b)
        weights = noise.apply(BellDiagonal._unchecked(table[kind]), lam).weights
    return HeraldedPairs(
        start_ps=start,
        period_ps=period,
        herald_periods=readonly(periods),
        herald_offsets_ps=readonly(offsets + timing.herald_ps),
        ready_delay_ps=timing.ready_ps - timing.herald_ps,
        states=BellDiagonal._unchecked(readonly(np.ascontiguousarray(weights))),
        attempts=int(np.sum(k)),
        attempts_per_pair=readonly(k),
        wait_a_s=readonly(np.asarray(wait_a, dtype=np.float64)),
        wait_b_s=readonly(np.asarray(wait_b, dtype=np.float64)),
        false_herald=readonly(false),
        next_start_ps=next_start,
    )
