"""Rate adaptation: which mother code, how many punctured and shortened symbols, how the key is framed.

A frame is one codeword of the mother code ``C(n, k)`` with ``m = n − k`` checks: ``p`` symbols are
punctured (random bits of Alice's, unknown to Bob), ``s`` are shortened (zeros, known to both) and
the other ``n − p − s`` carry key bits (Elkouss, Martinez-Mateo & Martin, "Information
reconciliation for quantum key distribution", QIC 11, 226 (2011), Eq. (3): the adapted rate is
``(k − s)/(n − p − s)``). The syndrome leaks ``m − p`` bits about the key (the punctured bits mask
the rest); revealing punctured bits after a failed decoding (blind reconciliation,
Martinez-Mateo, Elkouss & Martin, QIC 12, 791 (2012)) costs one bit each and lowers the rate.

The plan rests on a model of when a frame decodes: at efficiency ``f`` with probability
Φ((f − μ)/σ). The mean μ is the code's efficiency at its density-evolution threshold times a
finite-length gap ``1 + c/√ℓ`` (ℓ key bits per frame; a gap shrinking as ℓ^(-1/2) is the
finite-length scaling law of Amraoui, Montanari, Richardson & Urbanke, IEEE Trans. Inf. Theory 55,
473 (2009)); the spread σ is that of the frame's observed error rate, ~N(Q, Q(1−Q)/ℓ) (the
"observed channel" of Martinez-Mateo et al. 2012, App. A), through h, widened by the codes' own
spread. The constants are measured on this ladder (:data:`FINITE_LENGTH_GAP`). The first attempt
goes to μ − σ/2 (:data:`FIRST_ATTEMPT_SIGMAS`: lower, most frames would spend a failed attempt's
iterations first), the last to where the model leaves a frame error rate of 10⁻³ — or to ``efficiency_start``
and ``efficiency_end`` if those are higher — and the attempts in between where they minimise the
expected leakage (:func:`reveal_schedule`).

With ``ℓ`` key bits per frame, ``m − p = f_first·h(Q)·ℓ`` and ``m = f_last·h(Q)·ℓ``, so
``ℓ = m/(f_last·h)``, ``p = (f_last − f_first)·h·ℓ`` and ``s = n − p − ℓ``. The mother code is the
lowest-rate one of the ladder with ``s ≥ 0`` (most key bits per frame), and ``p`` is capped by the
code's untainted-puncturing capacity (the first attempt then starts higher). The key is then
shared evenly among the frames and ``p`` re-aimed at the first attempt for the frame size used.
When even the highest rate is too low (very small Q), that code is used unshortened, punctured
towards the first attempt.

>>> plan = plan_reconciliation(100_000, 0.03, n=10_000)
>>> plan.rate, plan.frames, plan.frame_key_bits, plan.punctured, plan.shortened_min
(0.8, 13, 7693, 396, 1911)
>>> plan.schedule  # punctured bits revealed before each attempt
(0, 37, 70, 106, 146, 193, 260, 396)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from qkdnet.checks import check_int
from qkdnet.errors import InvalidParameter
from qkdnet.postprocess.ldpc.codes import LdpcCode, ldpc_code
from qkdnet.postprocess.ldpc.distributions import DEFAULT_FAMILY, DEFAULT_FRAME_BITS, FAMILIES, DegreeDistribution
from qkdnet.units import binary_entropy

IntArray = npt.NDArray[np.int64]

DEFAULT_EFFICIENCY_START = 1.0
"""Floor of the first attempt's efficiency (the model puts it at μ − σ/2, usually higher)."""
DEFAULT_EFFICIENCY_END = 1.0
"""Floor of the last attempt's efficiency (the model puts it where 10⁻³ of the frames would fail)."""
DEFAULT_MAX_ROUNDS = 8
"""Decoding attempts at most: the first, then one per reveal."""
TARGET_FER = 1e-3
"""Frame error rate the last blind attempt is planned for by :func:`decoding_model`: 10⁻³, since the
measured rate is about twice the model's (error floors), and the target is 10⁻²."""
MIN_QBER = 1e-3
"""Error rates below this are planned as if they were this (h(Q) → 0 would ask for an infinite rate)."""
FINITE_LENGTH_GAP = 6.0
"""``c`` of the finite-length gap ``1 + c/√ℓ`` of the mean efficiency at which a frame decodes.

Measured with the layered decoder on this ladder's PEG codes (Elkouss et al. 2009, rates 0.5-0.8,
unshortened): the median efficiency of decoding is 1.105 at n = 10⁴ for rate 0.7 (c = 6.1) and
1.145 at n = 2·10³ (c = 4.4); other rates within ±1.5. Rates 0.85 and 0.9 have error floors at
FER ~3 % that this Gaussian model does not capture."""
FIRST_ATTEMPT_SIGMAS = 0.5
"""The first attempt goes to μ − this·σ: about a third of the frames then decode at once.

A first attempt lower down saves no leakage but costs iterations: a frame that fails an attempt
runs about 13 iterations before it stalls out. Measured in the blind protocol (10⁴-bit frames,
QBER 2, 5, 8, 10 %, the same keys): against μ − 2σ, the iterations per frame drop from 58-63 to
41-46 with f within ±0.004; at μ − σ 50-54 (f −0.008 to +0.002), at μ 33-35 but f +0.003 to
+0.013."""
SPREAD_FACTOR = 1.15
"""σ of the decoding efficiency over that of the observed channel alone (measured 1.04-1.1)."""
_SCHEDULE_GRID = 120
"""Efficiencies tried for each attempt when the reveal schedule is optimised."""


