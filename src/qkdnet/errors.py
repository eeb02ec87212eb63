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


class KeyPoolError(QkdnetError):
    """The key pool refuses an operation: a block rewritten with a different key, a bad key ID, a bad size..."""


class KeyPoolExhausted(KeyPoolError):
    """Fewer unused key bytes remain in the pool than the request asks for."""


class KeyNotFound(KeyPoolError):
    """A key ID names no key this KME can deliver: unknown, never reserved, or already delivered."""


class KeyNotYetCommitted(KeyNotFound):
    """A key was announced by the master KME but its block is not yet committed at this KME: retry later."""


class KeyNotEntitled(KeyPoolError):
    """A key exists but was reserved for another pair of SAEs than the one asking for it."""


class SimulationError(QkdnetError):
    """The discrete-event run cannot go on: an event failed and nothing handled it, or run() was misused."""


class ProcessFailed(SimulationError):
    """A simulated process raised an exception that no other process caught; the run stops and names it.

    The original exception is ``__cause__``; ``process_name`` and ``t_ps`` say where and when.
    """

    def __init__(self, message: str, *, process_name: str, t_ps: int) -> None:
        super().__init__(message)
        self.process_name = process_name
        self.t_ps = t_ps

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_process_failed, (str(self), self.process_name, self.t_ps))


class ConfigError(InvalidParameter):
    """A scenario file is unreadable or invalid; one line per problem: file, field path, what was expected."""

    def __init__(self, lines: list[str] | str) -> None:
        lines = lines.splitlines() if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(lines))
        self.lines = tuple(lines)


class RouteError(InvalidParameter):
    """No route can serve a request: an unknown node, no chain of working links, or a forced route that is
    not a simple path along links (a cycle)."""


def _rebuild_process_failed(message: str, process_name: str, t_ps: int) -> ProcessFailed:
    return ProcessFailed(message, process_name=process_name, t_ps=t_ps)


__all__ = [
    "AlreadyConsumed",
    "AuthenticationFailed",
    "ChshBelowThreshold",
    "ConfigError",
    "InvalidParameter",
    "KeyNotEntitled",
    "KeyNotFound",
    "KeyNotYetCommitted",
    "KeyPoolError",
    "KeyPoolExhausted",
    "MessageRejected",
    "NoSecretKey",
    "PadExhausted",
    "ProcessFailed",
    "ProtocolError",
    "QberAboveThreshold",
    "QkdnetError",
    "ReconciliationFailed",
    "RouteError",
    "SecurityAbort",
    "SimulationError",
    "VerificationFailed",
]
