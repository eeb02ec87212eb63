"""Cascade reconciliation, the original and its optimised variants, as a sans-I/O two-party protocol.

Bob holds the noisy key and drives; Alice holds the reference key and only answers parity questions
about her own key. The key is cut into frames (by default one frame: the whole key), each reconciled
on its own by the chosen :class:`~qkdnet.postprocess.cascade_variants.CascadeVariant`: pass ``i`` cuts
the frame into blocks of ``k_i`` bits in a public random order (natural order for pass 0); Bob finds an
error in each block whose parity differs from Alice's by BINARY search, flips it, and re-examines every
block of the passes so far that holds a flipped bit (the cascade); BICONF variants then test random
halves until enough in a row agree.

All binary searches, of every pass and frame, advance in lockstep, so each round's questions travel
in one :class:`ParityQuery`, and the block parities of every fixed pass are all asked in the first
round (Alice's parities do not depend on Bob's corrections, so asking early discloses nothing more).
A parity Bob already knows, or can derive (the right half of a range from the range and its left
half), is never asked again. Each frame moves to its next pass as soon as its own searches are over,
so round trips are those of the slowest frame. Searching every odd block of a pass at once costs a
little against sequential Cascade, which may find a block even after an earlier block's cascade (about
+3 % disclosed bits for the original); half-frame and BICONF blocks, where that matters most, are
searched one at a time per frame. Bob's per-round work is compiled (numba, loaded on first use).

Every parity Alice answers is recorded in both parties' ledgers; the ledger total equals the parity
bits sent. Cascade may leave residual errors (an even number in every block it tested); verification
catches them.

>>> import numpy as np
>>> from qkdnet.postprocess.ledger import LeakageLedger
>>> from qkdnet.postprocess.protocol import run_protocol
>>> rng = np.random.default_rng(5)
>>> alice_key = rng.integers(0, 2, 2000, dtype=np.uint8)
>>> bob_key = alice_key ^ (rng.random(2000) < 0.03).astype(np.uint8)
>>> alice = CascadeAlice(alice_key, ledger=LeakageLedger())
>>> bob = CascadeBob(bob_key, qber_estimate=0.03, ledger=LeakageLedger(), rng=rng, variant="option7")
>>> transcript = run_protocol(alice, bob)
>>> bool(np.array_equal(bob.result.key, alice_key))
True
"""

from __future__ import annotations

import numpy as np

from qkdnet.errors import InvalidParameter, ProtocolError, ReconciliationFailed
from qkdnet.postprocess._bits import IntArray, as_bits
from qkdnet.postprocess.cascade_bob import CascadeBob, CascadeResult
from qkdnet.postprocess.cascade_layout import MAX_PASSES, FrameLayout, pass_permutation
from qkdnet.postprocess.cascade_variants import (
    CASCADE_VARIANTS,
    CascadeVariant,
    cascade_variant,
)
from qkdnet.postprocess.ledger import CASCADE_PARITY, LeakageLedger
from qkdnet.postprocess.messages import (
    Abort,
    CascadeDone,
    CascadeSetup,
    CascadeStart,
    Message,
    ParityAnswer,
    ParityQuery,
)

ORIGINAL_PASSES = 4
"""Number of passes of the original Cascade."""
ORIGINAL_K1_FACTOR = 0.73
"""First block size k_1 ≈ 0.73/Q (Brassard & Salvail 1993)."""


def cascade_block_sizes(
    n: int, qber_estimate: float, *, passes: int | None = None, variant: str | CascadeVariant = "original"
) -> tuple[int, ...]:
    """Block size of each normal pass of ``variant`` for a frame of ``n`` bits (``passes`` overrides the count).

    With Q = 0 (no error expected) the first block is the whole frame. A later pass whose block would be
    the whole frame only repeats the frame's parity, so it is left out.

    >>> cascade_block_sizes(10_000, 0.01)
    (73, 146, 292, 584)
    >>> cascade_block_sizes(1000, 0.0)
    (1000,)
    """
    return cascade_variant(variant).block_sizes(n, qber_estimate, passes=passes)


