"""Verification: do both keys agree after reconciliation? A universal-hash tag comparison.

Alice draws a public Toeplitz seed and sends it with the ``t``-bit hash of her key; Bob hashes his
key with the same seed and compares the tags with :func:`hmac.compare_digest`. Random Toeplitz
matrices are 2-universal, so two different keys collide with probability at most ``2^−t``; with
``t = ⌈log2(1/ε_cor)⌉`` the accepted keys are ε_cor-correct. The ``t`` tag bits are disclosed and
recorded in both ledgers. On a mismatch Bob tells Alice, and both sides raise VerificationFailed.

>>> verification_tag_bits(1e-12)
40
"""

from __future__ import annotations

import hmac
import math

import numpy as np

from qkdnet.errors import InvalidParameter, ProtocolError, VerificationFailed
from qkdnet.postprocess._bits import Bits, as_bits, check_probability
from qkdnet.postprocess.ledger import VERIFICATION_HASH, LeakageLedger
from qkdnet.postprocess.messages import Message, VerificationOutcome, VerificationTag
from qkdnet.postprocess.privacy import HashSeed

DEFAULT_EPS_COR = 1e-12


def verification_tag_bits(eps_cor: float) -> int:
    """Tag length ``t = ⌈log2(1/ε_cor)⌉`` so that different keys collide with probability ≤ ε_cor."""
    eps = check_probability(eps_cor, name="eps_cor")
    return max(1, math.ceil(-math.log2(eps)))


def verification_tag(key: object, seed: HashSeed, tag_bits: int) -> bytes:
    """The ``tag_bits``-bit Toeplitz hash of ``key`` under ``seed`` (consumed), packed in bytes."""
    return np.packbits(seed.toeplitz(key, tag_bits)).tobytes()


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
        seed = HashSeed.random(self._tag_bits + self._key.size - 1, rng=self._rng)
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
                if seed.size != tag_bits + self._key.size - 1:
                    raise ProtocolError("verification seed does not match the key length")
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
    "VerifyAlice",
    "VerifyBob",
    "verification_tag",
    "verification_tag_bits",
]
