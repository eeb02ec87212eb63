"""The daemon's parts in-process: wire codec, durable node state, device format, raw buffer, emulator physics."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import ConfigError, ProtocolError
from qkdnet.kms.device import RawBlock, encode_block, encode_hello, read_block, read_hello
from qkdnet.kms.emulator import LinkEmulator
from qkdnet.kms.node import RawBuffer
from qkdnet.kms.node_state import LEASE_SLOTS, MIN_BOOTSTRAP_BYTES, NodeState, net_key_bytes
from qkdnet.kms.wire import (
    BlockStart,
    Committed,
    Hello,
    Prepared,
    decode_payload,
    encode_payload,
    encode_preamble,
    read_frame,
    read_preamble,
    session_id,
)
from qkdnet.network import link_from_preset
from qkdnet.postprocess import Abort, PartyTagKeys, Usage
from qkdnet.qkd import BBM92, E91
from qkdnet.rng import SeedTree

T = TypeVar("T")


def _read(read: Callable[..., Awaitable[T]], data: bytes, **kwargs: object) -> T:
    """Run ``read`` on a stream holding ``data`` (then end of stream)."""

    async def go() -> T:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read(reader, **kwargs)

    return asyncio.run(go())


@pytest.mark.parametrize(
    "message",
    [
        Hello(None, None, None, None),
        Hello(41, 42, (1 << 63) - 1, 17, 1024, 2048, 65536),
        BlockStart(3, 9, 12, 200_000, 5, (1 << 64) - 2),
        BlockStart(3, 9, 12, None, 0, 0),
        Prepared(7, 1234),
        Committed(7),
        Abort("reconciliation failed"),
    ],
    ids=lambda m: type(m).__name__,
)
def test_control_messages_round_trip(message: object) -> None:
    assert decode_payload(encode_payload(message)) == message  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [b"\xc1", b"\xc1\x09", b"\xc1\x00" + bytes(31), b"\xc1\x03" + bytes(9), b"\x07\x01"])
def test_malformed_payloads_raise_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_payload(data)


def test_session_ids_differ_across_connections_and_sessions() -> None:
    a, b = bytes(16), bytes(range(16))
    ids = {session_id(a, b, 0), session_id(a, b, 1), session_id(b, a, 0), session_id(a, bytes(15) + b"\x01", 0)}
    assert len(ids) == 4 and all(0 <= i < 1 << 64 for i in ids)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"HTTP/1.1 200 OK\r\n\r\n" + bytes(8), "does not speak"),
        (b"QKDN\x01\x00" + bytes(16), "wire version 1"),  # version 1 had no handshake proof
        (b"QKDN\x02\x01" + bytes(16), "claims role 1, expected alice"),
        (b"QKDN\x01", "after 5 bytes"),
    ],
)
def test_preamble_is_checked(data: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        _read(read_preamble, data, expect_role="alice")
    nonce = bytes(range(16))
    assert _read(read_preamble, encode_preamble("bob", nonce), expect_role="bob") == nonce


def test_frames_are_length_checked() -> None:
    with pytest.raises(ProtocolError, match="truncated frame: 3 of 10"):
        _read(read_frame, b"\x0a\x00\x00\x00abc")
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        _read(read_frame, b"\xff\xff\xff\xff")
    with pytest.raises(ConnectionError):
        _read(read_frame, b"")


# ------------------------------------------------------------------------------------------- node state
def _bootstrap(tmp_path: Path, size: int = MIN_BOOTSTRAP_BYTES) -> tuple[Path, bytes]:
    data = np.random.default_rng(3).bytes(size)
    path = tmp_path / "bootstrap.key"
    path.write_bytes(data)
    return path, data


def test_a_restarted_sender_never_reuses_a_tag_key(tmp_path: Path) -> None:
    """Slots used before a crash (no finalise, no clean close) are never handed out again after a reopen."""
    key, _ = _bootstrap(tmp_path)
    state = NodeState(tmp_path / "s.sqlite", side="alice", bootstrap_key_file=key)
    end = state.tag_keys.channel_end(block_id=1)
    frames = [end.seal(b"x" * 10) for _ in range(3)]
    used = {int.from_bytes(f[18:26], "little") for f in frames}  # the pad index field of each header
    del state  # a crash: nothing more is written
    again = NodeState(tmp_path / "s.sqlite", side="alice", bootstrap_key_file=key)
    frame = again.tag_keys.channel_end(block_id=2).seal(b"y")
    pad = int.from_bytes(frame[18:26], "little")
    assert pad > max(used) and pad >= LEASE_SLOTS


def test_finalise_refills_the_reserves_as_party_tag_keys_does(tmp_path: Path) -> None:
    key_file, data = _bootstrap(tmp_path)
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    oracle = PartyTagKeys.from_preshared(bits, side="bob")
    state = NodeState(tmp_path / "s.sqlite", side="bob", bootstrap_key_file=key_file)
    amplified = np.random.default_rng(4).integers(0, 2, 5000, dtype=np.uint8)
    usage = Usage(3, 5)
    block = state.prepare(9, amplified, usage)
    assert NodeState(tmp_path / "s.sqlite", side="bob", bootstrap_key_file=key_file).prepared() is not None
    assert block.net_key == net_key_bytes(amplified, usage) == np.packbits(amplified[1024:]).tobytes()
    state.finalize(block)
    net = oracle.refill(amplified, usage)
    assert net.size == amplified.size - usage.key_bits
    reopened = NodeState(tmp_path / "s.sqlite", side="bob", bootstrap_key_file=key_file)
    assert reopened.prepared() is None
    assert reopened.reserve_bits == oracle.bits_available == bits.size + usage.key_bits


def test_raw_block_marks_survive_and_bad_bootstrap_keys_are_refused(tmp_path: Path) -> None:
    key_file, _ = _bootstrap(tmp_path)
    state = NodeState(tmp_path / "s.sqlite", side="alice", bootstrap_key_file=key_file)
    assert state.raw_used() is None
    state.mark_raw_used(5, 12)
    assert NodeState(tmp_path / "s.sqlite", side="alice", bootstrap_key_file=key_file).raw_used() == (5, 12)
    (tmp_path / "odd.key").write_bytes(bytes(MIN_BOOTSTRAP_BYTES + 1))
    with pytest.raises(ConfigError, match="a multiple of 32, got 8193"):
        NodeState(tmp_path / "t.sqlite", side="alice", bootstrap_key_file=tmp_path / "odd.key")
    (tmp_path / "small.key").write_bytes(bytes(MIN_BOOTSTRAP_BYTES - 32))  # 4 KiB and more was accepted silently
    with pytest.raises(ConfigError, match=r"at least 8192 bytes .* got 8160"):
        NodeState(tmp_path / "v.sqlite", side="alice", bootstrap_key_file=tmp_path / "small.key")
    with pytest.raises(ConfigError, match="cannot read the bootstrap key"):
        NodeState(tmp_path / "u.sqlite", side="alice", bootstrap_key_file=tmp_path / "missing.key")


# ----------------------------------------------------------------------------------------- device, buffer
def _block(seq: int, n: int = 5) -> RawBlock:
    rng = np.random.default_rng(seq)
    tags = np.sort(rng.integers(0, 10**9, n)).astype(np.int64)
    return RawBlock(
        seq, 10**12 * seq, tags, rng.integers(0, 3, n, dtype=np.uint8), rng.integers(0, 2, n, dtype=np.uint8)
    )


def test_device_format_round_trips_and_refuses_garbage() -> None:
    from qkdnet.kms.device import DeviceInfo

    info = DeviceInfo("bob", "e91", 99, "a-b")
    block = _block(4)

    async def both(reader: asyncio.StreamReader) -> tuple[DeviceInfo, RawBlock]:
        return await read_hello(reader), await read_block(reader)

    got_info, got = _read(both, encode_hello(info) + encode_block(block))
    assert got_info == info and got.seq == 4 and got.first_tag_ps == block.first_tag_ps
    assert np.array_equal(got.settings, block.settings) and np.array_equal(got.outcomes, block.outcomes)
    with pytest.raises(ProtocolError, match="did not greet"):
        _read(read_hello, b"QBLK" + bytes(20))
    with pytest.raises(ProtocolError, match="where a block was expected"):
        _read(read_block, b"QDV1" + bytes(28))


def test_raw_buffer_keeps_order_skips_stale_blocks_and_drops_a_new_epoch() -> None:
    async def scenario() -> None:
        buf = RawBuffer(capacity=3)
        buf.set_floor((1, 0))
        for seq in range(4):
            await buf.put(1, _block(seq))  # block 0 is below the floor
        assert buf.offer() == (1, 1)
        filler = asyncio.create_task(buf.put(1, _block(4)))  # full: waits for room
        await asyncio.sleep(0.01)
        assert not filler.done()
        got = await buf.take(1, 3, timeout_s=1)
        assert got is not None and got.seq == 3
        await asyncio.wait_for(filler, 1)
        assert buf.offer() == (1, 4)
        assert await buf.take(1, 2, timeout_s=0.05) is None  # gone
        await buf.put(2, _block(0))  # the device restarted: a new stream
        assert buf.offer() == (2, 0)

    asyncio.run(scenario())


def test_a_full_raw_buffer_nobody_takes_from_drops_its_oldest_and_keeps_reading() -> None:
    """A stalled link must not stop the device loop for good (it would never see the device go away)."""

    async def scenario() -> None:
        buf = RawBuffer(capacity=2, stale_s=0.05)
        await buf.put(1, _block(0))
        await buf.put(1, _block(1))
        filler = asyncio.create_task(buf.put(1, _block(2)))
        await asyncio.sleep(0.01)
        assert not filler.done()  # it waits for room first
        await asyncio.wait_for(filler, 1)
        assert buf.offer() == (1, 1)
        assert (await buf.take(1, 2, timeout_s=0.1)) is not None

    asyncio.run(scenario())


@pytest.mark.parametrize("protocol", [E91, BBM92], ids=lambda p: p.name)
def test_the_emulator_deals_matching_records_with_the_link_s_error_rate(protocol: object) -> None:
    link = link_from_preset("nadlinger2022")
    emulator = LinkEmulator(link, protocol, pairs_per_block=200_000, seed=11)  # type: ignore[arg-type]
    alice, bob = emulator.sample(0)
    assert np.array_equal(alice.time_tags_ps, bob.time_tags_ps) and np.all(np.diff(alice.time_tags_ps) > 0)
    # Bell-diagonal pairs measured by both along θ err with cos²2θ·q_Z + sin²2θ·q_X (the link's analytic rates).
    for basis, (sa, sb) in enumerate(protocol.key_settings):  # type: ignore[attr-defined]
        aligned = (alice.settings == sa) & (bob.settings == sb)
        count = int(aligned.sum())
        q = np.count_nonzero(alice.outcomes[aligned] != bob.outcomes[aligned]) / count
        two_theta = math.radians(2 * protocol.key_basis_angle_deg(basis))  # type: ignore[attr-defined]
        expected = math.cos(two_theta) ** 2 * link.expected_qber_z + math.sin(two_theta) ** 2 * link.expected_qber_x
        assert abs(q - expected) < 5 * math.sqrt(expected * (1 - expected) / count)
    second, _ = emulator.sample(1)
    assert second.start_ps == int(alice.time_tags_ps[-1])


def test_an_emulated_link_of_days_per_pair_keeps_a_time_tagger_s_wrapping_clock() -> None:
    """zhang2022 over 10 km: a block of 50,000 pairs lasts ~7,000 years, far past the 64-bit tag counter."""
    link = link_from_preset("zhang2022", 10.0)
    emulator = LinkEmulator(link, BBM92, pairs_per_block=50_000, seed=5)
    alice, _ = emulator.sample(0)
    exact = link.generate(50_000, rng=SeedTree(5).generator("link"))  # the emulator's own link stream
    assert exact.last_herald_ps > 2**64  # the counter really wraps inside this block
    assert alice.last_tag_ps == exact.last_herald_ps % 2**64
    # Every tag is its exact time modulo 2⁶⁴, and consecutive tags differ by the exact gaps modulo 2⁶⁴.
    gaps = np.diff(exact.herald_periods) * exact.period_ps + np.diff(exact.herald_offsets_ps)
    assert np.array_equal(np.diff(alice.time_tags_ps), gaps)
    second, _ = emulator.sample(1)
    assert second.start_ps == exact.last_herald_ps % 2**64


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_decode_to_a_message_or_a_protocol_error(data: bytes) -> None:
    """A peer's authentic but garbled payload can only ever be refused as a ProtocolError, never crash the node."""
    with contextlib.suppress(ProtocolError):
        decode_payload(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_on_the_wire_are_a_preamble_or_a_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        _read(read_preamble, data, expect_role="alice")


def test_time_tags_wrap_like_a_64_bit_counter_and_still_match_across_the_wire() -> None:
    tags = np.array([5, 20], dtype=np.int64)
    block = RawBlock(1, (1 << 64) - 10, tags, np.zeros(2, np.uint8), np.zeros(2, np.uint8))
    assert (block.first_tag_ps, block.last_tag_ps) == ((1 << 64) - 5, 10)
    start = BlockStart(0, 1, 1, block.records, block.first_tag_ps, block.last_tag_ps)
    assert decode_payload(encode_payload(start)) == start


def test_top_up_restores_the_lower_reserve_to_the_shared_target_from_half_the_key_at_most() -> None:
    from qkdnet.kms.node import top_up_slots

    alice = Hello(3, None, 1, 5, reserve_a2b_bits=60_000, reserve_b2a_bits=65_536, reserve_target_bits=65_536)
    bob = Hello(3, None, 1, 5, reserve_a2b_bits=65_536, reserve_b2a_bits=50_000, reserve_target_bits=65_536)
    assert top_up_slots(alice, bob, spare_bits=100_000) == (-(-5536 // 128), -(-15536 // 128))
    assert top_up_slots(bob, alice, spare_bits=100_000) == top_up_slots(alice, bob, spare_bits=100_000)
    assert sum(top_up_slots(alice, bob, spare_bits=4_000)) == 4_000 // 2 // 128  # at most half the spare key
    assert top_up_slots(alice, bob, spare_bits=-5) == (0, 0)
    full = Hello(3, None, 1, 5, 65_536, 65_536, 65_536)
    assert top_up_slots(full, full, spare_bits=100_000) == (0, 0)
    settling = Hello(4, None, 1, 5, 60_000, 60_000, 65_536)  # alice committed a block bob only prepared
    assert top_up_slots(settling, bob, spare_bits=100_000) == (0, 0)


def test_dec_keys_waits_out_a_block_not_yet_committed_here_but_not_other_errors() -> None:
    """503 means the slave's KME has not committed the block yet: retried; 400 (not found) is final."""
    import base64
    from uuid import UUID

    from qkdnet.kms.client import EtsiClient, EtsiError

    answers: list[object] = [EtsiError(503, "not yet"), EtsiError(503, "not yet")]
    key_id = UUID(int=7)
    answers.append({"keys": [{"key_ID": str(key_id), "key": base64.b64encode(b"k" * 32).decode()}]})
    client = object.__new__(EtsiClient)

    def call(method: str, path: str, body: object = None) -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client._call = call  # type: ignore[method-assign]
    (got,) = client.dec_keys("SAE_A", [key_id])
    assert got.key_id == key_id and got.key == b"k" * 32 and not answers
    answers.extend([EtsiError(400, "keys not found"), {"keys": []}])
    with pytest.raises(EtsiError, match="400"):
        client.dec_keys("SAE_A", [key_id])
    answers[:] = [EtsiError(503, "down")] * 50
    with pytest.raises(EtsiError, match="503"):
        client.dec_keys("SAE_A", [key_id], wait_s=0.2)
