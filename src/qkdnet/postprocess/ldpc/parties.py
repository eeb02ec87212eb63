"""LDPC reconciliation as a sans-I/O two-party protocol: Alice sends syndromes, Bob decodes.

Bob holds the noisy key and the error-rate estimate, so he chooses the plan
(:func:`.plan_reconciliation`) and announces it in :class:`LdpcStart`. Alice cuts her key into
frames, fills the punctured symbols with her own random bits and the shortened ones with zeros, and
sends every frame's syndrome in one :class:`LdpcSyndrome`. Bob decodes each frame with per-bit
priors (``Q`` or ``1 − Q`` on key bits, ½ on punctured, 0 on shortened) and checks the decoded word
against Alice's syndrome himself. Frames that fail are listed in :class:`LdpcFeedback`; Alice then
reveals the next punctured bits of those frames (:class:`LdpcReveal`) and Bob decodes them again —
blind reconciliation (Martinez-Mateo, Elkouss & Martin, QIC 12, 791 (2012)) — for at most
``max_rounds`` attempts, after which Bob aborts and :attr:`LdpcBob.result` raises
ReconciliationFailed, or, with ``drop_undecoded``, ends with those frames marked in
:attr:`LdpcResult.failed_frames` (verification then drops them alone; a final feedback with
``reveal = 0`` tells Alice so). With a :class:`.ResumableDecoder` (the default), a failed decoding is
continued from its messages rather than started over. How many bits each round reveals is Bob's
plan (:attr:`.ReconciliationPlan.schedule`); Alice only checks that the request stays within the
punctured symbols. A word that meets the syndrome but differs from Alice's is left for the
verification hash to catch.

**What the ledger charges.** A frame's syndrome is ``m`` bits of ``H·(key, punctured, 0)``. The
punctured columns of H have disjoint supports (untainted puncturing), so they have rank ``p``, and
with Alice's punctured bits uniform and secret the syndrome tells Eve exactly ``m − p`` bits about
the key (Elkouss, Martinez-Mateo & Martin, QIC 11, 226 (2011), whose efficiency is
``(m − p)/((n − p − s)·h(Q))``). Each revealed punctured bit unmasks one more. So both ledgers
record, per frame, ``m − p`` charged bits of kind ``ldpc_syndrome`` and ``p`` uncharged bits of
kind ``ldpc_syndrome_masked`` (sent, but not subtracted), and one charged ``ldpc_revealed`` bit per
revealed value: the ledger's total is exactly the bits sent, its charged part the leak.

>>> import numpy as np
>>> from qkdnet.postprocess.ledger import LeakageLedger
>>> from qkdnet.postprocess.protocol import run_protocol
>>> rng = np.random.default_rng(3)
>>> alice_key = rng.integers(0, 2, 5000, dtype=np.uint8)
>>> bob_key = alice_key ^ (rng.random(5000) < 0.03).astype(np.uint8)
>>> alice = LdpcAlice(alice_key, ledger=LeakageLedger(), rng=rng)
>>> bob = LdpcBob(bob_key, qber_estimate=0.03, ledger=LeakageLedger(), rng=rng, frame_bits=2000)
>>> transcript = run_protocol(alice, bob)
>>> bool(np.array_equal(bob.result.key, alice_key))
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from qkdnet.checks import check_probability
from qkdnet.errors import InvalidParameter, ProtocolError, ReconciliationFailed
from qkdnet.postprocess._bits import Bits, IntArray, as_bits
from qkdnet.postprocess.ldpc.adaptation import (
    DEFAULT_EFFICIENCY_END,
    DEFAULT_EFFICIENCY_START,
    DEFAULT_FAMILY,
    DEFAULT_FRAME_BITS,
    DEFAULT_MAX_ROUNDS,
    MIN_QBER,
    FrameLayout,
    ReconciliationPlan,
    frame_layout,
    plan_reconciliation,
)
from qkdnet.postprocess.ldpc.decoder import (
    BpState,
    DecoderFactory,
    LayeredBeliefPropagation,
    ResumableDecoder,
    SyndromeDecoder,
)
from qkdnet.postprocess.ledger import LeakageLedger
from qkdnet.postprocess.messages import Abort, LdpcFeedback, LdpcReveal, LdpcStart, LdpcSyndrome, Message

LDPC_SYNDROME = "ldpc_syndrome"
"""Syndrome bits that leak key information: ``m − p`` per frame (charged)."""
LDPC_SYNDROME_MASKED = "ldpc_syndrome_masked"
"""Syndrome bits masked by Alice's secret punctured bits: ``p`` per frame (sent, not charged)."""
LDPC_REVEALED = "ldpc_revealed"
"""Punctured bits revealed in blind rounds, one bit each (charged)."""


