"""A man in the middle on the classical channel: every manipulation of every message ends in AuthenticationFailed,
and the block leaves no key on either side and the tag-key reserves in step."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.attacks import ATTACK_KINDS, MANIPULATIONS, ManInTheMiddle, make_attack
from qkdnet.attacks.classical import MESSAGE_NAMES, altered, read
from qkdnet.errors import AuthenticationFailed, InvalidParameter
from qkdnet.network import WernerSource
from qkdnet.postprocess import (
    LeakageLedger,
    Message,
    PartyTagKeys,
    decode_message,
    encode_message,
    reconcile_and_amplify,
)
from qkdnet.postprocess.protocol import Side
from qkdnet.qkd import BBM92, E91, KeyRunConfig, eve_report, run_key_exchange

from ..postprocess.helpers import FlipOneBit
from ..postprocess.test_messages import SAMPLES

#: BBM92 on perfect pairs: 6·10⁴ pairs keep ≈ 1.1·10⁴ final bits (seed 1) through one sealed message of each
#: target kind, so every message type of the block crosses the channel, and the run is quick.
SOURCE = WernerSource(1.0, 1e6)
PAIRS = 60_000
SEED = 1

#: (message type, sender) of every message an honest block carries: the announcements (both parties' settings,
#: Bob's sample, both disclosures), then Cascade, verification and privacy amplification.
TARGETS: list[tuple[str, Side]] = [
    ("BasisAnnouncement", "alice"),
    ("BasisAnnouncement", "bob"),
    ("SampleChoice", "bob"),
    ("OutcomeDisclosure", "bob"),
    ("OutcomeDisclosure", "alice"),
    ("CascadeSetup", "bob"),
    ("ParityQuery", "bob"),
    ("ParityAnswer", "alice"),
    ("CascadeDone", "bob"),
    ("VerificationTag", "alice"),
    ("VerificationOutcome", "bob"),
    ("AmplificationSeed", "bob"),
]
#: Every frame of that block in order: each stage ends with one close per direction, the tagged empty frame that
#: authenticates everything its side sent in the stage (read as None: it holds no message).
WIRE: list[tuple[str, Side]] = [
    *TARGETS[:5],
    ("NoneType", "alice"),
    ("NoneType", "bob"),
    *TARGETS[5:],
    ("NoneType", "bob"),
    ("NoneType", "alice"),
]
ANNOUNCEMENT_FRAMES = 7


class _Recorder:
    """A wire that forwards everything and notes (type, sender) of each message's content."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Side]] = []

    def intercept(self, sender: Side, messages: list[Message]) -> list[tuple[Side, Message]]:
        self.seen.extend((type(read(m)).__name__, sender) for m in messages)
        return [(sender, m) for m in messages]


@pytest.fixture(scope="module")
def honest():
    return run_key_exchange(SOURCE, BBM92, PAIRS, seed=SEED)


def _assert_no_key_anywhere(r, stage: str) -> None:
    assert not r.secure and r.abort_reason is not None
    assert r.abort_reason.startswith(f"AuthenticationFailed during {stage}"), r.abort_reason
    assert r.alice_key is None and r.bob_key is None
    assert r.final_key_bits == 0 and r.amplified_key_bits == 0 and r.authentication_key_bits == 0
    assert r.observer.amplification_seed is None
    assert r.summary()["secure"] is False and r.summary()["final_key_bits"] == 0


def test_an_honest_block_carries_every_target_and_a_reading_eve_changes_nothing(honest) -> None:
    assert honest.secure and honest.final_key_bits > 5000
    # One hash key and one pad per stage and direction, however many messages: (1 + 2) · 2 slots of 128 bits.
    assert honest.classical_messages == len(WIRE) and honest.authentication_key_bits == 128 * 3 * 2
    wire = _Recorder()
    r = _run_with_wire(wire)
    assert wire.seen == WIRE  # one message of each kind: Cascade settles this block in one round
    # Eve on the wire forwarding everything: the very same run, bit for bit
    assert r.secure and np.array_equal(r.alice_key, honest.alice_key) and np.array_equal(r.bob_key, honest.bob_key)
    eve = ManInTheMiddle("alter", fraction=0.0)
    assert run_key_exchange(SOURCE, BBM92, PAIRS, seed=SEED, attack=eve).final_key_bits == honest.final_key_bits
    assert eve.frames_seen == len(WIRE) and eve.manipulated == []


@pytest.mark.parametrize("target", TARGETS, ids=[f"{t}-from-{s}" for t, s in TARGETS])
@pytest.mark.parametrize("manipulation", MANIPULATIONS)
def test_every_manipulation_of_every_message_is_stopped(manipulation: str, target: tuple[str, Side]) -> None:
    """Eve manipulates exactly one message; authentication stops the block and nothing of it is kept."""
    kind, sender = target
    eve = ManInTheMiddle(manipulation, target=kind, sender=sender)  # type: ignore[arg-type]
    r = run_key_exchange(SOURCE, BBM92, PAIRS, seed=SEED, attack=eve)
    assert eve.manipulated == [f"{manipulation} {kind} from {sender}"]
    announcements = kind in ("BasisAnnouncement", "SampleChoice", "OutcomeDisclosure")
    _assert_no_key_anywhere(r, "the public announcements" if announcements else "post-processing")
    if announcements:
        assert not r.leakage_by_kind  # no reconciliation began: nothing disclosed beyond the announcements


