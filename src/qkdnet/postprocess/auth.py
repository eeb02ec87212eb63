"""Wegman–Carter authentication of every classical message: Poly1305 tags keyed from secret key.

The tag of a frame is Poly1305 (Bernstein, "The Poly1305-AES message-authentication code", FSE
2005) over ``header | payload``, with the 256-bit key ``r | s`` taken from a reserve of secret key
both parties hold: ``r`` (the polynomial hash key, 128 bits) is drawn once per block and direction,
``s`` (the pad added to the hash, 128 bits) is fresh for every frame. This is the Wegman–Carter
construction with Poly1305-AES's AES outputs replaced by uniformly random one-time pads, so by
Bernstein's Theorem 3.3 a forgery attempt on a frame of L bytes succeeds with probability at most
``8⌈L/16⌉/2^106`` (below 10⁻²⁵ for a megabyte); the tags, padded by fresh ``s``, reveal nothing of
``r``. The first failed check aborts the block, so Eve gets one verification attempt per block.

The header holds the format version, the direction, the block id, the frame's sequence number in
its direction, the index of its pad in the reserve and the payload length; the receiver demands the
next sequence number and the next pad, so a forged, altered, replayed, reordered or injected frame
raises :class:`~qkdnet.errors.AuthenticationFailed`, and the channel end refuses everything after
that: nothing of the block is kept. A dropped frame is caught by the next frame's sequence number or,
if none follows, by the timeout of the party still waiting (:meth:`AuthenticatedParty.time_out`). The
receiver uses its copy of a slot only once the frame's tag checks, so its reserve never runs ahead
of the sender's and whatever Eve did to one block, the next one starts in step. A sender's slots
are one-shot (:class:`OneTimeTagKey` raises AlreadyConsumed on reuse), wiped after use and never
shown in a repr; tags are compared with :func:`hmac.compare_digest`.

A block costs ``128·(1 + frames)`` key bits per direction that carried frames. The parties refill
their reserves with that many bits of the block's fresh final key (:meth:`PartyTagKeys.refill`), so
the net key is what remains; the first blocks run on a pre-shared bootstrap key.

>>> import numpy as np
>>> preshared = np.random.default_rng(1).integers(0, 2, 4 * SLOT_BITS, dtype=np.uint8)
>>> alice = PartyTagKeys.from_preshared(preshared, side="alice")
>>> bob = PartyTagKeys.from_preshared(preshared.copy(), side="bob")
>>> a_end, b_end = alice.channel_end(block_id=7), bob.channel_end(block_id=7)
>>> b_end.open(a_end.seal(b"parity query"))
b'parity query'
>>> a_end.usage, a_end.key_bits_used
(Usage(alice_to_bob=2, bob_to_alice=0), 256)
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass
from typing import ClassVar, Final

import numpy as np
from cryptography.hazmat.primitives.poly1305 import Poly1305

from qkdnet.checks import check_int
from qkdnet.errors import AlreadyConsumed, AuthenticationFailed, InvalidParameter, PadExhausted, ProtocolError
from qkdnet.postprocess._bits import Bits, as_bits
from qkdnet.postprocess.messages import AuthenticatedFrame, Message, decode_message, encode_message
from qkdnet.postprocess.protocol import Party, Side

SLOT_BITS: Final = 128
"""Key bits in one reserve slot: one hash key ``r`` or one pad ``s``."""
TAG_BYTES: Final = 16
FRAME_VERSION: Final = 1
_SLOT_BYTES: Final = SLOT_BITS // 8
_HEADER: Final = struct.Struct("<BBQQQQ")  # version, direction, block id, sequence, pad index, payload length
_DIRECTION: Final[dict[Side, int]] = {"alice": 0, "bob": 1}
_U64_MAX: Final = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """The clear header of a sealed frame. The format is public (only the tag needs the key), so anyone on the
    wire can read it, and rewrite it: :meth:`split` and :meth:`pack` are what a man in the middle works with."""

    version: int
    direction: int
    block_id: int
    sequence: int
    pad_index: int
    payload_bytes: int

    SIZE: ClassVar[int] = _HEADER.size

    def pack(self) -> bytes:
        """The header's bytes (InvalidParameter if a field does not fit)."""
        try:
            return _HEADER.pack(
                self.version, self.direction, self.block_id, self.sequence, self.pad_index, self.payload_bytes
            )
        except struct.error as exc:
            raise InvalidParameter(f"header field out of range: {exc}") from None

    @classmethod
    def split(cls, frame: bytes) -> tuple[FrameHeader, bytes, bytes]:
        """Header, payload and tag of ``frame`` as its header describes it (InvalidParameter if it cannot)."""
        if len(frame) < _HEADER.size + TAG_BYTES:
            raise InvalidParameter(f"a frame has at least {_HEADER.size + TAG_BYTES} bytes, got {len(frame)}")
        header = cls(*_HEADER.unpack_from(frame))
        end = _HEADER.size + header.payload_bytes
        return header, bytes(frame[_HEADER.size : end]), bytes(frame[end:])


