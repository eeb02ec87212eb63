"""Wegman–Carter authentication: honest frames pass; forged, altered, replayed, reordered, dropped, injected fail.

Every protocol run is authenticated by one tag per direction (its close): the tests check that each kind of
tampering, with untagged frames as well as tagged ones, still ends the block with nothing kept."""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import (
    AlreadyConsumed,
    AuthenticationFailed,
    InvalidParameter,
    NoSecretKey,
    PadExhausted,
    ProtocolError,
    ReconciliationFailed,
    SecurityAbort,
)
from qkdnet.postprocess import (
    AuthenticatedChannelEnd,
    AuthenticatedFrame,
    AuthenticatedParty,
    CascadeDone,
    FrameHeader,
    LeakageLedger,
    Message,
    PartyTagKeys,
    TagKeyReserve,
    Usage,
    VerificationOutcome,
    reconcile_and_amplify,
    run_protocol,
)
from qkdnet.postprocess.auth import SLOT_BITS

from .helpers import FlipOneBit, noisy_pair, poly1305_by_definition

HEADER = struct.Struct("<BBBQQQQ")  # version, direction, kind, block, sequence, pad index, length
TAGGED, UNTAGGED = 1, 0


def _preshared(slots: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, slots * SLOT_BITS, dtype=np.uint8)


def _keys(slots: int = 64, seed: int = 1) -> tuple[PartyTagKeys, PartyTagKeys]:
    bits = _preshared(slots, seed)
    return PartyTagKeys.from_preshared(bits, side="alice"), PartyTagKeys.from_preshared(bits.copy(), side="bob")


def _ends(block_id: int = 3, slots: int = 64) -> tuple[AuthenticatedChannelEnd, AuthenticatedChannelEnd]:
    alice, bob = _keys(slots)
    return alice.channel_end(block_id=block_id), bob.channel_end(block_id=block_id)


def test_frames_pass_both_ways_and_cost_one_hash_key_plus_one_pad_each() -> None:
    a, b = _ends()
    for i in range(3):
        assert b.open(a.seal(f"query {i}".encode())) == f"query {i}".encode()
    assert a.open(b.seal(b"")) == b""
    assert a.usage == b.usage == Usage(alice_to_bob=4, bob_to_alice=2)
    assert a.key_bits_used == b.key_bits_used == 6 * SLOT_BITS


def test_tag_is_poly1305_of_header_and_payload_under_r_and_a_fresh_pad() -> None:
    """Independent check: the first two 128-bit slots of the Alice→Bob reserve are r, then the first pad."""
    bits = _preshared(8)
    end = PartyTagKeys.from_preshared(bits, side="alice").channel_end(block_id=9)
    payload = b"a parity answer"
    frame = end.seal(payload)
    r, s = np.packbits(bits[:SLOT_BITS]).tobytes(), np.packbits(bits[SLOT_BITS : 2 * SLOT_BITS]).tobytes()
    header = HEADER.pack(2, 0, TAGGED, 9, 0, 1, len(payload))
    assert frame[: HEADER.size] == header
    assert frame[-16:] == poly1305_by_definition(r + s, header + payload)
    second = end.seal(payload)  # same r, next pad: a different tag for the same payload
    s2 = np.packbits(bits[2 * SLOT_BITS : 3 * SLOT_BITS]).tobytes()
    assert second[-16:] == poly1305_by_definition(r + s2, HEADER.pack(2, 0, TAGGED, 9, 1, 2, len(payload)) + payload)


