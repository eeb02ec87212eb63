"""The node-to-node wire: a cleartext preamble, length-prefixed frames, and the daemon's control messages.

A connection starts with a 22-byte preamble each way, ``b"QKDN" | version u8 | role u8 | nonce[16]``, then a
mutual proof of the shared handshake key (wire version 2): Alice sends the frame ``HMAC-SHA256(k, b"alice" |
alice_nonce | bob_nonce)``, Bob checks it and only then answers with the same MAC over ``b"bob"``, which Alice
checks. ``k`` is derived once (HKDF-SHA256, RFC 5869) from the pre-shared bootstrap key; no one-time tag key is
spent, and a stranger or a replayed preamble (the other side's nonce is fresh) never gets past it. Every
later frame is ``u32 length | bytes`` and holds one Wegman–Carter frame of
:class:`~qkdnet.postprocess.AuthenticatedChannelEnd`, whose payload is a post-processing message
(:func:`~qkdnet.postprocess.encode_message`, first byte 1) or a control message below (first byte 0xC1).
Each block is one authenticated *session* whose 64-bit id comes from both nonces and the session's number
on the connection, so a frame recorded on one connection or session is refused on any other.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Final, TypeAlias

from qkdnet.errors import ProtocolError
from qkdnet.postprocess import Message, decode_message, encode_message

PREAMBLE_MAGIC: Final = b"QKDN"
WIRE_VERSION: Final = 2
NONCE_BYTES: Final = 16
MAX_FRAME_BYTES: Final = 64 << 20
ROLES: Final = ("alice", "bob")
_PREAMBLE: Final = struct.Struct(f"<4sBB{NONCE_BYTES}s")
_CONTROL: Final = 0xC1
_NONE: Final = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Hello:
    """Either side, first in a session: where its pool and its device stand.

    ``last_committed`` and ``prepared`` are block IDs (None: none); ``raw_epoch`` and ``raw_seq`` name the
    oldest raw block it can still offer (None: no device data yet). The reserve fields are its unused
    authentication-key bits per direction and the level it wants them kept at (they set the top-up).
    """

    last_committed: int | None
    prepared: int | None
    raw_epoch: int | None
    raw_seq: int | None
    reserve_a2b_bits: int = 0
    reserve_b2a_bits: int = 0
    reserve_target_bits: int = 0


@dataclass(frozen=True, slots=True)
class BlockStart:
    """Either side: the key block about to be made, and the raw block it comes from (None if unavailable)."""

    block_id: int
    raw_epoch: int
    raw_seq: int
    records: int | None
    first_tag_ps: int
    last_tag_ps: int


@dataclass(frozen=True, slots=True)
class Prepared:
    """Bob → Alice: block ``block_id`` is durably prepared with ``key_bytes`` bytes of net key."""

    block_id: int
    key_bytes: int


@dataclass(frozen=True, slots=True)
class Committed:
    """Alice → Bob: block ``block_id`` is committed in Alice's pool; commit it too."""

    block_id: int


Control: TypeAlias = Hello | BlockStart | Prepared | Committed
_TYPES: Final[tuple[type, ...]] = (Hello, BlockStart, Prepared, Committed)


def _opt(value: int | None) -> int:
    return _NONE if value is None else value


def _unopt(value: int) -> int | None:
    return None if value == _NONE else value


def encode_payload(message: Control | Message) -> bytes:
    """The payload of an authenticated frame: a control message or a post-processing message."""
    match message:
        case Hello():
            fields = (message.last_committed, message.prepared, message.raw_epoch, message.raw_seq)
            reserves = (message.reserve_a2b_bits, message.reserve_b2a_bits, message.reserve_target_bits)
            body = struct.pack("<QQQQQQQ", *(_opt(v) for v in fields), *reserves)
        case BlockStart():
            body = struct.pack(
                "<QQQQQQ",
                message.block_id,
                message.raw_epoch,
                message.raw_seq,
                _opt(message.records),
                message.first_tag_ps % (1 << 64),
                message.last_tag_ps % (1 << 64),
            )
        case Prepared():
            body = struct.pack("<QQ", message.block_id, message.key_bytes)
        case Committed():
            body = struct.pack("<Q", message.block_id)
        case _:
            return encode_message(message)
    return struct.pack("<BB", _CONTROL, _TYPES.index(type(message))) + body


