"""Where Cascade's bits sit: frames, the public order of each pass, and parities of ranges in that order.

A key of ``n`` bits is cut into frames of ``frame_bits`` bits (the last may be shorter); each frame is
reconciled on its own, but all frames share every message. Pass ``p`` reorders the bits *within* each
frame by a public permutation drawn from the shared seed (the identity for pass 0), so a range of the
pass order never leaves its frame. Full frames share one permutation per pass (their errors are
independent, so each still sees a random order); a shorter last frame gets its own. Both parties
build the same :class:`FrameLayout`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qkdnet.checks import check_int
from qkdnet.errors import InvalidParameter
from qkdnet.postprocess._bits import Bits

IntArray = npt.NDArray[np.int64]

MAX_KEY_BITS = 100_000_000
"""Longest key one Cascade run takes (range identifiers must fit in 64 bits); cut longer keys first."""
MAX_PASSES = 256
"""Pass indices travel as one byte; a frame still unreconciled after this many passes fails."""
_INDEX_BITS = 27  # > log2(MAX_KEY_BITS)


def _raw_permutation(seed: int, spawn_key: tuple[int, ...], n: int) -> IntArray:
    # Sort keys: 37 random bits above the index, so all keys differ and any sort gives the same order. The
    # sorted keys carry their indices in the low bits, so a radix sort of the values (faster than argsort) is
    # enough; it is compiled, and imported here so that numba still loads only when a Cascade runs.
    from qkdnet.postprocess.cascade_kernels import index_order

    bit_gen = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=spawn_key))
    keys = (bit_gen.random_raw(n) >> np.uint64(_INDEX_BITS)) << np.uint64(_INDEX_BITS)
    keys |= np.arange(n, dtype=np.uint64)
    order: IntArray = index_order(keys, _INDEX_BITS)
    return order


def pass_permutation(seed: int, pass_index: int, n: int) -> IntArray:
    """Order of the bits of an ``n``-bit frame in pass ``pass_index``: identity for pass 0, else public.

    Derived from the shared seed by sorting raw PCG64 outputs of a SeedSequence keyed by the pass
    index (made distinct by the index in their low bits); both are stable across numpy versions and
    the keys have no ties, so both parties get the same order.
    """
    check_int(pass_index, name="pass_index")
    check_int(n, name="n", minimum=1)
    if pass_index == 0:
        return np.arange(n, dtype=np.int64)
    return _raw_permutation(seed, (pass_index,), n)


def prefix_parity(bits: Bits) -> Bits:
    """``p[i]`` = parity of ``bits[:i]`` (length n + 1), so the parity of ``bits[a:b]`` is ``p[a] ^ p[b]``."""
    prefix = np.zeros(bits.size + 1, dtype=np.uint8)
    np.bitwise_xor.accumulate(bits, out=prefix[1:])
    return prefix


def _grown(table: npt.NDArray[np.int32], rows: int) -> npt.NDArray[np.int32]:
    if rows <= table.shape[0]:
        return table
    out = np.zeros((max(rows, 2 * table.shape[0], 4), table.shape[1]), dtype=np.int32)
    out[: table.shape[0]] = table
    return out


class FrameLayout:
    """Frames of a key and the public order of each pass within them, shared by both parties.

    Each pass's order is drawn on first use and kept (4 bytes per frame bit per pass, twice that with
    ``inverse=True``: Bob maps corrected key bits into every pass's order).
    """

    def __init__(self, n: int, frame_bits: int, seed: int, *, inverse: bool = False) -> None:
        self.n = check_int(n, name="n", minimum=1)
        if self.n > MAX_KEY_BITS:
            raise InvalidParameter(f"Cascade takes at most {MAX_KEY_BITS} bits per run, got {self.n}")
        self.frame_bits = min(check_int(frame_bits, name="frame_bits", minimum=1), self.n)
        self.seed = check_int(seed, name="seed")
        self.full_frames = self.n // self.frame_bits
        self.rest = self.n - self.full_frames * self.frame_bits
        self.frames = self.full_frames + (self.rest > 0)
        self.split = self.full_frames * self.frame_bits  # first position of the short frame
        self.frame_starts = np.arange(self.frames, dtype=np.int64) * self.frame_bits
        self.frame_lengths = np.full(self.frames, self.frame_bits, dtype=np.int64)
        if self.rest:
            self.frame_lengths[-1] = self.rest
        self._inverse = inverse
        self._passes = 0
        # Row p: pass p's permutation of a full frame / of the short frame, and the inverses.
        self._perm = np.zeros((0, self.frame_bits), dtype=np.int32)
        self._perm_rest = np.zeros((0, self.rest), dtype=np.int32)
        self._inv = np.zeros((0, self.frame_bits if inverse else 0), dtype=np.int32)
        self._inv_rest = np.zeros((0, self.rest if inverse else 0), dtype=np.int32)

    def draw(self, passes: int) -> None:
        """Make sure the orders of passes ``0 .. passes-1`` are drawn."""
        if passes <= self._passes:
            return
        self._perm, self._perm_rest = _grown(self._perm, passes), _grown(self._perm_rest, passes)
        if self._inverse:
            self._inv, self._inv_rest = _grown(self._inv, passes), _grown(self._inv_rest, passes)
        for p in range(self._passes, passes):
            perm = pass_permutation(self.seed, p, self.frame_bits)
            rest = np.arange(self.rest, dtype=np.int64) if p == 0 else _raw_permutation(self.seed, (p, 1), self.rest)
            self._perm[p], self._perm_rest[p] = perm, rest
            if self._inverse:
                self._inv[p, perm] = np.arange(self.frame_bits, dtype=np.int32)
                self._inv_rest[p, rest] = np.arange(self.rest, dtype=np.int32)
        self._passes = passes

    def orders(self, passes: int) -> tuple[npt.NDArray[np.int32], ...]:
        """Rows 0 .. passes-1 of the pass orders: (order, order of the short frame, inverse, its inverse)."""
        self.draw(passes)
        return self._perm, self._perm_rest, self._inv, self._inv_rest

    def ordered(self, key: Bits, p: int) -> Bits:
        """``key`` laid out in pass ``p``'s order."""
        if p == 0:
            return key.copy()
        ordered = np.empty(self.n, dtype=np.uint8)
        self.draw(p + 1)
        if self.full_frames:
            frames = key[: self.split].reshape(self.full_frames, self.frame_bits)
            ordered[: self.split] = np.take(frames, self._perm[p], axis=1).ravel()
        if self.rest:
            ordered[self.split :] = key[self.split :][self._perm_rest[p]]
        return ordered

    def prefix(self, key: Bits, p: int) -> Bits:
        """Prefix parity of ``key`` laid out in pass ``p``'s order."""
        return prefix_parity(key if p == 0 else self.ordered(key, p))


__all__ = ["MAX_KEY_BITS", "MAX_PASSES", "FrameLayout", "pass_permutation", "prefix_parity"]
