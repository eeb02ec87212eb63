"""Wegman–Carter authentication of the classical channel: one Poly1305 tag per transcript, keyed from secret key.

A tag is Poly1305 (Bernstein, "The Poly1305-AES message-authentication code", FSE 2005) over the bytes of a
*segment*: the frames (header and payload) sent in one direction since the previous tag. Its 256-bit key
``r | s`` comes from a reserve of secret key both parties hold: ``r`` (the polynomial hash key, 128 bits) is
drawn once per block and direction, ``s`` (the pad added to the hash, 128 bits) is fresh for every tag. This is
the Wegman–Carter construction with Poly1305-AES's AES outputs replaced by uniformly random one-time pads, so
by Bernstein's Theorem 3.3 a forgery of a segment of L bytes succeeds with probability at most
``8⌈L/16⌉/2^106`` (below 10⁻²⁴ for 100 MB); the tags, padded by fresh ``s``, reveal nothing of ``r``. The first
failed check aborts the block, so Eve gets one verification attempt per block and direction.

A frame is *tagged* (it ends its segment and carries the tag) or *untagged* (its tag comes with a later
frame). Control messages that change durable state (a node's hello, prepare and commit) go tagged, one by
one; a whole interactive protocol run (sifting, reconciliation, verification, amplification) goes untagged
and is closed by one tagged empty frame per direction (:class:`AuthenticatedParty`): a block costs a few
tags, not one per message. The header holds the format version, the direction, the kind, the block id, the
frame's sequence number in its direction, the index of its segment's pad in the reserve and the payload
length; the receiver demands the next sequence number and the segment's pad, so a forged, altered, replayed,
reordered or injected frame fails the next check (at once if its header is out of place, at the segment's
tag if only its content changed), and the channel end refuses everything after that: nothing of the block is
kept. A dropped frame is caught by the next frame's sequence number or, if none follows, by the timeout of
the party still waiting (:meth:`AuthenticatedParty.time_out`).

Slots are read (not used) while a segment is open and used only when its tag is sent, or checked: a block
interrupted before a tag went out spends nothing, and may safely reuse those slots, since nothing computed
from them ever left the node. The receiver uses its copy only once the tag checks, so its reserve never runs
ahead of the sender's and whatever Eve did to one block, the next one starts in step. A reserve hands out
each slot once (AlreadyConsumed on reuse), wipes it after use and never shows it in a repr; tags are checked
in constant time.

A block costs ``128·(1 + tags)`` key bits per direction that sent a tag. The parties refill their reserves
with that many bits of the block's fresh final key (:meth:`PartyTagKeys.refill`), so the net key is what
remains; the first blocks run on a pre-shared bootstrap key.

>>> import numpy as np
>>> preshared = np.random.default_rng(1).integers(0, 2, 4 * SLOT_BITS, dtype=np.uint8)
>>> alice = PartyTagKeys.from_preshared(preshared, side="alice")
>>> bob = PartyTagKeys.from_preshared(preshared.copy(), side="bob")
>>> a_end, b_end = alice.channel_end(block_id=7), bob.channel_end(block_id=7)
>>> first = a_end.seal(b"parity query", tagged=False)
>>> b_end.accept(first)
Opened(payload=b'parity query', checked=False)
>>> b_end.open(a_end.seal(b"and the tag of both"))
b'and the tag of both'
>>> a_end.usage, a_end.key_bits_used
(Usage(alice_to_bob=2, bob_to_alice=0), 256)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Final, NoReturn

import numpy as np
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.poly1305 import Poly1305

from qkdnet.checks import check_int
from qkdnet.errors import (
    AlreadyConsumed,
    AuthenticationFailed,
    InvalidParameter,
    PadExhausted,
    ProtocolError,
    QkdnetError,
    SecurityAbort,
)
from qkdnet.postprocess._bits import Bits, as_bits
from qkdnet.postprocess.messages import Abort, AuthenticatedFrame, Message, decode_message, encode_message
from qkdnet.postprocess.protocol import Party, Side

SLOT_BITS: Final = 128
"""Key bits in one reserve slot: one hash key ``r`` or one pad ``s``."""
TAG_BYTES: Final = 16
FRAME_VERSION: Final = 2
_SLOT_BYTES: Final = SLOT_BITS // 8
_HEADER: Final = struct.Struct("<BBBQQQQ")  # version, direction, kind, block id, sequence, pad index, payload length
_TAGGED: Final = 1  # the frame ends its segment and carries the segment's tag
_UNTAGGED: Final = 0
_DIRECTION: Final[dict[Side, int]] = {"alice": 0, "bob": 1}
_U64_MAX: Final = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """The clear header of a sealed frame. The format is public (only the tag needs the key), so anyone on the
    wire can read it, and rewrite it: :meth:`split` and :meth:`pack` are what a man in the middle works with."""

    version: int
    direction: int
    kind: int
    block_id: int
    sequence: int
    pad_index: int
    payload_bytes: int

    SIZE: ClassVar[int] = _HEADER.size

    @property
    def tagged(self) -> bool:
        """Whether the frame ends its segment with a tag (else its content waits for the next tagged frame)."""
        return self.kind == _TAGGED

    def pack(self) -> bytes:
        """The header's bytes (InvalidParameter if a field does not fit)."""
        try:
            return _HEADER.pack(
                self.version, self.direction, self.kind, self.block_id, self.sequence, self.pad_index,
                self.payload_bytes,
            )  # fmt: skip
        except struct.error as exc:
            raise InvalidParameter(f"header field out of range: {exc}") from None

    @classmethod
    def split(cls, frame: bytes) -> tuple[FrameHeader, bytes, bytes]:
        """Header, payload and tag (empty if untagged) of ``frame`` as its header describes it (InvalidParameter if
        it cannot)."""
        if len(frame) < _HEADER.size:
            raise InvalidParameter(f"a frame has at least {_HEADER.size} bytes, got {len(frame)}")
        header = cls(*_HEADER.unpack_from(frame))
        end = _HEADER.size + header.payload_bytes
        return header, bytes(frame[_HEADER.size : end]), bytes(frame[end:])


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
    """Reserve slots a block used in each direction (the hash key plus one pad per tag)."""

    alice_to_bob: int = 0
    bob_to_alice: int = 0

    @property
    def key_bits(self) -> int:
        """Secret key bits the block spent on authentication, both directions."""
        return (self.alice_to_bob + self.bob_to_alice) * SLOT_BITS


