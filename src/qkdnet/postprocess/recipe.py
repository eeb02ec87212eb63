"""The safe road through post-processing: Cascade → verification → privacy amplification.

:class:`PostprocessAlice` and :class:`PostprocessBob` chain the three sans-I/O protocols, so the
same pair of objects runs in memory, in the simulator or over TCP. :func:`reconcile_and_amplify`
wires them in memory for the qkd layer: it hands each key to its own party (nothing reads both),
runs them, and returns two bit-for-bit identical final keys or raises.

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

from qkdnet.errors import InvalidParameter, ProtocolError
from qkdnet.postprocess._bits import Bits, as_bits, check_nonnegative_real
from qkdnet.postprocess.cascade import ORIGINAL_PASSES, CascadeAlice, CascadeBob, CascadeResult
from qkdnet.postprocess.keylength import DEFAULT_EPS_PA, secret_key_length
from qkdnet.postprocess.ledger import LeakageLedger
from qkdnet.postprocess.privacy import AmplifyAlice, AmplifyBob
from qkdnet.postprocess.protocol import Party, SequentialParty, Transcript, run_protocol
from qkdnet.postprocess.verify import DEFAULT_EPS_COR, VerifyAlice, VerifyBob, verification_tag_bits


def _check_common(ledger: object, rng: object, eve_information_bits: float) -> float:
    if not isinstance(ledger, LeakageLedger):
        raise InvalidParameter("ledger must be a LeakageLedger")
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameter("rng must be a numpy.random.Generator")
    return check_nonnegative_real(eve_information_bits, name="eve_information_bits")


class PostprocessAlice(SequentialParty):
    """Alice's whole post-processing: answer Cascade, send the verification tag, amplify.

    ``rng`` draws the verification seed; ``ledger`` receives every disclosed bit.
    """

    def __init__(
        self,
        key: object,
        *,
        ledger: LeakageLedger,
        rng: np.random.Generator,
        eve_information_bits: float,
        eps_cor: float = DEFAULT_EPS_COR,
        eps_pa: float = DEFAULT_EPS_PA,
    ) -> None:
        self._key = as_bits(key, name="alice_key", min_len=1)
        eve = _check_common(ledger, rng, eve_information_bits)
        verification_tag_bits(eps_cor)  # validate now, not mid-protocol
        secret_key_length(key_bits=0, eve_information_bits=0.0, ledger=LeakageLedger(), eps_pa=eps_pa)
        self._amplify: AmplifyAlice | None = None

        def amplify() -> Party:
            out_len = secret_key_length(key_bits=self._key.size, eve_information_bits=eve, ledger=ledger, eps_pa=eps_pa)
            self._amplify = AmplifyAlice(self._key, out_len=out_len)
            return self._amplify

        super().__init__(
            [
                lambda: CascadeAlice(self._key, ledger=ledger),
                lambda: VerifyAlice(self._key, ledger=ledger, rng=rng, eps_cor=eps_cor),
                amplify,
            ]
        )

    @property
    def key(self) -> Bits:
        """Alice's final secret key."""
        if self._amplify is None:
            raise ProtocolError("post-processing has not reached privacy amplification")
        return self._amplify.key


