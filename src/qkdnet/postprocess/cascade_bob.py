"""Bob's side of Cascade: every block, search and frame of every pass held in flat arrays.

Blocks of all passes share one numbering; Bob keeps his current bits in each pass's order, so a range
parity is one gather, and each block's current parity is updated as bits flip. All binary searches
advance together: an answer round moves every search one level, found errors are flipped in bulk, and
the blocks they touch (in every pass a frame has entered) are re-examined at once. A search that
re-enters a block searched before descends through the halves already asked without asking again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qkdnet.errors import InvalidParameter, ProtocolError, ReconciliationFailed
from qkdnet.postprocess._bits import Bits, as_bits, check_int
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
BoolArray = npt.NDArray[np.bool_]
_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, slots=True, eq=False)
class CascadeResult:
    """Bob's outcome: the corrected key and what it cost, in total and per frame."""

    key: Bits
    rounds: int
    disclosed_bits: int
    corrected_bits: int
    block_sizes: tuple[int, ...]
    variant: str
    frame_bits: int
    frame_disclosed_bits: IntArray
    frame_rounds: IntArray


def _concat_ranges(lo: IntArray, hi: IntArray) -> IntArray:
    """``concatenate([arange(a, b) for a, b in zip(lo, hi)])`` without a Python loop."""
    lengths = hi - lo
    total = int(lengths.sum())
    if total == 0:
        return _EMPTY
    ends = np.cumsum(lengths)
    out: IntArray = np.arange(total, dtype=np.int64) + np.repeat(lo - (ends - lengths), lengths)
    return out


class _KnownParities:
    """Alice's parities of asked ranges, keyed by one int64 per (pass, start, stop), kept sorted in two
    levels: new keys enter a small level that merges into the large one once it outgrows ~16·√(large)."""

    def __init__(self, stride: int) -> None:
        self._stride = stride
        self._keys = [_EMPTY, _EMPTY]
        self._vals = [np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.uint8)]

    def key(self, p: IntArray, start: IntArray, stop: IntArray) -> IntArray:
        return (p * self._stride + start) * self._stride + stop

    def add(self, keys: IntArray, vals: Bits) -> None:
        if keys.size == 0:
            return
        first = np.argsort(keys)  # two sorted runs: the stable sort merges them in linear time
        small_keys = np.concatenate([self._keys[1], keys[first]])
        vals = vals[first]
        order = np.argsort(small_keys, kind="stable")
        self._keys[1], self._vals[1] = small_keys[order], np.concatenate([self._vals[1], vals])[order]
        big = self._keys[0]
        if self._keys[1].size > max(4096, 16 * int(np.sqrt(big.size))):
            merged = np.concatenate([big, self._keys[1]])
            order = np.argsort(merged, kind="stable")
            self._keys[0], self._vals[0] = merged[order], np.concatenate([self._vals[0], self._vals[1]])[order]
            self._keys[1], self._vals[1] = _EMPTY, np.zeros(0, dtype=np.uint8)

    def get(self, keys: IntArray) -> tuple[BoolArray, Bits]:
        """Which of ``keys`` are known, and their parities (0 where unknown)."""
        hit = np.zeros(keys.size, dtype=np.bool_)
        vals = np.zeros(keys.size, dtype=np.uint8)
        for level_keys, level_vals in zip(self._keys, self._vals, strict=True):
            if level_keys.size:
                at = np.minimum(np.searchsorted(level_keys, keys), level_keys.size - 1)
                found = level_keys[at] == keys
                hit |= found
                vals[found] = level_vals[at[found]]
        return hit, vals


