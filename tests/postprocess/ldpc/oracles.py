"""Independent oracles for the LDPC tests: GF(2) rank, short cycles, brute-force ML decoding."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import numpy.typing as npt
from scipy import sparse


def gf2_rank(matrix: npt.ArrayLike) -> int:
    """Rank over GF(2) by plain Gaussian elimination on a dense copy."""
    a = np.array(matrix, dtype=np.uint8) & 1
    rank = 0
    rows, cols = a.shape
    for c in range(cols):
        pivot = next((r for r in range(rank, rows) if a[r, c]), None)
        if pivot is None:
            continue
        a[[rank, pivot]] = a[[pivot, rank]]
        for r in range(rows):
            if r != rank and a[r, c]:
                a[r] ^= a[rank]
        rank += 1
    return rank


def four_cycle_columns(H: sparse.spmatrix) -> set[tuple[int, int]]:
    """Pairs of columns that share two or more rows (each such pair closes a 4-cycle)."""
    cols = sparse.csc_matrix(H, dtype=np.int32)
    overlap = (cols.T @ cols).tocoo()
    mask = (overlap.row < overlap.col) & (overlap.data >= 2)
    return set(zip(overlap.row[mask].tolist(), overlap.col[mask].tolist(), strict=True))


@functools.cache
def _cosets(h_bytes: bytes, m: int, n: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Every word of length n (sorted by syndrome) and where each syndrome's coset starts."""
    h = np.frombuffer(h_bytes, dtype=np.uint8).reshape(m, n)
    words = np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.uint8)
    keys = ((words.astype(np.int64) @ h.T.astype(np.int64)) % 2) @ (1 << np.arange(m, dtype=np.int64))
    order = np.argsort(keys, kind="stable")
    return words[order], np.searchsorted(keys[order], np.arange(2**m + 1))


def ml_decode(H: npt.ArrayLike, syndrome: npt.ArrayLike, priors: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """Most probable word w with H·w = syndrome under independent priors P(w_i = 1), by enumeration."""
    h = np.ascontiguousarray(np.array(H, dtype=np.uint8))
    s = np.asarray(syndrome, dtype=np.int64)
    p = np.clip(np.asarray(priors, dtype=np.float64), 1e-15, 1 - 1e-15)
    m, n = h.shape
    words, starts = _cosets(h.tobytes(), m, n)
    key = int(s @ (1 << np.arange(m, dtype=np.int64)))
    candidates = words[starts[key] : starts[key + 1]]
    loglik = candidates @ np.log(p) + (1 - candidates) @ np.log1p(-p)
    return candidates[int(np.argmax(loglik))]