class PostprocessBob(SequentialParty):
    """Bob's whole post-processing: drive Cascade, check the tag, choose the amplification seed.

    ``rng`` draws the Cascade permutation seed and the privacy-amplification seed.
    """

    def __init__(
        self,
        key: object,
        *,
        qber_estimate: float,
        ledger: LeakageLedger,
        rng: np.random.Generator,
        eve_information_bits: float,
        eps_cor: float = DEFAULT_EPS_COR,
        eps_pa: float = DEFAULT_EPS_PA,
        passes: int = ORIGINAL_PASSES,
    ) -> None:
        eve = _check_common(ledger, rng, eve_information_bits)
        verification_tag_bits(eps_cor)
        secret_key_length(key_bits=0, eve_information_bits=0.0, ledger=LeakageLedger(), eps_pa=eps_pa)
        self._cascade = CascadeBob(key, qber_estimate=qber_estimate, ledger=ledger, rng=rng, passes=passes)
        self._verify: VerifyBob | None = None
        self._amplify: AmplifyBob | None = None

        def verify() -> Party:
            self._verify = VerifyBob(self._cascade.result.key, ledger=ledger, eps_cor=eps_cor)
            return self._verify

        def amplify() -> Party:
            if self._verify is None:  # pragma: no cover - stages run in order
                raise ProtocolError("verification stage missing")
            reconciled = self._verify.key  # raises VerificationFailed on a mismatch
            out_len = secret_key_length(
                key_bits=reconciled.size, eve_information_bits=eve, ledger=ledger, eps_pa=eps_pa
            )
            self._amplify = AmplifyBob(reconciled, out_len=out_len, rng=rng)
            return self._amplify

        super().__init__([lambda: self._cascade, verify, amplify])

    @property
    def amplification_seed(self) -> Bits:
        """The public Toeplitz seed of privacy amplification (empty until that stage has started)."""
        return np.zeros(0, dtype=np.uint8) if self._amplify is None else self._amplify.seed_bits

    @property
    def cascade_result(self) -> CascadeResult:
        """Cascade's outcome (corrected key, rounds, disclosed parities)."""
        return self._cascade.result

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
    """Both final keys (identical), their length, and what the road cost on the public channel."""

    alice_key: Bits
    bob_key: Bits
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


def reconcile_and_amplify(
    alice_key: object,
    bob_key: object,
    *,
    qber_estimate: float,
    eve_information_bits: float,
    ledger: LeakageLedger,
    rng: np.random.Generator,
    eps_cor: float = DEFAULT_EPS_COR,
    eps_pa: float = DEFAULT_EPS_PA,
) -> PostprocessResult:
    """Cascade, verify, and privacy-amplify two sifted keys into identical secret keys.

    ``ledger`` holds what was disclosed before (e.g. the estimation sample) and is extended in place
    with every bit disclosed here; Alice's party works on a copy and the two must agree. The final
    length is :func:`secret_key_length` of the reconciled key. Raises ReconciliationFailed,
    VerificationFailed or NoSecretKey (the bits already disclosed stay in ``ledger``).
    """
    a = as_bits(alice_key, name="alice_key", min_len=1)
    b = as_bits(bob_key, name="bob_key", min_len=1)
    if a.size != b.size:
        raise InvalidParameter(f"keys differ in length: {a.size} and {b.size}")
    _check_common(ledger, rng, eve_information_bits)
    alice_rng, bob_rng = rng.spawn(2)
    alice_ledger = ledger.copy()
    alice = PostprocessAlice(
        a,
        ledger=alice_ledger,
        rng=alice_rng,
        eve_information_bits=eve_information_bits,
        eps_cor=eps_cor,
        eps_pa=eps_pa,
    )
    bob = PostprocessBob(
        b,
        qber_estimate=qber_estimate,
        ledger=ledger,
        rng=bob_rng,
        eve_information_bits=eve_information_bits,
        eps_cor=eps_cor,
        eps_pa=eps_pa,
    )
    transcript = run_protocol(alice, bob)
    bob_final = bob.key
    alice_final = alice.key
    if alice_ledger != ledger:
        raise ProtocolError("Alice's and Bob's leakage ledgers disagree")
    cascade = bob.cascade_result
    return PostprocessResult(
        alice_key=alice_final,
        bob_key=bob_final,
        final_bits=int(bob_final.size),
        reconciled_bits=int(b.size),
        corrected_bits=cascade.corrected_bits,
        cascade_rounds=cascade.rounds,
        cascade_parity_bits=cascade.disclosed_bits,
        verification_bits=verification_tag_bits(eps_cor),
        transcript=transcript,
        ledger=ledger,
        amplification_seed=bob.amplification_seed,
    )


__all__ = ["PostprocessAlice", "PostprocessBob", "PostprocessResult", "reconcile_and_amplify"]
