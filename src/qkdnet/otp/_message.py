"""One-time-pad messages: XOR encryption plus a one-time Poly1305 tag, both keyed from the pad."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

import numpy as np
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.poly1305 import Poly1305

from qkdnet.errors import InvalidParameter, MessageRejected
from qkdnet.otp._pad import PadLedger, wipe

#: The wire-format version this module writes and reads.
VERSION: Final = 1
#: Pad bytes spent on the one-time Poly1305 key of each message (before the XOR pad).
MAC_KEY_BYTES: Final = 32
#: Length of a Poly1305 tag.
TAG_BYTES: Final = 16

_HEADER: Final = struct.Struct(">BQQ")  # version, pad offset, message length
#: Length of the authenticated header: version (1 byte), pad offset and message length (8 bytes each).
HEADER_BYTES: Final = _HEADER.size
_U64_MAX: Final = (1 << 64) - 1


def pad_bytes_needed(message_length: int) -> int:
    """Pad bytes one message of ``message_length`` bytes consumes: the MAC key plus the XOR pad."""
    return MAC_KEY_BYTES + message_length


@dataclass(frozen=True, slots=True, repr=False)
class Ciphertext:
    """What crosses the insecure network: header (version, pad offset, length), body and tag.

    ``offset`` is where the message's pad span starts in the shared key; the span is
    ``pad_bytes_needed(len(body))`` bytes long, the 32-byte Poly1305 key first, then the XOR pad.

    Wire format (big-endian): ``version:u8 | offset:u64 | length:u64 | body[length] | tag[16]``; the tag
    is Poly1305 over ``header | body``.
    """

    offset: int
    body: bytes
    tag: bytes
    version: int = VERSION

    def __post_init__(self) -> None:
        if isinstance(self.offset, bool) or not isinstance(self.offset, int):
            raise InvalidParameter(f"offset must be an integer, got {type(self.offset).__name__}")
        if not 0 <= self.offset <= _U64_MAX:
            raise InvalidParameter(f"offset must fit in an unsigned 64-bit integer, got {self.offset}")
        if not isinstance(self.body, bytes):
            raise InvalidParameter(f"body must be bytes, got {type(self.body).__name__}")
        if not isinstance(self.tag, bytes) or len(self.tag) != TAG_BYTES:
            raise InvalidParameter(f"tag must be {TAG_BYTES} bytes")
        if self.version != VERSION:
            raise InvalidParameter(f"only version {VERSION} is supported, got {self.version!r}")

    @property
    def pad_span(self) -> tuple[int, int]:
        """The half-open span ``(start, end)`` of shared key this message uses."""
        return self.offset, self.offset + pad_bytes_needed(len(self.body))

    def header(self) -> bytes:
        """The authenticated header: version, pad offset, message length."""
        return _HEADER.pack(self.version, self.offset, len(self.body))

    def to_bytes(self) -> bytes:
        """The wire encoding: ``header | body | tag``."""
        return self.header() + self.body + self.tag

    def hex(self) -> str:
        """The wire encoding in hexadecimal, to show what an eavesdropper sees."""
        return self.to_bytes().hex()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Ciphertext:
        """Parse the wire encoding; malformed input raises :class:`~qkdnet.errors.MessageRejected`."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidParameter(f"data must be bytes-like, got {type(data).__name__}")
        raw = bytes(data)
        minimum = HEADER_BYTES + TAG_BYTES
        if len(raw) < minimum:
            raise MessageRejected(
                f"malformed ciphertext: {len(raw)} bytes is shorter than the minimum {minimum} "
                f"(a {HEADER_BYTES}-byte header and a {TAG_BYTES}-byte tag)"
            )
        version, offset, length = _HEADER.unpack_from(raw)
        if version != VERSION:
            raise MessageRejected(f"malformed ciphertext: unknown version {version} (expected {VERSION})")
        expected = minimum + length
        if len(raw) != expected:
            raise MessageRejected(
                f"malformed ciphertext: header announces a {length}-byte body, so {expected} bytes in all, "
                f"but {len(raw)} bytes arrived"
            )
        body = raw[HEADER_BYTES : HEADER_BYTES + length]
        return cls(offset=offset, body=body, tag=raw[HEADER_BYTES + length :], version=version)

    def __repr__(self) -> str:
        return f"Ciphertext(version={self.version}, offset={self.offset}, length={len(self.body)})"