class CascadeBob:
    """Bob's side: drives Cascade on his noisy key using Alice's parities; never sees her key.

    ``variant`` is a :class:`CascadeVariant` or the name of one in ``CASCADE_VARIANTS`` (default: the
    original); ``passes`` overrides its number of normal passes. ``frame_bits`` cuts the key into frames
    reconciled side by side (default: one frame). ``rng`` draws the public permutation seed only.
    ``max_rounds`` bounds the protocol; past it Bob aborts and :attr:`result` raises ReconciliationFailed.
    Memory: about one byte per key bit per pass.
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
        biconf_passes = len(self._offsets) - 1 - self._fixed
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
        blocks = np.arange(self._offsets[-1], dtype=np.int64)
        self._outstanding = (self._b_pass, self._b_start, self._b_stop, blocks, self._b_frame)
        return [hello, *self._ask()]

    def receive(self, message: Message) -> list[Message]:
        match message:
            case ParityAnswer(round_index=r, parities=parities) if self._state == "running":
                if r != self._round or parities.size != self._outstanding[0].size:
                    raise ProtocolError(f"answer to round {r} does not match question round {self._round}")
                self._disclosed += parities.size
                self._ledger.record(CASCADE_PARITY, int(parities.size))
                self._take_answers(parities)
                self._settle()
                return self._next_messages()
            case Abort(reason=reason):
                self._state, self._failure = "failed", f"Alice aborted Cascade: {reason}"
                raise ReconciliationFailed(self._failure)
            case _:
                raise ProtocolError(f"CascadeBob did not expect {type(message).__name__} ({self._state})")

    # -- set-up ----------------------------------------------------------------------------------
    def _begin(self, seed: int) -> None:
        n = self._key.size
        self._layout = layout = FrameLayout(n, self._frame_bits, seed, inverse=True)
        frames = layout.frames
        self._f_pass = np.full(frames, -1, dtype=np.int64)  # last pass each frame has entered
        self._f_done = np.zeros(frames, dtype=np.bool_)
        self._f_wait = np.zeros(frames, dtype=np.bool_)  # waiting for Alice's parities of its new pass
        self._f_dirty = np.zeros(frames, dtype=np.bool_)  # a bit was corrected during its current pass
        self._f_clean = np.zeros(frames, dtype=np.int64)  # BICONF passes in a row that corrected nothing
        self._f_rounds = np.zeros(frames, dtype=np.int64)
        self._f_disclosed = np.zeros(frames, dtype=np.int64)
        # Blocks of every pass, numbered together; pass p owns numbers offsets[p]:offsets[p+1], and
        # within it frame f owns ptr[p, f]:ptr[p, f+1]. Block size of pass p in a full / the short frame
        # is size[p, 0] / size[p, 1] (0: no blocks there, -1: one BICONF block, the first half).
        self._offsets = [0]
        self._ptr = np.zeros((0, frames + 1), dtype=np.int64)
        self._size = np.zeros((0, 2), dtype=np.int64)
        self._half = np.maximum(1, layout.frame_lengths // 2)
        self._is_rest = (np.arange(frames) >= layout.full_frames).astype(np.int64)
        self._b_pass = self._b_start = self._b_stop = self._b_frame = _EMPTY
        self._b_alice = np.zeros(0, dtype=np.int8)  # Alice's parity, -1 while unknown
        self._b_bob = np.zeros(0, dtype=np.uint8)  # Bob's current parity
        self._b_search = _EMPTY  # index of the search running in the block, -1 if none
        self._b_history = np.zeros(0, dtype=np.bool_)  # a search ran here before: halves may be known
        self._b_serial = np.zeros(0, dtype=np.bool_)  # one of at most two blocks of its frame in its pass
        self._deferred = _EMPTY  # odd serial blocks waiting for their frame's other searches to end
        # Searches: block, current odd range [start, stop) in the pass order, Alice's parity of it.
        self._s_block = self._s_start = self._s_stop = _EMPTY
        self._s_alice = np.zeros(0, dtype=np.uint8)
        self._s_reuse = np.zeros(0, dtype=np.bool_)  # its block was searched before: halves may be known
        self._s_fresh = np.zeros(0, dtype=np.bool_)  # moved since it last looked for a known half
        self._known = _KnownParities(n + 1)
        self._bits = np.zeros((0, n + 1), dtype=np.uint8)  # Bob's current bits in each pass's order
        v, q, count = self._variant, self._q, self._passes
        full = v.rule_sizes(self._frame_bits, q, passes=count)
        rest = v.rule_sizes(layout.rest, q, passes=count) if layout.rest else ()
        for i, k in enumerate(full):
            if i == 0 or k < self._frame_bits:  # a later whole-frame block would only repeat the parity
                self._add_pass(k, rest[i] if rest and (i == 0 or rest[i] < layout.rest) else None)
        self._fixed = len(self._offsets) - 1

    def _add_pass(self, k_full: int | None, k_rest: int | None, *, biconf: bool = False) -> None:
        """Create the next pass: blocks of ``k_full`` bits in full frames and ``k_rest`` in a short one
        (None: no blocks there), or with ``biconf`` one block per frame, its first half."""
        layout, p = self._layout, len(self._offsets) - 1
        starts, stops, frames, serial = [], [], [], []
        groups = ((layout.full_frames, layout.frame_bits, 0, k_full), (int(layout.rest > 0), layout.rest, 1, k_rest))
        for count, length, is_rest, k in groups:
            if count == 0 or (k is None and not biconf):
                continue
            if biconf or k is None:
                local_start, local_stop = np.zeros(1, np.int64), np.full(1, max(1, length // 2), np.int64)
            else:
                local_start = np.arange(0, length, k, dtype=np.int64)
                local_stop = np.minimum(local_start + k, length)
            first = layout.full_frames if is_rest else 0
            offsets = layout.frame_starts[first : first + count]
            starts.append((offsets[:, None] + local_start[None, :]).ravel())
            stops.append((offsets[:, None] + local_stop[None, :]).ravel())
            frames.append(np.repeat(np.arange(first, first + count, dtype=np.int64), local_start.size))
            serial.append(np.full(count * local_start.size, local_start.size <= 2))
        b_start, b_stop, b_frame = np.concatenate(starts), np.concatenate(stops), np.concatenate(frames)
        if p >= self._bits.shape[0]:  # grow the per-pass stores geometrically
            rows = max(4, 2 * p)
            self._bits = np.concatenate([self._bits, np.zeros((rows - p, self._bits.shape[1]), dtype=np.uint8)])
            self._ptr = np.concatenate([self._ptr, np.zeros((rows - p, self._ptr.shape[1]), dtype=np.int64)])
            self._size = np.concatenate([self._size, np.zeros((rows - p, 2), dtype=np.int64)])
        self._size[p] = (-1, -1) if biconf else (k_full or 0, k_rest or 0)
        row = self._bits[p]
        layout.ordered(self._key, p, out=row[:-1])  # the last column stays 0, so ranges may end at n
        bounds = np.stack([b_start, b_stop], axis=1).ravel()
        bob = np.bitwise_xor.reduceat(row, bounds)[::2]
        size = b_start.size
        self._offsets.append(self._offsets[-1] + size)
        self._ptr[p] = self._offsets[-2] + np.searchsorted(b_frame, np.arange(layout.frames + 1))
        self._b_pass = np.concatenate([self._b_pass, np.full(size, p, dtype=np.int64)])
        self._b_start = np.concatenate([self._b_start, b_start])
        self._b_stop = np.concatenate([self._b_stop, b_stop])
        self._b_frame = np.concatenate([self._b_frame, b_frame])
        self._b_alice = np.concatenate([self._b_alice, np.full(size, -1, dtype=np.int8)])
        self._b_bob = np.concatenate([self._b_bob, bob.astype(np.uint8)])
        self._b_search = np.concatenate([self._b_search, np.full(size, -1, dtype=np.int64)])
        self._b_history = np.concatenate([self._b_history, np.zeros(size, dtype=np.bool_)])
        self._b_serial = np.concatenate([self._b_serial, *serial])

    def _blocks_of(self, p: int, frames: IntArray) -> IntArray:
        ptr = self._ptr[p]
        return _concat_ranges(ptr[frames], ptr[frames + 1])

    def _blocks_at(self, positions: IntArray, frames: IntArray) -> tuple[IntArray, BoolArray]:
        """Block holding each position of every pass so far (``positions`` has one row per pass, one column
        per bit of ``frames``), and whether the position lies in a block at all."""
        passes = positions.shape[0]
        local = positions - self._layout.frame_starts[frames]
        size = self._size[:passes][:, self._is_rest[frames]]
        biconf = size < 0
        ok = (size != 0) & (~biconf | (local < self._half[frames]))
        ids = self._ptr[:passes][:, frames] + np.where(biconf, 0, local // np.maximum(size, 1))
        return ids, ok

    # -- parities --------------------------------------------------------------------------------
    def _parity(self, p: IntArray, start: IntArray, stop: IntArray) -> Bits:
        """Parity of Bob's current bits on ranges of pass orders (one gather over all of them)."""
        lengths = stop - start
        if lengths.size == 0:
            return np.zeros(0, dtype=np.uint8)
        offsets = np.cumsum(lengths) - lengths
        flat = p * self._bits.shape[1] + start - offsets
        index = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(flat, lengths)
        parity: Bits = np.bitwise_xor.reduceat(self._bits.reshape(-1)[index], offsets)
        return parity

    # -- searches --------------------------------------------------------------------------------
    def _keep_searches(self, keep: BoolArray) -> None:
        self._b_search[self._s_block[~keep]] = -1
        self._s_block, self._s_start, self._s_stop = self._s_block[keep], self._s_start[keep], self._s_stop[keep]
        self._s_alice, self._s_fresh, self._s_reuse = self._s_alice[keep], self._s_fresh[keep], self._s_reuse[keep]
        self._b_search[self._s_block] = np.arange(self._s_block.size, dtype=np.int64)

    def _open(self, blocks: IntArray) -> None:
        """Re-examine blocks: start a search in each that is idle, entered by its frame, and odd.

        Half-frame and BICONF blocks (at most two per frame in their pass) are searched one at a time
        per frame, as sequential Cascade does: once the first one's error and its cascade are corrected,
        the other is often even and needs no search. The others wait in ``_deferred``.
        """
        blocks = blocks[(self._b_search[blocks] < 0) & (self._b_alice[blocks] >= 0)]
        blocks = blocks[self._f_pass[self._b_frame[blocks]] >= self._b_pass[blocks]]
        blocks = blocks[(self._b_alice[blocks] ^ self._b_bob[blocks]) == 1]
        serial = self._b_serial[blocks]
        if serial.any():
            busy = np.zeros(self._layout.frames, dtype=np.bool_)
            busy[self._b_frame[self._s_block[self._b_serial[self._s_block]]]] = True
            candidates = blocks[serial]
            free = candidates[~busy[self._b_frame[candidates]]]
            _, first = np.unique(self._b_frame[free], return_index=True)
            chosen = free[first]
            self._deferred = np.union1d(self._deferred, np.setdiff1d(candidates, chosen))
            blocks = np.concatenate([blocks[~serial], chosen])
        if blocks.size == 0:
            return
        self._b_search[blocks] = self._s_block.size + np.arange(blocks.size, dtype=np.int64)
        self._s_block = np.concatenate([self._s_block, blocks])
        self._s_start = np.concatenate([self._s_start, self._b_start[blocks]])
        self._s_stop = np.concatenate([self._s_stop, self._b_stop[blocks]])
        self._s_alice = np.concatenate([self._s_alice, self._b_alice[blocks].astype(np.uint8)])
        self._s_reuse = np.concatenate([self._s_reuse, self._b_history[blocks]])
        self._s_fresh = np.concatenate([self._s_fresh, self._b_history[blocks]])
        self._b_history[blocks] = True

    def _halve(self, which: IntArray, left_alice: Bits) -> None:
        """Move searches ``which`` into the half that holds an error, given Alice's left-half parities."""
        s, e = self._s_start[which], self._s_stop[which]
        mid = (s + e) // 2
        go_left = (left_alice ^ self._parity(self._b_pass[self._s_block[which]], s, mid)) == 1
        self._s_start[which] = np.where(go_left, s, mid)
        self._s_stop[which] = np.where(go_left, mid, e)
        self._s_alice[which] = np.where(go_left, left_alice, self._s_alice[which] ^ left_alice)
        self._s_fresh[which] = self._s_reuse[which]

    def _descend_known(self) -> bool:
        """Halve the searches whose left half Alice already disclosed; False if none could move."""
        which = np.flatnonzero(self._s_fresh & ((self._s_stop - self._s_start) > 1))
        if which.size == 0:
            return False
        s, e = self._s_start[which], self._s_stop[which]
        hit, vals = self._known.get(self._known.key(self._b_pass[self._s_block[which]], s, (s + e) // 2))
        self._s_fresh[which[~hit]] = False
        if not hit.any():
            return False
        self._halve(which[hit], vals[hit])
        return True

    def _resolve_found(self) -> bool:
        """Flip the bits that searches narrowed down to, then cascade; False if nothing was found."""
        found = (self._s_stop - self._s_start) == 1
        if not found.any():
            return False
        bits = self._layout.key_index(self._b_pass[self._s_block[found]], self._s_start[found])
        self._keep_searches(~found)
        self._flip(np.unique(bits))
        return True

    def _flip(self, bits: IntArray) -> None:
        """Correct ``bits`` (key indices) in every pass; stop searches whose range turned even; cascade."""
        layout = self._layout
        frames = layout.frame_of(bits)
        self._key[bits] ^= 1
        self._corrected += bits.size
        self._f_dirty[frames] = True
        passes = len(self._offsets) - 1
        positions = layout.pass_positions(bits, passes)
        self._bits[np.arange(passes)[:, None], positions] ^= 1
        ids, ok = self._blocks_at(positions, frames)
        blocks, positions = ids[ok], positions[ok]
        touched, counts = np.unique(blocks, return_counts=True)
        self._b_bob[touched] ^= (counts & 1).astype(np.uint8)
        search = self._b_search[blocks]
        inside = search >= 0
        inside[inside] = (self._s_start[search[inside]] <= positions[inside]) & (
            positions[inside] < self._s_stop[search[inside]]
        )
        toggles = np.bincount(search[inside], minlength=self._s_block.size) & 1
        if toggles.any():  # an odd number of flips inside: the range is even now, the search stops
            self._keep_searches(toggles == 0)
        self._open(touched)

    def _advance_frames(self) -> bool:
        """Move every frame without running searches to its next pass (or finish it); False if none moved."""
        busy = np.bincount(self._b_frame[self._s_block], minlength=self._layout.frames) > 0
        idle = ~busy & ~self._f_done & ~self._f_wait
        if not idle.any():
            return False
        if self._deferred.size:  # an idle frame first searches the serial blocks it put off
            ready = idle[self._b_frame[self._deferred]]
            if ready.any():
                blocks, self._deferred = self._deferred[ready], self._deferred[~ready]
                self._open(blocks)
                return True
        frames = np.flatnonzero(idle)
        current = self._f_pass[frames]
        streak = self._variant.biconf_streak
        if streak == 0:
            finished = current >= self._fixed - 1
        else:
            in_biconf = current >= self._fixed
            clean = np.where(self._f_dirty[frames], 0, self._f_clean[frames] + 1)
            self._f_clean[frames] = np.where(in_biconf, clean, self._f_clean[frames])
            finished = in_biconf & (self._f_clean[frames] >= streak)
        self._f_done[frames[finished]] = True
        moving, target = frames[~finished], current[~finished] + 1
        for p in np.unique(target).tolist():
            self._enter(p, moving[target == p])
        return True

    def _enter(self, p: int, frames: IntArray) -> None:
        """Frames start pass ``p``: examine its blocks, or wait for Alice's parities of a new BICONF pass."""
        if p >= MAX_PASSES:
            self._failure = f"a frame needed more than {MAX_PASSES} passes"
            self._f_done[frames] = True
            return
        while p >= len(self._offsets) - 1:
            self._add_pass(None, None, biconf=True)
        self._f_pass[frames] = p
        self._f_dirty[frames] = False
        blocks = self._blocks_of(p, frames)
        unknown = self._b_alice[blocks] < 0
        self._f_wait[self._b_frame[blocks[unknown]]] = True
        self._open(blocks[~unknown])

    def _settle(self) -> None:
        """Do everything possible without asking Alice: descend, correct, cascade, start passes."""
        while not self._failure and (self._resolve_found() or self._descend_known() or self._advance_frames()):
            pass

    # -- messages --------------------------------------------------------------------------------
    def _take_answers(self, parities: Bits) -> None:
        q_pass, q_start, q_stop, q_block, q_frame = self._outstanding
        self._f_disclosed += np.bincount(q_frame, minlength=self._layout.frames)
        ranges = q_block < 0  # the left halves of the searches, asked in search order
        if ranges.any():
            self._known.add(self._known.key(q_pass[ranges], q_start[ranges], q_stop[ranges]), parities[ranges])
            self._halve(np.arange(self._s_block.size, dtype=np.int64), parities[ranges])
        blocks = q_block[~ranges]
        if blocks.size:
            self._b_alice[blocks] = parities[~ranges]
            self._f_wait[self._b_frame[blocks]] = False
            self._open(blocks)

    def _next_messages(self) -> list[Message]:
        if self._failure:
            self._state = "failed"
            return [Abort(self._failure)]
        searched = self._s_block
        waiting = np.flatnonzero(self._f_wait)  # frames waiting for Alice's parity of a new BICONF pass
        asked = _EMPTY
        if waiting.size:
            passes = self._f_pass[waiting]
            asked = np.concatenate([self._blocks_of(p, waiting[passes == p]) for p in np.unique(passes).tolist()])
            asked = asked[self._b_alice[asked] < 0]
        if searched.size + asked.size == 0:
            if not self._f_done.all():  # pragma: no cover - every unfinished frame asks or moves on
                raise ProtocolError("Cascade stalled with unfinished frames")
            self._state = "done"
            return [CascadeDone(self._round, self._disclosed)]
        blocks = np.concatenate([searched, asked])
        self._outstanding = (
            self._b_pass[blocks],
            np.concatenate([self._s_start, self._b_start[asked]]),
            np.concatenate([(self._s_start + self._s_stop) // 2, self._b_stop[asked]]),
            np.concatenate([np.full(searched.size, -1, dtype=np.int64), asked]),
            self._b_frame[blocks],
        )
        return self._ask()

    def _ask(self) -> list[Message]:
        if self._round >= self._max_rounds:
            self._state = "failed"
            self._failure = f"Cascade did not converge within {self._max_rounds} rounds"
            return [Abort(self._failure)]
        self._round += 1
        q_pass, q_start, q_stop, _, q_frame = self._outstanding
        self._f_rounds[np.unique(q_frame)] += 1
        return [ParityQuery(self._round, q_pass.astype(np.uint8), q_start, q_stop)]


__all__ = ["CascadeBob", "CascadeResult"]