# ------------------------------------------------------------------------------------------------ Alice
class CascadeAlice:
    """Alice's side: answers Bob's parity questions about her own key, and nothing else."""

    def __init__(self, key: object, *, ledger: LeakageLedger) -> None:
        self._key = as_bits(key, name="key", min_len=1)
        if not isinstance(ledger, LeakageLedger):
            raise InvalidParameter("ledger must be a LeakageLedger")
        self._ledger = ledger
        self._layout: FrameLayout | None = None
        self._max_passes = 0
        self._prefix = np.zeros((0, self._key.size + 1), dtype=np.uint8)  # row p: key's prefix parity in pass p's order
        self._have = np.zeros(0, dtype=np.bool_)
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

    @property
    def frame_lengths(self) -> IntArray:
        """Bits of each frame Bob's setup cut the key into."""
        if self._layout is None:
            raise ProtocolError("Cascade has not been set up: the frames are not known yet")
        return self._layout.frame_lengths.copy()

    def start(self) -> list[Message]:
        return []

    def receive(self, message: Message) -> list[Message]:
        if self._done:
            raise ProtocolError(f"Cascade is over; unexpected {type(message).__name__}")
        match message:
            case CascadeSetup(n=n, frame_bits=frame, max_passes=passes, permutation_seed=seed) if self._layout is None:
                self._setup(n, frame, passes, seed)  # the variant is Bob's business: Alice only answers
                return []
            case CascadeStart(n=n, block_sizes=sizes, permutation_seed=seed) if self._layout is None:
                self._setup(n, n, len(sizes), seed)  # one frame, one pass per listed block size
                return []
            case ParityQuery() if self._layout is not None:
                return [self._answer(message)]
            case CascadeDone(rounds=rounds, disclosed_bits=disclosed) if self._layout is not None:
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

    def _setup(self, n: int, frame_bits: int, max_passes: int, seed: int) -> None:
        if n != self._key.size:
            raise ProtocolError(f"key lengths differ: Bob has {n} bits, Alice {self._key.size}")
        try:
            self._layout = FrameLayout(n, frame_bits, seed)
        except InvalidParameter as exc:
            raise ProtocolError(str(exc)) from exc
        self._max_passes = max_passes

    def _answer(self, query: ParityQuery) -> ParityAnswer:
        layout = self._layout
        assert layout is not None  # noqa: S101 - guarded by the match above
        if query.round_index != self._round + 1:
            raise ProtocolError(f"expected round {self._round + 1}, got {query.round_index}")
        passes, starts, stops = query.passes.astype(np.int64), query.starts, query.stops
        if len(query) and (
            int(passes.max()) >= self._max_passes
            or int(starts.min()) < 0
            or int(stops.max()) > layout.n
            or bool(np.any(starts >= stops))
        ):
            raise ProtocolError("parity query outside the key")
        if len(query) and int(passes.max()) >= self._prefix.shape[0]:  # new passes: lay out the key in their order
            first, last = self._prefix.shape[0], int(passes.max()) + 1
            rows = max(last, 2 * first, 4)
            self._prefix = np.concatenate([self._prefix, np.zeros((rows - first, layout.n + 1), dtype=np.uint8)])
            self._have = np.concatenate([self._have, np.zeros(rows - first, dtype=np.bool_)])
        for p in np.unique(passes[~self._have[passes]]).tolist():
            self._prefix[p] = layout.prefix(self._key, p)
            self._have[p] = True
        parities = self._prefix[passes, starts] ^ self._prefix[passes, stops]
        self._round += 1
        self._disclosed += parities.size
        self._ledger.record(CASCADE_PARITY, int(parities.size))
        return ParityAnswer(self._round, parities)


__all__ = [
    "CASCADE_VARIANTS",
    "MAX_PASSES",
    "ORIGINAL_K1_FACTOR",
    "ORIGINAL_PASSES",
    "CascadeAlice",
    "CascadeBob",
    "CascadeResult",
    "CascadeVariant",
    "cascade_block_sizes",
    "cascade_variant",
    "pass_permutation",
]
