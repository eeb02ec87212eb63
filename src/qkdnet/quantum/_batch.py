"""Batch bookkeeping shared by the two-pair operations (swapping, purification): sizes and per-pair values."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from qkdnet.errors import InvalidParameter
from qkdnet.quantum.states import FloatArray, check_probabilities


def batch_size(*sizes: int | None, n: int | None) -> int:
    """The common number of pairs of the inputs (``None`` = a shared state), or ``n`` if all are shared."""
    known = {s for s in sizes if s is not None}
    if len(known) > 1:
        raise InvalidParameter(f"inputs hold different numbers of pairs: {sorted(known)}")
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InvalidParameter(f"n must be a non-negative integer, got {n!r}")
        if known and int(n) not in known:
            raise InvalidParameter(f"n = {n} does not match the {known.pop()} pairs given")
        return int(n)
    if not known:
        raise InvalidParameter("all inputs are shared states: pass n, the number of operations")
    return known.pop()


def per_pair(values: ArrayLike, size: int, name: str) -> FloatArray:
    """Probabilities given as a scalar or one per pair, broadcast to shape (size,)."""
    p = check_probabilities(values, name)
    if p.ndim > 1 or (p.ndim == 1 and p.shape[0] != size):
        raise InvalidParameter(f"{name} must be a scalar or hold one value per pair ({size}), got shape {p.shape}")
    return np.broadcast_to(p, (size,))
