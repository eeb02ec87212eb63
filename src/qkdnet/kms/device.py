"""A node's QKD device: a stream of its own raw detection records (time tag, setting, outcome), in blocks.

:class:`Device` is the whole interface a node needs from its hardware; :class:`SocketDevice` reads the
built-in link emulator (:mod:`qkdnet.kms.emulator`) over a unix socket or TCP loopback, and real hardware
would plug in behind the same interface. The wire format (little-endian) is a hello, then blocks:

- hello: ``b"QDV1" | u32 length | JSON`` with ``party`` ("alice"/"bob"), ``protocol`` ("e91"/"bbm92"),
  ``epoch`` (a random 64-bit number per emulator run), ``link`` (a label) and ``clicks`` (true for a time
  tagger's stream, absent or false for paired-up records);
- block: ``b"QBLK" | u64 seq | u64 start_ps | u64 n | i64[n] time tags (ps after start_ps) | u8[n] settings
  | u8[n] outcomes``.

Paired-up records: record ``i`` of block ``seq`` at Alice and record ``i`` of block ``seq`` at Bob belong to the
same heralded pair, as the time tags of two real devices matched by a herald signal would. Clicks: block ``seq``
holds each side's detector clicks in the same stretch of time, tagged on that side's own clock (start 0), with
the setting (basis) and outcome of the detector that clicked; which clicks belong together the nodes find
themselves (:class:`~qkdnet.qkd.coincidence.ClockTracker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from dataclasses import dataclass, field
from typing import Final, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from qkdnet.errors import InvalidParameter, ProtocolError

HELLO_MAGIC: Final = b"QDV1"
BLOCK_MAGIC: Final = b"QBLK"
MAX_BLOCK_RECORDS: Final = 1 << 26
#: Time tags are a 64-bit picosecond counter (213 days), which wraps like a hardware time tagger's.
TAG_WRAP_PS: Final = 1 << 64
_BLOCK_HEADER: Final = struct.Struct("<4sQQQ")
_MAX_HELLO_BYTES: Final = 1 << 16


@dataclass(frozen=True, slots=True, eq=False)
class RawBlock:
    """One block of a party's raw detection records: time tags, settings and outcomes, one per heralded pair."""

    seq: int
    start_ps: int
    time_tags_ps: NDArray[np.int64] = field(repr=False)
    settings: NDArray[np.uint8] = field(repr=False)
    outcomes: NDArray[np.uint8] = field(repr=False)

    def __post_init__(self) -> None:
        n = self.time_tags_ps.size
        if self.settings.shape != (n,) or self.outcomes.shape != (n,) or self.time_tags_ps.ndim != 1:
            raise InvalidParameter("a raw block holds one time tag, one setting and one outcome per record")

    @property
    def records(self) -> int:
        """Number of records (heralded pairs) in the block."""
        return int(self.time_tags_ps.size)

    @property
    def first_tag_ps(self) -> int:
        """Time tag of the first record (``start_ps`` + offset, a 64-bit counter that wraps), 0 for an empty block."""
        return (self.start_ps + int(self.time_tags_ps[0])) % TAG_WRAP_PS if self.records else 0

    @property
    def last_tag_ps(self) -> int:
        """Time tag of the last record (wrapping like :attr:`first_tag_ps`), 0 for an empty block."""
        return (self.start_ps + int(self.time_tags_ps[-1])) % TAG_WRAP_PS if self.records else 0


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What a device says about itself when a node connects."""

    party: str
    protocol: str
    epoch: int
    link: str = ""
    clicks: bool = False
    """A time tagger's clicks (each side's own clock, unpaired) rather than paired-up records."""


@runtime_checkable
class Device(Protocol):
    """One party's QKD device, as the node daemon sees it: who it is, and its raw records block by block."""

    @property
    def info(self) -> DeviceInfo:
        """The device's party, protocol and epoch (a new epoch means a new stream: old blocks are gone)."""
        ...

    async def read_block(self) -> RawBlock:
        """The next block of this party's records; raises ConnectionError when the device goes away."""
        ...

    async def close(self) -> None:
        """Let go of the device."""
        ...


def encode_hello(info: DeviceInfo) -> bytes:
    """The hello a device sends first."""
    doc = {"party": info.party, "protocol": info.protocol, "epoch": info.epoch, "link": info.link}
    body = json.dumps(doc | ({"clicks": True} if info.clicks else {}))
    data = body.encode()
    return HELLO_MAGIC + struct.pack("<I", len(data)) + data


