"""The original Cascade (Brassard & Salvail, EUROCRYPT '93), as a sans-I/O two-party protocol.

Bob holds the noisy key and drives; Alice holds the reference key and only answers parity
questions about her own key. Pass ``i`` cuts the key into blocks of ``k_i = k_1·2^(i−1)`` bits
(``k_1 = max(4, ⌈0.73/Q⌉)``), in natural order for pass 1 and under a public random permutation
afterwards. Bob finds an error in each block whose parity differs from Alice's by BINARY search,
flips it, and then re-examines the blocks of every pass that contain the flipped bit (the cascade
effect). All binary searches advance in lockstep, so each round's questions travel in one
:class:`ParityQuery` and the number of round trips is about ``passes·(log2(k) + few)``.

Alice's answers (every disclosed parity) are recorded in both parties' ledgers. Parities Bob can
derive (the sibling of an asked half, from its parent) are never asked again. Cascade may leave
residual errors; verification catches them.

>>> import numpy as np
>>> from qkdnet.postprocess.ledger import LeakageLedger
>>> from qkdnet.postprocess.protocol import run_protocol
>>> rng = np.random.default_rng(5)
>>> alice_key = rng.integers(0, 2, 2000, dtype=np.uint8)
>>> bob_key = alice_key ^ (rng.random(2000) < 0.03).astype(np.uint8)
>>> alice = CascadeAlice(alice_key, ledger=LeakageLedger())
>>> bob = CascadeBob(bob_key, qber_estimate=0.03, ledger=LeakageLedger(), rng=rng)
>>> transcript = run_protocol(alice, bob)
>>> bool(np.array_equal(bob.result.key, alice_key))
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qkdnet.errors import InvalidParameter, ProtocolError, ReconciliationFailed
from qkdnet.postprocess._bits import Bits, as_bits, check_int
from qkdnet.postprocess.ledger import CASCADE_PARITY, LeakageLedger
from qkdnet.postprocess.messages import (
    Abort,
    CascadeDone,
    CascadeStart,
    Message,
    ParityAnswer,
    ParityQuery,
)

ORIGINAL_PASSES = 4
"""Number of passes of the original Cascade."""
ORIGINAL_K1_FACTOR = 0.73
"""First block size k_1 ≈ 0.73/Q (Brassard & Salvail 1993)."""

IntArray = npt.NDArray[np.int64]


def cascade_block_sizes(n: int, qber_estimate: float, *, passes: int = ORIGINAL_PASSES) -> tuple[int, ...]:
    """Block size of each pass: ``k_1 = max(4, ⌈0.73/Q⌉)``, doubling, capped at n.

    With Q = 0 (no error expected) the first block is the whole key. Once a pass covers the whole
    key, later passes would only repeat the key's total parity, so they are left out.

    >>> cascade_block_sizes(10_000, 0.01)
    (73, 146, 292, 584)
    >>> cascade_block_sizes(1000, 0.0)
    (1000,)
    """
    size = check_int(n, name="n", minimum=1)
    count = check_int(passes, name="passes", minimum=1)
    if isinstance(qber_estimate, bool) or not isinstance(qber_estimate, (int, float)):
        raise InvalidParameter(f"qber_estimate must be a number, got {qber_estimate!r}")
    q = float(qber_estimate)
    if not 0.0 <= q <= 0.5:
        raise InvalidParameter(f"qber_estimate must lie in [0, 0.5], got {qber_estimate!r}")
    ratio = math.inf if q == 0.0 else ORIGINAL_K1_FACTOR / q
    k1 = size if ratio >= size else max(4, math.ceil(ratio))
    sizes: list[int] = []
    for i in range(count):
        if sizes and sizes[-1] >= size:
            break
        sizes.append(min(k1 << i, size))
    return tuple(sizes)


def pass_permutation(seed: int, pass_index: int, n: int) -> IntArray:
    """Order of the key bits in pass ``pass_index``: identity for pass 0, else a public permutation.

    Derived from the shared seed by ``argsort`` of raw PCG64 outputs of a SeedSequence keyed by
    the pass index; both are stable across numpy versions, so both parties get the same order.
    """
    check_int(pass_index, name="pass_index")
    check_int(n, name="n", minimum=1)
    if pass_index == 0:
        return np.arange(n, dtype=np.int64)
    bit_gen = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(pass_index,)))
    return np.argsort(bit_gen.random_raw(n), kind="stable").astype(np.int64)


def _prefix_parity(bits: Bits) -> Bits:
    """``p[i]`` = parity of ``bits[:i]`` (length n + 1), so parity of ``bits[a:b]`` = ``p[a] ^ p[b]``."""
    prefix = np.zeros(bits.size + 1, dtype=np.uint8)
    np.bitwise_xor.accumulate(bits, out=prefix[1:])
    return prefix


def _block_bounds(n: int, k: int) -> tuple[IntArray, IntArray]:
    starts = np.arange(0, n, k, dtype=np.int64)
    return starts, np.minimum(starts + k, n)


@dataclass(frozen=True, slots=True)
class CascadeResult:
    """Bob's outcome: the corrected key and what it cost."""

    key: Bits
    rounds: int
    disclosed_bits: int
    corrected_bits: int
    block_sizes: tuple[int, ...]