class _AtFrame:
    """Eve's ``manipulation`` on frame ``index`` of the block only (a reordered frame follows its sender's next
    one, or is lost if none comes)."""

    def __init__(self, manipulation: str, index: int) -> None:
        self.eve = ManInTheMiddle(manipulation, target=None, fraction=0.0)  # type: ignore[arg-type]
        self.manipulation, self.index, self.count = manipulation, index, 0
        self.held: dict[Side, list[Message]] = {"alice": [], "bob": []}

    def intercept(self, sender: Side, messages: list[Message]) -> list[tuple[Side, Message]]:
        out: list[tuple[Side, Message]] = []
        for m in messages:
            if self.count == self.index and self.manipulation == "reorder":
                self.held[sender].append(m)
            elif self.count == self.index:
                out.extend((sender, x) for x in self.eve._manipulate(m, read(m)))
            else:
                out.append((sender, m))
                out.extend((sender, x) for x in self.held[sender])
                self.held[sender].clear()
            self.count += 1
        return out


CLOSES = [i for i, (kind, _) in enumerate(WIRE) if kind == "NoneType"]


@pytest.mark.parametrize("index", CLOSES, ids=[f"close-{i}-from-{WIRE[i][1]}" for i in CLOSES])
@pytest.mark.parametrize("manipulation", MANIPULATIONS)
def test_every_manipulation_of_a_close_is_stopped(manipulation: str, index: int) -> None:
    """The closes carry the stage's only tags: altered, replayed, dropped, held back or preceded by a forgery,
    the block ends with nothing (a dropped last close is caught by the timeout of the side still waiting)."""
    wire = _AtFrame(manipulation, index)
    r = _run_with_wire(wire)
    assert wire.count > index
    _assert_no_key_anywhere(r, "the public announcements" if index < ANNOUNCEMENT_FRAMES else "post-processing")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(index=st.integers(0, 10_000), bit=st.integers(0, 10**9))
def test_any_single_bit_flip_anywhere_in_any_frame_is_stopped(index: int, bit: int) -> None:
    """A flip in a header (version, direction, block, sequence, slot, length), a payload or a tag."""
    frames = len(WIRE)  # the honest block's frames (checked above)
    flip = FlipOneBit(index % frames, bit)
    r = _run_with_wire(flip)
    assert flip.flipped
    stage = "the public announcements" if flip.index < ANNOUNCEMENT_FRAMES else "post-processing"
    _assert_no_key_anywhere(r, stage)


def _run_with_wire(wire: object):
    """The reference run with ``wire`` between the parties (passed as an attack that leaves the photons alone)."""

    class _OnTheWire(ManInTheMiddle):
        def intercept(self, sender: Side, messages: list[Message]) -> list[tuple[Side, Message]]:
            return wire.intercept(sender, messages)  # type: ignore[attr-defined]

    return run_key_exchange(SOURCE, BBM92, PAIRS, seed=SEED, attack=_OnTheWire("alter", fraction=0.0))


# ------------------------------------------------------------------------------------ the tag-key reserves
def _tag_keys(slots: int = 2048, seed: int = 4) -> tuple[PartyTagKeys, PartyTagKeys]:
    bits = np.random.default_rng(seed).integers(0, 2, slots * 128, dtype=np.uint8)
    return PartyTagKeys.from_preshared(bits, side="alice"), PartyTagKeys.from_preshared(bits.copy(), side="bob")


