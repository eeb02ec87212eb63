"""The safe road through post-processing: reconciliation → verification → privacy amplification.

:class:`PostprocessAlice` and :class:`PostprocessBob` chain the three sans-I/O protocols, so the
same pair of objects runs in memory, in the simulator or over TCP. The reconciler is chosen by name
(:mod:`qkdnet.postprocess.reconciler`); the final length comes from a :class:`KeyLengthRule` applied
by each party to its own ledger (the TLGR finite-key bound, or the asymptotic budget).
:func:`reconcile_and_amplify` wires them for the qkd layer: it hands each key to its own party
(nothing reads both), optionally seals every message with Wegman–Carter tags and runs over a
channel with latency, and returns two bit-for-bit identical final keys or raises.

>>> import numpy as np
>>> from qkdnet.postprocess.ledger import LeakageLedger
>>> rng = np.random.default_rng(11)
>>> alice_key = rng.integers(0, 2, 4000, dtype=np.uint8)
>>> bob_key = alice_key ^ (rng.random(4000) < 0.02).astype(np.uint8)
>>> result = reconcile_and_amplify(alice_key, bob_key, qber_estimate=0.02,
...                                eve_information_bits=600.0, ledger=LeakageLedger(), rng=rng)
>>> bool(np.array_equal(result.alice_key, result.bob_key)), result.final_bits
(True, 2645)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from qkdnet.checks import check_int
from qkdnet.errors import InvalidParameter, NoSecretKey, ProtocolError
from qkdnet.postprocess._bits import Bits, as_bits
from qkdnet.postprocess.auth import AuthenticatedChannelEnd, AuthenticatedParty, PartyTagKeys
from qkdnet.postprocess.keylength import DEFAULT_EPS_PA, AsymptoticKeyLength, KeyLengthRule
from qkdnet.postprocess.ledger import VERIFICATION_HASH, LeakageLedger
from qkdnet.postprocess.privacy import AmplifyAlice, AmplifyBob
from qkdnet.postprocess.protocol import (
    ClassicalChannel,
    Interceptor,
    Party,
    SequentialParty,
    Transcript,
    run_over_channel,
)
from qkdnet.postprocess.reconciler import (
    CascadeReconciler,
    Reconciler,
    ReconciliationResult,
    ReconcilingBob,
    get_reconciler,
)
from qkdnet.postprocess.verify import DEFAULT_EPS_COR, VerifyAlice, VerifyBob, verification_tag_bits


def _rule(eve_information_bits: float | None, key_length: KeyLengthRule | None, eps_pa: float) -> KeyLengthRule:
    """The key-length rule: either the asymptotic budget for ``eve_information_bits``, or ``key_length``."""
    if (eve_information_bits is None) == (key_length is None):
        raise InvalidParameter("give exactly one of eve_information_bits (asymptotic) and key_length (a rule)")
    if key_length is None:
        return AsymptoticKeyLength(float(eve_information_bits), eps_pa)  # type: ignore[arg-type]
    if not isinstance(key_length, KeyLengthRule):
        raise InvalidParameter("key_length must be a KeyLengthRule (e.g. FiniteKeyLength)")
    return key_length


def _reconciler(reconciler: str | Reconciler) -> Reconciler:
    return get_reconciler(reconciler) if isinstance(reconciler, str) else reconciler


def _check_common(ledger: object, rng: object) -> None:
    if not isinstance(ledger, LeakageLedger):
        raise InvalidParameter("ledger must be a LeakageLedger")
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameter("rng must be a numpy.random.Generator")


class PostprocessAlice(SequentialParty):
    """Alice's whole post-processing: her side of reconciliation, the verification tag, amplification.

    ``rng`` draws the verification seed; ``ledger`` receives every disclosed bit. The final length is
    ``key_length.final_length`` of her ledger, or, given ``eve_information_bits`` instead, the
    asymptotic :func:`~qkdnet.postprocess.keylength.secret_key_length`.
    """

    def __init__(
        self,
        key: object,
        *,
        ledger: LeakageLedger,
        rng: np.random.Generator,
        eve_information_bits: float | None = None,
        eps_cor: float = DEFAULT_EPS_COR,
        eps_pa: float = DEFAULT_EPS_PA,
        key_length: KeyLengthRule | None = None,
        reconciler: str | Reconciler = "cascade",
    ) -> None:
        self._key = as_bits(key, name="alice_key", min_len=1)
        _check_common(ledger, rng)
        rule = _rule(eve_information_bits, key_length, eps_pa)
        chosen = _reconciler(reconciler)
        verification_tag_bits(eps_cor)  # validate now, not mid-protocol
        reconciling = chosen.make_alice(self._key, ledger=ledger, rng=rng)
        self._verify: VerifyAlice | None = None
        self._amplify: AmplifyAlice | None = None

        def verify() -> Party:  # the frames are those Bob's reconciliation set up
            self._verify = VerifyAlice(
                self._key, ledger=ledger, rng=rng, eps_cor=eps_cor, frame_lengths=reconciling.frame_lengths
            )
            return self._verify

        def amplify() -> Party:
            if self._verify is None:  # pragma: no cover - stages run in order
                raise ProtocolError("verification stage missing")
            kept = self._verify.key  # the frames Bob's verdicts kept
            self._amplify = AmplifyAlice(kept, out_len=rule.final_length(kept.size, ledger))
            return self._amplify

        super().__init__([lambda: reconciling, verify, amplify])

    @property
    def key(self) -> Bits:
        """Alice's final secret key."""
        if self._amplify is None:
            raise ProtocolError("post-processing has not reached privacy amplification")
        return self._amplify.key