class OneTimeTagKey:
    """A Poly1305 key ``r | s`` that tags exactly one message, then is wiped (AlreadyConsumed after)."""

    __slots__ = ("_material",)

    def __init__(self, hash_key: bytes | bytearray, pad: bytes | bytearray) -> None:
        if len(hash_key) != _SLOT_BYTES or len(pad) != _SLOT_BYTES:
            raise InvalidParameter(f"a tag key is two {_SLOT_BYTES}-byte halves")
        self._material: bytearray | None = bytearray(hash_key) + bytearray(pad)

    @property
    def consumed(self) -> bool:
        """Whether the key has tagged its message."""
        return self._material is None

    def tag(self, data: bytes) -> bytes:
        """The 16-byte Poly1305 tag of ``data``; the key is spent and wiped."""
        material = self._material
        if material is None:
            raise AlreadyConsumed("this one-time tag key was already used")
        self._material = None
        try:
            return Poly1305.generate_tag(bytes(material), data)
        finally:
            material[:] = bytes(len(material))

    def __repr__(self) -> str:
        return f"OneTimeTagKey(consumed={self.consumed})"


class TagKeyReserve:
    """One party's copy of the secret tag-key bits for one direction, handed out slot by slot, once.

    Slots are numbered from ``first_index`` (0 for a new reserve; a reserve reloaded after a restart
    continues its numbering) across refills. :meth:`take` gives slot ``index`` and burns every unused
    slot before it (the sender may have spent them on frames that never arrived).
    """

    def __init__(self, bits: object = (), *, first_index: int = 0) -> None:
        self._buffer = bytearray()
        self._first = check_int(first_index, name="first_index")  # absolute index of the first slot in the buffer
        self.deposit(bits)

    @property
    def next_index(self) -> int:
        """Absolute index of the first unused slot."""
        return self._first

    @property
    def slots_available(self) -> int:
        """Unused slots left."""
        return len(self._buffer) // _SLOT_BYTES

    @property
    def bits_available(self) -> int:
        """Unused key bits left."""
        return self.slots_available * SLOT_BITS

    def deposit(self, bits: object) -> None:
        """Append fresh secret key bits (a multiple of 128) at the end of the reserve."""
        arr = as_bits(bits, name="tag key bits", copy=False)
        if arr.size % SLOT_BITS:
            raise InvalidParameter(f"tag key bits come in slots of {SLOT_BITS}, got {arr.size} bits")
        self._buffer += np.packbits(arr).tobytes()

    def peek(self, index: int) -> bytearray:
        """A copy of slot ``index`` (the caller's to wipe) that leaves the reserve as it is: to check a tag."""
        i = self._check_index(index)
        start = (i - self._first) * _SLOT_BYTES
        return bytearray(self._buffer[start : start + _SLOT_BYTES])

    def _check_index(self, index: int) -> int:
        i = check_int(index, name="slot index")
        if i < self._first:
            raise AlreadyConsumed(f"tag key slot {i} was already used or burned")
        if i >= self._first + self.slots_available:
            raise PadExhausted(f"tag key slot {i} is beyond the reserve ({self.slots_available} slots left)")
        return i

    def take(self, index: int) -> bytearray:
        """Slot ``index`` (16 bytes, the caller's to wipe); every earlier unused slot is burned."""
        i = self._check_index(index)
        cut = (i + 1 - self._first) * _SLOT_BYTES
        slot = bytearray(self._buffer[cut - _SLOT_BYTES : cut])
        self._buffer[:cut] = bytes(cut)  # wipe before dropping
        del self._buffer[:cut]
        self._first = i + 1
        return slot

    def export_unused(self) -> tuple[int, bytes]:
        """``(next_index, the unused slots' bytes)``: what a daemon writes to disk to reload the reserve later.

        The bytes are secret key material: store them like the key pool, never log them.
        """
        return self._first, bytes(self._buffer)

    def __repr__(self) -> str:
        return f"TagKeyReserve(next_index={self._first}, slots_available={self.slots_available})"


