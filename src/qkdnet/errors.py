"""The documented exception tree of qkdnet.

Every error qkdnet raises on purpose derives from :class:`QkdnetError`, so callers can catch
all of them at once, or one kind precisely. Checks raise; they never return booleans.
"""

from __future__ import annotations


class QkdnetError(Exception):
    """Base class of every error qkdnet raises on purpose."""


class InvalidParameter(QkdnetError, ValueError):
    """An argument is outside its documented domain (a probability outside [0, 1], a negative length...)."""


class SecurityAbort(QkdnetError):
    """The key run stops and hands out no key, because the physics or the protocol says so."""


class QberAboveThreshold(SecurityAbort):
    """The estimated error rate leaves no secret key: an eavesdropper (or too much noise) was there."""


class ChshBelowThreshold(SecurityAbort):
    """The Bell/CHSH value does not certify enough violation for a device-independent key."""


class NoSecretKey(SecurityAbort):
    """The key length after privacy amplification would be zero or negative."""


class ReconciliationFailed(SecurityAbort):
    """Error correction could not make both keys equal (or ran out of its budget)."""


class VerificationFailed(SecurityAbort):
    """The keys' verification hashes differ after reconciliation: the block is discarded."""


class AuthenticationFailed(SecurityAbort):
    """A classical message's tag is wrong: it was forged, altered, replayed or reordered."""


class ProtocolError(QkdnetError):
    """A protocol received a message it did not expect in its current state."""


class AlreadyConsumed(QkdnetError):
    """One-time material (a pad, an authentication key, a hash seed) was asked for a second time."""


class PadExhausted(QkdnetError):
    """More one-time pad was asked for than remains."""


class MessageRejected(QkdnetError):
    """A one-time-pad ciphertext failed its authentication tag: it was tampered with."""


__all__ = [
    "AlreadyConsumed",
    "AuthenticationFailed",
    "ChshBelowThreshold",
    "InvalidParameter",
    "MessageRejected",
    "NoSecretKey",
    "PadExhausted",
    "ProtocolError",
    "QberAboveThreshold",
    "QkdnetError",
    "ReconciliationFailed",
    "SecurityAbort",
    "VerificationFailed",
]
