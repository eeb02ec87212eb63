"""Typed messages of the post-processing protocols, and their byte encoding.

Each message is a frozen dataclass; parties dispatch on them with ``match``. Array fields are
copied and made read-only, so a message never aliases the sender's memory. :func:`encode_message`
and :func:`decode_message` give a compact, versioned byte form: the in-memory driver can send
every message through it (proving messages are self-contained), and a socket transport uses the
same bytes.

>>> msg = ParityAnswer(round_index=3, parities=np.array([1, 0, 1], dtype=np.uint8))
>>> back = decode_message(encode_message(msg))
>>> back.round_index, back.parities.tolist()
(3, [1, 0, 1])
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from qkdnet.checks import check_int
from qkdnet.errors import InvalidParameter, ProtocolError
from qkdnet.postprocess._bits import Bits, as_bits

_FORMAT_VERSION = 1


def _frozen_array(value: object, dtype: type[np.generic], name: str) -> npt.NDArray[Any]:
    arr = np.array(value, dtype=dtype, copy=True)
    if arr.ndim != 1:
        raise InvalidParameter(f"{name} must be one-dimensional, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


def _frozen_bits(value: object, name: str) -> Bits:
    arr = as_bits(value, name=name, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, slots=True)
class CascadeStart:
    """Bob → Alice: key length, block size of each pass, and the public seed of the permutations."""

    n: int
    block_sizes: tuple[int, ...]
    permutation_seed: int

    def __post_init__(self) -> None:
        check_int(self.n, name="n", minimum=1)
        object.__setattr__(self, "block_sizes", tuple(self.block_sizes))
        if not self.block_sizes:
            raise InvalidParameter("block_sizes must not be empty")
        for k in self.block_sizes:
            check_int(k, name="block size", minimum=1)
        check_int(self.permutation_seed, name="permutation_seed")
        if self.permutation_seed >= 1 << 128:
            raise InvalidParameter("permutation_seed must fit in 128 bits")


@dataclass(frozen=True, slots=True, eq=False)
class ParityQuery:
    """Bob → Alice: "what is the parity of your key on these ranges?", one round's questions at once.

    Range ``i`` is positions ``starts[i]:stops[i]`` of Alice's key in the order of pass ``passes[i]``.
    """

    round_index: int
    passes: npt.NDArray[np.uint8]
    starts: npt.NDArray[np.int64]
    stops: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        check_int(self.round_index, name="round_index", minimum=1)
        object.__setattr__(self, "passes", _frozen_array(self.passes, np.uint8, "passes"))
        object.__setattr__(self, "starts", _frozen_array(self.starts, np.int64, "starts"))
        object.__setattr__(self, "stops", _frozen_array(self.stops, np.int64, "stops"))
        if not (self.passes.size == self.starts.size == self.stops.size):
            raise InvalidParameter("passes, starts and stops must have the same length")

    def __len__(self) -> int:
        return int(self.passes.size)


@dataclass(frozen=True, slots=True, eq=False)
class ParityAnswer:
    """Alice → Bob: the parities asked in round ``round_index``, in the order asked."""

    round_index: int
    parities: Bits

    def __post_init__(self) -> None:
        check_int(self.round_index, name="round_index", minimum=1)
        object.__setattr__(self, "parities", _frozen_bits(self.parities, "parities"))


@dataclass(frozen=True, slots=True)
class CascadeDone:
    """Bob → Alice: Cascade is over; Alice checks that both ledgers saw the same disclosure."""

    rounds: int
    disclosed_bits: int

    def __post_init__(self) -> None:
        check_int(self.rounds, name="rounds")
        check_int(self.disclosed_bits, name="disclosed_bits")


@dataclass(frozen=True, slots=True)
class Abort:
    """Either party → the other: the protocol stops; ``reason`` says why (the receiver raises)."""

    reason: str


@dataclass(frozen=True, slots=True, eq=False)
class VerificationTag:
    """Alice → Bob: the public hash seed and Alice's ``tag_bits``-bit tag of her key under it."""

    seed: Bits
    tag: bytes
    tag_bits: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", _frozen_bits(self.seed, "seed"))
        check_int(self.tag_bits, name="tag_bits", minimum=1)
        if not isinstance(self.tag, bytes) or len(self.tag) != (self.tag_bits + 7) // 8:
            raise InvalidParameter("tag must be bytes holding tag_bits bits")