@dataclass(frozen=True, slots=True)
class Usage:
    """Reserve slots a block used in each direction (hash key plus one pad per frame)."""

    alice_to_bob: int = 0
    bob_to_alice: int = 0

    @property
    def key_bits(self) -> int:
        """Secret key bits the block spent on authentication, both directions."""
        return (self.alice_to_bob + self.bob_to_alice) * SLOT_BITS


class _Direction:
    """The frames of one block in one direction: sequence numbers, pad indices, the hash key."""

    def __init__(self, reserve: TagKeyReserve) -> None:
        self.reserve = reserve
        self.frames = 0
        self.hash_key: bytearray | None = None
        self.next_pad = -1

    @property
    def slots(self) -> int:
        return self.frames + 1 if self.frames else 0

    def key_for(self, pad_index: int) -> OneTimeTagKey:
        """The tag key of the next frame, whose pad is slot ``pad_index``; the first frame also takes ``r``."""
        if self.hash_key is None:
            self.hash_key = self.reserve.take(pad_index - 1)
        pad = self.reserve.take(pad_index)
        try:
            return OneTimeTagKey(self.hash_key, pad)
        finally:
            pad[:] = bytes(len(pad))

    def check_key(self, pad_index: int) -> OneTimeTagKey:
        """The key to check a received frame with, read without using the slots (see :meth:`commit`)."""
        hash_key = self.hash_key if self.hash_key is not None else self.reserve.peek(pad_index - 1)
        pad = self.reserve.peek(pad_index)
        try:
            return OneTimeTagKey(hash_key, pad)
        finally:
            pad[:] = bytes(len(pad))
            if hash_key is not self.hash_key:
                hash_key[:] = bytes(len(hash_key))

    def commit(self, pad_index: int) -> None:
        """The frame with pad ``pad_index`` checked: use its slots (and ``r`` for the first frame)."""
        if self.hash_key is None:
            self.hash_key = self.reserve.take(pad_index - 1)
        pad = self.reserve.take(pad_index)
        pad[:] = bytes(len(pad))

    def wipe(self) -> None:
        if self.hash_key is not None:
            self.hash_key[:] = bytes(len(self.hash_key))