class _Direction:
    """The frames of one block in one direction: sequence numbers, pad indices, ``r`` and the running tag.

    Frames since the last tagged one form a *segment*; its tag (the Poly1305 of the segment's bytes under ``r``
    and the segment's pad) goes with its last frame. The segment's pad index is fixed by its first frame.
    """

    def __init__(self, reserve: TagKeyReserve) -> None:
        self.reserve = reserve
        self.frames = 0
        self.tags = 0
        self.hash_key: bytearray | None = None  # r, once the first tag of the block used it
        self.next_pad = -1  # the pad index of the next segment (-1: none yet this block)
        self.segment: Poly1305 | None = None  # the running tag of the open segment
        self.segment_pad = -1
        self.checked = 0  # frames up to the last tagged one

    @property
    def slots(self) -> int:
        return self.tags + 1 if self.tags else 0

    def first_pad(self) -> int:
        """The pad index the next segment uses: after ``r`` for the block's first, then one after the other."""
        return self.next_pad if self.next_pad >= 0 else self.reserve.next_index + 1

    def open_segment(self, pad_index: int) -> None:
        """Start a segment tagged with pad ``pad_index``; the key is read, not used (see :meth:`use_slots`)."""
        hash_key = self.hash_key if self.hash_key is not None else self.reserve.peek(pad_index - 1)
        pad = self.reserve.peek(pad_index)
        key = hash_key + pad
        try:
            self.segment = Poly1305(bytes(key))
        finally:
            for secret in (key, pad) if hash_key is self.hash_key else (key, pad, hash_key):
                secret[:] = bytes(len(secret))
        self.segment_pad = pad_index

    def use_slots(self) -> None:
        """The segment's tag went out (or checked): use its pad, and ``r`` with the block's first tag."""
        if self.hash_key is None:
            self.hash_key = self.reserve.take(self.segment_pad - 1)
        pad = self.reserve.take(self.segment_pad)
        pad[:] = bytes(len(pad))
        self.tags += 1
        self.checked = self.frames
        self.next_pad = self.segment_pad + 1
        self.segment = None

    def wipe(self) -> None:
        if self.hash_key is not None:
            self.hash_key[:] = bytes(len(self.hash_key))
        self.segment = None