class PostprocessBob(SequentialParty):
    """Bob's whole post-processing: drive reconciliation, check the tag, choose the amplification seed.

    ``rng`` draws the reconciler's public randomness and the privacy-amplification seed. ``passes``
    (kept for compatibility) picks a Cascade of that many passes instead of ``reconciler``.
    """

    def __init__(
        self,
        key: object,
        *,
        qber_estimate: float,
        ledger: LeakageLedger,
        rng: np.random.Generator,
        eve_information_bits: float | None = None,
        eps_cor: float = DEFAULT_EPS_COR,
        eps_pa: float = DEFAULT_EPS_PA,
        passes: int | None = None,
        key_length: KeyLengthRule | None = None,
        reconciler: str | Reconciler = "cascade",
    ) -> None:
        _check_common(ledger, rng)
        rule = _rule(eve_information_bits, key_length, eps_pa)
        chosen = CascadeReconciler(passes=check_int(passes, name="passes", minimum=1)) if passes is not None else None
        verification_tag_bits(eps_cor)
        self._reconcile: ReconcilingBob = (chosen or _reconciler(reconciler)).make_bob(
            as_bits(key, name="bob_key", min_len=1), qber_estimate=qber_estimate, ledger=ledger, rng=rng
        )
        self._verify: VerifyBob | None = None
        self._amplify: AmplifyBob | None = None

        def verify() -> Party:
            done = self._reconcile.result
            self._verify = VerifyBob(
                done.key,
                ledger=ledger,
                eps_cor=eps_cor,
                frame_lengths=done.frame_lengths,
                failed_frames=done.failed_frames,
            )
            return self._verify

        def amplify() -> Party:
            if self._verify is None:  # pragma: no cover - stages run in order
                raise ProtocolError("verification stage missing")
            reconciled = self._verify.key  # raises VerificationFailed on a mismatch
            out_len = rule.final_length(reconciled.size, ledger)
            self._amplify = AmplifyBob(reconciled, out_len=out_len, rng=rng)
            return self._amplify

        super().__init__([lambda: self._reconcile, verify, amplify])

    @property
    def amplification_seed(self) -> Bits:
        """The public Toeplitz seed of privacy amplification (empty until that stage has started)."""
        return np.zeros(0, dtype=np.uint8) if self._amplify is None else self._amplify.seed_bits

    @property
    def reconciliation_result(self) -> ReconciliationResult:
        """The reconciler's outcome (corrected key, rounds, disclosed bits)."""
        return self._reconcile.result

    @property
    def verification(self) -> VerifyBob:
        """The verification stage (which frames were kept); ProtocolError before it has started."""
        if self._verify is None:
            raise ProtocolError("post-processing has not reached verification")
        return self._verify

    @property
    def cascade_result(self) -> ReconciliationResult:
        """Alias of :attr:`reconciliation_result` (from when Cascade was the only reconciler)."""
        return self._reconcile.result

    @property
    def key(self) -> Bits:
        """Bob's final secret key (raises the failure that stopped the road, if any)."""
        if self.failure is not None:
            raise self.failure
        if self._amplify is None:
            raise ProtocolError("post-processing has not reached privacy amplification")
        return self._amplify.key


