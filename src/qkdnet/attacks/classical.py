"""Eve on the classical channel: a man in the middle who alters, replays, drops, reorders or injects messages.

She holds the wire between Alice's and Bob's parties (an :class:`~qkdnet.postprocess.Interceptor`). Frames are
authenticated, not encrypted, so she reads every message (the basis announcements, the sample choice, the
disclosed outcomes, Cascade's parities, the verification tag, the amplification seed) and picks her targets by
type. What she cannot do without the tag key is make a valid Poly1305 tag, so every manipulation must end in
:class:`~qkdnet.errors.AuthenticationFailed` and a block that hands out nothing. On an unauthenticated channel
the same manipulations go through unnoticed; that is what authentication is for.

The attack does nothing to the photons, so it also is an :class:`~qkdnet.attacks.Attack` (every pair untouched,
Eve's guesses coin flips): a key run given it as ``attack`` puts it on the classical channel as well.

>>> eve = ManInTheMiddle("alter", target="ParityAnswer")
>>> eve
ManInTheMiddle(manipulation='alter', target='ParityAnswer', sender=None, fraction=1.0, limit=1)
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from typing import Final, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from qkdnet.attacks.base import AttackedPairs, Bits, EveGuess, FloatArray, check_pairs, select
from qkdnet.errors import InvalidParameter, ProtocolError
from qkdnet.postprocess import (
    Abort,
    AmplificationSeed,
    AuthenticatedFrame,
    BasisAnnouncement,
    CascadeDone,
    CascadeSetup,
    CascadeStart,
    FrameHeader,
    Message,
    OutcomeDisclosure,
    ParityAnswer,
    ParityQuery,
    SampleChoice,
    VerificationOutcome,
    VerificationTag,
    decode_message,
    encode_message,
)
from qkdnet.postprocess.messages import (
    MESSAGE_TYPES,
    ClickPairs,
    ClickTimes,
    FrameTags,
    FrameVerdicts,
    LdpcFeedback,
    LdpcReveal,
    LdpcStart,
    LdpcSyndrome,
)
from qkdnet.postprocess.protocol import Side
from qkdnet.quantum import PairStates

Manipulation = Literal["alter", "replay", "drop", "reorder", "inject"]
MANIPULATIONS: Final[tuple[Manipulation, ...]] = get_args(Manipulation)
MESSAGE_NAMES: Final[tuple[str, ...]] = tuple(cls.__name__ for cls in MESSAGE_TYPES)
"""The message types Eve can aim at, by name."""
_TAG_BYTES: Final = 16


def altered(message: Message) -> Message:
    """A valid message of the same type that says something else (what Eve would like the receiver to believe)."""
    match message:
        case BasisAnnouncement(settings=s):
            settings = s.copy() if s.size else np.zeros(1, np.uint8)
            settings[0] = (int(settings[0]) + 1) % (int(settings.max()) + 1) if settings.max() else 1
            return BasisAnnouncement(settings)
        case SampleChoice(sample=bits):
            return SampleChoice(_flip_first(bits))
        case OutcomeDisclosure(outcomes=bits):
            return OutcomeDisclosure(_flip_first(bits))
        case CascadeStart() | CascadeSetup():
            return replace(message, permutation_seed=message.permutation_seed ^ 1)
        case LdpcStart():
            return replace(message, code_seed=message.code_seed + 1)
        case LdpcSyndrome(syndromes=bits):
            return LdpcSyndrome(_flip_first(bits))
        case LdpcFeedback():
            return replace(message, disclosed_bits=message.disclosed_bits + 1)
        case LdpcReveal():
            return LdpcReveal(message.round_index, _flip_first(message.values))
        case ParityQuery() if len(message) and message.stops[0] - message.starts[0] >= 2:
            stops = message.stops.copy()
            stops[0] -= 1
            return ParityQuery(message.round_index, message.passes, message.starts, stops)
        case ParityQuery():
            return ParityQuery(message.round_index + 1, message.passes, message.starts, message.stops)
        case ParityAnswer():
            return ParityAnswer(message.round_index, _flip_first(message.parities))
        case CascadeDone():
            return replace(message, disclosed_bits=message.disclosed_bits + 1)
        case VerificationTag():
            return VerificationTag(message.seed, bytes([message.tag[0] ^ 1]) + message.tag[1:], message.tag_bits)
        case VerificationOutcome(accepted=accepted):
            return VerificationOutcome(not accepted)
        case FrameTags():
            return replace(message, tags=bytes([message.tags[0] ^ 1]) + message.tags[1:])
        case FrameVerdicts(accepted=accepted):
            return FrameVerdicts(_flip_first(accepted))
        case ClickTimes(times_ps=times):  # the last click a ps later: still sorted, and it moves a coincidence
            return ClickTimes(np.append(times[:-1], times[-1] + 1) if times.size else np.zeros(1, np.int64))
        case ClickPairs(bob_index=index):  # one pair fewer (or one invented)
            return ClickPairs(index[:-1] if index.size else np.zeros(1, np.int64))
        case AmplificationSeed():
            return AmplificationSeed(_flip_first(message.seed), message.out_len)
        case Abort(reason=reason):
            return Abort(reason + " (or so Eve says)")
        case AuthenticatedFrame(data=data):
            return AuthenticatedFrame(data[:-1] + bytes([data[-1] ^ 1]) if data else b"\x00")
        case _:  # pragma: no cover - exhaustive over Message
            raise InvalidParameter(f"not a message: {message!r}")


def _flip_first(bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The bits with the first one flipped (a single 1 if there were none)."""
    out = bits.copy() if bits.size else np.zeros(1, np.uint8)
    out[0] ^= 1
    return out