@dataclass(frozen=True, slots=True)
class Opened:
    """A received frame's payload, and whether it is authenticated yet.

    ``checked`` is True for a tagged frame: it and every frame before it in its direction are genuine. An
    untagged frame's payload is not: it is checked by the next tagged frame, and nothing that depends on it
    may be kept (or acted on beyond the protocol's own replies) before.
    """

    payload: bytes
    checked: bool


class AuthenticatedChannelEnd:
    """One party's end of the authenticated channel for one block: seals and opens frames (bytes).

    Sans-I/O: :meth:`seal` turns a payload into the frame to send, :meth:`open` / :meth:`accept` check a
    received frame and return its payload, whatever carries the bytes (memory, the simulator, TCP). A frame
    sealed with ``tagged=False`` carries no tag: it is folded into the running tag of its segment, which the
    next tagged frame in that direction carries.
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
        """Reserve slots this block used so far, by direction (``r`` plus one pad per tag sent or checked)."""
        mine, theirs = self._out.slots, self._in.slots
        return Usage(mine, theirs) if self._side == "alice" else Usage(theirs, mine)

    @property
    def key_bits_used(self) -> int:
        """Secret key bits this block spent on authentication, both directions."""
        return self.usage.key_bits

    @property
    def unchecked_frames(self) -> int:
        """Frames received since the last tagged one: their payloads are not authenticated yet."""
        return self._in.frames - self._in.checked

    def seal(self, payload: bytes, *, tagged: bool = True) -> bytes:
        """The frame carrying ``payload``: header, payload and, if ``tagged``, the tag of its whole segment."""
        self._refuse_if_failed()
        if not isinstance(payload, bytes | bytearray):
            raise InvalidParameter(f"payload must be bytes, got {type(payload).__name__}")
        out = self._out
        if out.segment is None:
            out.open_segment(out.first_pad())
        kind = _TAGGED if tagged else _UNTAGGED
        data = _HEADER.pack(
            FRAME_VERSION, _DIRECTION[self._side], kind, self._block, out.frames, out.segment_pad, len(payload)
        ) + bytes(payload)
        out.frames += 1
        assert out.segment is not None  # noqa: S101 - opened above
        out.segment.update(data)
        if not tagged:
            return data
        tag = out.segment.finalize()
        out.use_slots()
        return data + tag

    def open(self, frame: bytes) -> bytes:
        """Check a tagged ``frame`` (and its segment) and return its payload; any fault fails the block for good."""
        opened = self.accept(frame)
        if not opened.checked:
            self._fail(AuthenticationFailed("an untagged frame where a tagged one is due"))
        return opened.payload

    def accept(self, frame: bytes) -> Opened:
        """Take the next received frame: a tagged one is checked with its whole segment, an untagged one is
        checked for its place in the sequence only (its content waits for the segment's tag)."""
        self._refuse_if_failed()
        try:
            return self._accept(bytes(frame))
        except (AuthenticationFailed, AlreadyConsumed, PadExhausted, InvalidParameter, TypeError) as exc:
            failure = exc if isinstance(exc, AuthenticationFailed) else AuthenticationFailed(f"frame rejected: {exc}")
            self._fail(failure)

    def _fail(self, failure: AuthenticationFailed) -> NoReturn:
        self._failure = failure
        self.close()
        raise failure from None

    def _accept(self, frame: bytes) -> Opened:
        if len(frame) < _HEADER.size:
            raise AuthenticationFailed(f"frame of {len(frame)} bytes is too short")
        version, direction, kind, block, seq, pad_index, length = _HEADER.unpack_from(frame)
        into = self._in
        expected_pad = into.segment_pad if into.segment is not None else into.first_pad()
        tag_bytes = TAG_BYTES if kind == _TAGGED else 0
        problems = [
            (version != FRAME_VERSION, f"unknown frame version {version}"),
            (direction != 1 - _DIRECTION[self._side], "frame in the wrong direction (reflected?)"),
            (kind not in (_TAGGED, _UNTAGGED), f"unknown frame kind {kind}"),
            (block != self._block, f"frame of block {block}, expected block {self._block}"),
            (seq != into.frames, f"frame number {seq}, expected {into.frames} (replayed, reordered or dropped)"),
            (len(frame) != _HEADER.size + length + tag_bytes, "frame length disagrees with its header"),
            (into.next_pad >= 0 and pad_index != expected_pad, f"frame uses key slot {pad_index}"),
            (into.next_pad < 0 and into.segment is not None and pad_index != expected_pad, "frame changes key slot"),
            (into.next_pad < 0 and pad_index <= into.reserve.next_index, "first frame reuses a spent key slot"),
        ]
        for bad, why in problems:
            if bad:
                raise AuthenticationFailed(why)
        if into.segment is None:
            into.open_segment(pad_index)
        assert into.segment is not None  # noqa: S101 - opened above
        body = frame[: _HEADER.size + length]
        into.segment.update(body)
        into.frames += 1
        payload = frame[_HEADER.size : _HEADER.size + length]
        if kind == _UNTAGGED:
            return Opened(payload, checked=False)
        try:
            into.segment.verify(frame[_HEADER.size + length :])  # constant time
        except InvalidSignature:
            raise AuthenticationFailed("tag mismatch: a frame was forged or altered") from None
        into.use_slots()
        return Opened(payload, checked=True)

    def _refuse_if_failed(self) -> None:
        if self._failure is not None:
            raise AuthenticationFailed(f"the block was aborted: {self._failure}")

    def time_out(self) -> NoReturn:
        """The peer's frames stopped while the protocol still expected one: fail the block for good (raises)."""
        self._refuse_if_failed()
        self._fail(
            AuthenticationFailed(
                f"timed out after {self._in.frames} frame(s) from the peer, with the protocol still waiting: "
                "a frame was dropped or withheld"
            )
        )

    def close(self) -> None:
        """Wipe the block's hash keys and running tags (the reserve keeps its unused slots)."""
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
    """Wraps a party so that its whole transcript is authenticated once, in each direction, when it is done.

    Every message the inner party sends travels in an untagged frame; when the inner party is done, one
    tagged frame with an empty payload (the *close*) carries the tag of everything it sent. The inner party
    receives the peer's messages as they come (an interactive protocol needs its replies), but nothing that
    depends on them counts until the peer's close checks: :attr:`done` is True only then, and an error the
    inner party raised on an unchecked message is held until the close shows whether the peer really sent it
    (then it is raised as it was) or not (AuthenticationFailed). The wire carries
    :class:`~qkdnet.postprocess.messages.AuthenticatedFrame` messages only.

    Why nothing leaks before the check: an unchecked message can only steer which public messages the honest
    party sends next (parities, syndromes, verdicts), and every bit of those is counted in the leakage ledger
    whatever asked for it; the block's key is kept, and its tags' slots used, only after both closes check, so
    a block Eve touched ends with nothing kept. The closes are the only tags, each under a fresh one-time pad,
    so they reveal nothing of ``r``; a forgery of a segment of L bytes succeeds with probability at most
    ``8⌈L/16⌉/2^106``, one attempt per block.
    """

    def __init__(self, inner: Party, end: AuthenticatedChannelEnd) -> None:
        if not isinstance(inner, Party):
            raise InvalidParameter("inner must be a Party")
        if not isinstance(end, AuthenticatedChannelEnd):
            raise InvalidParameter("end must be an AuthenticatedChannelEnd")
        self._inner = inner
        self._end = end
        self._closed = False  # this side's close went out
        self._peer_closed = False
        self._held: QkdnetError | None = None  # what the inner party raised on an unchecked message

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
        """True when the inner party is done and both transcripts are closed and checked."""
        return self._inner.done and self._closed and self._peer_closed

    def start(self) -> list[Message]:
        """The inner party's opening messages (and the close, if that is all it says)."""
        return self._send(self._inner.start())

    def receive(self, message: Message) -> list[Message]:
        """Take the peer's next frame: hand its message to the inner party, or check the peer's close."""
        if not isinstance(message, AuthenticatedFrame):
            raise AuthenticationFailed(f"unauthenticated {type(message).__name__} refused")
        opened = self._end.accept(message.data)  # after the peer's close, a replay fails here on its number
        if self._peer_closed:
            raise ProtocolError("a frame after the peer closed its transcript")
        if opened.checked and not opened.payload:
            return self._peer_close()
        if self._held is not None:
            return []  # the inner party stopped; the close will tell whether the peer really said what it did
        try:
            inner_message = decode_message(opened.payload)
        except ProtocolError as exc:
            if opened.checked:  # authentic but malformed: the peer is broken
                raise ProtocolError(f"authenticated frame holds no valid message: {exc}") from exc
            return self._hold(ProtocolError(f"a frame holds no valid message: {exc}"), tell_peer=True)
        if self._inner.done:
            if isinstance(inner_message, Abort):
                return self._hold(SecurityAbort(f"the peer aborted after this side was done: {inner_message.reason}"))
            return self._hold(ProtocolError(f"unexpected {type(inner_message).__name__}: the protocol is over"))
        try:
            replies = self._inner.receive(inner_message)
        except Exception as exc:  # on unchecked input anything may break: hold it until the close says why
            if opened.checked:
                raise
            error = exc if isinstance(exc, QkdnetError) else ProtocolError(f"{type(exc).__name__}: {exc}")
            return self._hold(error, tell_peer=not isinstance(inner_message, Abort))
        return self._send(replies)

    def time_out(self) -> None:
        """The channel went quiet before both transcripts were closed: a frame was dropped (AuthenticationFailed)."""
        if self.done:
            return
        if self._held is not None:
            raise AuthenticationFailed(
                f"the peer's transcript was never closed after an unchecked message failed here ({self._held})"
            )
        self._end.time_out()

    def _peer_close(self) -> list[Message]:
        self._peer_closed = True
        if self._held is not None:
            raise self._held  # the peer really sent what made the inner party fail
        if not self._inner.done:
            raise ProtocolError("the peer closed its transcript while this side still expected messages")
        return []

    def _hold(self, error: QkdnetError, *, tell_peer: bool = False) -> list[Message]:
        """Stop the inner party with ``error``, to be raised once the peer's close checks; close this side."""
        if self._held is None:
            self._held = error
        out = [AuthenticatedFrame(self._end.seal(encode_message(Abort(str(error))), tagged=False))] if tell_peer else []
        return out + self._close()

    def _send(self, messages: list[Message]) -> list[Message]:
        frames: list[Message] = [AuthenticatedFrame(self._end.seal(encode_message(m), tagged=False)) for m in messages]
        return frames + (self._close() if self._inner.done else [])

    def _close(self) -> list[Message]:
        if self._closed:
            return []
        self._closed = True
        return [AuthenticatedFrame(self._end.seal(b""))]


__all__ = [
    "FRAME_VERSION",
    "SLOT_BITS",
    "TAG_BYTES",
    "AuthenticatedChannelEnd",
    "AuthenticatedParty",
    "FrameHeader",
    "Opened",
    "PartyTagKeys",
    "TagKeyReserve",
    "Usage",
]