def test_a_segment_of_untagged_frames_is_tagged_once_over_all_its_bytes() -> None:
    bits = _preshared(8)
    a = PartyTagKeys.from_preshared(bits, side="alice").channel_end(block_id=4)
    b = PartyTagKeys.from_preshared(bits.copy(), side="bob").channel_end(block_id=4)
    payloads = [b"query one", b"", b"query three", b"close"]
    frames = [a.seal(p, tagged=False) for p in payloads[:-1]] + [a.seal(payloads[-1])]
    assert [len(f) for f in frames[:-1]] == [HEADER.size + len(p) for p in payloads[:-1]]  # no tag on the wire
    r, s = np.packbits(bits[:SLOT_BITS]).tobytes(), np.packbits(bits[SLOT_BITS : 2 * SLOT_BITS]).tobytes()
    segment = b"".join(frames[:-1]) + frames[-1][:-16]
    assert frames[0][: HEADER.size] == HEADER.pack(2, 0, UNTAGGED, 4, 0, 1, len(payloads[0]))
    assert frames[-1][-16:] == poly1305_by_definition(r + s, segment)
    opened = [b.accept(f) for f in frames]
    assert [o.payload for o in opened] == payloads and [o.checked for o in opened] == [False] * 3 + [True]
    assert a.usage == b.usage == Usage(2, 0)  # r and one pad, for four frames
    assert b.unchecked_frames == 0