def decode_payload(data: bytes) -> Control | Message:
    """Parse a frame's payload (ProtocolError if malformed)."""
    if not data or data[0] != _CONTROL:
        return decode_message(data)
    try:
        kind = _TYPES[data[1]]
        body = data[2:]
        if kind is Hello:
            last, prepared, epoch, seq, a2b, b2a, target = struct.unpack("<QQQQQQQ", body)
            return Hello(_unopt(last), _unopt(prepared), _unopt(epoch), _unopt(seq), a2b, b2a, target)
        if kind is BlockStart:
            block_id, epoch, seq, records, first, last = struct.unpack("<QQQQQQ", body)
            return BlockStart(block_id, epoch, seq, _unopt(records), first, last)
        if kind is Prepared:
            return Prepared(*struct.unpack("<QQ", body))
        return Committed(*struct.unpack("<Q", body))
    except (IndexError, struct.error) as exc:
        raise ProtocolError(f"malformed control message: {exc}") from None


def encode_preamble(role: str, nonce: bytes) -> bytes:
    """This side's preamble."""
    return _PREAMBLE.pack(PREAMBLE_MAGIC, WIRE_VERSION, ROLES.index(role), nonce)


async def read_preamble(reader: asyncio.StreamReader, *, expect_role: str) -> bytes:
    """Read the peer's preamble and return its nonce (ProtocolError for anything else)."""
    try:
        raw = await reader.readexactly(_PREAMBLE.size)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError(f"connection closed after {len(exc.partial)} bytes of the preamble") from None
    magic, version, role, nonce = _PREAMBLE.unpack(raw)
    if magic != PREAMBLE_MAGIC:
        raise ProtocolError(f"peer does not speak the qkdnet node protocol (first bytes {raw[:8].hex()})")
    if version != WIRE_VERSION:
        raise ProtocolError(f"peer speaks wire version {version}, this node {WIRE_VERSION}")
    if role >= len(ROLES) or ROLES[role] != expect_role:
        raise ProtocolError(f"peer claims role {role}, expected {expect_role}")
    return bytes(nonce)


def handshake_key(shared: bytes, link_id: str) -> bytes:
    """The connection handshake's MAC key: HKDF-SHA256 (RFC 5869) of key material both nodes hold from the start."""
    prk = hmac.digest(b"qkdnet-handshake-v2", shared, "sha256")
    return hmac.digest(prk, b"handshake|" + link_id.encode() + b"\x01", "sha256")


def handshake_proof(key: bytes, role: str, alice_nonce: bytes, bob_nonce: bytes) -> bytes:
    """What ``role`` sends to prove it knows the handshake key on the connection with these two nonces."""
    return hmac.digest(key, role.encode() + b"|" + alice_nonce + bob_nonce, "sha256")


async def check_proof(
    reader: asyncio.StreamReader, key: bytes, role: str, alice_nonce: bytes, bob_nonce: bytes
) -> None:
    """Read the peer's handshake proof; ProtocolError unless it is right (compared in constant time)."""
    want = handshake_proof(key, role, alice_nonce, bob_nonce)
    try:  # exactly one 32-byte frame: a stranger cannot make us buffer a big one
        got = await reader.readexactly(4 + len(want))
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError(f"connection closed after {len(exc.partial)} bytes of the handshake proof") from None
    if not hmac.compare_digest(got, struct.pack("<I", len(want)) + want):
        raise ProtocolError(f"{role}'s handshake proof is wrong: it does not know the shared key")


def session_id(alice_nonce: bytes, bob_nonce: bytes, index: int) -> int:
    """The 64-bit id of session ``index`` on a connection: fresh for every connection and every session."""
    digest = hashlib.sha256(b"qkdnet-session|" + alice_nonce + bob_nonce + struct.pack("<Q", index)).digest()
    return int.from_bytes(digest[:8], "little")


def write_frame(writer: asyncio.StreamWriter, frame: bytes) -> None:
    """Queue one length-prefixed frame."""
    writer.write(struct.pack("<I", len(frame)) + frame)


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """Read one length-prefixed frame (ProtocolError for an oversized or truncated one)."""
    try:
        (size,) = struct.unpack("<I", await reader.readexactly(4))
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("connection closed inside a frame's length prefix") from None
        raise ConnectionError("the peer closed the connection") from None
    if size > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {size} bytes exceeds the limit of {MAX_FRAME_BYTES}")
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError as exc:
        got = len(exc.partial)
        raise ProtocolError(f"truncated frame: {got} of {size} bytes before the connection closed") from None


__all__ = [
    "BlockStart",
    "Committed",
    "Control",
    "Hello",
    "Prepared",
    "check_proof",
    "decode_payload",
    "encode_payload",
    "encode_preamble",
    "handshake_key",
    "handshake_proof",
    "read_frame",
    "read_preamble",
    "session_id",
    "write_frame",
]