def _check_efficiency(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 1.0 <= float(value) <= 10.0:
        raise InvalidParameter(f"{name} must be a number in [1, 10], got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class ReconciliationPlan:
    """What Bob announces: the mother code, the framing, the puncturing, and the blind schedule."""

    family: str
    rate: float
    n: int
    code_seed: int
    key_bits: int
    frames: int
    punctured: int
    max_rounds: int
    schedule: tuple[int, ...] = ()
    """Punctured bits revealed before each attempt (cumulative); empty: evenly spread."""

    def revealed_before(self, attempt: int) -> int:
        """Punctured bits of a frame revealed before decoding attempt ``attempt`` (1, 2, …, max_rounds).

        From :attr:`schedule` (0 first, all ``punctured`` last), else in even steps.
        """
        k = check_int(attempt, name="attempt", minimum=1)
        if k > self.max_rounds:
            raise InvalidParameter(f"attempt {k} is beyond the {self.max_rounds} planned")
        if self.max_rounds == 1:
            return 0
        if len(self.schedule) == self.max_rounds:
            return self.schedule[k - 1]
        return round(self.punctured * (k - 1) / (self.max_rounds - 1))

    @property
    def frame_key_bits(self) -> int:
        """Key bits of the largest frames (the others hold one bit fewer)."""
        return -(-self.key_bits // self.frames)

    @property
    def shortened_min(self) -> int:
        """Shortened symbols of the largest frames."""
        return self.n - self.punctured - self.frame_key_bits

    @property
    def code(self) -> LdpcCode:
        """The mother code (built on first use)."""
        return ldpc_code(self.family, self.rate, self.n, seed=self.code_seed)


def decoding_model(dist: DegreeDistribution, q: float, width: int) -> tuple[float, float]:
    """(μ, σ) of the efficiency at which a frame of ``width`` key bits at error rate ``q`` decodes.

    μ = f* · (1 + c/√ℓ), with f* = (1 − R)/h(p*) the code's efficiency at its published threshold
    p* and c = :data:`FINITE_LENGTH_GAP`; σ = :data:`SPREAD_FACTOR` · μ · h'(q)·√(q(1−q)/ℓ)/h(q), the
    spread the frame's observed error rate gives. Without a published threshold, f* = 1.
    """
    size = max(int(width), 1)
    f_star = 1.0 if dist.threshold is None else (1.0 - dist.design_rate) / binary_entropy(dist.threshold)
    mu = f_star * (1.0 + FINITE_LENGTH_GAP / math.sqrt(size))
    slope = math.log2((1.0 - q) / q)
    sigma = SPREAD_FACTOR * mu * slope * math.sqrt(q * (1.0 - q) / size) / binary_entropy(q)
    return mu, sigma


def _attempt_range(dist: DegreeDistribution, q: float, width: int, f_start: float, f_end: float) -> tuple[float, float]:
    """Efficiencies of the first and the last attempt for frames of ``width`` key bits."""
    mu, sigma = decoding_model(dist, q, width)
    z = NormalDist().inv_cdf(1.0 - TARGET_FER)
    last = max(f_end, mu + z * sigma)
    return min(max(f_start, mu - FIRST_ATTEMPT_SIGMAS * sigma), last), last


def reveal_schedule(
    dist: DegreeDistribution, q: float, width: int, first: float, punctured: int, max_rounds: int
) -> tuple[int, ...]:
    """Cumulative punctured bits revealed before each attempt, minimising the expected leakage.

    With ``r`` bits revealed, a frame of ``width`` key bits is decoded at efficiency
    ``first + r/(h(q)·width)``; a frame that first decodes at attempt ``k`` has leaked ``f_k``. With
    P(decoded by f) = Φ((f − μ)/σ) from :func:`decoding_model`, the expected leakage
    Σ_k f_k·(P(f_k) − P(f_{k−1})) + f_K·(1 − P(f_K)) is minimised over the intermediate attempts by
    dynamic programming on a grid; the first reveals nothing, the last everything.
    """
    reveals = np.unique(np.round(np.linspace(0.0, float(punctured), _SCHEDULE_GRID)).astype(np.int64))
    rounds = min(check_int(max_rounds, name="max_rounds", minimum=1), reveals.size)
    if rounds <= 1:
        return (0,)
    mu, sigma = decoding_model(dist, q, width)
    f = first + reveals / (binary_entropy(q) * max(width, 1))
    cdf = np.array([NormalDist(mu, max(sigma, 1e-9)).cdf(x) for x in f.tolist()])
    size = f.size
    # best[j]: least expected leakage of the frames decoded by attempts up to one at grid point j.
    best = np.full(size, np.inf)
    best[0] = f[0] * cdf[0]
    back = np.zeros((rounds, size), dtype=np.int64)
    gain = f[None, :] * (cdf[None, :] - cdf[:, None])  # gain[i, j]: next attempt at j after one at i
    allowed = np.triu(np.ones((size, size), dtype=bool), k=1)
    for k in range(1, rounds):
        total = np.where(allowed, best[:, None] + gain, np.inf)
        back[k] = np.argmin(total, axis=0)
        best = total[back[k], np.arange(size)]
        if k < rounds - 1:
            best[-1] = np.inf  # every attempt but the last stops short of revealing everything
    points = [size - 1]
    for k in range(rounds - 1, 0, -1):
        points.append(int(back[k][points[-1]]))
    return tuple(int(reveals[j]) for j in reversed(points))


def _frame_count(key_bits: int, per_frame: int) -> int:
    return max(1, -(-key_bits // max(per_frame, 1)))


def plan_reconciliation(
    key_bits: int,
    qber_estimate: float,
    *,
    n: int = DEFAULT_FRAME_BITS,
    family: str = DEFAULT_FAMILY,
    code_seed: int = 0,
    efficiency_start: float = DEFAULT_EFFICIENCY_START,
    efficiency_end: float = DEFAULT_EFFICIENCY_END,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
) -> ReconciliationPlan:
    """Choose the mother code and the punctured/shortened counts for ``key_bits`` bits at ``qber_estimate``."""
    total = check_int(key_bits, name="key_bits", minimum=1)
    size = check_int(n, name="n", minimum=1)
    if isinstance(qber_estimate, bool) or not isinstance(qber_estimate, numbers.Real):
        raise InvalidParameter(f"qber_estimate must be a number, got {qber_estimate!r}")
    q = float(qber_estimate)
    if math.isnan(q) or not 0.0 <= q < 0.5:
        raise InvalidParameter(f"qber_estimate must lie in [0, 0.5), got {qber_estimate!r}")
    f_start = _check_efficiency(efficiency_start, "efficiency_start")
    f_end = _check_efficiency(efficiency_end, "efficiency_end")
    if f_end < f_start:
        raise InvalidParameter(f"efficiency_end ({f_end}) must be >= efficiency_start ({f_start})")
    rounds = check_int(max_rounds, name="max_rounds", minimum=1)
    if family not in FAMILIES:
        raise InvalidParameter(f"unknown code family {family!r}; known: {sorted(FAMILIES)}")
    q = max(q, MIN_QBER)
    h = binary_entropy(q)
    rates = sorted(FAMILIES[family])
    chosen: tuple[float, int, int] | None = None  # (rate, key bits per frame, punctured)
    for rate in rates:
        dist = FAMILIES[family][rate]
        m = dist.check_count(size)
        per_frame = size
        for _ in range(3):  # the model depends on the frame width it sets: a few steps to its fixed point
            first, last = _attempt_range(dist, q, per_frame, f_start, f_end)
            per_frame = max(1, math.floor(m / (last * h)))
        punct = math.ceil((last - first) * h * per_frame)
        if per_frame + punct <= size and punct <= m:
            chosen = (rate, per_frame, punct)
            break
    if chosen is None:  # even the highest rate leaks too much: no shortening, puncture towards the first attempt
        rate = rates[-1]
        m = FAMILIES[family][rate].check_count(size)
        first, _ = _attempt_range(FAMILIES[family][rate], q, size, f_start, f_end)
        punct = max(0, math.floor((m - first * h * size) / (1.0 - first * h)))
        chosen = (rate, size - punct, punct)
    rate, per_frame, punct = chosen
    dist = FAMILIES[family][rate]
    code = ldpc_code(family, rate, size, seed=code_seed)
    if punct > code.puncture_order.size:  # the code cannot hide that many: keep the last attempt, start higher
        punct = int(code.puncture_order.size)
        _, last = _attempt_range(dist, q, per_frame, f_start, f_end)
        per_frame = max(1, min(size - punct, math.floor(code.m / (last * h))))
    frames = _frame_count(total, per_frame)
    # The frames share the key evenly, so each holds a little less than planned: re-aim the first
    # attempt for the actual frame size (the last attempt then lands at or above its target).
    width = -(-total // frames)
    first, _ = _attempt_range(dist, q, width, f_start, f_end)
    punct = min(max(0, round(code.m - first * h * width)), int(code.puncture_order.size), size - width, code.m)
    schedule = reveal_schedule(dist, q, width, (code.m - punct) / (h * width), punct, rounds)
    return ReconciliationPlan(family, rate, size, code_seed, total, frames, punct, len(schedule), schedule)


@dataclass(frozen=True, slots=True, eq=False)
class FrameLayout:
    """Where key bits, punctured and shortened symbols sit in the frames of one plan (public).

    ``punctured`` lists the punctured positions in reveal order (the last one punctured is the
    first revealed); a frame with ``frame_key_bits`` key bits puts them at ``key_positions_big``,
    a frame with one bit fewer at ``key_positions_small``; every other position is shortened (0).
    """

    frames: int
    big_frames: int
    punctured: IntArray
    key_positions_big: IntArray
    key_positions_small: IntArray

    def frame_key_slices(self) -> list[slice]:
        """Slice of the whole key that each frame carries."""
        big = self.key_positions_big.size
        small = self.key_positions_small.size
        out = []
        start = 0
        for i in range(self.frames):
            width = big if i < self.big_frames else small
            out.append(slice(start, start + width))
            start += width
        return out


def frame_layout(plan: ReconciliationPlan) -> FrameLayout:
    """The public layout of ``plan``'s frames: untainted punctured symbols, random shortened ones."""
    code = plan.code
    if plan.punctured > code.puncture_order.size:
        raise InvalidParameter(f"{plan.punctured} punctured symbols exceed the code's {code.puncture_order.size}")
    if plan.punctured > code.m:
        raise InvalidParameter("more punctured symbols than checks")
    width = plan.frame_key_bits
    if plan.shortened_min < 0 or width < 1:
        raise InvalidParameter("frames do not fit the code: punctured + key bits exceed n")
    punctured = np.array(code.puncture_order[: plan.punctured][::-1], dtype=np.int64)
    free = np.ones(plan.n, dtype=bool)
    free[punctured] = False
    # Shortened positions: a public, seeded random order of the remaining positions.
    rng = np.random.default_rng(np.random.SeedSequence(plan.code_seed, spawn_key=(plan.n, plan.punctured, 7)))
    order = np.flatnonzero(free)
    order = order[rng.permutation(order.size)]
    big = np.sort(order[:width])
    small = np.sort(order[: width - 1])
    big_frames = plan.key_bits - (width - 1) * plan.frames
    return FrameLayout(plan.frames, big_frames, punctured, big, small)


__all__ = [
    "DEFAULT_EFFICIENCY_END",
    "DEFAULT_EFFICIENCY_START",
    "DEFAULT_FAMILY",
    "DEFAULT_FRAME_BITS",
    "DEFAULT_MAX_ROUNDS",
    "FINITE_LENGTH_GAP",
    "MIN_QBER",
    "SPREAD_FACTOR",
    "TARGET_FER",
    "FrameLayout",
    "ReconciliationPlan",
    "decoding_model",
    "frame_layout",
    "plan_reconciliation",
    "reveal_schedule",
]
