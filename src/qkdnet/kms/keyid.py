"""Key IDs that name positions in the shared key, encoded as RFC 9562 version-8 UUIDs.

A key ID is not a secret: it says which bytes of which committed block a key is (direction, block, byte offset,
size), so the slave's KME finds the same bytes from the ID alone. RFC 9562 §5.8 leaves 122 of the 128 bits to
the implementation (``custom_a`` 48 bits, ``custom_b`` 12 bits, ``custom_c`` 62 bits around the version nibble
``8`` and the variant bits ``10``); qkdnet fills them, most significant first, with

====================  ====  =====================================================================
field                 bits  meaning
====================  ====  =====================================================================
direction             1     0: the KME whose ID sorts first in the link is master; 1: the other
block_id              40    the committed block
offset_bytes          32    offset of the key inside that direction's half of the block
size_bytes            24    the key's length in bytes
link_tag              25    the first 25 bits of SHA-256(link_id): an ID of another link is refused
====================  ====  =====================================================================

>>> from qkdnet.kms.keyid import KeyPosition, Direction, decode_key_id, encode_key_id
>>> pos = KeyPosition(Direction.FIRST_MASTER, block_id=7, offset_bytes=32, size_bytes=32)
>>> kid = encode_key_id(pos, link_id="KME_A|KME_B")
>>> kid.version, kid.variant
(8, 'specified in RFC 4122')
>>> decode_key_id(kid, link_id="KME_A|KME_B") == pos
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum
from uuid import RFC_4122, UUID

from qkdnet.errors import InvalidParameter, KeyNotFound

BLOCK_BITS = 40
OFFSET_BITS = 32
SIZE_BITS = 24
LINK_TAG_BITS = 25
MAX_BLOCK_ID = (1 << BLOCK_BITS) - 1
MAX_OFFSET_BYTES = (1 << OFFSET_BITS) - 1
MAX_SIZE_BYTES = (1 << SIZE_BITS) - 1
LINK_SEPARATOR = "|"
_UUID_VERSION = 8


class Direction(IntEnum):
    """Which KME of a link is master for a half of every block (the first ⌊len/2⌋ bytes go to FIRST_MASTER)."""

    FIRST_MASTER = 0  # the KME whose ID sorts first in the link_id is the master KME
    SECOND_MASTER = 1  # the other KME is the master KME


def link_id_for(kme_a: str, kme_b: str) -> str:
    """The link between two KMEs, named ``"KMEA|KMEB"`` with the two IDs sorted (the same on both sides)."""
    for name, value in (("kme_a", kme_a), ("kme_b", kme_b)):
        if not value or LINK_SEPARATOR in value:
            raise InvalidParameter(f"{name}: a KME ID is a non-empty string without {LINK_SEPARATOR!r}, got {value!r}")
    if kme_a == kme_b:
        raise InvalidParameter(f"kme_b: a link joins two different KMEs, got {kme_a!r} twice")
    first, second = sorted((kme_a, kme_b))
    return f"{first}{LINK_SEPARATOR}{second}"


def direction_for(link_id: str, master_kme: str) -> Direction:
    """The direction in which ``master_kme`` is the master KME of ``link_id``."""
    parts = link_id.split(LINK_SEPARATOR)
    if len(parts) != 2 or master_kme not in parts:
        raise InvalidParameter(f"master_kme: {master_kme!r} is not an end of the link {link_id!r}")
    return Direction.FIRST_MASTER if master_kme == parts[0] else Direction.SECOND_MASTER


def split_block(key: bytes) -> tuple[bytes, bytes]:
    """A committed block's two halves: ``(FIRST_MASTER's, SECOND_MASTER's)``, the first ⌊len/2⌋ bytes first."""
    half = len(key) // 2
    return key[:half], key[half:]


@dataclass(frozen=True, slots=True)
class KeyPosition:
    """Where a key lies: the direction's half of a block, a byte offset in that half, a length in bytes."""

    direction: Direction
    block_id: int
    offset_bytes: int
    size_bytes: int

    def __post_init__(self) -> None:
        for name, value, top in (
            ("block_id", self.block_id, MAX_BLOCK_ID),
            ("offset_bytes", self.offset_bytes, MAX_OFFSET_BYTES),
            ("size_bytes", self.size_bytes, MAX_SIZE_BYTES),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
                raise InvalidParameter(f"{name}: expected an integer in [0, {top}], got {value!r}")
        if self.size_bytes == 0:
            raise InvalidParameter("size_bytes: a key has at least one byte")

    @property
    def end_bytes(self) -> int:
        """One past the key's last byte in the half."""
        return self.offset_bytes + self.size_bytes


def _link_tag(link_id: str) -> int:
    digest = hashlib.sha256(link_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") >> (32 - LINK_TAG_BITS)


def encode_key_id(position: KeyPosition, *, link_id: str) -> UUID:
    """The RFC 9562 v8 UUID naming ``position`` on ``link_id``."""
    value = int(position.direction)
    value = (value << BLOCK_BITS) | position.block_id
    value = (value << OFFSET_BITS) | position.offset_bytes
    value = (value << SIZE_BITS) | position.size_bytes
    value = (value << LINK_TAG_BITS) | _link_tag(link_id)
    custom_a, custom_b, custom_c = value >> 74, (value >> 62) & 0xFFF, value & ((1 << 62) - 1)
    return UUID(int=(custom_a << 80) | (_UUID_VERSION << 76) | (custom_b << 64) | (0b10 << 62) | custom_c)


def decode_key_id(key_id: UUID, *, link_id: str) -> KeyPosition:
    """The position a key ID names; :class:`~qkdnet.errors.KeyNotFound` if it is no qkdnet ID of this link."""
    if key_id.version != _UUID_VERSION or key_id.variant != RFC_4122:
        raise KeyNotFound(f"key ID {key_id} is not a version-8 UUID made by a qkdnet KME")
    n = key_id.int
    value = ((n >> 80) << 74) | (((n >> 64) & 0xFFF) << 62) | (n & ((1 << 62) - 1))
    if value & ((1 << LINK_TAG_BITS) - 1) != _link_tag(link_id):
        raise KeyNotFound(f"key ID {key_id} does not belong to the link {link_id}")
    value >>= LINK_TAG_BITS
    size_bytes, value = value & MAX_SIZE_BYTES, value >> SIZE_BITS
    offset_bytes, value = value & MAX_OFFSET_BYTES, value >> OFFSET_BITS
    block_id, direction = value & MAX_BLOCK_ID, value >> BLOCK_BITS
    if size_bytes == 0:
        raise KeyNotFound(f"key ID {key_id} names an empty key")
    return KeyPosition(Direction(direction), block_id, offset_bytes, size_bytes)


__all__ = [
    "Direction",
    "KeyPosition",
    "decode_key_id",
    "direction_for",
    "encode_key_id",
    "link_id_for",
    "split_block",
]