@dataclass(frozen=True, slots=True, eq=False)
class PostprocessResult:
    """Both final keys (identical), their length, and what the road cost on the public channel.

    ``amplified_bits`` is the privacy-amplification output; ``authentication_key_bits`` of it went
    back into the tag-key reserves, so ``final_bits`` (the keys handed out) is the difference.
    ``cascade_rounds`` and ``cascade_parity_bits`` are the chosen reconciler's rounds and disclosure.
    ``verification_bits`` are every frame's tag bits; ``frames`` were verified, ``frames_dropped`` of them
    failed and were left out, and ``kept_positions`` are the reconciled key's positions that went on to
    amplification. ``elapsed_s`` is the simulated time on the classical channel.
    """

    alice_key: Bits = field(repr=False)
    bob_key: Bits = field(repr=False)
    final_bits: int
    reconciled_bits: int
    corrected_bits: int
    cascade_rounds: int
    cascade_parity_bits: int
    verification_bits: int
    transcript: Transcript
    ledger: LeakageLedger
    amplification_seed: Bits = field(default_factory=lambda: np.zeros(0, dtype=np.uint8), repr=False)
    """The public Toeplitz seed that hashed the reconciled key into the final key (it crossed the channel)."""
    amplified_bits: int = 0
    authentication_key_bits: int = 0
    elapsed_s: float = 0.0
    frames: int = 1
    frames_dropped: int = 0
    kept_positions: npt.NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp), repr=False)