# ------------------------------------------------------------------------------------------------ Alice
class CascadeAlice:
    """Alice's side: answers Bob's parity questions about her own key, and nothing else."""

    def __init__(self, key: object, *, ledger: LeakageLedger) -> None:
        self._key = as_bits(key, name="key", min_len=1)
        if not isinstance(ledger, LeakageLedger):
            raise InvalidParameter("ledger must be a LeakageLedger")
        self._ledger = ledger
        self._seed: int | None = None
        self._block_sizes: tuple[int, ...] = ()
        self._prefix: dict[int, Bits] = {}
        self._round = 0
        self._disclosed = 0
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    @property
    def disclosed_bits(self) -> int:
        """Parity bits Alice has revealed."""
        return self._disclosed

    def start(self) -> list[Message]:
        return []

    def receive(self, message: Message) -> list[Message]:
        if self._done:
            raise ProtocolError(f"Cascade is over; unexpected {type(message).__name__}")
        match message:
            case CascadeStart(n=n, block_sizes=sizes, permutation_seed=seed) if self._seed is None:
                if n != self._key.size:
                    raise ProtocolError(f"key lengths differ: Bob has {n} bits, Alice {self._key.size}")
                self._seed, self._block_sizes = seed, sizes
                return []
            case ParityQuery() if self._seed is not None:
                return [self._answer(message)]
            case CascadeDone(rounds=rounds, disclosed_bits=disclosed) if self._seed is not None:
                if rounds != self._round or disclosed != self._disclosed:
                    raise ProtocolError(
                        f"ledgers disagree: Bob counts {disclosed} bits in {rounds} rounds, "
                        f"Alice {self._disclosed} bits in {self._round} rounds"
                    )
                self._done = True
                return []
            case Abort(reason=reason):
                self._done = True
                raise ReconciliationFailed(f"Bob aborted Cascade: {reason}")
            case _:
                raise ProtocolError(f"CascadeAlice did not expect {type(message).__name__} now")

    def _answer(self, query: ParityQuery) -> ParityAnswer:
        if query.round_index != self._round + 1:
            raise ProtocolError(f"expected round {self._round + 1}, got {query.round_index}")
        n = self._key.size
        passes, starts, stops = query.passes, query.starts, query.stops
        if len(query) and (
            int(passes.max()) >= len(self._block_sizes)
            or int(starts.min()) < 0
            or int(stops.max()) > n
            or bool(np.any(starts >= stops))
        ):
            raise ProtocolError("parity query outside the key")
        parities = np.empty(len(query), dtype=np.uint8)
        for p in np.unique(passes).tolist():
            prefix = self._prefix.get(p)
            if prefix is None:
                prefix = _prefix_parity(self._key[pass_permutation(self._seed or 0, p, n)])
                self._prefix[p] = prefix
            sel = passes == p
            parities[sel] = prefix[starts[sel]] ^ prefix[stops[sel]]
        self._round += 1
        self._disclosed += parities.size
        self._ledger.record(CASCADE_PARITY, int(parities.size))
        return ParityAnswer(self._round, parities)