class AuthenticatedChannelEnd:
    """One party's end of the authenticated channel for one block: seals and opens frames (bytes).

    Sans-I/O: :meth:`seal` turns a payload into the frame to send, :meth:`open` checks a received
    frame and returns its payload, whatever carries the bytes (memory, the simulator, TCP).
    """

    def __init__(self, side: Side, *, send: TagKeyReserve, receive: TagKeyReserve, block_id: int) -> None:
        if side not in _DIRECTION:
            raise InvalidParameter(f"side must be 'alice' or 'bob', got {side!r}")
        if not isinstance(send, TagKeyReserve) or not isinstance(receive, TagKeyReserve) or send is receive:
            raise InvalidParameter("send and receive must be two distinct TagKeyReserve objects")
        self._block = check_int(block_id, name="block_id")
        if self._block > _U64_MAX:
            raise InvalidParameter("block_id must fit in 64 bits")
        self._side: Side = side
        self._out = _Direction(send)
        self._in = _Direction(receive)
        self._failure: AuthenticationFailed | None = None

    @property
    def side(self) -> Side:
        """The party this end belongs to."""
        return self._side

    @property
    def failed(self) -> bool:
        """True once a frame was rejected: the block is aborted and the end refuses everything."""
        return self._failure is not None

    @property
    def usage(self) -> Usage:
        """Reserve slots this block used so far, by direction."""
        mine, theirs = self._out.slots, self._in.slots
        return Usage(mine, theirs) if self._side == "alice" else Usage(theirs, mine)

    @property
    def key_bits_used(self) -> int:
        """Secret key bits this block spent on authentication, both directions."""
        return self.usage.key_bits

    def _header(self, direction: int, seq: int, pad_index: int, length: int) -> bytes:
        return _HEADER.pack(FRAME_VERSION, direction, self._block, seq, pad_index, length)

    def seal(self, payload: bytes) -> bytes:
        """The frame carrying ``payload``: header, payload, tag."""
        self._refuse_if_failed()
        if not isinstance(payload, bytes | bytearray):
            raise InvalidParameter(f"payload must be bytes, got {type(payload).__name__}")
        out = self._out
        pad_index = out.next_pad if out.frames else out.reserve.next_index + 1
        header = self._header(_DIRECTION[self._side], out.frames, pad_index, len(payload))
        data = header + bytes(payload)
        tag = out.key_for(pad_index).tag(data)
        out.frames += 1
        out.next_pad = pad_index + 1
        return data + tag

    def open(self, frame: bytes) -> bytes:
        """Check ``frame`` and return its payload; any fault raises AuthenticationFailed for good."""
        self._refuse_if_failed()
        try:
            return self._open(bytes(frame))
        except (AuthenticationFailed, AlreadyConsumed, PadExhausted, struct.error, TypeError) as exc:
            failure = exc if isinstance(exc, AuthenticationFailed) else AuthenticationFailed(f"frame rejected: {exc}")
            self._failure = failure
            self.close()
            raise failure from None

    def _open(self, frame: bytes) -> bytes:
        if len(frame) < _HEADER.size + TAG_BYTES:
            raise AuthenticationFailed(f"frame of {len(frame)} bytes is too short")
        version, direction, block, seq, pad_index, length = _HEADER.unpack_from(frame)
        peer = 1 - _DIRECTION[self._side]
        into = self._in
        expected_pad = into.next_pad if into.frames else None
        problems = [
            (version != FRAME_VERSION, f"unknown frame version {version}"),
            (direction != peer, "frame in the wrong direction (reflected?)"),
            (block != self._block, f"frame of block {block}, expected block {self._block}"),
            (seq != into.frames, f"frame number {seq}, expected {into.frames} (replayed, reordered or dropped)"),
            (len(frame) != _HEADER.size + length + TAG_BYTES, "frame length disagrees with its header"),
            (expected_pad is not None and pad_index != expected_pad, f"frame uses key slot {pad_index}"),
            (expected_pad is None and pad_index <= into.reserve.next_index, "first frame reuses a spent key slot"),
        ]
        for bad, why in problems:
            if bad:
                raise AuthenticationFailed(why)
        body = frame[: _HEADER.size + length]
        mine = into.check_key(pad_index).tag(body)
        if not hmac.compare_digest(mine, frame[_HEADER.size + length :]):
            raise AuthenticationFailed("tag mismatch: the frame was forged or altered")
        into.commit(pad_index)
        into.frames += 1
        into.next_pad = pad_index + 1
        return frame[_HEADER.size : _HEADER.size + length]

    def _refuse_if_failed(self) -> None:
        if self._failure is not None:
            raise AuthenticationFailed(f"the block was aborted: {self._failure}")

    def time_out(self) -> None:
        """The peer's frames stopped while the protocol still expected one: fail the block for good (raises)."""
        self._refuse_if_failed()
        self._failure = AuthenticationFailed(
            f"timed out after {self._in.frames} frame(s) from the peer, with the protocol still waiting: "
            "a frame was dropped or withheld"
        )
        self.close()
        raise self._failure

    def close(self) -> None:
        """Wipe the block's hash keys (the reserve keeps its unused slots)."""
        self._out.wipe()
        self._in.wipe()

    def __repr__(self) -> str:
        return f"AuthenticatedChannelEnd(side={self._side!r}, block_id={self._block}, usage={self.usage})"