def reconcile_and_amplify(
    alice_key: object,
    bob_key: object,
    *,
    qber_estimate: float,
    ledger: LeakageLedger,
    rng: np.random.Generator,
    eve_information_bits: float | None = None,
    eps_cor: float = DEFAULT_EPS_COR,
    eps_pa: float = DEFAULT_EPS_PA,
    key_length: KeyLengthRule | None = None,
    reconciler: str | Reconciler = "cascade",
    channel: ClassicalChannel | None = None,
    tag_keys: tuple[PartyTagKeys, PartyTagKeys] | None = None,
    block_id: int = 0,
    channel_ends: tuple[AuthenticatedChannelEnd, AuthenticatedChannelEnd] | None = None,
    interceptor: Interceptor | None = None,
) -> PostprocessResult:
    """Reconcile, verify, and privacy-amplify two sifted keys into identical secret keys.

    ``ledger`` holds what was disclosed before (e.g. the estimation sample) and is extended in place
    with every bit disclosed here; Alice's party works on a copy and the two must agree. The final
    length is ``key_length.final_length`` of the reconciled key (or the asymptotic budget for
    ``eve_information_bits``). With ``tag_keys`` (Alice's and Bob's reserves) every message is
    authenticated, and the key bits spent on tags are refilled from the front of the amplified key
    before it is handed out. ``channel_ends`` (made from ``tag_keys``) continue a block whose earlier
    messages (the public announcements) were already sealed on them, so the refill pays for those too;
    without them the block ``block_id`` starts here. ``channel`` sets the latency (ideal by default);
    an ``interceptor`` sits on the wire. Raises ReconciliationFailed, VerificationFailed,
    AuthenticationFailed or NoSecretKey (the bits already disclosed stay in ``ledger``; nothing of the
    block is kept).
    """
    a = as_bits(alice_key, name="alice_key", min_len=1)
    b = as_bits(bob_key, name="bob_key", min_len=1)
    if a.size != b.size:
        raise InvalidParameter(f"keys differ in length: {a.size} and {b.size}")
    _check_common(ledger, rng)
    alice_rng, bob_rng = rng.spawn(2)
    alice_ledger = ledger.copy()
    rule = _rule(eve_information_bits, key_length, eps_pa)
    alice = PostprocessAlice(
        a, ledger=alice_ledger, rng=alice_rng, key_length=rule, reconciler=reconciler, eps_cor=eps_cor
    )
    bob = PostprocessBob(
        b, qber_estimate=qber_estimate, ledger=ledger, rng=bob_rng, key_length=rule, reconciler=reconciler,
        eps_cor=eps_cor,
    )  # fmt: skip
    ends = _channel_ends(tag_keys, block_id, channel_ends)
    alice_party: Party = alice if ends is None else AuthenticatedParty(alice, ends[0])
    bob_party: Party = bob if ends is None else AuthenticatedParty(bob, ends[1])
    try:
        run = run_over_channel(alice_party, bob_party, channel or ClassicalChannel(), interceptor=interceptor)
    finally:
        for end in ends or ():
            end.close()
    bob_final = bob.key
    alice_final = alice.key
    if alice_ledger != ledger:
        raise ProtocolError("Alice's and Bob's leakage ledgers disagree")
    amplified = int(bob_final.size)
    spent = 0
    if tag_keys is not None and ends is not None:
        usage = ends[1].usage
        if ends[0].usage != usage:
            raise ProtocolError(f"the parties disagree on the authentication cost: {ends[0].usage} and {usage}")
        spent = usage.key_bits
        alice_final = tag_keys[0].refill(alice_final, usage)
        bob_final = tag_keys[1].refill(bob_final, usage)
        if bob_final.size == 0:
            raise NoSecretKey(
                f"no net key: authenticating the block cost {spent} key bits, privacy amplification made {amplified}"
            )
    result = bob.reconciliation_result
    kept = bob.verification.kept_frames
    return PostprocessResult(
        alice_key=alice_final,
        bob_key=bob_final,
        final_bits=int(bob_final.size),
        reconciled_bits=int(b.size),
        corrected_bits=result.corrected_bits,
        cascade_rounds=result.rounds,
        cascade_parity_bits=result.disclosed_bits,
        verification_bits=ledger.by_kind().get(VERIFICATION_HASH, 0),
        transcript=run.transcript,
        ledger=ledger,
        amplification_seed=bob.amplification_seed,
        amplified_bits=amplified,
        authentication_key_bits=spent,
        elapsed_s=run.elapsed_s,
        frames=int(kept.size),
        frames_dropped=int(kept.size - np.count_nonzero(kept)),
        kept_positions=bob.verification.kept_positions(),
    )


def _channel_ends(
    tag_keys: tuple[PartyTagKeys, PartyTagKeys] | None,
    block_id: int,
    ends: tuple[AuthenticatedChannelEnd, AuthenticatedChannelEnd] | None,
) -> tuple[AuthenticatedChannelEnd, AuthenticatedChannelEnd] | None:
    if tag_keys is None:
        if ends is not None:
            raise InvalidParameter("channel_ends need the tag_keys they were made from (to refill what they spent)")
        return None
    if (
        not isinstance(tag_keys, tuple)
        or len(tag_keys) != 2
        or not all(isinstance(k, PartyTagKeys) for k in tag_keys)
        or (tag_keys[0].side, tag_keys[1].side) != ("alice", "bob")
    ):
        raise InvalidParameter("tag_keys must be (Alice's PartyTagKeys, Bob's PartyTagKeys)")
    if ends is None:
        return tag_keys[0].channel_end(block_id=block_id), tag_keys[1].channel_end(block_id=block_id)
    if (
        not isinstance(ends, tuple)
        or len(ends) != 2
        or not all(isinstance(e, AuthenticatedChannelEnd) for e in ends)
        or (ends[0].side, ends[1].side) != ("alice", "bob")
    ):
        raise InvalidParameter("channel_ends must be (Alice's AuthenticatedChannelEnd, Bob's AuthenticatedChannelEnd)")
    return ends


__all__ = ["PostprocessAlice", "PostprocessBob", "PostprocessResult", "reconcile_and_amplify"]
