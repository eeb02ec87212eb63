"""Verification: do both keys agree after reconciliation? A universal-hash tag comparison.

Alice draws a public seed and sends it with the ``t``-bit hash of her key; Bob hashes his key with
the same seed and compares the tags with :func:`hmac.compare_digest`. The hash has two stages, so
that no step costs more than one pass over the key: the Poly1305 polynomial hash (public random
key r, no pad) compresses the key to 128 bits, and a random t × 128 Toeplitz matrix maps those to
``t`` bits. Two different keys of at most L bytes collide in the first stage with probability at
most ``8⌈L/16⌉/2^106`` (Bernstein, "The Poly1305-AES message-authentication code", FSE 2005,
Theorem 3.3), at most 2⁻⁷⁰ for the keys of up to 2⁴⁰ bits accepted here, and in the second with
probability 2⁻ᵗ (Toeplitz matrices are 2-universal), so
``t = ⌈log2(1/(ε_cor − 2⁻⁷⁰))⌉`` makes the accepted keys ε_cor-correct. The ``t`` tag bits are
disclosed and recorded in both ledgers. On a mismatch Bob tells Alice, and both sides raise
VerificationFailed.

>>> verification_tag_bits(1e-12)
40
>>> verification_seed_bits(40)   # 128 bits of polynomial key, then 40 + 128 - 1 Toeplitz bits
295
"""

from __future__ import annotations

import hmac
import math

import numpy as np
from cryptography.hazmat.primitives.poly1305 import Poly1305

from qkdnet.checks import check_int, check_probability
from qkdnet.errors import InvalidParameter, ProtocolError, VerificationFailed
from qkdnet.postprocess._bits import Bits, as_bits
from qkdnet.postprocess.ledger import VERIFICATION_HASH, LeakageLedger
from qkdnet.postprocess.messages import Message, VerificationOutcome, VerificationTag
from qkdnet.postprocess.privacy import HashSeed, toeplitz_hash

DEFAULT_EPS_COR = 1e-12
MAX_VERIFIED_BITS = 1 << 40
"""Longest key verified: it bounds the polynomial stage's collision probability by 2⁻⁷⁰."""
_POLY_COLLISION = 2.0**-70
_POLY_KEY_BITS = 128
_DIGEST_BITS = 128


def verification_tag_bits(eps_cor: float) -> int:
    """Tag length ``t = ⌈log2(1/(ε_cor − 2⁻⁷⁰))⌉``: different keys collide with probability ≤ ε_cor."""
    eps = check_probability(eps_cor, name="eps_cor")
    if eps <= 2.0 * _POLY_COLLISION:
        raise InvalidParameter(f"eps_cor must exceed 2^-69 (the polynomial stage's own bound), got {eps_cor!r}")
    return max(1, math.ceil(-math.log2(eps - _POLY_COLLISION)))


def verification_seed_bits(tag_bits: int) -> int:
    """Public seed bits of one verification: the polynomial key, then the t × 128 Toeplitz seed."""
    t = check_int(tag_bits, name="tag_bits", minimum=1)
    return _POLY_KEY_BITS + t + _DIGEST_BITS - 1


def verification_tag(key: object, seed: HashSeed, tag_bits: int) -> bytes:
    """The ``tag_bits``-bit hash of ``key`` under ``seed`` (consumed), packed in bytes."""
    x = as_bits(key, name="key", copy=False, min_len=1)
    if x.size > MAX_VERIFIED_BITS:
        raise InvalidParameter(f"keys longer than {MAX_VERIFIED_BITS} bits cannot be verified")
    if len(seed) != verification_seed_bits(tag_bits):
        raise InvalidParameter(f"seed must hold {verification_seed_bits(tag_bits)} bits, got {len(seed)}")
    bits = seed.consume()
    poly_key = np.packbits(bits[:_POLY_KEY_BITS]).tobytes() + bytes(16)  # r public, no pad: a hash, not a MAC
    data = x.size.to_bytes(8, "little") + np.packbits(x).tobytes()
    digest = np.unpackbits(np.frombuffer(Poly1305.generate_tag(poly_key, data), dtype=np.uint8))
    return np.packbits(toeplitz_hash(digest, bits[_POLY_KEY_BITS:], tag_bits)).tobytes()


def _check_ledger(ledger: object) -> LeakageLedger:
    if not isinstance(ledger, LeakageLedger):
        raise InvalidParameter("ledger must be a LeakageLedger")
    return ledger