def _xor(data: bytes | bytearray | memoryview, pad: memoryview) -> bytes:
    """``data XOR pad`` (equal lengths), without copying the pad."""
    return np.bitwise_xor(np.frombuffer(data, dtype=np.uint8), np.frombuffer(pad, dtype=np.uint8)).tobytes()


def encrypt(message: bytes | bytearray | memoryview, ledger: PadLedger) -> Ciphertext:
    """Encrypt and authenticate ``message`` with fresh pad from ``ledger`` (the sender's copy).

    Consumes ``32 + len(message)`` pad bytes: a one-time Poly1305 key, then the XOR pad. Raises
    :class:`~qkdnet.errors.PadExhausted` if not enough pad is left (nothing is consumed then).
    """
    if not isinstance(message, bytes | bytearray | memoryview):
        raise InvalidParameter(f"message must be bytes-like, got {type(message).__name__}")
    if not isinstance(ledger, PadLedger):
        raise InvalidParameter(f"ledger must be a PadLedger, got {type(ledger).__name__}")
    message = bytes(message)  # a snapshot: the caller cannot change it between XOR and MAC
    pad = ledger.take(pad_bytes_needed(len(message)))
    material = pad.read()
    view = memoryview(material)
    try:
        body = _xor(message, view[MAC_KEY_BYTES:])
        header = _HEADER.pack(VERSION, pad.offset, len(message))
        tag = Poly1305.generate_tag(view[:MAC_KEY_BYTES], header + body)
    finally:
        view.release()
        wipe(material)
    return Ciphertext(offset=pad.offset, body=body, tag=tag)


def decrypt(ciphertext: Ciphertext, ledger: PadLedger) -> bytes:
    """Check the tag and decrypt ``ciphertext`` with exactly its pad span from ``ledger`` (the receiver's).

    Raises :class:`~qkdnet.errors.MessageRejected` if the tag does not verify (no plaintext is released)
    or the header names pad outside the key, and :class:`~qkdnet.errors.AlreadyConsumed` if the span
    overlaps pad used before (a replay, or a sender reusing pad).

    A rejected message's span stays burned: its pad is never used again. The sender already spent it
    on a ciphertext that an eavesdropper may hold; a second ciphertext under the same pad would hand
    them the XOR of two plaintexts, and a second tag under the same one-time Poly1305 key would let them
    solve for the key and forge. Burning it on the receiver's side too means no retry, honest or forged,
    is ever accepted on that span, and each one-time key faces a single verification attempt. (The
    price: a forged header can burn pad the sender has not used yet, a denial of service that an
    attacker on the wire could cause anyway by dropping messages.)

    The tag authenticates the ciphertext under the pad's MAC key; it does not prove the two keys are
    equal. Keys that differ only in the XOR part decrypt to garbled plaintext without an error: making
    them equal is the job of QKD's verification step, upstream.
    """
    if not isinstance(ciphertext, Ciphertext):
        raise InvalidParameter(f"ciphertext must be a Ciphertext, got {type(ciphertext).__name__}")
    if not isinstance(ledger, PadLedger):
        raise InvalidParameter(f"ledger must be a PadLedger, got {type(ledger).__name__}")
    start, end = ciphertext.pad_span
    if end > ledger.size_bytes:
        raise MessageRejected(
            f"ciphertext names pad span [{start}, {end}) but the key has only {ledger.size_bytes} bytes: "
            "its header was altered, or the two keys differ in length"
        )
    pad = ledger.claim(start, end - start)
    material = pad.read()
    view = memoryview(material)
    try:
        try:
            Poly1305.verify_tag(view[:MAC_KEY_BYTES], ciphertext.header() + ciphertext.body, ciphertext.tag)
        except InvalidSignature:
            raise MessageRejected(
                f"ciphertext at pad span [{start}, {end}) failed its authentication tag: it was altered "
                "(or the keys differ); no plaintext is released and the span stays burned"
            ) from None
        return _xor(ciphertext.body, view[MAC_KEY_BYTES:])
    finally:
        view.release()
        wipe(material)