def encode_block(block: RawBlock) -> bytes:
    """The wire form of one block."""
    header = _BLOCK_HEADER.pack(BLOCK_MAGIC, block.seq, block.start_ps % TAG_WRAP_PS, block.records)
    return b"".join(
        (
            header,
            block.time_tags_ps.astype("<i8", copy=False).tobytes(),
            block.settings.astype(np.uint8, copy=False).tobytes(),
            block.outcomes.astype(np.uint8, copy=False).tobytes(),
        )
    )


async def read_hello(reader: asyncio.StreamReader) -> DeviceInfo:
    """Read and check a device hello (ProtocolError if it is not one)."""
    head = await reader.readexactly(8)
    if head[:4] != HELLO_MAGIC:
        raise ProtocolError(f"the device did not greet as a qkdnet device (got {head[:4]!r})")
    (size,) = struct.unpack("<I", head[4:])
    if size > _MAX_HELLO_BYTES:
        raise ProtocolError(f"device hello of {size} bytes is too long")
    try:
        doc = json.loads(await reader.readexactly(size))
        clicks = doc.get("clicks", False)
        if not isinstance(clicks, bool):
            raise TypeError(f"clicks must be true or false, got {clicks!r}")
        info = DeviceInfo(str(doc["party"]), str(doc["protocol"]), int(doc["epoch"]), str(doc.get("link", "")), clicks)
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f"malformed device hello: {exc}") from None
    if info.party not in ("alice", "bob"):
        raise ProtocolError(f"device hello names party {info.party!r}, expected 'alice' or 'bob'")
    return info


async def read_block(reader: asyncio.StreamReader) -> RawBlock:
    """Read one block (ProtocolError if the bytes are not one)."""
    magic, seq, start_ps, n = _BLOCK_HEADER.unpack(await reader.readexactly(_BLOCK_HEADER.size))
    if magic != BLOCK_MAGIC:
        raise ProtocolError(f"device sent {magic!r} where a block was expected")
    if n > MAX_BLOCK_RECORDS:
        raise ProtocolError(f"device block of {n} records exceeds the limit of {MAX_BLOCK_RECORDS}")
    tags = np.frombuffer(await reader.readexactly(8 * n), dtype="<i8").astype(np.int64)
    settings = np.frombuffer(await reader.readexactly(n), dtype=np.uint8).copy()
    outcomes = np.frombuffer(await reader.readexactly(n), dtype=np.uint8).copy()
    return RawBlock(seq, start_ps, tags, settings, outcomes)


async def open_stream(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to ``address``: a unix socket path, or ``tcp://HOST:PORT``."""
    if address.startswith("tcp://"):
        host, _, port = address[len("tcp://") :].rpartition(":")
        return await asyncio.open_connection(host or "127.0.0.1", int(port), limit=1 << 20)
    return await asyncio.open_unix_connection(address, limit=1 << 20)


class SocketDevice:
    """The :class:`Device` behind a socket: the link emulator, or any program speaking its wire format."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: DeviceInfo) -> None:
        self._reader = reader
        self._writer = writer
        self._info = info

    @classmethod
    async def connect(cls, address: str, *, timeout_s: float = 10.0) -> SocketDevice:
        """Connect to the device at ``address`` and read its hello."""
        reader, writer = await asyncio.wait_for(open_stream(address), timeout_s)
        try:
            info = await asyncio.wait_for(read_hello(reader), timeout_s)
        except BaseException:
            writer.close()
            raise
        return cls(reader, writer, info)

    @property
    def info(self) -> DeviceInfo:
        """The device's party, protocol and epoch."""
        return self._info

    async def read_block(self) -> RawBlock:
        """The next block (ConnectionError at the end of the stream)."""
        try:
            return await read_block(self._reader)
        except asyncio.IncompleteReadError as exc:
            raise ConnectionError("the device closed the stream") from exc

    async def close(self) -> None:
        """Close the connection."""
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    def __repr__(self) -> str:
        return f"SocketDevice({self._info!r})"


__all__ = [
    "Device",
    "DeviceInfo",
    "RawBlock",
    "SocketDevice",
    "encode_block",
    "encode_hello",
    "open_stream",
    "read_block",
    "read_hello",
]