def read(message: Message) -> Message | None:
    """What a message on the wire says: the content of a sealed frame (None if it holds no valid message)."""
    if not isinstance(message, AuthenticatedFrame):
        return message
    try:
        _, payload, _ = FrameHeader.split(message.data)
        return decode_message(payload)
    except (InvalidParameter, ProtocolError):
        return None


class ManInTheMiddle:
    """Eve on the classical channel: applies ``manipulation`` to the frames she picks, forwards the rest.

    She picks, among the frames of type ``target`` (a name of :data:`MESSAGE_NAMES`; None: any) sent by
    ``sender`` (None: either side), a ``fraction`` of them evenly spaced from the first (the k-th matching frame,
    counted from 0, is hit when ⌈(k+1)·fraction⌉ > ⌈k·fraction⌉: 1 hits every one, 0.1 the 1st, 11th, 21st…, 0
    none: she only reads), at most ``limit`` in all (None: no limit). ``alter`` rewrites the content (header
    length fixed up, the old tag kept); ``replay`` delivers the frame twice; ``drop`` deletes it; ``reorder`` holds
    it back until the sender's next frame has passed (if none comes it is lost); ``inject`` puts in front of it a
    forged frame that takes its place in the sequence, with altered content and a tag of Eve's own making.
    """

    def __init__(
        self,
        manipulation: Manipulation,
        *,
        target: str | None = None,
        sender: Side | None = None,
        fraction: float = 1.0,
        limit: int | None = 1,
    ) -> None:
        if manipulation not in MANIPULATIONS:
            raise InvalidParameter(f"manipulation must be one of {', '.join(MANIPULATIONS)}, got {manipulation!r}")
        if target is not None and target not in MESSAGE_NAMES:
            raise InvalidParameter(f"target must be a message type ({', '.join(MESSAGE_NAMES)}), got {target!r}")
        if sender not in (None, "alice", "bob"):
            raise InvalidParameter(f"sender must be 'alice', 'bob' or None, got {sender!r}")
        f = float(fraction)
        if not 0.0 <= f <= 1.0:
            raise InvalidParameter(f"fraction of frames must be in [0, 1], got {fraction!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise InvalidParameter(f"limit must be a non-negative integer or None, got {limit!r}")
        self.manipulation: Manipulation = manipulation
        self.target = target
        self.sender: Side | None = sender
        self.fraction = f
        self.limit = limit
        self.frames_seen = 0
        """Messages that crossed her wire."""
        self.manipulated: list[str] = []
        """What she did, one line per manipulated frame (for reports and tests)."""
        self._matching = 0
        self._held: dict[Side, list[Message]] = {"alice": [], "bob": []}

    def __repr__(self) -> str:
        return (
            f"ManInTheMiddle(manipulation={self.manipulation!r}, target={self.target!r}, sender={self.sender!r}, "
            f"fraction={self.fraction!r}, limit={self.limit!r})"
        )

    # ------------------------------------------------------------------------------------- on the wire
    def intercept(self, sender: Side, messages: list[Message]) -> list[tuple[Side, Message]]:
        """Forward ``messages`` from ``sender``, manipulating the ones she picks."""
        out: list[tuple[Side, Message]] = []
        for message in messages:
            self.frames_seen += 1
            content = read(message)
            if self._picks(sender, content):
                self.manipulated.append(f"{self.manipulation} {type(content).__name__} from {sender}")
                if self.manipulation == "reorder":
                    self._held[sender].append(message)
                    continue
                out.extend((sender, m) for m in self._manipulate(message, content))
            else:
                out.append((sender, message))
            out.extend((sender, m) for m in self._held[sender])  # what she held back follows the next frame
            self._held[sender].clear()
        return out

    def _picks(self, sender: Side, content: Message | None) -> bool:
        if self.sender is not None and sender != self.sender:
            return False
        if self.target is not None and type(content).__name__ != self.target:
            return False
        k = self._matching
        self._matching += 1
        if self.limit is not None and len(self.manipulated) >= self.limit:
            return False
        return math.ceil((k + 1) * self.fraction) > math.ceil(k * self.fraction)

    def _manipulate(self, message: Message, content: Message | None) -> list[Message]:
        match self.manipulation:
            case "drop":
                return []
            case "replay":
                return [message, message]
            case "alter":
                return [_rewrite(message, content, forge_tag=False)]
            case _:  # inject
                return [_rewrite(message, content, forge_tag=True), message]

    # ------------------------------------------------------------------------------------- on the fiber
    def attack(self, states: PairStates, n_pairs: int, *, rng: np.random.Generator) -> AttackedPairs:
        """Nothing: every pair passes untouched (Eve works on the classical channel only)."""
        n = check_pairs(n_pairs)
        none = np.zeros(0, dtype=np.intp)
        return AttackedPairs(
            untouched_index=np.arange(n, dtype=np.intp),
            untouched_states=states,
            attacked_index=none,
            attacked_states=select(states, none),
            record=_NothingLearnt(np.zeros(n, dtype=bool)),
        )


def _rewrite(message: Message, content: Message | None, *, forge_tag: bool) -> Message:
    """The message with altered content; a sealed frame keeps its header (length fixed up) and gets the old tag
    (none if untagged), or, forged, a tag Eve computed herself (a keyed hash of her own: her best guess without
    the key)."""
    if not isinstance(message, AuthenticatedFrame):
        return altered(message)
    try:
        header, payload, tag = FrameHeader.split(message.data)
    except InvalidParameter:  # not a frame she can parse: flip its last bit
        return altered(message)
    new_payload = encode_message(altered(content)) if content is not None else payload[::-1] + b"\x00"
    new_header = replace(header, payload_bytes=len(new_payload)).pack()
    if forge_tag and header.tagged:  # an untagged frame stays untagged: its tag would come with a later one
        tag = hashlib.blake2b(new_header + new_payload, digest_size=_TAG_BYTES, key=b"eve's own key").digest()
    return AuthenticatedFrame(new_header + new_payload + tag)


class _NothingLearnt:
    """Eve's record on the fiber when she attacks only the classical channel: nothing about any pair."""

    def __init__(self, attacked: NDArray[np.bool_]) -> None:
        self.attacked = attacked

    def guesses(
        self,
        alice_angle_deg: FloatArray,
        bob_angle_deg: FloatArray,
        alice_bits: Bits,
        bob_bits: Bits,
        *,
        rng: np.random.Generator,
    ) -> EveGuess:
        """Coin flips."""
        return EveGuess.blind(self.attacked.size, rng=rng)


__all__ = ["MANIPULATIONS", "MESSAGE_NAMES", "ManInTheMiddle", "Manipulation", "altered", "read"]
