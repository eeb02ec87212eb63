"""Bob's side of Cascade: every block, search and frame of every pass held in flat arrays.

Blocks of all passes share one numbering; Bob keeps his current bits in each pass's order and each
block's current parity. All binary searches advance together: an answer round moves every search one
level; found errors are corrected, the blocks they touch in every pass a frame has entered are
re-examined, and a search that re-enters a block searched before descends through the halves already
disclosed without asking again. That chain of small steps runs compiled
(:mod:`~qkdnet.postprocess.cascade_kernels`); this module lays out passes and speaks the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from qkdnet.checks import check_int
from qkdnet.errors import InvalidParameter, ProtocolError, ReconciliationFailed
from qkdnet.postprocess._bits import Bits, as_bits, uniform_frames
from qkdnet.postprocess.cascade_layout import MAX_PASSES, FrameLayout
from qkdnet.postprocess.cascade_variants import CascadeVariant, cascade_variant, check_qber_estimate
from qkdnet.postprocess.ledger import CASCADE_PARITY, LeakageLedger
from qkdnet.postprocess.messages import (
    Abort,
    CascadeDone,
    CascadeSetup,
    Message,
    ParityAnswer,
    ParityQuery,
)

IntArray = npt.NDArray[np.int64]
_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, slots=True, eq=False)
class CascadeResult:
    """Bob's outcome: the corrected key and what it cost, in total and per frame."""

    key: Bits = field(repr=False)
    rounds: int
    disclosed_bits: int
    corrected_bits: int
    block_sizes: tuple[int, ...]
    variant: str
    frame_bits: int
    frame_disclosed_bits: IntArray
    frame_rounds: IntArray

    @property
    def frame_lengths(self) -> IntArray:
        """Bits of each frame (``frame_bits``, the last one shorter if need be)."""
        return uniform_frames(self.key.size, self.frame_bits)

    @property
    def failed_frames(self) -> npt.NDArray[np.bool_]:
        """None: a frame Cascade cannot finish makes the whole run fail (``result`` raises)."""
        return np.zeros(self.frame_rounds.size, dtype=np.bool_)


def _concat_ranges(lo: IntArray, hi: IntArray) -> IntArray:
    """``concatenate([arange(a, b) for a, b in zip(lo, hi)])`` without a Python loop."""
    lengths = hi - lo
    total = int(lengths.sum())
    if total == 0:
        return _EMPTY
    ends = np.cumsum(lengths)
    out: IntArray = np.arange(total, dtype=np.int64) + np.repeat(lo - (ends - lengths), lengths)
    return out