def _keys(n: int = 20_000, errors: int = 200, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    bob = alice.copy()
    bob[rng.choice(n, errors, replace=False)] ^= 1
    return alice, bob


def _block(tag_keys, block_id: int, interceptor=None):
    alice, bob = _keys(seed=block_id)
    return reconcile_and_amplify(
        alice, bob, qber_estimate=0.01, eve_information_bits=2000, ledger=LeakageLedger(),
        rng=np.random.default_rng(block_id), tag_keys=tag_keys, block_id=block_id, interceptor=interceptor,
    )  # fmt: skip


@pytest.mark.parametrize("manipulation", MANIPULATIONS)
@pytest.mark.parametrize("target", ["CascadeSetup", "ParityAnswer", "VerificationTag", "AmplificationSeed"])
def test_after_a_stopped_block_the_reserves_stay_in_step(manipulation: str, target: str) -> None:
    """The block fails; the next honest block on the same reserves works, and leaves them equal on both sides."""
    tag_keys = _tag_keys()
    eve = ManInTheMiddle(manipulation, target=target)  # type: ignore[arg-type]
    with pytest.raises(AuthenticationFailed):
        _block(tag_keys, 1, eve)
    assert eve.manipulated
    after = _block(tag_keys, 2)
    assert after.final_bits > 0 and np.array_equal(after.alice_key, after.bob_key)
    assert tag_keys[0].bits_available == tag_keys[1].bits_available


def test_a_forged_first_frame_naming_a_far_slot_does_not_desynchronise_the_next_block() -> None:
    """Eve opens a block with a forged frame that claims a key slot far ahead: the receiver checks it without
    using any slot, so the honest sender's next block still authenticates."""
    from qkdnet.postprocess import FrameHeader

    alice, bob = _tag_keys(slots=64)
    a1, b1 = alice.channel_end(block_id=1), bob.channel_end(block_id=1)
    genuine = a1.seal(b"hello")
    header, payload, tag = FrameHeader.split(genuine)
    forged = dataclasses.replace(header, pad_index=header.pad_index + 20).pack() + payload + tag
    with pytest.raises(AuthenticationFailed):
        b1.open(forged)
    a2, b2 = alice.channel_end(block_id=2), bob.channel_end(block_id=2)
    assert b2.open(a2.seal(b"still in step")) == b"still in step"


# ------------------------------------------------------------------------------------ without authentication
def test_without_authentication_the_same_alteration_goes_through_unnoticed() -> None:
    """What the tags are for: on a bare channel Eve's altered amplification seed makes Alice and Bob hash with
    different seeds, and nothing raises: two different 'keys'."""
    alice, bob = _keys()
    eve = ManInTheMiddle("alter", target="AmplificationSeed")
    out = reconcile_and_amplify(
        alice, bob, qber_estimate=0.01, eve_information_bits=2000, ledger=LeakageLedger(),
        rng=np.random.default_rng(1), interceptor=eve,
    )  # fmt: skip
    assert eve.manipulated == ["alter AmplificationSeed from bob"]
    assert out.final_bits > 0 and not np.array_equal(out.alice_key, out.bob_key)


def test_without_authentication_a_run_with_altered_announcements_is_not_modelled() -> None:
    """The parties would go on with different public records; the simulator sees it and says so."""
    eve = ManInTheMiddle("alter", target="OutcomeDisclosure")
    r = run_key_exchange(SOURCE, BBM92, PAIRS, seed=SEED, attack=eve, config=KeyRunConfig(authenticate=False))
    assert not r.secure and r.alice_key is None
    assert r.abort_reason is not None and r.abort_reason.startswith("ProtocolError during the public announcements")


# ------------------------------------------------------------------------------------ Eve's toolbox itself
@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_an_altered_message_is_a_valid_message_of_the_same_type_that_says_something_else(message: Message) -> None:
    changed = altered(message)
    assert type(changed) is type(message)
    back = decode_message(encode_message(changed))
    assert encode_message(back) == encode_message(changed) != encode_message(message)


def test_bad_arguments_are_refused() -> None:
    for kwargs in (
        {"manipulation": "delay"},
        {"manipulation": "drop", "target": "Hello"},
        {"manipulation": "drop", "sender": "eve"},
        {"manipulation": "drop", "fraction": 1.5},
        {"manipulation": "drop", "limit": -1},
    ):
        with pytest.raises(InvalidParameter):
            ManInTheMiddle(**kwargs)  # type: ignore[arg-type]
    assert set(MESSAGE_NAMES) >= {t for t, _ in TARGETS}


# ------------------------------------------------------------------------------------ the named attack kinds
MITM_KINDS = [k for k, v in ATTACK_KINDS.items() if v.classical]


def test_every_manipulation_is_a_named_kind() -> None:
    assert [f"mitm-{m}" for m in MANIPULATIONS] == MITM_KINDS


@pytest.mark.parametrize("protocol", [E91, BBM92], ids=["e91", "bbm92"])
@pytest.mark.parametrize("kind", MITM_KINDS)
def test_named_kinds_are_caught_at_any_strength_and_harmless_at_zero(protocol, kind: str) -> None:
    """Strength 0: Eve only reads, the key is the honest one. Any other strength touches the first message on: no
    key (at 1 % she touches one message in a hundred; a block of BBM92 on perfect pairs has about twenty)."""
    honest = run_key_exchange(SOURCE, protocol, 2 * PAIRS, seed=SEED)
    assert honest.secure
    passive = run_key_exchange(SOURCE, protocol, 2 * PAIRS, seed=SEED, attack=make_attack(kind, 0.0))
    assert passive.secure and np.array_equal(passive.alice_key, honest.alice_key)
    for strength in (0.01, 1.0):
        eve = make_attack(kind, strength)
        r = run_key_exchange(SOURCE, protocol, 2 * PAIRS, seed=SEED, attack=eve)
        assert isinstance(eve, ManInTheMiddle) and eve.manipulated
        assert not r.secure and r.abort_reason is not None and r.abort_reason.startswith("AuthenticationFailed")
        assert r.alice_key is None and r.bob_key is None and r.final_key_bits == 0
        report = eve_report(r)
        assert report.final is None and not report.sifted.beats_chance(5.0)  # she learnt nothing on the fiber