class PartyTagKeys:
    """One party's two reserves (Alice → Bob and Bob → Alice) and their refill from fresh key."""

    def __init__(self, side: Side, *, alice_to_bob: TagKeyReserve, bob_to_alice: TagKeyReserve) -> None:
        if side not in _DIRECTION:
            raise InvalidParameter(f"side must be 'alice' or 'bob', got {side!r}")
        self._side: Side = side
        self._a2b = alice_to_bob
        self._b2a = bob_to_alice

    @classmethod
    def from_preshared(cls, bits: object, *, side: Side) -> PartyTagKeys:
        """Split a pre-shared bootstrap key (a multiple of 256 bits) into the two directions' reserves."""
        arr = as_bits(bits, name="pre-shared key", copy=False)
        if arr.size % (2 * SLOT_BITS):
            raise InvalidParameter(f"the pre-shared key must be a multiple of {2 * SLOT_BITS} bits, got {arr.size}")
        half = arr.size // 2
        return cls(side, alice_to_bob=TagKeyReserve(arr[:half]), bob_to_alice=TagKeyReserve(arr[half:]))

    @property
    def side(self) -> Side:
        """The party these reserves belong to."""
        return self._side

    @property
    def bits_available(self) -> int:
        """Unused tag-key bits in both directions."""
        return self._a2b.bits_available + self._b2a.bits_available

    def channel_end(self, *, block_id: int) -> AuthenticatedChannelEnd:
        """This party's end of the authenticated channel for block ``block_id``."""
        send, receive = (self._a2b, self._b2a) if self._side == "alice" else (self._b2a, self._a2b)
        return AuthenticatedChannelEnd(self._side, send=send, receive=receive, block_id=block_id)

    def refill(self, fresh_key: object, usage: Usage) -> Bits:
        """Put back what ``usage`` spent, from the front of ``fresh_key``; return the rest (the net key).

        If the key is shorter than the cost, all of it (in whole slots) goes to the reserves and the
        net key is empty: the block consumed more key than it made.
        """
        key = as_bits(fresh_key, name="fresh_key", copy=False)
        if not isinstance(usage, Usage):
            raise InvalidParameter("usage must be a Usage")
        usable = min(usage.key_bits, key.size // SLOT_BITS * SLOT_BITS)
        a2b_bits = min(usage.alice_to_bob * SLOT_BITS, usable)
        self._a2b.deposit(key[:a2b_bits])
        self._b2a.deposit(key[a2b_bits:usable])
        net: Bits = key[usage.key_bits :].copy() if key.size >= usage.key_bits else np.zeros(0, dtype=np.uint8)
        return net

    def __repr__(self) -> str:
        return f"PartyTagKeys(side={self._side!r}, alice_to_bob={self._a2b!r}, bob_to_alice={self._b2a!r})"


class AuthenticatedParty:
    """Wraps a party so that everything it sends is sealed and everything it receives is opened first.

    The wire carries :class:`~qkdnet.postprocess.messages.AuthenticatedFrame` messages only; a bare
    message, or a frame that fails its check, raises AuthenticationFailed and the inner party never
    sees it.
    """

    def __init__(self, inner: Party, end: AuthenticatedChannelEnd) -> None:
        if not isinstance(inner, Party):
            raise InvalidParameter("inner must be a Party")
        if not isinstance(end, AuthenticatedChannelEnd):
            raise InvalidParameter("end must be an AuthenticatedChannelEnd")
        self._inner = inner
        self._end = end

    @property
    def inner(self) -> Party:
        """The wrapped party."""
        return self._inner

    @property
    def end(self) -> AuthenticatedChannelEnd:
        """This party's channel end (its usage is the block's authentication cost)."""
        return self._end

    @property
    def done(self) -> bool:
        """True when the inner party is done."""
        return self._inner.done

    def start(self) -> list[Message]:
        """Seal the inner party's opening messages."""
        return self._seal(self._inner.start())

    def receive(self, message: Message) -> list[Message]:
        """Open ``message``, hand its content to the inner party, seal the replies."""
        if not isinstance(message, AuthenticatedFrame):
            raise AuthenticationFailed(f"unauthenticated {type(message).__name__} refused")
        payload = self._end.open(message.data)
        try:
            inner_message = decode_message(payload)
        except ProtocolError as exc:  # authentic but malformed: the peer is broken
            raise ProtocolError(f"authenticated frame holds no valid message: {exc}") from exc
        return self._seal(self._inner.receive(inner_message))

    def time_out(self) -> None:
        """The channel went quiet before the inner party was done: its frames were dropped (AuthenticationFailed)."""
        if not self._inner.done:
            self._end.time_out()

    def _seal(self, messages: list[Message]) -> list[Message]:
        return [AuthenticatedFrame(self._end.seal(encode_message(m))) for m in messages]


__all__ = [
    "FRAME_VERSION",
    "SLOT_BITS",
    "TAG_BYTES",
    "AuthenticatedChannelEnd",
    "AuthenticatedParty",
    "FrameHeader",
    "OneTimeTagKey",
    "PartyTagKeys",
    "TagKeyReserve",
    "Usage",
]