def test_every_single_bit_flip_of_a_frame_or_its_tag_is_rejected() -> None:
    payload = b"\x00\x07parities: 0110"
    frame = _ends()[0].seal(payload)  # every _ends() pair has the same keys: the frame fits any fresh Bob
    assert len(frame) == HEADER.size + len(payload) + 16
    for bit in range(8 * len(frame)):
        altered = bytearray(frame)
        altered[bit // 8] ^= 1 << (bit % 8)
        bob = _ends()[1]
        with pytest.raises(AuthenticationFailed):
            bob.open(bytes(altered))
        with pytest.raises(AuthenticationFailed):  # and the block is over: even the genuine frame is refused
            bob.open(frame)


def test_every_single_bit_flip_of_any_frame_of_a_segment_fails_its_tag() -> None:
    a = _ends()[0]
    frames = [a.seal(b"\x00\x07parities: 0110", tagged=False), a.seal(b"\x01more", tagged=False), a.seal(b"")]
    for index, frame in enumerate(frames):
        for bit in range(8 * len(frame)):
            altered = bytearray(frame)
            altered[bit // 8] ^= 1 << (bit % 8)
            bob = _ends()[1]
            received = [*frames[:index], bytes(altered), *frames[index + 1 :]]
            with pytest.raises(AuthenticationFailed):
                for f in received:
                    bob.accept(f)
            assert bob.failed
            with pytest.raises(AuthenticationFailed):  # the block is over
                bob.accept(frames[0])


def test_a_segment_never_tagged_spends_no_slot_so_the_next_block_may_use_them() -> None:
    """The sender read ``r`` and the pad but no tag computed from them left: the next block starts on them."""
    alice, bob = _keys(slots=8)
    a1, b1 = alice.channel_end(block_id=1), bob.channel_end(block_id=1)
    b1.accept(a1.seal(b"an untagged query", tagged=False))
    a1.close(), b1.close()  # the connection broke before the close
    assert a1.usage == b1.usage == Usage(0, 0)
    assert alice.bits_available == bob.bits_available == 8 * SLOT_BITS
    a2, b2 = alice.channel_end(block_id=2), bob.channel_end(block_id=2)
    first = a2.seal(b"block 2")
    assert FrameHeader.split(first)[0].pad_index == 1  # the same pad as block 1 would have used
    assert b2.open(first) == b"block 2"


def _scenario(name: str) -> Callable[[AuthenticatedChannelEnd, AuthenticatedChannelEnd], None]:
    def replay(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        first = a.seal(b"one")
        b.open(first)
        b.open(first)

    def reorder(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        first, second = a.seal(b"one"), a.seal(b"two")
        b.open(second)
        b.open(first)

    def drop(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        a.seal(b"one")
        b.open(a.seal(b"two"))

    def inject(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        b.open(a.seal(b"one"))
        forged = HEADER.pack(2, 0, TAGGED, 3, 1, 2, 4) + b"evil" + bytes(16)
        b.open(forged)

    def wrong_keys(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        eve = PartyTagKeys.from_preshared(_preshared(64, seed=666), side="alice").channel_end(block_id=3)
        b.open(eve.seal(b"I am Alice"))

    def reflect(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        a.open(a.seal(b"echo"))

    def other_block(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        old = PartyTagKeys.from_preshared(_preshared(64), side="alice").channel_end(block_id=2)
        b.open(old.seal(b"from block 2"))

    def truncated(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        b.open(a.seal(b"one")[:-1])

    def bare_junk(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        b.open(b"\x01\x00")

    def untagged_replay(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        first = a.seal(b"one", tagged=False)
        b.accept(first)
        b.accept(first)

    def untagged_swapped(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        first, second = a.seal(b"one", tagged=False), a.seal(b"two", tagged=False)
        header0, payload0, _ = FrameHeader.split(first)
        header1, payload1, _ = FrameHeader.split(second)
        b.accept(header0.pack() + payload1)  # the contents swapped, the sequence numbers kept
        b.accept(header1.pack() + payload0)
        b.accept(a.seal(b""))

    def untagged_dropped_before_close(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        b.accept(a.seal(b"one", tagged=False))
        a.seal(b"two", tagged=False)
        b.accept(a.seal(b""))

    def untagged_injected(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        b.accept(HEADER.pack(2, 0, UNTAGGED, 3, 0, 1, 4) + b"evil")  # in the genuine frame's place
        a.seal(b"one", tagged=False)  # which Eve drops
        b.accept(a.seal(b""))  # the close: its tag covers "one", not "evil"

    def untagged_where_tagged_due(a: AuthenticatedChannelEnd, b: AuthenticatedChannelEnd) -> None:
        b.open(a.seal(b"a hello", tagged=False))

    return {
        "replay": replay,
        "reorder": reorder,
        "drop": drop,
        "inject": inject,
        "wrong_keys": wrong_keys,
        "reflect": reflect,
        "other_block": other_block,
        "truncated": truncated,
        "bare_junk": bare_junk,
        "untagged_replay": untagged_replay,
        "untagged_swapped": untagged_swapped,
        "untagged_dropped_before_close": untagged_dropped_before_close,
        "untagged_injected": untagged_injected,
        "untagged_where_tagged_due": untagged_where_tagged_due,
    }[name]


@pytest.mark.parametrize(
    "name",
    [
        "replay", "reorder", "drop", "inject", "wrong_keys", "reflect", "other_block", "truncated", "bare_junk",
        "untagged_replay", "untagged_swapped", "untagged_dropped_before_close", "untagged_injected",
        "untagged_where_tagged_due",
    ],
)  # fmt: skip
def test_attacks_on_the_frame_sequence_are_rejected(name: str) -> None:
    a, b = _ends()
    with pytest.raises(AuthenticationFailed):
        _scenario(name)(a, b)
    failed = b if b.failed else a
    assert failed.failed
    with pytest.raises(AuthenticationFailed):
        failed.open(b"")


def test_a_new_block_resynchronises_after_an_aborted_one() -> None:
    """Block 1: Alice sends three frames, Eve drops two; block 2 starts past the spent slots and works."""
    alice, bob = _keys()
    a1, b1 = alice.channel_end(block_id=1), bob.channel_end(block_id=1)
    b1.open(a1.seal(b"one"))
    a1.seal(b"two")
    a1.seal(b"three")
    a2, b2 = alice.channel_end(block_id=2), bob.channel_end(block_id=2)
    assert b2.open(a2.seal(b"hello again")) == b"hello again"
    assert a2.open(b2.seal(b"welcome back")) == b"welcome back"


def test_a_rejected_frame_uses_no_slot_of_the_receiver() -> None:
    """The receiver reads the slots to check a tag and uses them only if it checks: its reserve never runs ahead
    of the sender's, whatever slot a forged header names."""
    bits = _preshared(16)
    a2b_alice, a2b_bob = TagKeyReserve(bits), TagKeyReserve(bits.copy())
    alice = AuthenticatedChannelEnd("alice", send=a2b_alice, receive=TagKeyReserve(), block_id=5)
    bob = AuthenticatedChannelEnd("bob", send=TagKeyReserve(), receive=a2b_bob, block_id=5)
    frame = alice.seal(b"genuine")
    assert a2b_alice.next_index == 2
    forged = HEADER.pack(2, 0, TAGGED, 5, 0, 9, 7) + b"genuine" + frame[-16:]  # claims slots 8 and 9
    with pytest.raises(AuthenticationFailed, match="tag mismatch"):
        bob.open(forged)
    assert a2b_bob.next_index == 0 and a2b_bob.slots_available == 16
    assert bytes(a2b_bob.peek(3)) == bytes(a2b_bob.peek(3)) and a2b_bob.next_index == 0  # peeking uses nothing
    fresh = AuthenticatedChannelEnd("bob", send=TagKeyReserve(), receive=a2b_bob, block_id=5)
    assert fresh.open(frame) == b"genuine" and a2b_bob.next_index == 2  # only now are r and the pad used


def test_frame_header_splits_and_packs_the_public_format() -> None:
    frame = _ends(block_id=11)[0].seal(b"payload")
    header, payload, tag = FrameHeader.split(frame)
    assert header == FrameHeader(2, 0, TAGGED, 11, 0, 1, 7) and payload == b"payload" and len(tag) == 16
    assert header.tagged and header.pack() + payload + tag == frame
    untagged = _ends(block_id=11)[0].seal(b"payload", tagged=False)
    header, payload, tag = FrameHeader.split(untagged)
    assert not header.tagged and tag == b"" and header.pack() + payload == untagged
    with pytest.raises(InvalidParameter):
        FrameHeader.split(frame[:20])
    with pytest.raises(InvalidParameter):
        FrameHeader(2, 0, TAGGED, -1, 0, 1, 7).pack()


def test_a_timeout_fails_the_block_unless_the_party_was_done() -> None:
    a_end, b_end = _ends()
    waiting = AuthenticatedParty(_PingPong(asks=False, count=2), b_end)
    with pytest.raises(AuthenticationFailed, match="dropped or withheld"):
        waiting.time_out()
    assert b_end.failed
    with pytest.raises(AuthenticationFailed, match="aborted"):
        b_end.open(a_end.seal(b"late"))
    a_end, b_end = _ends()
    asker = AuthenticatedParty(_PingPong(asks=True, count=1), a_end)
    finished = AuthenticatedParty(_PingPong(asks=False, count=1), b_end)
    run_protocol(asker, finished)
    finished.time_out()  # nothing was missing
    assert finished.done and not finished.end.failed
    closed_early = AuthenticatedParty(_PingPong(asks=False, count=0), _ends()[1])
    with pytest.raises(AuthenticationFailed, match="dropped or withheld"):  # done, but the peer's close never came
        closed_early.time_out()


def test_refill_keeps_the_reserves_in_step_and_returns_the_net_key() -> None:
    alice, bob = _keys(slots=8)
    before = alice.bits_available
    a, b = alice.channel_end(block_id=0), bob.channel_end(block_id=0)
    b.open(a.seal(b"x"))
    a.open(b.seal(b"y"))
    usage = a.usage
    assert usage == b.usage == Usage(2, 2)
    fresh = np.random.default_rng(5).integers(0, 2, 1000, dtype=np.uint8)
    net_a, net_b = alice.refill(fresh, usage), bob.refill(fresh.copy(), usage)
    np.testing.assert_array_equal(net_a, fresh[4 * SLOT_BITS :])
    np.testing.assert_array_equal(net_a, net_b)
    assert alice.bits_available == bob.bits_available == before
    a2, b2 = alice.channel_end(block_id=1), bob.channel_end(block_id=1)
    for _ in range(3):  # uses slots refilled from the fresh key, in step on both sides
        b2.open(a2.seal(b"z"))
    short = alice.refill(fresh[:300], Usage(2, 2))  # costs 512 bits: all 2 whole slots go back, no net key
    assert short.size == 0


def test_one_time_material_is_one_shot_and_never_shown() -> None:
    reserve = TagKeyReserve(_preshared(4))
    first = reserve.take(1)  # burns slot 0
    assert len(first) == 16 and reserve.next_index == 2 and reserve.slots_available == 2
    with pytest.raises(AlreadyConsumed):
        reserve.take(0)
    with pytest.raises(PadExhausted):
        reserve.take(4)
    bits = _preshared(64)
    keys = PartyTagKeys.from_preshared(bits, side="alice")
    end = keys.channel_end(block_id=0)
    end.seal(b"payload")
    secret_hex = np.packbits(bits).tobytes().hex()
    for obj in (reserve, keys, end):
        text = repr(obj)
        assert all(secret_hex[i : i + 8] not in text for i in range(0, len(secret_hex) - 8, 8))
        assert "0x" not in text and len(text) < 200


@pytest.mark.parametrize(
    "make",
    [
        lambda: TagKeyReserve(np.ones(100, np.uint8)),  # not whole slots
        lambda: PartyTagKeys.from_preshared(np.ones(128, np.uint8), side="alice"),  # odd number of slots
        lambda: PartyTagKeys.from_preshared(np.ones(256, np.uint8), side="eve"),  # type: ignore[arg-type]
        lambda: AuthenticatedChannelEnd("alice", send=TagKeyReserve(), receive=TagKeyReserve(), block_id=-1),
    ],
)
def test_bad_arguments_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises(InvalidParameter):
        make()


class _PingPong:
    """Alice asks `count` times, Bob answers each (toy parties for the wrapper)."""

    def __init__(self, *, asks: bool, count: int) -> None:
        self.asks, self.count, self.seen = asks, count, 0

    @property
    def done(self) -> bool:
        return self.seen == self.count

    def start(self) -> list[Message]:
        return [CascadeDone(0, 0)] if self.asks else []

    def receive(self, message: Message) -> list[Message]:
        self.seen += 1
        if self.asks:
            return [] if self.done else [CascadeDone(self.seen, 0)]
        return [VerificationOutcome(True)]


def test_wrapped_parties_talk_only_in_sealed_frames() -> None:
    a_end, b_end = _ends()
    alice = AuthenticatedParty(_PingPong(asks=True, count=4), a_end)
    bob = AuthenticatedParty(_PingPong(asks=False, count=4), b_end)
    transcript = run_protocol(alice, bob)
    assert transcript.messages_by_type == {"AuthenticatedFrame": 8 + 2}  # and one close each way
    assert a_end.usage == b_end.usage == Usage(2, 2)  # r and the close's pad, however many messages
    a_end, b_end = _ends()
    run_protocol(AuthenticatedParty(_PingPong(asks=True, count=40), a_end),
                 AuthenticatedParty(_PingPong(asks=False, count=40), b_end))  # fmt: skip
    assert a_end.usage == b_end.usage == Usage(2, 2)
    with pytest.raises(AuthenticationFailed):
        AuthenticatedParty(_PingPong(asks=False, count=1), _ends()[1]).receive(CascadeDone(0, 0))


class _Tamper:
    """A man in the middle in front of ``inner``: alters the ``at``-th frame it forwards with ``change``."""

    def __init__(self, inner: AuthenticatedParty, at: int, change: Callable[[bytes], bytes]) -> None:
        self.inner, self.at, self.change, self.count = inner, at, change, 0

    @property
    def done(self) -> bool:
        return self.inner.done

    def start(self) -> list[Message]:
        return self.inner.start()

    def time_out(self) -> None:
        self.inner.time_out()

    def receive(self, message: Message) -> list[Message]:
        self.count += 1
        if self.count == self.at and isinstance(message, AuthenticatedFrame):
            message = AuthenticatedFrame(self.change(message.data))
        return self.inner.receive(message)


def _flip_last_payload_bit(data: bytes) -> bytes:
    return data[:-17] + bytes([data[-17] ^ 1]) + data[-16:]


def test_tampering_mid_reconciliation_aborts_the_block_at_both_ends_and_keeps_nothing() -> None:
    """A flipped bit in one of Bob's frames reaches Alice's Cascade unchecked: whatever it makes her do, her
    end fails on Bob's close (the tag does not check). Bob fails too, or (when her Cascade ran on unaware) he
    is done: the last tag of a block is checked by one side only, which is why a node keeps a block only after
    the tagged Prepared/Committed exchange that follows (tests/kms), and a failed Alice never sends it."""
    rng = np.random.default_rng(12)
    a_key, b_key = noisy_pair(3000, 60, rng)
    outcomes: set[str] = set()
    for at in (1, 2, 5, 9):
        alice, bob = _tampered_parties(a_key, b_key, at)
        errors = _drive_to_the_end(alice, bob)
        assert isinstance(errors["alice"], AuthenticationFailed), (at, errors)
        assert not alice.done
        if errors["bob"] is not None:
            assert isinstance(errors["bob"], AuthenticationFailed | ReconciliationFailed), (at, errors)
            assert not bob.done
            outcomes.add("Bob raised")
        elif alice.inner.inner.done:
            assert bob.done  # both protocols ran to the end: only the commit exchange can save Bob's key
            outcomes.add("Bob done")
        else:
            assert bob.done
            with pytest.raises(SecurityAbort):
                _ = bob.inner.key  # Bob's own checks stopped his road: he is done with nothing
            outcomes.add("Bob done, failed")
    assert len(outcomes) >= 2, outcomes


def _tampered_parties(a_key: np.ndarray, b_key: np.ndarray, at: int) -> tuple[_Tamper, AuthenticatedParty]:
    from qkdnet.postprocess import PostprocessAlice, PostprocessBob

    tag_keys, ledger = _keys(slots=512), LeakageLedger()
    alice = PostprocessAlice(a_key, ledger=ledger.copy(), rng=np.random.default_rng(1), eve_information_bits=100)
    bob = PostprocessBob(
        b_key, qber_estimate=0.02, ledger=ledger, rng=np.random.default_rng(2), eve_information_bits=100
    )
    wrapped_alice = AuthenticatedParty(alice, tag_keys[0].channel_end(block_id=0))
    wrapped_bob = AuthenticatedParty(bob, tag_keys[1].channel_end(block_id=0))
    return _Tamper(wrapped_alice, at, _flip_last_payload_bit), wrapped_bob


def _drive_to_the_end(alice: _Tamper, bob: AuthenticatedParty) -> dict[str, Exception | None]:
    """Deliver every frame in order, as a socket would, letting a party that failed drop what it gets after;
    then time out whoever still waits. Returns each party's error (None if it finished)."""
    parties: dict[str, _Tamper | AuthenticatedParty] = {"alice": alice, "bob": bob}
    errors: dict[str, Exception | None] = {"alice": None, "bob": None}
    queue: list[tuple[str, Message]] = [("bob", m) for m in alice.start()] + [("alice", m) for m in bob.start()]
    while queue:
        to, message = queue.pop(0)
        if errors[to] is not None:
            continue
        try:
            replies = parties[to].receive(message)
        except (AuthenticationFailed, ReconciliationFailed, ProtocolError) as exc:
            errors[to] = exc
            continue
        other = "bob" if to == "alice" else "alice"
        queue += [(other, m) for m in replies]
    for side, party in parties.items():
        if errors[side] is None and not party.done:
            try:
                party.time_out()
            except AuthenticationFailed as exc:
                errors[side] = exc
    return errors


def test_authenticated_recipe_charges_the_tags_and_hands_out_the_net_key() -> None:
    rng = np.random.default_rng(21)
    a_key, b_key = noisy_pair(60_000, 1200, rng)
    alice_keys, bob_keys = _keys(slots=1024)
    before = alice_keys.bits_available
    plain = reconcile_and_amplify(
        a_key,
        b_key,
        qber_estimate=0.02,
        eve_information_bits=6000,
        ledger=LeakageLedger(),
        rng=np.random.default_rng(3),
    )
    sealed = reconcile_and_amplify(
        a_key, b_key, qber_estimate=0.02, eve_information_bits=6000, ledger=LeakageLedger(),
        rng=np.random.default_rng(3), tag_keys=(alice_keys, bob_keys),
    )  # fmt: skip
    frames = sealed.transcript.messages
    assert sealed.transcript.messages_by_type == {"AuthenticatedFrame": frames}
    assert frames == plain.transcript.messages + 2  # and one close each way
    assert sealed.authentication_key_bits == 4 * SLOT_BITS  # one hash key and one pad per direction
    assert sealed.amplified_bits == plain.final_bits
    assert sealed.final_bits == sealed.amplified_bits - sealed.authentication_key_bits == sealed.alice_key.size
    np.testing.assert_array_equal(sealed.alice_key, sealed.bob_key)
    np.testing.assert_array_equal(sealed.alice_key, plain.alice_key[sealed.authentication_key_bits :])
    assert alice_keys.bits_available == bob_keys.bits_available == before  # refilled from the fresh key
    assert sealed.transcript.bits_sent > plain.transcript.bits_sent  # headers and tags travel too
    assert "alice_key" not in repr(sealed) and "bob_key" not in repr(sealed)  # no key material in reprs


def test_a_block_that_costs_more_key_than_it_makes_hands_out_nothing() -> None:
    rng = np.random.default_rng(22)
    a_key, b_key = noisy_pair(4000, 80, rng)  # about 330 bits after amplification, the tags cost 512
    alice_keys, bob_keys = _keys(slots=1024)
    with pytest.raises(NoSecretKey, match="no net key"):
        reconcile_and_amplify(
            a_key, b_key, qber_estimate=0.02, eve_information_bits=2900, ledger=LeakageLedger(),
            rng=rng, tag_keys=(alice_keys, bob_keys),
        )  # fmt: skip
    assert alice_keys.bits_available == bob_keys.bits_available  # what the block made went back, in step


def _noisy_block(reconciler: str, tag_keys: tuple[PartyTagKeys, PartyTagKeys], wire: object = None):
    a_key, b_key = noisy_pair(20_000, 600, np.random.default_rng(3))  # QBER 3 %: Cascade takes many rounds
    return reconcile_and_amplify(
        a_key, b_key, qber_estimate=0.03, eve_information_bits=2000, ledger=LeakageLedger(),
        rng=np.random.default_rng(4), reconciler=reconciler, tag_keys=tag_keys, interceptor=wire,
    )  # fmt: skip


@pytest.fixture(scope="module", params=["cascade", "ldpc"])
def honest_frames(request: pytest.FixtureRequest) -> tuple[str, int]:
    wire = FlipOneBit(-1, 0)
    honest = _noisy_block(request.param, _keys(slots=64), wire)
    assert honest.final_bits > 0 and np.array_equal(honest.alice_key, honest.bob_key)
    return request.param, wire.count


@settings(max_examples=25, deadline=None, derandomize=True)
@given(index=st.integers(0, 10**6), bit=st.integers(0, 10**9))
def test_a_flip_anywhere_in_a_multi_round_block_ends_it_at_once_with_no_key(
    honest_frames: tuple[str, int], index: int, bit: int
) -> None:
    """Untagged frames reach the reconcilers unchecked: whatever a flip makes them do, the run ends (no party
    searches forever) and a forgery is reported, with no key handed out and the reserves still in step."""
    reconciler, frames = honest_frames
    assert frames > 10  # many frames, one tag per direction
    tag_keys = _keys(slots=64)
    wire = FlipOneBit(index % frames, bit)
    with pytest.raises(AuthenticationFailed):
        _noisy_block(reconciler, tag_keys, wire)
    assert wire.flipped
    after = _noisy_block(reconciler, tag_keys)
    assert after.final_bits > 0 and np.array_equal(after.alice_key, after.bob_key)
