"""Rate adaptation: which mother code, how many punctured and shortened symbols, how the key is framed.

A frame is one codeword of the mother code ``C(n, k)`` with ``m = n − k`` checks: ``p`` symbols are
punctured (random bits of Alice's, unknown to Bob), ``s`` are shortened (zeros, known to both) and
the other ``n − p − s`` carry key bits (Elkouss, Martinez-Mateo & Martin, "Information
reconciliation for quantum key distribution", QIC 11, 226 (2011), Eq. (3): the adapted rate is
``(k − s)/(n − p − s)``). The syndrome leaks ``m − p`` bits about the key (the punctured bits mask
the rest); revealing punctured bits after a failed decoding (blind reconciliation,
Martinez-Mateo, Elkouss & Martin, QIC 12, 791 (2012)) costs one bit each and lowers the rate.

The plan puts the first attempt at efficiency ``f_start`` and the last one (every punctured bit
revealed) at ``f_end`` — raised where a short frame of a high-rate code needs more for a frame
error rate of 10⁻² (the Gaussian observed-channel estimate of Martinez-Mateo et al. 2012, App. A).
With ``ℓ`` key bits per frame, ``m − p = f_start·h(Q)·ℓ`` and ``m = f_end·h(Q)·ℓ``, so
``ℓ = m/(f_end·h)``, ``p = (f_end − f_start)·h·ℓ`` and ``s = n − p − ℓ``. The mother code is the
lowest-rate one of the ladder with ``s ≥ 0`` (most key bits per frame), and ``p`` is capped by the
code's untainted-puncturing capacity. The key is then shared evenly among the frames and ``p``
re-aimed at ``f_start`` for the frame size actually used. When even the highest rate is too low
(very small Q), that code is used unshortened, punctured towards ``f_start``.

>>> plan = plan_reconciliation(100_000, 0.03, n=10_000)
>>> plan.rate, plan.frames, plan.frame_key_bits, plan.punctured, plan.shortened_min
(0.8, 13, 7693, 451, 1856)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess._bits import check_int
from qkdnet.postprocess.ldpc.codes import FAMILIES, LdpcCode, ldpc_code
from qkdnet.postprocess.ldpc.distributions import DegreeDistribution
from qkdnet.units import binary_entropy

IntArray = npt.NDArray[np.int64]

DEFAULT_FAMILY = "elkouss2009"
"""The ladder used unless told otherwise: Table I of Elkouss et al. 2009, rates 0.50–0.90."""
DEFAULT_FRAME_BITS = 10_000
"""Code length n: efficiency grows with n, decoding time and PEG build time too."""
DEFAULT_EFFICIENCY_START = 1.04
"""Efficiency of the first decoding attempt (optimistic: blind rounds catch the failures)."""
DEFAULT_EFFICIENCY_END = 1.30
"""Efficiency once every punctured bit is revealed (the last attempt)."""
DEFAULT_MAX_ROUNDS = 8
"""Decoding attempts at most: the first, then one per reveal."""
TARGET_FER = 1e-2
"""Frame error rate the last blind attempt is planned for (see :func:`_final_efficiency_needed`)."""
MIN_QBER = 1e-3
"""Error rates below this are planned as if they were this (h(Q) → 0 would ask for an infinite rate)."""


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

    def revealed_before(self, attempt: int) -> int:
        """Punctured bits of a frame revealed before decoding attempt ``attempt`` (1, 2, …, max_rounds).

        The schedule is quadratic, ``p·((attempt − 1)/(max_rounds − 1))²``: small steps first, where
        decoding starts to succeed, larger ones towards the last attempt with every bit revealed.
        """
        k = check_int(attempt, name="attempt", minimum=1)
        if k > self.max_rounds:
            raise InvalidParameter(f"attempt {k} is beyond the {self.max_rounds} planned")
        if self.max_rounds == 1:
            return 0
        return round(self.punctured * ((k - 1) / (self.max_rounds - 1)) ** 2)

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


def _final_efficiency_needed(dist: DegreeDistribution, q: float, n: int) -> float:
    """Efficiency the last attempt needs for a frame error rate of about ``TARGET_FER`` on ``n`` bits.

    Gaussian "observed channel" estimate of Martinez-Mateo, Elkouss & Martin (QIC 2012, Appendix A):
    a frame fails when its observed error rate exceeds the code's threshold, and the observed rate
    is ~N(Q, Q(1−Q)/n). The code itself sits at efficiency (1 − R)/h(threshold) at its threshold.
    """
    if dist.threshold is None:
        return 1.0
    z = NormalDist().inv_cdf(1.0 - TARGET_FER)
    observed = min(q + z * math.sqrt(q * (1.0 - q) / n), 0.5)
    return (1.0 - dist.design_rate) / binary_entropy(dist.threshold) * binary_entropy(observed) / binary_entropy(q)


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
        m = FAMILIES[family][rate].check_count(size)
        last = max(f_end, _final_efficiency_needed(FAMILIES[family][rate], q, size))
        per_frame = math.floor(m / (last * h))
        punct = math.ceil((last - f_start) * h * per_frame)
        if per_frame >= 1 and per_frame + punct <= size and punct <= m:
            chosen = (rate, per_frame, punct)
            break
    if chosen is None:  # even the highest rate leaks too much: no shortening, puncture towards f_start
        rate = rates[-1]
        m = FAMILIES[family][rate].check_count(size)
        punct = max(0, math.floor((m - f_start * h * size) / (1.0 - f_start * h)))
        chosen = (rate, size - punct, punct)
    rate, per_frame, punct = chosen
    code = ldpc_code(family, rate, size, seed=code_seed)
    if punct > code.puncture_order.size:  # the code cannot hide that many: keep f_start, shrink the frame
        punct = int(code.puncture_order.size)
        per_frame = min(size - punct, math.floor((code.m - punct) / (f_start * h)))
    frames = _frame_count(total, per_frame)
    # The frames share the key evenly, so each holds a little less than planned: re-aim the first
    # attempt at f_start for the actual frame size (the last attempt then lands at or above f_end).
    width = -(-total // frames)
    punct = min(max(0, round(code.m - f_start * h * width)), int(code.puncture_order.size), size - width, code.m)
    return ReconciliationPlan(family, rate, size, code_seed, total, frames, punct, rounds if punct else 1)


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
    "MIN_QBER",
    "TARGET_FER",
    "FrameLayout",
    "ReconciliationPlan",
    "frame_layout",
    "plan_reconciliation",
]