# -------------------------------------------------------------------------------------------------- Bob
class _Pass:
    """Bob's view of one pass: the order, Bob's current bits in that order, and their prefix parity."""

    def __init__(self, key: Bits, seed: int, index: int, block_size: int) -> None:
        n = key.size
        self.index = index
        self.block_size = block_size
        self.perm = pass_permutation(seed, index, n)
        self.pos = np.empty(n, dtype=np.int64)
        self.pos[self.perm] = np.arange(n, dtype=np.int64)
        self.bits = key[self.perm]
        self._prefix: Bits | None = None

    def flip(self, originals: IntArray) -> None:
        self.bits[self.pos[originals]] ^= 1
        self._prefix = None

    @property
    def prefix(self) -> Bits:
        if self._prefix is None:
            self._prefix = _prefix_parity(self.bits)
        return self._prefix

    def parity(self, start: int, stop: int) -> int:
        prefix = self.prefix
        return int(prefix[start] ^ prefix[stop])

    def block_range(self, block: int) -> tuple[int, int]:
        start = block * self.block_size
        return start, min(start + self.block_size, self.bits.size)


class CascadeBob:
    """Bob's side: drives Cascade on his noisy key using Alice's parities; never sees her key.

    ``rng`` draws the public permutation seed only. ``max_rounds`` bounds the protocol; past it Bob
    aborts and :attr:`result` raises ReconciliationFailed.
    """

    def __init__(
        self,
        key: object,
        *,
        qber_estimate: float,
        ledger: LeakageLedger,
        rng: np.random.Generator,
        passes: int = ORIGINAL_PASSES,
        max_rounds: int = 10_000,
    ) -> None:
        self._key = as_bits(key, name="key", min_len=1)
        self._block_sizes = cascade_block_sizes(self._key.size, qber_estimate, passes=passes)
        if not isinstance(ledger, LeakageLedger):
            raise InvalidParameter("ledger must be a LeakageLedger")
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameter("rng must be a numpy.random.Generator")
        self._ledger = ledger
        self._rng = rng
        self._max_rounds = check_int(max_rounds, name="max_rounds", minimum=1)
        self._seed = 0
        self._passes: list[_Pass] = []
        # Alice's parity of (pass, start, stop), asked or derived.
        self._known: dict[tuple[int, int, int], int] = {}
        # One active binary search per odd block: (pass, block) -> current odd range (start, stop).
        self._searches: dict[tuple[int, int], tuple[int, int]] = {}
        self._outstanding: list[tuple[int, int, int]] = []
        self._new_pass_pending = False
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
        """Block size of each pass that will run."""
        return self._block_sizes

    @property
    def result(self) -> CascadeResult:
        """The corrected key and costs; raises ReconciliationFailed if Bob aborted."""
        if self._state == "failed":
            raise ReconciliationFailed(self._failure)
        if self._state != "done":
            raise ProtocolError("Cascade has not finished")
        key = self._key.copy()
        return CascadeResult(key, self._round, self._disclosed, self._corrected, self._block_sizes)

    def start(self) -> list[Message]:
        if self._state != "idle":
            raise ProtocolError("CascadeBob already started")
        self._state = "running"
        self._seed = int.from_bytes(self._rng.bytes(16), "little")
        hello = CascadeStart(self._key.size, self._block_sizes, self._seed)
        return [hello, *self._begin_pass()]

    def receive(self, message: Message) -> list[Message]:
        match message:
            case ParityAnswer(round_index=r, parities=parities) if self._state == "running":
                if r != self._round or parities.size != len(self._outstanding):
                    raise ProtocolError(f"answer to round {r} does not match question round {self._round}")
                self._disclosed += parities.size
                self._ledger.record(CASCADE_PARITY, int(parities.size))
                for item, bit in zip(self._outstanding, parities.tolist(), strict=True):
                    self._known[item] = bit
                self._outstanding = []
                if self._new_pass_pending:
                    self._new_pass_pending = False
                    self._open_odd_blocks(self._passes[-1])
                return self._advance()
            case Abort(reason=reason):
                self._state, self._failure = "failed", f"Alice aborted Cascade: {reason}"
                raise ReconciliationFailed(self._failure)
            case _:
                raise ProtocolError(f"CascadeBob did not expect {type(message).__name__} ({self._state})")

    # -- protocol steps --------------------------------------------------------------------------
    def _query(self, items: list[tuple[int, int, int]]) -> list[Message]:
        if self._round >= self._max_rounds:
            self._state = "failed"
            self._failure = f"Cascade did not converge within {self._max_rounds} rounds"
            return [Abort(self._failure)]
        self._round += 1
        self._outstanding = items
        arr = np.array(items, dtype=np.int64).reshape(-1, 3)
        return [ParityQuery(self._round, arr[:, 0].astype(np.uint8), arr[:, 1], arr[:, 2])]

    def _begin_pass(self) -> list[Message]:
        """Start the next pass (ask every block parity), or finish when all passes are done."""
        index = len(self._passes)
        if index == len(self._block_sizes):
            self._state = "done"
            return [CascadeDone(self._round, self._disclosed)]
        p = _Pass(self._key, self._seed, index, self._block_sizes[index])
        self._passes.append(p)
        starts, stops = _block_bounds(self._key.size, p.block_size)
        self._new_pass_pending = True
        return self._query([(index, s, e) for s, e in zip(starts.tolist(), stops.tolist(), strict=True)])

    def _open_odd_blocks(self, p: _Pass) -> None:
        """After a pass's block parities arrive, start a binary search in every odd block."""
        starts, stops = _block_bounds(self._key.size, p.block_size)
        prefix = p.prefix
        mine = prefix[starts] ^ prefix[stops]
        bounds = zip(starts.tolist(), stops.tolist(), strict=True)
        theirs = np.array([self._known[(p.index, s, e)] for s, e in bounds], dtype=np.uint8)
        for b in np.flatnonzero(mine != theirs).tolist():
            self._searches[(p.index, b)] = (int(starts[b]), int(stops[b]))

    def _descend(self, p: _Pass, start: int, stop: int) -> tuple[int, int, bool]:
        """Narrow an odd range as far as known parities allow; True if it is down to one bit."""
        known = self._known
        while stop - start > 1:
            mid = (start + stop) // 2
            left = known.get((p.index, start, mid))
            if left is None:
                return start, stop, False
            right_key = (p.index, mid, stop)
            if right_key not in known:
                known[right_key] = known[(p.index, start, stop)] ^ left
            if left != p.parity(start, mid):
                stop = mid
            else:
                start = mid
        return start, stop, True

    def _advance(self) -> list[Message]:
        """Push every search as far as possible, apply corrections, cascade; then ask or move on."""
        while True:
            flips: set[int] = set()
            asks: list[tuple[int, int, int]] = []
            for (pi, b), (s, e) in list(self._searches.items()):
                p = self._passes[pi]
                s, e, found = self._descend(p, s, e)
                if found:
                    flips.add(int(p.perm[s]))
                    del self._searches[(pi, b)]
                else:
                    self._searches[(pi, b)] = (s, e)
                    asks.append((pi, s, (s + e) // 2))
            if not flips:
                break
            self._apply_flips(np.fromiter(flips, dtype=np.int64, count=len(flips)))
        if self._searches:
            return self._query(asks)
        return self._begin_pass()

    def _apply_flips(self, originals: IntArray) -> None:
        """Correct bits, then reopen every block (of every pass so far) whose parity became odd."""
        self._key[originals] ^= 1
        self._corrected += originals.size
        for p in self._passes:
            p.flip(originals)
        candidates: set[tuple[int, int]] = set()
        for key, (s, e) in list(self._searches.items()):
            p = self._passes[key[0]]
            if self._known[(key[0], s, e)] == p.parity(s, e):  # a flip inside made it even
                del self._searches[key]
                candidates.add(key)
        for p in self._passes:
            for b in np.unique(p.pos[originals] // p.block_size).tolist():
                candidates.add((p.index, b))
        for key in sorted(candidates):
            if key in self._searches:
                continue
            p = self._passes[key[0]]
            s, e = p.block_range(key[1])
            if self._known[(key[0], s, e)] != p.parity(s, e):
                self._searches[key] = (s, e)


__all__ = [
    "ORIGINAL_K1_FACTOR",
    "ORIGINAL_PASSES",
    "CascadeAlice",
    "CascadeBob",
    "CascadeResult",
    "cascade_block_sizes",
    "pass_permutation",
]
