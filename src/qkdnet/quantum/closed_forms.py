"""Closed forms the network simulations are validated against: waiting for several links, stored-pair decay.

* Waiting for links: link i succeeds at each attempt with probability p_i, so it needs X_i ~ Geom(p_i)
  attempts (on {1, 2, ...}). A swap that waits for every link delivers after max_i X_i attempts, and
  E[max] = Σ_{k≥0} P(max > k) = Σ_{k≥0} [1 − Π_i (1 − q_i^k)], q_i = 1 − p_i. Expanding the product
  (inclusion–exclusion over the non-empty subsets S) gives Σ_S (−1)^{|S|+1} / (1 − Π_{i∈S} q_i); for two
  identical links 2/p − 1/(1 − (1 − p)²), for n identical links Σ_j C(n, j) (−1)^{j+1} / (1 − q^j).
* Stored pairs: pure dephasing with coherence e^(−t/T2) at each end flips the phase bit (Φ+ ↔ Φ−,
  Ψ+ ↔ Ψ−) and shrinks the differences of those weights by c = e^(−t/T2_A − t/T2_B):
  A′ = (A + B)/2 + c (A − B)/2 (and likewise for the Ψ pair), so a Werner pair of fidelity F₀ keeps
  F(t) = (1 + 2F₀)/6 + (4F₀ − 1)/6 · c.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from qkdnet.errors import InvalidParameter
from qkdnet.quantum.states import BellDiagonal, FloatArray, check_probabilities

#: Above this many distinct links the inclusion–exclusion sum (2^n terms) is refused.
MAX_MIXED_LINKS = 20


def _success_probability(p: float, name: str) -> float:
    value = float(p)
    if not math.isfinite(value) or value <= 0.0 or value > 1.0:
        raise InvalidParameter(f"{name} must be a success probability in (0, 1], got {p!r}")
    return value


def expected_max_geometric(p: float, n: int = 2) -> float:
    """Mean number of attempts until all ``n`` identical links (success probability ``p`` each) have succeeded.

    >>> round(expected_max_geometric(0.5), 12)  # 2/0.5 − 1/(1 − 0.25) = 8/3
    2.666666666667
    """
    q = 1.0 - _success_probability(p, "p")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidParameter(f"n must be a positive number of links, got {n!r}")
    if q == 0.0:
        return 1.0
    return float(sum(math.comb(n, j) * (-1) ** (j + 1) / (1.0 - q**j) for j in range(1, n + 1)))


def expected_max_geometric_mixed(probabilities: Sequence[float]) -> float:
    """Mean number of attempts until links of different success probabilities p_i have all succeeded.

    >>> round(expected_max_geometric_mixed([0.5, 0.25]), 6)  # 1/p₁ + 1/p₂ − 1/(1 − q₁q₂)
    4.4
    """
    qs = [1.0 - _success_probability(p, f"probabilities[{i}]") for i, p in enumerate(probabilities)]
    if not qs:
        raise InvalidParameter("probabilities must name at least one link")
    if len(qs) > MAX_MIXED_LINKS:
        raise InvalidParameter(f"at most {MAX_MIXED_LINKS} distinct links (2^n terms); got {len(qs)}")
    total = 0.0
    for size in range(1, len(qs) + 1):
        sign = 1.0 if size % 2 else -1.0
        for subset in itertools.combinations(qs, size):
            total += sign / (1.0 - math.prod(subset))
    return total


def stored_pair(states: BellDiagonal, *, wait_s: ArrayLike, t2_s: float | tuple[float, float]) -> BellDiagonal:
    """Bell-diagonal pairs after both ends waited ``wait_s`` (scalar or one per pair) in dephasing memories.

    ``t2_s`` is one coherence time for both ends or (T2_A, T2_B); ``math.inf`` is a perfect memory.
    """
    t = np.asarray(wait_s, dtype=np.float64)
    if not np.all(np.isfinite(t)) or np.any(t < 0.0):
        raise InvalidParameter("wait_s must be finite and non-negative")
    try:
        t2 = np.broadcast_to(np.asarray(t2_s, dtype=np.float64), (2,))
    except ValueError:
        t2 = np.zeros(0)
    if t2.shape != (2,) or not np.all(t2 > 0.0):
        raise InvalidParameter(f"t2_s must be a positive time or a pair of them, got {t2_s!r}")
    c = np.exp(-t / t2[0] - t / t2[1])[..., None]
    w = states.weights
    mean = (w + w[..., [1, 0, 3, 2]]) / 2.0
    half_diff = (w - w[..., [1, 0, 3, 2]]) / 2.0
    return BellDiagonal._unchecked(mean + c * half_diff)


def werner_fidelity_after_wait(fidelity: ArrayLike, *, wait_s: ArrayLike, t2_s: float, memories: int = 2) -> FloatArray:
    """Fidelity of Werner pairs (Φ+ fidelity F₀) after ``memories`` ends (1 or 2) dephased for ``wait_s``."""
    f0 = check_probabilities(fidelity, "fidelity")
    t = np.asarray(wait_s, dtype=np.float64)
    if not np.all(np.isfinite(t)) or np.any(t < 0.0):
        raise InvalidParameter("wait_s must be finite and non-negative")
    if memories not in (1, 2):
        raise InvalidParameter(f"memories must be 1 or 2, got {memories!r}")
    if not float(t2_s) > 0.0:
        raise InvalidParameter(f"t2_s must be a positive time, got {t2_s!r}")
    c = np.exp(-memories * t / float(t2_s))
    return np.asarray((1.0 + 2.0 * f0) / 6.0 + (4.0 * f0 - 1.0) / 6.0 * c, dtype=np.float64)


__all__ = [
    "MAX_MIXED_LINKS",
    "expected_max_geometric",
    "expected_max_geometric_mixed",
    "stored_pair",
    "werner_fidelity_after_wait",
]