class VerifyAlice:
    """Alice's side: sends the seed and her tag, then learns Bob's verdict (raising if negative)."""

    def __init__(
        self,
        key: object,
        *,
        ledger: LeakageLedger,
        rng: np.random.Generator,
        eps_cor: float = DEFAULT_EPS_COR,
    ) -> None:
        self._key = as_bits(key, name="key", min_len=1)
        self._ledger = _check_ledger(ledger)
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameter("rng must be a numpy.random.Generator")
        self._rng = rng
        self._tag_bits = verification_tag_bits(eps_cor)
        self._state = "idle"  # idle -> sent -> accepted | rejected

    @property
    def done(self) -> bool:
        return self._state in ("accepted", "rejected")

    @property
    def tag_bits(self) -> int:
        """Length of the tag, in bits (also the number of bits disclosed)."""
        return self._tag_bits

    def start(self) -> list[Message]:
        if self._state != "idle":
            raise ProtocolError("VerifyAlice already started")
        seed = HashSeed.random(verification_seed_bits(self._tag_bits), rng=self._rng)
        tag = verification_tag(self._key, seed, self._tag_bits)
        self._ledger.record(VERIFICATION_HASH, self._tag_bits)
        self._state = "sent"
        return [VerificationTag(seed.bits, tag, self._tag_bits)]

    def receive(self, message: Message) -> list[Message]:
        match message:
            case VerificationOutcome(accepted=True) if self._state == "sent":
                self._state = "accepted"
                return []
            case VerificationOutcome(accepted=False) if self._state == "sent":
                self._state = "rejected"
                raise VerificationFailed("Bob's verification tag differs: the block is discarded")
            case _:
                raise ProtocolError(f"VerifyAlice did not expect {type(message).__name__} ({self._state})")

    @property
    def key(self) -> Bits:
        """Alice's key, once Bob has accepted it."""
        self._require_accepted()
        return self._key

    def _require_accepted(self) -> None:
        if self._state == "rejected":
            raise VerificationFailed("verification failed: the block is discarded")
        if self._state != "accepted":
            raise ProtocolError("verification has not completed")


class VerifyBob:
    """Bob's side: checks Alice's tag against his own with a constant-time comparison."""

    def __init__(self, key: object, *, ledger: LeakageLedger, eps_cor: float = DEFAULT_EPS_COR) -> None:
        self._key = as_bits(key, name="key", min_len=1)
        self._ledger = _check_ledger(ledger)
        self._tag_bits = verification_tag_bits(eps_cor)
        self._state = "waiting"  # waiting -> accepted | rejected

    @property
    def done(self) -> bool:
        return self._state != "waiting"

    def start(self) -> list[Message]:
        return []

    def receive(self, message: Message) -> list[Message]:
        match message:
            case VerificationTag(seed=seed, tag=tag, tag_bits=tag_bits) if self._state == "waiting":
                if tag_bits != self._tag_bits:
                    raise ProtocolError(f"tag length {tag_bits} bits, expected {self._tag_bits}")
                if seed.size != verification_seed_bits(tag_bits):
                    raise ProtocolError(
                        f"verification seed has {seed.size} bits, expected {verification_seed_bits(tag_bits)}"
                    )
                mine = verification_tag(self._key, HashSeed(seed), tag_bits)
                self._ledger.record(VERIFICATION_HASH, tag_bits)
                accepted = hmac.compare_digest(mine, tag)
                self._state = "accepted" if accepted else "rejected"
                return [VerificationOutcome(accepted)]
            case _:
                raise ProtocolError(f"VerifyBob did not expect {type(message).__name__} ({self._state})")

    @property
    def accepted(self) -> bool:
        """Whether the tags matched (only meaningful once :attr:`done`)."""
        return self._state == "accepted"

    @property
    def key(self) -> Bits:
        """Bob's key if the tags matched; raises VerificationFailed if they did not."""
        if self._state == "rejected":
            raise VerificationFailed("the verification tags differ: the block is discarded")
        if self._state != "accepted":
            raise ProtocolError("verification has not completed")
        return self._key

    def check(self) -> None:
        """Raise VerificationFailed unless the tags matched."""
        _ = self.key


__all__ = [
    "DEFAULT_EPS_COR",
    "MAX_VERIFIED_BITS",
    "VerifyAlice",
    "VerifyBob",
    "verification_seed_bits",
    "verification_tag",
    "verification_tag_bits",
]