@dataclass(frozen=True, slots=True)
class VerificationOutcome:
    """Bob → Alice: whether the tags matched (if not, the block is discarded on both sides)."""

    accepted: bool


@dataclass(frozen=True, slots=True, eq=False)
class FrameTags:
    """Alice → Bob: one public hash seed and her ``tag_bits``-bit tag of each frame (of ``frame_lengths`` bits)."""

    seed: Bits
    tags: bytes
    tag_bits: int
    frame_lengths: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", _frozen_bits(self.seed, "seed"))
        object.__setattr__(self, "frame_lengths", _frozen_array(self.frame_lengths, np.int64, "frame_lengths"))
        check_int(self.tag_bits, name="tag_bits", minimum=1)
        frames = self.frame_lengths.size
        if frames < 1 or np.any(self.frame_lengths < 1):
            raise InvalidParameter("frame_lengths must list at least one positive length")
        if not isinstance(self.tags, bytes) or len(self.tags) != frames * ((self.tag_bits + 7) // 8):
            raise InvalidParameter("tags must be bytes holding one tag_bits-bit tag per frame")


@dataclass(frozen=True, slots=True, eq=False)
class FrameVerdicts:
    """Bob → Alice: which frames' tags matched (1: kept); the others are dropped on both sides."""

    accepted: Bits

    def __post_init__(self) -> None:
        object.__setattr__(self, "accepted", _frozen_bits(self.accepted, "accepted"))


@dataclass(frozen=True, slots=True, eq=False)
class AmplificationSeed:
    """Bob → Alice: the public Toeplitz seed and the final key length both sides computed."""

    seed: Bits
    out_len: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", _frozen_bits(self.seed, "seed"))
        check_int(self.out_len, name="out_len")


@dataclass(frozen=True, slots=True)
class AuthenticatedFrame:
    """Either party → the other: one sealed frame of the authenticated channel (see :mod:`.auth`)."""

    data: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            raise InvalidParameter(f"frame data must be bytes, got {type(self.data).__name__}")

    def __repr__(self) -> str:
        return f"AuthenticatedFrame({len(self.data)} bytes)"


@dataclass(frozen=True, slots=True)
class CascadeSetup:
    """Bob → Alice: how Cascade runs — key and frame length, variant, pass budget, permutation seed.

    The key is cut into frames of ``frame_bits`` bits (the last may be shorter), reconciled side by side;
    pass indices in later :class:`ParityQuery` messages stay below ``max_passes``.
    """

    n: int
    frame_bits: int
    variant: str
    max_passes: int
    permutation_seed: int

    def __post_init__(self) -> None:
        check_int(self.n, name="n", minimum=1)
        check_int(self.frame_bits, name="frame_bits", minimum=1)
        if self.frame_bits > self.n:
            raise InvalidParameter(f"frame_bits ({self.frame_bits}) exceeds the key length ({self.n})")
        if not isinstance(self.variant, str) or not self.variant or len(self.variant.encode("utf-8")) > 255:
            raise InvalidParameter("variant must be a non-empty name of at most 255 bytes")
        check_int(self.max_passes, name="max_passes", minimum=1)
        if self.max_passes > 256:
            raise InvalidParameter("max_passes must be at most 256 (pass indices travel as one byte)")
        check_int(self.permutation_seed, name="permutation_seed")
        if self.permutation_seed >= 1 << 128:
            raise InvalidParameter("permutation_seed must fit in 128 bits")


@dataclass(frozen=True, slots=True)
class LdpcStart:
    """Bob → Alice: the LDPC code by name, and how the key is cut into frames and punctured.

    The code is ``(family, rate, n, code_seed)`` of the ladder; the key's ``key_bits`` bits go into
    ``frames`` frames of near-equal size; ``punctured`` symbols of each frame are punctured.
    """

    family: str
    rate: float
    n: int
    code_seed: int
    key_bits: int
    frames: int
    punctured: int

    def __post_init__(self) -> None:
        if not isinstance(self.family, str) or not self.family:
            raise InvalidParameter("family must be a non-empty string")
        if isinstance(self.rate, bool) or not isinstance(self.rate, float) or not 0.0 < self.rate < 1.0:
            raise InvalidParameter(f"rate must be a float in (0, 1), got {self.rate!r}")
        check_int(self.n, name="n", minimum=1)
        check_int(self.code_seed, name="code_seed")
        check_int(self.key_bits, name="key_bits", minimum=1)
        check_int(self.frames, name="frames", minimum=1)
        check_int(self.punctured, name="punctured")


@dataclass(frozen=True, slots=True, eq=False)
class LdpcSyndrome:
    """Alice → Bob: the syndrome of every frame, frame after frame."""

    syndromes: Bits

    def __post_init__(self) -> None:
        object.__setattr__(self, "syndromes", _frozen_bits(self.syndromes, "syndromes"))


@dataclass(frozen=True, slots=True, eq=False)
class LdpcFeedback:
    """Bob → Alice: after decoding round ``round_index``, the frames not yet decoded.

    Alice answers with the next ``reveal`` punctured bits of each; with no failed frame the
    reconciliation is over and Alice checks that both ledgers count ``disclosed_bits``.
    """

    round_index: int
    failed_frames: npt.NDArray[np.int64]
    reveal: int
    disclosed_bits: int

    def __post_init__(self) -> None:
        check_int(self.round_index, name="round_index", minimum=1)
        object.__setattr__(self, "failed_frames", _frozen_array(self.failed_frames, np.int64, "failed_frames"))
        check_int(self.reveal, name="reveal")
        check_int(self.disclosed_bits, name="disclosed_bits")


@dataclass(frozen=True, slots=True, eq=False)
class LdpcReveal:
    """Alice → Bob: values of the punctured bits asked after round ``round_index``, frame after frame."""

    round_index: int
    values: Bits

    def __post_init__(self) -> None:
        check_int(self.round_index, name="round_index", minimum=1)
        object.__setattr__(self, "values", _frozen_bits(self.values, "values"))


@dataclass(frozen=True, slots=True, eq=False)
class BasisAnnouncement:
    """Either party → the other: the setting it measured every pair of the block in, announced after measuring.

    Both announcements together are the sifting information: a pair is kept where the settings align.
    """

    settings: npt.NDArray[np.uint8]

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", _frozen_array(self.settings, np.uint8, "settings"))


@dataclass(frozen=True, slots=True, eq=False)
class SampleChoice:
    """Bob → Alice: which sifted pairs are sacrificed to estimate the error rate (one bit per sifted pair)."""

    sample: Bits

    def __post_init__(self) -> None:
        object.__setattr__(self, "sample", _frozen_bits(self.sample, "sample"))


@dataclass(frozen=True, slots=True, eq=False)
class OutcomeDisclosure:
    """Either party → the other: its outcomes on the disclosed pairs (every pair outside the key, and the
    sample), in pair order; parameter estimation uses nothing else."""

    outcomes: Bits

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcomes", _frozen_bits(self.outcomes, "outcomes"))


@dataclass(frozen=True, slots=True, eq=False)
class ClickTimes:
    """Bob → Alice: the times of his detector clicks in a block, on his own clock (ps, sorted). Coincidence
    finding needs them and nothing else: which detector clicked (his setting and outcome) stays with him."""

    times_ps: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        times = _frozen_array(self.times_ps, np.int64, "times_ps")
        if times.size > 1 and bool(np.any(np.diff(times) < 0)):
            raise InvalidParameter("click times must be sorted")
        object.__setattr__(self, "times_ps", times)


@dataclass(frozen=True, slots=True, eq=False)
class ClickPairs:
    """Alice → Bob: which of his clicks have a partner among hers (indices into his :class:`ClickTimes`,
    increasing); pair k is her k-th matched click and his ``bob_index[k]``."""

    bob_index: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        index = _frozen_array(self.bob_index, np.int64, "bob_index")
        if index.size and (int(index[0]) < 0 or bool(np.any(np.diff(index) <= 0))):
            raise InvalidParameter("bob_index must be increasing non-negative indices")
        object.__setattr__(self, "bob_index", index)


Message: TypeAlias = (
    CascadeStart
    | ParityQuery
    | ParityAnswer
    | CascadeDone
    | Abort
    | VerificationTag
    | VerificationOutcome
    | AmplificationSeed
    | AuthenticatedFrame
    | CascadeSetup
    | LdpcStart
    | LdpcSyndrome
    | LdpcFeedback
    | LdpcReveal
    | BasisAnnouncement
    | SampleChoice
    | OutcomeDisclosure
    | FrameTags
    | FrameVerdicts
    | ClickTimes
    | ClickPairs
)
"""Any message of the post-processing protocols."""

MESSAGE_TYPES: tuple[type, ...] = (
    CascadeStart,
    ParityQuery,
    ParityAnswer,
    CascadeDone,
    Abort,
    VerificationTag,
    VerificationOutcome,
    AmplificationSeed,
    AuthenticatedFrame,
    CascadeSetup,
    LdpcStart,
    LdpcSyndrome,
    LdpcFeedback,
    LdpcReveal,
    BasisAnnouncement,
    SampleChoice,
    OutcomeDisclosure,
    FrameTags,
    FrameVerdicts,
    ClickTimes,
    ClickPairs,
)
"""Every message type, in the order of their type tags on the wire (new types go at the end)."""
_TAG_OF: dict[type, int] = {cls: i + 1 for i, cls in enumerate(MESSAGE_TYPES)}


# ----------------------------------------------------------------------------------------------- codec
def _pack_bits(bits: npt.NDArray[np.uint8]) -> bytes:
    return struct.pack("<Q", bits.size) + np.packbits(bits).tobytes()


def _pack_ints(values: npt.NDArray[np.int64]) -> bytes:
    if values.size and int(values.min()) < 0:
        raise InvalidParameter("cannot encode negative positions")
    wide = bool(values.size) and int(values.max()) >= 1 << 32
    dtype = "<u8" if wide else "<u4"
    return struct.pack("<QB", values.size, 8 if wide else 4) + values.astype(dtype).tobytes()


class _Reader:
    """Reads a message body; any shortfall or leftover is a ProtocolError."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self._pos + size > len(self._data):
            raise ProtocolError("truncated message")
        chunk = bytes(self._data[self._pos : self._pos + size])
        self._pos += size
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def bits(self) -> npt.NDArray[np.uint8]:
        (count,) = self.unpack("<Q")
        packed = np.frombuffer(self.take((count + 7) // 8), dtype=np.uint8)
        return np.unpackbits(packed, count=count)

    def ints(self) -> npt.NDArray[np.int64]:
        count, width = self.unpack("<QB")
        if width not in (4, 8):
            raise ProtocolError(f"bad integer width {width}")
        raw = np.frombuffer(self.take(count * width), dtype="<u8" if width == 8 else "<u4")
        return raw.astype(np.int64)

    def small_ints(self) -> npt.NDArray[np.uint8]:
        count, width = self.unpack("<QB")
        if width not in (1, 2, 4, 8):
            raise ProtocolError(f"bad value width {width}")
        packed = np.frombuffer(self.take((count * width + 7) // 8), dtype=np.uint8)
        planes = np.unpackbits(packed, count=count * width).reshape(count, width)
        values = planes[:, 0].copy()  # bit planes or-ed in column by column (an integer matmul is ~5x slower)
        for bit in range(1, width):
            values |= planes[:, bit] << np.uint8(bit)
        return values

    def finish(self) -> None:
        if self._pos != len(self._data):
            raise ProtocolError("trailing bytes after message")


def encode_message(message: Message) -> bytes:
    """The byte form of ``message``: version, type tag, then its fields (little-endian)."""
    head = struct.pack("<BB", _FORMAT_VERSION, _TAG_OF[type(message)])
    match message:
        case CascadeStart(n=n, block_sizes=sizes, permutation_seed=seed):
            body = struct.pack("<QB", n, len(sizes)) + struct.pack(f"<{len(sizes)}Q", *sizes)
            body += seed.to_bytes(16, "little")
        case ParityQuery():
            body = struct.pack("<I", message.round_index) + _pack_bits_u8(message.passes)
            body += _pack_ints(message.starts) + _pack_ints(message.stops)
        case ParityAnswer():
            body = struct.pack("<I", message.round_index) + _pack_bits(message.parities)
        case CascadeDone(rounds=rounds, disclosed_bits=disclosed):
            body = struct.pack("<QQ", rounds, disclosed)
        case Abort(reason=reason):
            text = reason.encode("utf-8")
            body = struct.pack("<I", len(text)) + text
        case VerificationTag():
            body = _pack_bits(message.seed) + struct.pack("<I", message.tag_bits) + message.tag
        case VerificationOutcome(accepted=accepted):
            body = struct.pack("<?", accepted)
        case AmplificationSeed():
            body = _pack_bits(message.seed) + struct.pack("<Q", message.out_len)
        case AuthenticatedFrame(data=data):
            body = struct.pack("<Q", len(data)) + data
        case CascadeSetup():
            name = message.variant.encode("utf-8")
            body = struct.pack("<QQH", message.n, message.frame_bits, message.max_passes)
            body += message.permutation_seed.to_bytes(16, "little") + struct.pack("<B", len(name)) + name
        case LdpcStart():
            name = message.family.encode("utf-8")
            body = struct.pack("<I", len(name)) + name + struct.pack("<d", message.rate)
            body += struct.pack(
                "<QQQQQ", message.n, message.code_seed, message.key_bits, message.frames, message.punctured
            )
        case LdpcSyndrome():
            body = _pack_bits(message.syndromes)
        case LdpcFeedback():
            body = struct.pack("<I", message.round_index) + _pack_ints(message.failed_frames)
            body += struct.pack("<QQ", message.reveal, message.disclosed_bits)
        case LdpcReveal():
            body = struct.pack("<I", message.round_index) + _pack_bits(message.values)
        case BasisAnnouncement():
            body = _pack_small_ints(message.settings)
        case SampleChoice():
            body = _pack_bits(message.sample)
        case OutcomeDisclosure():
            body = _pack_bits(message.outcomes)
        case FrameTags():
            body = _pack_bits(message.seed) + struct.pack("<I", message.tag_bits) + _pack_ints(message.frame_lengths)
            body += message.tags
        case FrameVerdicts():
            body = _pack_bits(message.accepted)
        case ClickTimes(times_ps=times):
            first = int(times[0]) if times.size else 0
            body = struct.pack("<Qq", times.size, first) + _pack_ints(np.diff(times))  # sorted: gaps are >= 0
        case ClickPairs(bob_index=index):
            body = _pack_ints(index)
        case _:  # pragma: no cover - exhaustive over Message
            raise InvalidParameter(f"not a post-processing message: {message!r}")
    return head + body


def _pack_bits_u8(values: npt.NDArray[np.uint8]) -> bytes:
    return struct.pack("<Q", values.size) + values.astype(np.uint8).tobytes()


def _pack_small_ints(values: npt.NDArray[np.uint8]) -> bytes:
    """Count, bits per value (1, 2, 4 or 8: the fewest that hold the largest), then the values packed."""
    top = int(values.max()) if values.size else 0
    width = next(w for w in (1, 2, 4, 8) if top < 1 << w)
    planes = np.empty((values.size, width), dtype=np.uint8)  # column by column: no 2-D broadcast temporaries
    for bit in range(width):
        np.bitwise_and(values >> np.uint8(bit), 1, out=planes[:, bit])
    return struct.pack("<QB", values.size, width) + np.packbits(planes.ravel()).tobytes()


def decode_message(data: bytes) -> Message:
    """Parse bytes made by :func:`encode_message`; malformed input raises ProtocolError."""
    reader = _Reader(data)
    version, tag = reader.unpack("<BB")
    if version != _FORMAT_VERSION:
        raise ProtocolError(f"unknown message format version {version}")
    if not 1 <= tag <= len(MESSAGE_TYPES):
        raise ProtocolError(f"unknown message type {tag}")
    cls = MESSAGE_TYPES[tag - 1]
    message: Message
    try:
        if cls is CascadeStart:
            n, count = reader.unpack("<QB")
            sizes = reader.unpack(f"<{count}Q")
            seed = int.from_bytes(reader.take(16), "little")
            message = CascadeStart(n=n, block_sizes=tuple(sizes), permutation_seed=seed)
        elif cls is ParityQuery:
            (round_index,) = reader.unpack("<I")
            (count,) = reader.unpack("<Q")
            passes = np.frombuffer(reader.take(count), dtype=np.uint8)
            message = ParityQuery(round_index, passes, reader.ints(), reader.ints())
        elif cls is ParityAnswer:
            (round_index,) = reader.unpack("<I")
            message = ParityAnswer(round_index, reader.bits())
        elif cls is CascadeDone:
            message = CascadeDone(*reader.unpack("<QQ"))
        elif cls is Abort:
            (size,) = reader.unpack("<I")
            message = Abort(reader.take(size).decode("utf-8"))
        elif cls is VerificationTag:
            seed_bits = reader.bits()
            (tag_bits,) = reader.unpack("<I")
            message = VerificationTag(seed_bits, reader.take((tag_bits + 7) // 8), tag_bits)
        elif cls is VerificationOutcome:
            (accepted,) = reader.unpack("<?")
            message = VerificationOutcome(bool(accepted))
        elif cls is AmplificationSeed:
            seed_bits = reader.bits()
            (out_len,) = reader.unpack("<Q")
            message = AmplificationSeed(seed_bits, out_len)
        elif cls is AuthenticatedFrame:
            (size,) = reader.unpack("<Q")
            message = AuthenticatedFrame(reader.take(size))
        elif cls is CascadeSetup:
            n, frame_bits, max_passes = reader.unpack("<QQH")
            seed = int.from_bytes(reader.take(16), "little")
            (size,) = reader.unpack("<B")
            message = CascadeSetup(n, frame_bits, reader.take(size).decode("utf-8"), max_passes, seed)
        elif cls is LdpcStart:
            (size,) = reader.unpack("<I")
            family = reader.take(size).decode("utf-8")
            (rate,) = reader.unpack("<d")
            message = LdpcStart(family, rate, *reader.unpack("<QQQQQ"))
        elif cls is LdpcSyndrome:
            message = LdpcSyndrome(reader.bits())
        elif cls is LdpcFeedback:
            (round_index,) = reader.unpack("<I")
            failed = reader.ints()
            message = LdpcFeedback(round_index, failed, *reader.unpack("<QQ"))
        elif cls is LdpcReveal:
            (round_index,) = reader.unpack("<I")
            message = LdpcReveal(round_index, reader.bits())
        elif cls is BasisAnnouncement:
            message = BasisAnnouncement(reader.small_ints())
        elif cls is SampleChoice:
            message = SampleChoice(reader.bits())
        elif cls is OutcomeDisclosure:
            message = OutcomeDisclosure(reader.bits())
        elif cls is FrameTags:
            seed_bits = reader.bits()
            (tag_bits,) = reader.unpack("<I")
            lengths = reader.ints()
            message = FrameTags(seed_bits, reader.take(lengths.size * ((tag_bits + 7) // 8)), tag_bits, lengths)
        elif cls is FrameVerdicts:
            message = FrameVerdicts(reader.bits())
        elif cls is ClickTimes:
            count, first = reader.unpack("<Qq")
            gaps = reader.ints()
            if gaps.size != max(0, count - 1):
                raise ProtocolError(f"{count} click times need {max(0, count - 1)} gaps, got {gaps.size}")
            times = np.empty(count, dtype=np.int64)
            if count:
                times[0] = first
                np.cumsum(gaps, out=times[1:])
                times[1:] += first
            message = ClickTimes(times)
        else:
            message = ClickPairs(reader.ints())
    except (InvalidParameter, UnicodeDecodeError, struct.error) as exc:
        raise ProtocolError(f"malformed {cls.__name__}: {exc}") from exc
    reader.finish()
    return message


__all__ = [
    "MESSAGE_TYPES",
    "Abort",
    "AmplificationSeed",
    "AuthenticatedFrame",
    "BasisAnnouncement",
    "CascadeDone",
    "CascadeSetup",
    "CascadeStart",
    "ClickPairs",
    "ClickTimes",
    "FrameTags",
    "FrameVerdicts",
    "LdpcFeedback",
    "LdpcReveal",
    "LdpcStart",
    "LdpcSyndrome",
    "Message",
    "OutcomeDisclosure",
    "ParityAnswer",
    "ParityQuery",
    "SampleChoice",
    "VerificationOutcome",
    "VerificationTag",
    "decode_message",
    "encode_message",
]
