"""Compiled inner loops of coincidence finding (numba): the drift scan of :func:`~qkdnet.qkd.coincidence.find_clock`
and the windows of each click among the other stream's.

For each candidate drift, every Bob − Alice difference of a segment is corrected by drift·(Alice time − the
segment's middle) and counted in bins; the highest sum of two neighbouring bins over all candidates wins. As NumPy
this is one pass over all differences per candidate (10⁸–10⁹ operations for a segment among heavy dark
counts); here it is one tight loop. Loaded only when a clock is fitted, so ``import qkdnet`` stays light.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def best_sheared_peak(offsets: Any, tau: Any, drifts: Any, bin_ps: float, bins: int) -> tuple[int, int, int]:
    """(height, first bin, drift index) of the highest two-bin peak of ``offsets − drift·tau`` in ``bins``
    bins of ``bin_ps`` from 0, over every drift in ``drifts``."""
    counts = np.zeros(bins, dtype=np.int32)
    best_height, best_bin, best_drift = -1, 0, 0
    for j in range(drifts.size):
        drift = drifts[j]
        counts[:] = 0
        for i in range(offsets.size):
            k = math.floor((offsets[i] - drift * tau[i]) / bin_ps)
            if 0 <= k < bins:
                counts[k] += 1
        for k in range(bins - 1):
            height = counts[k] + counts[k + 1]
            if height > best_height:
                best_height, best_bin, best_drift = height, k, j
    return best_height, best_bin, best_drift


@numba.njit(cache=True, nogil=True)
def window_bounds(haystack: Any, needles: Any, low: int, high: int) -> tuple[Any, Any]:
    """For sorted ``needles``: ``searchsorted(haystack, needles + low, "left")`` and
    ``searchsorted(haystack, needles + high, "right")`` together, in one merge pass (time tags are sorted, so
    every window's bounds only move forward) instead of a binary search per needle and bound."""
    lo = np.empty(needles.size, dtype=np.intp)
    hi = np.empty(needles.size, dtype=np.intp)
    i_lo = 0
    i_hi = 0
    n = haystack.size
    for k in range(needles.size):
        start = needles[k] + low
        stop = needles[k] + high
        while i_lo < n and haystack[i_lo] < start:
            i_lo += 1
        if i_hi < i_lo:
            i_hi = i_lo
        while i_hi < n and haystack[i_hi] <= stop:
            i_hi += 1
        lo[k] = i_lo
        hi[k] = i_hi
    return lo, hi
