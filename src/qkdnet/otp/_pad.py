"""One party's copy of the shared key, handed out once per byte as one-shot :class:`Pad` objects."""

from __future__ import annotations

import threading
from typing import NoReturn

from qkdnet.errors import AlreadyConsumed, InvalidParameter, PadExhausted
from qkdnet.otp._bits import KeyMaterial, key_to_bytearray
from qkdnet.otp._spans import SpanSet


def wipe(buffer: bytearray) -> None:
    """Overwrite ``buffer`` with zeros in place (same length, so no reallocation)."""
    buffer[:] = bytes(len(buffer))


def _check_count(name: str, value: int, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise InvalidParameter(f"{name} must be at least {minimum}, got {value}")
    return value


def _no_copy(obj: object) -> NoReturn:
    raise TypeError(f"{type(obj).__name__} holds one-time key material and cannot be copied or pickled")


class Pad:
    """A span of one-time pad, readable once.

    :meth:`read` hands over the bytes as a :class:`bytearray` that the caller then owns (and should zero
    when done, as :func:`~qkdnet.otp.encrypt` and :func:`~qkdnet.otp.decrypt` do); a second read raises
    :class:`~qkdnet.errors.AlreadyConsumed`. The repr shows the span only, never the bytes.
    """

    __slots__ = ("_buffer", "_consumed", "_n_bytes", "_offset")

    def __init__(self, offset: int, material: bytearray) -> None:
        self._offset = offset
        self._n_bytes = len(material)
        self._buffer: bytearray | None = material
        self._consumed = False

    @property
    def offset(self) -> int:
        """Where the span starts in the shared key, in bytes."""
        return self._offset

    @property
    def n_bytes(self) -> int:
        """The span's length in bytes."""
        return self._n_bytes

    @property
    def consumed(self) -> bool:
        """Whether the bytes were already read or discarded."""
        return self._consumed

    def read(self) -> bytearray:
        """The pad bytes, once; the caller owns (and should zero) the returned buffer."""
        if self._consumed or self._buffer is None:
            raise AlreadyConsumed(
                f"pad span [{self._offset}, {self._offset + self._n_bytes}) was already read; "
                "a one-time pad is never used twice"
            )
        buffer, self._buffer = self._buffer, None
        self._consumed = True
        return buffer

    def discard(self) -> None:
        """Zero the bytes without reading them and mark the pad consumed (safe to call twice)."""
        if self._buffer is not None:
            wipe(self._buffer)
            self._buffer = None
        self._consumed = True

    def __del__(self) -> None:
        buffer = getattr(self, "_buffer", None)
        if buffer is not None:
            wipe(buffer)

    def __repr__(self) -> str:
        return f"Pad(offset={self._offset}, n_bytes={self._n_bytes}, consumed={self._consumed})"

    __copy__ = _no_copy

    def __deepcopy__(self, memo: object) -> NoReturn:
        _no_copy(self)

    def __reduce__(self) -> NoReturn:
        _no_copy(self)


class PadLedger:
    """One party's copy of the shared secret key; every key byte is handed out at most once.

    The sender calls :meth:`take`, which hands out the lowest free span at or after its cursor; the
    receiver calls :meth:`claim` with exactly the span the sender announced. Both refuse any byte that
    was handed out before (by either method), and every handed-out byte is zeroed in the ledger at once.

    ``key`` is bytes, or a 1-D numpy array of 0/1 bits (most significant bit first; a tail of fewer than
    8 bits is dropped). The ledger keeps a private copy; zeroing the caller's own copy is the caller's
    business. Alice and Bob each build a ledger from their (identical) final key. For traffic in both
    directions at once, give each direction its own ledger over a disjoint part of the key: two senders
    sharing one key range could pick the same span at the same moment.

    The ledger is thread-safe, and refuses to be copied or pickled (a copy would be a second pad).
    """

    __slots__ = ("_cursor", "_key", "_lock", "_used")

    def __init__(self, key: KeyMaterial) -> None:
        self._key = key_to_bytearray(key)
        self._used = SpanSet()
        self._cursor = 0
        self._lock = threading.Lock()

    @property
    def size_bytes(self) -> int:
        """The total key size in bytes, used or not."""
        return len(self._key)

    @property
    def remaining_bytes(self) -> int:
        """How many key bytes were never handed out."""
        return len(self._key) - self._used.total

    @property
    def cursor(self) -> int:
        """Where the next :meth:`take` starts looking for free pad (the end of the last one)."""
        return self._cursor

    def used_spans(self) -> tuple[tuple[int, int], ...]:
        """The half-open spans ``(start, end)`` already handed out, sorted and merged."""
        with self._lock:
            return self._used.spans()

    def take(self, n_bytes: int) -> Pad:
        """Hand out the next ``n_bytes`` of unused pad at or after the cursor (the sender's side).

        Raises :class:`~qkdnet.errors.PadExhausted` when no free run of that length is left.
        """
        _check_count("n_bytes", n_bytes, minimum=1)
        with self._lock:
            start = self._used.first_gap(n_bytes, at_least=self._cursor, limit=len(self._key))
            if start is None:
                largest = self._used.largest_gap(at_least=self._cursor, limit=len(self._key))
                raise PadExhausted(
                    f"asked for {n_bytes} bytes of pad but only {self.remaining_bytes} of "
                    f"{len(self._key)} remain (the longest free run after the cursor is {largest} bytes)"
                )
            self._cursor = start + n_bytes
            return self._hand_out(start, n_bytes)

    def claim(self, offset: int, n_bytes: int) -> Pad:
        """Hand out exactly ``[offset, offset + n_bytes)`` (the receiver's side, from a message header).

        Raises :class:`~qkdnet.errors.AlreadyConsumed` if any byte of the span was handed out before, and
        :class:`~qkdnet.errors.PadExhausted` if the span reaches past the end of the key.
        """
        _check_count("offset", offset, minimum=0)
        _check_count("n_bytes", n_bytes, minimum=1)
        end = offset + n_bytes
        with self._lock:
            if end > len(self._key):
                raise PadExhausted(
                    f"asked for pad span [{offset}, {end}) ({n_bytes} bytes) but the key has only "
                    f"{len(self._key)} bytes ({self.remaining_bytes} unused)"
                )
            if self._used.overlaps(offset, end):
                raise AlreadyConsumed(
                    f"pad span [{offset}, {end}) overlaps pad already used; a pad byte is never used twice"
                )
            return self._hand_out(offset, n_bytes)

    def _hand_out(self, start: int, n_bytes: int) -> Pad:
        """Copy the span into a fresh Pad, zero it here, and mark it used (lock held)."""
        end = start + n_bytes
        view = memoryview(self._key)[start:end]
        try:
            material = bytearray(view)
            view[:] = bytes(n_bytes)
        finally:
            view.release()
        self._used.add(start, end)
        return Pad(start, material)

    def __repr__(self) -> str:
        return f"PadLedger(size_bytes={len(self._key)}, remaining_bytes={self.remaining_bytes}, cursor={self._cursor})"

    __copy__ = _no_copy

    def __deepcopy__(self, memo: object) -> NoReturn:
        _no_copy(self)

    def __reduce__(self) -> NoReturn:
        _no_copy(self)
