"""Messages: frozen, self-contained, and their byte form round-trips; malformed bytes are refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter, ProtocolError
from qkdnet.postprocess import (
    Abort,
    AmplificationSeed,
    AuthenticatedFrame,
    BasisAnnouncement,
    CascadeDone,
    CascadeSetup,
    CascadeStart,
    FrameTags,
    FrameVerdicts,
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
    LdpcFeedback,
    LdpcReveal,
    LdpcStart,
    LdpcSyndrome,
)


def _fields(message: Message) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in dataclasses.fields(message):
        value = getattr(message, f.name)
        out[f.name] = value.tolist() if isinstance(value, np.ndarray) else value
    return out


SAMPLES: list[Message] = [
    CascadeStart(n=10**7, block_sizes=(73, 146, 292, 584), permutation_seed=(1 << 128) - 1),
    ParityQuery(7, np.array([0, 3, 1], np.uint8), np.array([0, 5, 2**33]), np.array([4, 9, 2**33 + 8])),
    ParityQuery(1, np.zeros(0, np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64)),
    ParityAnswer(7, np.array([1, 0, 1, 1, 0, 0, 0, 1, 1], np.uint8)),
    CascadeDone(rounds=44, disclosed_bits=12345),
    Abort("Cascade did not converge — budget"),
    VerificationTag(np.array([1, 0, 1, 1, 0], np.uint8), b"\x12\x34\x50", 20),
    VerificationOutcome(False),
    VerificationOutcome(True),
    FrameTags(np.array([1, 0, 1], np.uint8), b"\x12\x34\x50\x01\x02\x03", 20, np.array([1000, 999])),
    FrameVerdicts(np.array([1, 0, 1, 1], np.uint8)),
    AmplificationSeed(np.ones(17, np.uint8), 9),
    AuthenticatedFrame(b"\x01header, payload and a 16-byte tag"),
    AuthenticatedFrame(b""),
    CascadeSetup(n=10**6, frame_bits=10**4, variant="option8", max_passes=256, permutation_seed=(1 << 128) - 1),
    LdpcStart("elkouss2009", 0.85, 10_000, 3, 123_456, 13, 481),
    LdpcSyndrome(np.array([1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1], np.uint8)),
    LdpcFeedback(2, np.array([0, 5, 12]), 62, 26_000),
    LdpcFeedback(1, np.zeros(0, np.int64), 0, 26_000),
    LdpcReveal(2, np.array([1, 1, 0, 1, 0, 0], np.uint8)),
    BasisAnnouncement(np.array([0, 2, 1, 2, 0, 1, 1, 0, 2], np.uint8)),  # E91's three settings: 2 bits each
    BasisAnnouncement(np.array([1, 0, 0, 1, 1], np.uint8)),  # BBM92's two: 1 bit each
    BasisAnnouncement(np.array([255, 7, 16], np.uint8)),
    BasisAnnouncement(np.zeros(0, np.uint8)),
    SampleChoice(np.array([0, 0, 1, 0, 1, 1, 0, 0, 0, 1], np.uint8)),
    OutcomeDisclosure(np.array([1, 1, 0], np.uint8)),
    ClickTimes(np.array([-5, 0, 0, 7, 2**40, 2**62], np.int64)),  # negative, repeated, and gaps over 32 bits
    ClickTimes(np.array([0], np.int64)),
    ClickTimes(np.zeros(0, np.int64)),
    ClickPairs(np.array([0, 3, 4, 2**33])),
    ClickPairs(np.zeros(0, np.int64)),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message: Message) -> None:
    back = decode_message(encode_message(message))
    assert type(back) is type(message)
    assert _fields(back) == _fields(message)


def test_every_message_type_has_a_sample() -> None:
    assert {type(m) for m in SAMPLES} == set(MESSAGE_TYPES)


def test_messages_are_frozen_and_do_not_alias_the_sender() -> None:
    parities = np.array([1, 0], np.uint8)
    msg = ParityAnswer(1, parities)
    parities[0] = 0
    assert msg.parities.tolist() == [1, 0]
    with pytest.raises(ValueError, match="read-only"):
        msg.parities[0] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.round_index = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    "build",
    [
        lambda: CascadeStart(0, (4,), 1),
        lambda: CascadeStart(10, (), 1),
        lambda: CascadeStart(10, (4,), 1 << 128),
        lambda: ParityQuery(0, [0], [0], [1]),  # type: ignore[arg-type]
        lambda: ParityQuery(1, [0, 0], [0], [1]),  # type: ignore[arg-type]
        lambda: ParityAnswer(1, [0, 2]),  # type: ignore[arg-type]
        lambda: VerificationTag(np.ones(3, np.uint8), b"\x00", 20),
        lambda: FrameTags(np.ones(3, np.uint8), b"\x00" * 5, 20, np.array([1000, 1000])),
        lambda: AmplificationSeed(np.ones(3, np.uint8), -1),
        lambda: LdpcStart("", 0.5, 1000, 0, 10, 1, 0),
        lambda: LdpcStart("elkouss2009", 1, 1000, 0, 10, 1, 0),  # type: ignore[arg-type]
        lambda: LdpcStart("elkouss2009", 0.5, 1000, 0, 0, 1, 0),
        lambda: LdpcFeedback(0, np.zeros(0, np.int64), 0, 0),
        lambda: LdpcFeedback(1, np.zeros(0, np.int64), -1, 0),
        lambda: LdpcReveal(1, [2]),  # type: ignore[arg-type]
        lambda: BasisAnnouncement(np.zeros((2, 2), np.uint8)),
        lambda: SampleChoice([0, 2]),  # type: ignore[arg-type]
        lambda: OutcomeDisclosure([1, -1]),  # type: ignore[arg-type]
    ],
)
def test_invalid_messages_are_refused(build: object) -> None:
    with pytest.raises(InvalidParameter):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02\x01",  # unknown version
        b"\x01\x63",  # unknown type
        encode_message(CascadeDone(1, 2))[:-1],  # truncated
        encode_message(CascadeDone(1, 2)) + b"\x00",  # trailing bytes
        encode_message(CascadeStart(10, (4,), 1))[:2] + (0).to_bytes(8, "little") + b"\x01" + bytes(24),
        encode_message(BasisAnnouncement(np.zeros(3, np.uint8)))[:10] + b"\x03\x00",  # 3 bits per setting
        encode_message(BasisAnnouncement(np.ones(9, np.uint8)))[:-1],  # truncated
    ],
)
def test_malformed_bytes_raise_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_message(data)


def test_settings_travel_in_as_few_bits_as_they_need() -> None:
    """Two settings: one bit each; three: two bits each (count, width, then the packed bit planes)."""
    bbm92 = BasisAnnouncement(np.ones(1000, np.uint8))
    e91 = BasisAnnouncement(np.full(1000, 2, np.uint8))
    assert len(encode_message(bbm92)) == 2 + 9 + 125
    assert len(encode_message(e91)) == 2 + 9 + 250


def test_positions_are_packed_in_four_bytes_when_they_fit() -> None:
    small = ParityQuery(1, np.zeros(100, np.uint8), np.arange(100), np.arange(1, 101))
    assert len(encode_message(small)) == 2 + 4 + 8 + 100 + 2 * (9 + 4 * 100)