class CascadeBob:
    """Bob's side: drives Cascade on his noisy key using Alice's parities; never sees her key.

    ``variant`` is a :class:`CascadeVariant` or the name of one in ``CASCADE_VARIANTS`` (default: the
    original); ``passes`` overrides its number of normal passes. ``frame_bits`` cuts the key into frames
    reconciled side by side (default: one frame). ``rng`` draws the public permutation seed only.
    ``max_rounds`` bounds the protocol; past it Bob aborts and :attr:`result` raises ReconciliationFailed.
    Memory: about one byte per key bit per pass, plus 8 bytes per frame bit per pass for the orders.
    """

    def __init__(
        self,
        key: object,
        *,
        qber_estimate: float,
        ledger: LeakageLedger,
        rng: np.random.Generator,
        passes: int | None = None,
        max_rounds: int = 10_000,
        variant: str | CascadeVariant = "original",
        frame_bits: int | None = None,
    ) -> None:
        self._key = as_bits(key, name="key", min_len=1)
        n = self._key.size
        self._variant = cascade_variant(variant)
        self._q = check_qber_estimate(qber_estimate)
        self._passes = None if passes is None else check_int(passes, name="passes", minimum=1)
        self._frame_bits = n if frame_bits is None else min(check_int(frame_bits, name="frame_bits", minimum=1), n)
        self._block_sizes = self._variant.block_sizes(self._frame_bits, self._q, passes=self._passes)
        if len(self._block_sizes) > MAX_PASSES:
            raise InvalidParameter(f"passes must be at most {MAX_PASSES}")
        if not isinstance(ledger, LeakageLedger):
            raise InvalidParameter("ledger must be a LeakageLedger")
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameter("rng must be a numpy.random.Generator")
        self._layout = FrameLayout(n, self._frame_bits, 0)  # checks n now; rebuilt with the seed in start()
        self._ledger = ledger
        self._rng = rng
        self._max_rounds = check_int(max_rounds, name="max_rounds", minimum=1)
        self._round = 0
        self._disclosed = 0
        self._corrected = 0
        self._state = "idle"  # idle -> running -> done | failed
        self._failure = ""

    # -- public ----------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._state in ("done", "failed")

    @property
    def block_sizes(self) -> tuple[int, ...]:
        """Block size of each normal pass in a full frame (BICONF passes, if any, come on top)."""
        return self._block_sizes

    @property
    def variant(self) -> CascadeVariant:
        """The Cascade variant Bob runs."""
        return self._variant

    @property
    def result(self) -> CascadeResult:
        """The corrected key and costs; raises ReconciliationFailed if Bob aborted."""
        if self._state == "failed":
            raise ReconciliationFailed(self._failure)
        if self._state != "done":
            raise ProtocolError("Cascade has not finished")
        biconf_passes = self._n_passes - self._fixed
        return CascadeResult(
            key=self._key.copy(),
            rounds=self._round,
            disclosed_bits=self._disclosed,
            corrected_bits=self._corrected,
            block_sizes=self._block_sizes + (max(1, self._frame_bits // 2),) * biconf_passes,
            variant=self._variant.name,
            frame_bits=self._frame_bits,
            frame_disclosed_bits=self._f_disclosed.copy(),
            frame_rounds=self._f_rounds.copy(),
        )

    def start(self) -> list[Message]:
        if self._state != "idle":
            raise ProtocolError("CascadeBob already started")
        self._state = "running"
        seed = int.from_bytes(self._rng.bytes(16), "little")
        self._begin(seed)
        hello = CascadeSetup(self._key.size, self._frame_bits, self._variant.name, MAX_PASSES, seed)
        # The first round asks every block parity of every fixed pass at once.
        self._ask_blocks_and_searches(np.arange(self._n_blocks, dtype=np.int64))
        return [hello, *self._ask()]

    def receive(self, message: Message) -> list[Message]:
        match message:
            case ParityAnswer(round_index=r, parities=parities) if self._state == "running":
                if r != self._round or parities.size != self._asked.size:
                    raise ProtocolError(f"answer to round {r} does not match question round {self._round}")
                self._disclosed += parities.size
                self._ledger.record(CASCADE_PARITY, int(parities.size))
                self._f_disclosed += np.bincount(self._asked_frames, minlength=self._layout.frames)
                self._reserve_known(self._asked.size)
                self._known_count += self._k.take_answers(
                    self._blocks,
                    self._frames,
                    self._active,
                    self._bits,
                    self._known_keys,
                    self._known_vals,
                    self._asked,
                    parities,
                    self._stride,
                )
                self._settle()
                return self._next_messages()
            case Abort(reason=reason):
                self._state, self._failure = "failed", f"Alice aborted Cascade: {reason}"
                raise ReconciliationFailed(self._failure)
            case _:
                raise ProtocolError(f"CascadeBob did not expect {type(message).__name__} ({self._state})")

    # -- set-up ----------------------------------------------------------------------------------
    def _begin(self, seed: int) -> None:
        from qkdnet.postprocess import cascade_kernels  # numba loads only when a Cascade runs

        self._k: Any = cascade_kernels
        n = self._key.size
        self._layout = layout = FrameLayout(n, self._frame_bits, seed, inverse=True)
        self._stride = n + 1
        k = cascade_kernels
        self._frames = np.zeros((layout.frames, k.FRAME_COLUMNS), dtype=np.int64)
        self._frames[:, k.F_PASS] = -1
        self._frames[:, k.F_START] = layout.frame_starts
        self._frames[:, k.F_LENGTH] = layout.frame_lengths
        self._frames[:, k.F_REST] = np.arange(layout.frames) >= layout.full_frames
        self._frames[:, k.F_HALF] = np.maximum(1, layout.frame_lengths // 2)
        self._f_rounds = np.zeros(layout.frames, dtype=np.int64)
        self._f_disclosed = np.zeros(layout.frames, dtype=np.int64)
        # Alice's parities of the ranges she disclosed: a hash table kept at most half full.
        self._known_keys = np.zeros(1 << 12, dtype=np.int64)
        self._known_vals = np.zeros(1 << 12, dtype=np.uint8)
        self._known_count = 0
        v, q, count = self._variant, self._q, self._passes
        full = v.rule_sizes(self._frame_bits, q, passes=count)
        rest = v.rule_sizes(layout.rest, q, passes=count) if layout.rest else ()
        sizes = [
            (k_full, rest[i] if rest and (i == 0 or rest[i] < layout.rest) else 0)
            for i, k_full in enumerate(full)
            if i == 0 or k_full < self._frame_bits  # a later whole-frame block would only repeat the parity
        ]
        self._fixed = len(sizes)
        capacity = self._fixed + (4 if v.biconf_streak else 0)
        self._n_passes = self._n_blocks = 0
        self._bits = np.zeros((capacity, n + 1), dtype=np.uint8)
        self._ptr = np.zeros((capacity, layout.frames + 1), dtype=np.int64)
        self._size = np.zeros((capacity, 2), dtype=np.int64)
        self._blocks = np.zeros((0, k.BLOCK_COLUMNS), dtype=np.int64)
        self._active = np.zeros(1, dtype=np.int64)
        for k_full, k_rest in sizes:
            self._add_pass(k_full, k_rest)

    def _add_pass(self, k_full: int, k_rest: int) -> None:
        """Lay out the next pass: blocks of ``k_full`` bits in full frames, ``k_rest`` in a short one (0: no
        blocks there, -1: one BICONF block per frame, its first half)."""
        layout, p, k = self._layout, self._n_passes, self._k
        if p >= self._bits.shape[0]:  # grow the per-pass stores geometrically
            grow = max(4, p)
            self._bits = np.concatenate([self._bits, np.zeros((grow, self._bits.shape[1]), dtype=np.uint8)])
            self._ptr = np.concatenate([self._ptr, np.zeros((grow, self._ptr.shape[1]), dtype=np.int64)])
            self._size = np.concatenate([self._size, np.zeros((grow, 2), dtype=np.int64)])
        starts, stops, frames, serial = [], [], [], []
        groups = ((layout.full_frames, layout.frame_bits, 0, k_full), (int(layout.rest > 0), layout.rest, 1, k_rest))
        for count, length, is_rest, size in groups:
            if count == 0 or size == 0:
                continue
            if size < 0:
                local_start, local_stop = np.zeros(1, np.int64), np.full(1, max(1, length // 2), np.int64)
            else:
                local_start = np.arange(0, length, size, dtype=np.int64)
                local_stop = np.minimum(local_start + size, length)
            first = layout.full_frames if is_rest else 0
            offsets = layout.frame_starts[first : first + count]
            starts.append((offsets[:, None] + local_start[None, :]).ravel())
            stops.append((offsets[:, None] + local_stop[None, :]).ravel())
            frames.append(np.repeat(np.arange(first, first + count, dtype=np.int64), local_start.size))
            serial.append(np.full(count * local_start.size, local_start.size <= 2))
        b_start, b_stop, b_frame = np.concatenate(starts), np.concatenate(stops), np.concatenate(frames)
        layout.draw(p + 1)  # the kernels lay out each frame's bits in this order when it enters the pass
        new = np.zeros((b_start.size, k.BLOCK_COLUMNS), dtype=np.int64)
        new[:, k.PASS], new[:, k.START], new[:, k.STOP], new[:, k.FRAME] = p, b_start, b_stop, b_frame
        new[:, k.ALICE] = -1
        new[:, k.SERIAL] = np.concatenate(serial)
        self._size[p] = (k_full, k_rest)
        self._ptr[p] = self._n_blocks + np.searchsorted(b_frame, np.arange(layout.frames + 1))
        end = self._n_blocks + b_start.size
        if end > self._blocks.shape[0]:  # grow the block table geometrically (BICONF passes come one by one)
            grown = np.zeros((max(end, 2 * self._blocks.shape[0]), k.BLOCK_COLUMNS), dtype=np.int64)
            grown[: self._n_blocks] = self._blocks[: self._n_blocks]
            self._blocks = grown
            self._active = np.concatenate([self._active, np.zeros(grown.shape[0] + 1 - self._active.size, np.int64)])
        self._blocks[self._n_blocks : end] = new
        self._n_blocks = end
        self._n_passes += 1

    # -- rounds ----------------------------------------------------------------------------------
    def _reserve_known(self, more: int) -> None:
        """Grow the table of disclosed ranges so that ``more`` new ones keep it at most half full."""
        size = self._known_keys.size
        if 2 * (self._known_count + more) <= size:
            return
        while 2 * (self._known_count + more) > size:
            size *= 2
        keys, vals = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.uint8)
        self._k.rehash(self._known_keys, self._known_vals, keys, vals)
        self._known_keys, self._known_vals = keys, vals

    def _settle(self) -> None:
        """Do everything possible without asking Alice (compiled); lay out BICONF passes as frames need them."""
        k = self._k
        while True:
            order, order_rest, where, where_rest = self._layout.orders(self._n_passes)
            needed, corrected = k.settle(
                self._blocks,
                self._frames,
                self._active,
                self._ptr,
                self._size,
                self._bits,
                order,
                order_rest,
                where,
                where_rest,
                self._key,
                self._known_keys,
                self._known_vals,
                self._n_passes,
                self._fixed,
                self._variant.biconf_streak,
                self._stride,
                self._key.size - self._corrected,
            )
            self._corrected += corrected
            if needed == -2:
                self._failure = "Alice's parities contradict each other: more corrections than key bits"
                return
            if needed < 0:
                return
            if needed >= MAX_PASSES:
                self._failure = f"a frame needed more than {MAX_PASSES} passes"
                return
            self._add_pass(-1, -1)

    def _ask_blocks_and_searches(self, blocks: IntArray) -> None:
        """Next questions: the left half of every running search, then the whole of ``blocks``."""
        k, table = self._k, self._blocks
        listed = self._active[1 : self._active[0] + 1]  # kept by the kernels; may hold stopped searches
        searching = listed[table[listed, k.ACTIVE] == 1]
        s, e = table[searching, k.S], table[searching, k.E]
        ids = np.concatenate([searching, blocks])
        self._asked = np.concatenate([searching, -2 - blocks])
        self._asked_passes = table[ids, k.PASS]
        self._asked_starts = np.concatenate([s, table[blocks, k.START]])
        self._asked_stops = np.concatenate([(s + e) // 2, table[blocks, k.STOP]])
        self._asked_frames = table[ids, k.FRAME]

    def _next_messages(self) -> list[Message]:
        if self._failure:
            self._state = "failed"
            return [Abort(self._failure)]
        k, frames = self._k, self._frames
        waiting = np.flatnonzero(frames[:, k.F_WAIT])  # frames waiting for Alice's parity of a BICONF pass
        passes = frames[waiting, k.F_PASS]
        blocks = _concat_ranges(self._ptr[passes, waiting], self._ptr[passes, waiting + 1])
        blocks = blocks[self._blocks[blocks, k.ALICE] < 0]
        self._ask_blocks_and_searches(blocks)
        if self._asked.size == 0:
            if not frames[:, k.F_DONE].all():  # pragma: no cover - every unfinished frame asks or moves on
                raise ProtocolError("Cascade stalled with unfinished frames")
            self._state = "done"
            return [CascadeDone(self._round, self._disclosed)]
        return self._ask()

    def _ask(self) -> list[Message]:
        if self._round >= self._max_rounds:
            self._state = "failed"
            self._failure = f"Cascade did not converge within {self._max_rounds} rounds"
            return [Abort(self._failure)]
        self._round += 1
        self._f_rounds[np.unique(self._asked_frames)] += 1
        return [ParityQuery(self._round, self._asked_passes.astype(np.uint8), self._asked_starts, self._asked_stops)]


__all__ = ["CascadeBob", "CascadeResult"]