def _record_syndrome(ledger: LeakageLedger, plan: ReconciliationPlan, m: int) -> None:
    ledger.record(LDPC_SYNDROME, (m - plan.punctured) * plan.frames)
    ledger.record(LDPC_SYNDROME_MASKED, plan.punctured * plan.frames, charged=False)


def _frames_of(key: Bits, layout: FrameLayout, n: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """The key placed in frames (other positions 0), and which positions of each frame are key bits."""
    words = np.zeros((layout.frames, n), dtype=np.uint8)
    is_key = np.zeros((layout.frames, n), dtype=bool)
    big, small = layout.key_positions_big, layout.key_positions_small
    nb = layout.big_frames
    cut = nb * big.size
    words[:nb, big] = key[:cut].reshape(nb, big.size)
    is_key[:nb, big] = True
    if layout.frames > nb:
        words[nb:, small] = key[cut:].reshape(layout.frames - nb, small.size)
        is_key[nb:, small] = True
    return words, is_key


def _plan_from(message: LdpcStart) -> ReconciliationPlan:
    plan = ReconciliationPlan(
        family=message.family,
        rate=message.rate,
        n=message.n,
        code_seed=message.code_seed,
        key_bits=message.key_bits,
        frames=message.frames,
        punctured=message.punctured,
        max_rounds=1,
    )
    frame_layout(plan)  # validates the plan against the code
    return plan


@dataclass(frozen=True, slots=True)
class LdpcResult:
    """Bob's outcome: the corrected key and what it cost.

    ``disclosed_bits`` counts every bit Alice sent (syndromes and revealed values), ``charged_bits``
    the part charged as leakage; ``rounds`` is the number of decoding rounds.
    """

    key: Bits = field(repr=False)
    rounds: int
    disclosed_bits: int
    charged_bits: int
    corrected_bits: int
    frames: int
    plan: ReconciliationPlan
    frame_lengths: IntArray = field(repr=False)
    """Key bits of each frame, in key order."""
    failed_frames: npt.NDArray[np.bool_] = field(repr=False)
    """Frames still undecoded when Bob gave up (only with ``drop_undecoded``); their bits are Bob's own."""


# ------------------------------------------------------------------------------------------------ Alice
class LdpcAlice:
    """Alice's side: sends her frames' syndromes, then reveals punctured bits Bob asks for.

    ``rng`` draws the punctured bits, which must stay secret (they mask part of the syndrome).
    """

    def __init__(self, key: object, *, ledger: LeakageLedger, rng: np.random.Generator) -> None:
        self._key = as_bits(key, name="key", min_len=1)
        if not isinstance(ledger, LeakageLedger):
            raise InvalidParameter("ledger must be a LeakageLedger")
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameter("rng must be a numpy.random.Generator")
        self._ledger = ledger
        self._rng = rng
        self._plan: ReconciliationPlan | None = None
        self._punctured_values: npt.NDArray[np.uint8] | None = None  # (frames, p), in reveal order
        self._revealed = 0
        self._round = 0
        self._disclosed = 0
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    @property
    def disclosed_bits(self) -> int:
        """Bits Alice has sent: syndromes and revealed values."""
        return self._disclosed

    @property
    def frame_lengths(self) -> IntArray:
        """Key bits of each frame of Bob's plan."""
        if self._plan is None:
            raise ProtocolError("LDPC has not been set up: the frames are not known yet")
        return _frame_lengths(frame_layout(self._plan))

    def start(self) -> list[Message]:
        return []

    def receive(self, message: Message) -> list[Message]:
        if self._done:
            raise ProtocolError(f"LDPC reconciliation is over; unexpected {type(message).__name__}")
        match message:
            case LdpcStart() if self._plan is None:
                return [self._syndromes(message)]
            case LdpcFeedback() if self._plan is not None:
                return self._feedback(message)
            case Abort(reason=reason):
                self._done = True
                raise ReconciliationFailed(f"Bob aborted LDPC reconciliation: {reason}")
            case _:
                raise ProtocolError(f"LdpcAlice did not expect {type(message).__name__} now")

    def _syndromes(self, message: LdpcStart) -> LdpcSyndrome:
        if message.key_bits != self._key.size:
            raise ProtocolError(f"key lengths differ: Bob has {message.key_bits} bits, Alice {self._key.size}")
        try:
            plan = _plan_from(message)
        except InvalidParameter as exc:
            raise ProtocolError(f"unusable LDPC plan: {exc}") from exc
        layout = frame_layout(plan)
        code = plan.code
        words, _ = _frames_of(self._key, layout, plan.n)
        values = self._rng.integers(0, 2, size=(plan.frames, plan.punctured), dtype=np.uint8)
        words[:, layout.punctured] = values
        syndromes = code.syndrome(words)
        self._plan, self._punctured_values = plan, values
        _record_syndrome(self._ledger, plan, code.m)
        self._disclosed += int(syndromes.size)
        return LdpcSyndrome(syndromes.ravel())

    def _feedback(self, message: LdpcFeedback) -> list[Message]:
        plan, values = self._plan, self._punctured_values
        assert plan is not None and values is not None  # noqa: S101 - guarded by the match in receive()
        if message.round_index != self._round + 1:
            raise ProtocolError(f"expected feedback on round {self._round + 1}, got {message.round_index}")
        self._round += 1
        failed = message.failed_frames
        if failed.size == 0 or message.reveal == 0:  # all decoded, or Bob leaves the rest to verification
            if message.disclosed_bits != self._disclosed:
                raise ProtocolError(
                    f"ledgers disagree: Bob counts {message.disclosed_bits} disclosed bits, Alice {self._disclosed}"
                )
            self._done = True
            return []
        count = message.reveal
        if (
            count < 1
            or self._revealed + count > plan.punctured
            or int(failed.min()) < 0
            or int(failed.max()) >= plan.frames
            or np.unique(failed).size != failed.size
        ):
            raise ProtocolError("reveal request outside the punctured symbols or the frames")
        revealed = values[failed, self._revealed : self._revealed + count]
        self._revealed += count
        self._ledger.record(LDPC_REVEALED, int(revealed.size))
        self._disclosed += int(revealed.size)
        return [LdpcReveal(message.round_index, revealed.ravel())]


# -------------------------------------------------------------------------------------------------- Bob
class LdpcBob:
    """Bob's side: plans, decodes every frame, asks for punctured bits of the frames that fail.

    ``rng`` is accepted for symmetry with Cascade (Bob draws nothing: the plan is public and
    deterministic). ``decoder`` builds the syndrome decoder for the mother code's matrix.
    """

    def __init__(
        self,
        key: object,
        *,
        qber_estimate: float,
        ledger: LeakageLedger,
        rng: np.random.Generator,
        frame_bits: int = DEFAULT_FRAME_BITS,
        family: str = DEFAULT_FAMILY,
        efficiency_start: float = DEFAULT_EFFICIENCY_START,
        efficiency_end: float = DEFAULT_EFFICIENCY_END,
        max_rounds: int = DEFAULT_MAX_ROUNDS,
        decoder: DecoderFactory = LayeredBeliefPropagation,
        drop_undecoded: bool = False,
    ) -> None:
        self._key = as_bits(key, name="key", min_len=1)
        self._drop_undecoded = bool(drop_undecoded)
        q = check_probability(qber_estimate, name="qber_estimate", open_low=False)
        if not isinstance(ledger, LeakageLedger):
            raise InvalidParameter("ledger must be a LeakageLedger")
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameter("rng must be a numpy.random.Generator")
        if not callable(decoder):
            raise InvalidParameter("decoder must build a SyndromeDecoder from a parity-check matrix")
        self._plan = plan_reconciliation(
            self._key.size,
            q,
            n=frame_bits,
            family=family,
            efficiency_start=efficiency_start,
            efficiency_end=efficiency_end,
            max_rounds=max_rounds,
        )
        self._layout = frame_layout(self._plan)
        self._ledger = ledger
        self._decoder_factory = decoder
        self._decoder: SyndromeDecoder | None = None
        self._bp_state: BpState | None = None  # where the pending frames' decoding stopped
        self._q = min(max(q, MIN_QBER), 0.5)
        self._syndromes: npt.NDArray[np.uint8] | None = None
        self._priors: npt.NDArray[np.float64] | None = None
        self._decoded: npt.NDArray[np.uint8] | None = None
        self._pending = np.zeros(0, dtype=np.int64)
        self._revealed = 0
        self._asked = 0
        self._round = 0
        self._disclosed = 0
        self._charged = 0
        self._state = "idle"  # idle -> running -> done | failed
        self._failure = ""

    # -- public ----------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._state in ("done", "failed")

    @property
    def plan(self) -> ReconciliationPlan:
        """The code, framing and blind schedule Bob chose."""
        return self._plan

    @property
    def undecoded_frames(self) -> int:
        """Frames still undecoded: after a failure (or frames left to verification), how many."""
        return int(self._pending.size)

    @property
    def charged_bits(self) -> int:
        """Leakage charged so far (also after a failure, when :attr:`result` raises)."""
        return self._charged

    @property
    def result(self) -> LdpcResult:
        """The corrected key and costs; raises ReconciliationFailed if Bob gave up."""
        if self._state == "failed":
            raise ReconciliationFailed(self._failure)
        if self._state != "done" or self._decoded is None:
            raise ProtocolError("LDPC reconciliation has not finished")
        key = np.empty_like(self._key)
        words = self._decoded
        big, small, nb = self._layout.key_positions_big, self._layout.key_positions_small, self._layout.big_frames
        key[: nb * big.size] = words[:nb][:, big].ravel()
        key[nb * big.size :] = words[nb:][:, small].ravel()
        lengths = _frame_lengths(self._layout)
        failed = np.zeros(self._plan.frames, dtype=np.bool_)
        failed[self._pending] = True
        own = np.repeat(failed, lengths)
        key[own] = self._key[own]  # an undecoded frame keeps Bob's bits: verification drops it
        corrected = int(np.count_nonzero(key != self._key))
        return LdpcResult(
            key, self._round, self._disclosed, self._charged, corrected, self._plan.frames, self._plan, lengths, failed
        )

    def start(self) -> list[Message]:
        if self._state != "idle":
            raise ProtocolError("LdpcBob already started")
        self._state = "running"
        p = self._plan
        return [LdpcStart(p.family, p.rate, p.n, p.code_seed, p.key_bits, p.frames, p.punctured)]

    def receive(self, message: Message) -> list[Message]:
        match message:
            case LdpcSyndrome(syndromes=syndromes) if self._state == "running" and self._syndromes is None:
                return self._first_round(syndromes)
            case LdpcReveal(round_index=r, values=values) if self._state == "running" and self._syndromes is not None:
                return self._reveal_round(r, values)
            case Abort(reason=reason):
                self._state, self._failure = "failed", f"Alice aborted LDPC reconciliation: {reason}"
                raise ReconciliationFailed(self._failure)
            case _:
                raise ProtocolError(f"LdpcBob did not expect {type(message).__name__} ({self._state})")

    # -- protocol steps --------------------------------------------------------------------------
    def _first_round(self, syndromes: Bits) -> list[Message]:
        plan, layout = self._plan, self._layout
        code = plan.code
        if syndromes.size != plan.frames * code.m:
            raise ProtocolError(f"expected {plan.frames * code.m} syndrome bits, got {syndromes.size}")
        self._syndromes = syndromes.reshape(plan.frames, code.m)
        _record_syndrome(self._ledger, plan, code.m)
        self._disclosed += int(syndromes.size)
        self._charged += (code.m - plan.punctured) * plan.frames
        words, is_key = _frames_of(self._key, layout, plan.n)
        priors = np.where(words == 1, 1.0 - self._q, self._q)
        priors[~is_key] = 0.0  # shortened: known zeros
        priors[:, layout.punctured] = 0.5
        self._priors = priors
        self._decoded = np.zeros_like(words)
        self._decoder = self._decoder_factory(code.matrix)
        return self._decode(np.arange(plan.frames, dtype=np.int64))

    def _reveal_round(self, round_index: int, values: Bits) -> list[Message]:
        step = self._asked
        if round_index != self._round or values.size != self._pending.size * step:
            raise ProtocolError(f"reveal for round {round_index} does not match the request of round {self._round}")
        self._ledger.record(LDPC_REVEALED, int(values.size))
        self._disclosed += int(values.size)
        self._charged += int(values.size)
        positions = self._layout.punctured[self._revealed : self._revealed + step]
        self._revealed += step
        assert self._priors is not None  # noqa: S101 - set in the first round
        rows = self._pending[:, None]
        self._priors[rows, positions[None, :]] = values.reshape(self._pending.size, step).astype(np.float64)
        return self._decode(self._pending)

    def _decode(self, frames: npt.NDArray[np.int64]) -> list[Message]:
        """Decode ``frames``; report the failures, ask for more punctured bits, or give up."""
        assert self._decoder is not None and self._syndromes is not None and self._priors is not None  # noqa: S101
        assert self._decoded is not None  # noqa: S101
        self._round += 1
        code = self._plan.code
        if isinstance(self._decoder, ResumableDecoder):  # blind rounds continue the failed decodings
            words, _, state = self._decoder.decode_resumable(
                self._syndromes[frames], self._priors[frames], self._bp_state
            )
        else:
            words, _ = self._decoder.decode_batch(self._syndromes[frames], self._priors[frames])
        # Bob's own check: the decoder's claim is not trusted.
        met = np.all(code.syndrome(words) == self._syndromes[frames], axis=1)
        if isinstance(self._decoder, ResumableDecoder):
            self._bp_state = state.take(~met)
        self._decoded[frames[met]] = words[met]
        failed = frames[~met].tolist()
        self._pending = np.array(failed, dtype=np.int64)
        if not failed:
            self._state = "done"
            return [LdpcFeedback(self._round, self._pending, 0, self._disclosed)]
        if self._round < self._plan.max_rounds:
            self._asked = max(1, self._plan.revealed_before(self._round + 1) - self._revealed)
            self._asked = min(self._asked, self._plan.punctured - self._revealed)
        if self._round >= self._plan.max_rounds or self._asked == 0:
            if self._drop_undecoded and len(failed) < self._plan.frames:
                self._state = "done"
                return [LdpcFeedback(self._round, self._pending, 0, self._disclosed)]
            self._state = "failed"
            self._failure = f"{len(failed)} of {self._plan.frames} LDPC frames undecoded after {self._round} rounds"
            return [Abort(self._failure)]
        return [LdpcFeedback(self._round, self._pending, self._asked, self._disclosed)]


def _frame_lengths(layout: FrameLayout) -> IntArray:
    """Key bits of each frame of ``layout``: the big frames first, then those one bit shorter."""
    lengths = np.full(layout.frames, layout.key_positions_small.size, dtype=np.int64)
    lengths[: layout.big_frames] = layout.key_positions_big.size
    return lengths


__all__ = ["LDPC_REVEALED", "LDPC_SYNDROME", "LDPC_SYNDROME_MASKED", "LdpcAlice", "LdpcBob", "LdpcResult"]
