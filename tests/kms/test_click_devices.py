"""Time-tagger devices: the emulator's click blocks (each side's own clock, unpaired, one recording cut up), the
hello that says so, and the pairing step the nodes run before sifting (times only, checked)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from qkdnet.errors import ProtocolError
from qkdnet.hardware.timetagger import DetectorSide, EntangledPairSource, TwoLabRecorder
from qkdnet.kms.device import DeviceInfo, encode_hello, read_hello
from qkdnet.kms.emulator import LinkEmulator
from qkdnet.postprocess import ClassicalChannel, run_over_channel
from qkdnet.postprocess.messages import ClickPairs, ClickTimes
from qkdnet.qkd import BBM92
from qkdnet.qkd.coincidence import ClockTracker
from qkdnet.qkd.pairing import PairingAlice, PairingBob
from qkdnet.units import seconds_to_ps

OFFSET_PS = 271_828_182_845


def _emulator(seed: int = 3) -> LinkEmulator:
    recorder = TwoLabRecorder(
        EntangledPairSource(pair_rate_hz=2e6),
        DetectorSide(),
        DetectorSide(clock_offset_ps=OFFSET_PS, clock_drift_ppm=-3.0, clock_wander_ps=40.0),
        rng=np.random.default_rng(seed),
    )
    return LinkEmulator(recorder, BBM92, block_s=0.25, seed=seed)


def _read_hello(data: bytes) -> DeviceInfo:
    async def run() -> DeviceInfo:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_hello(reader)

    return asyncio.run(run())


def test_the_emulator_deals_each_side_its_own_clicks_on_its_own_clock() -> None:
    emulator = _emulator()
    assert emulator.info("alice").clicks and _read_hello(encode_hello(emulator.info("bob"))).clicks
    blocks = [emulator.sample(seq) for seq in range(3)]
    for seq, (alice, bob) in enumerate(blocks):
        assert alice.seq == bob.seq == seq and alice.records != bob.records  # unpaired: counts differ
        assert np.all(np.diff(alice.time_tags_ps) >= 0) and np.all(np.diff(bob.time_tags_ps) >= 0)
        # Block k is the k-th quarter second of each clock: Alice's from 0, Bob's from his offset, drifting.
        start = seq * seconds_to_ps(0.25)
        assert start <= alice.time_tags_ps[0] < start + seconds_to_ps(0.001)
        assert abs(bob.time_tags_ps[0] - (start + OFFSET_PS)) < seconds_to_ps(0.001)
        assert set(np.unique(alice.settings)) == {0, 1} and set(np.unique(alice.outcomes)) == {0, 1}
    # One recording cut up: the tracker follows Bob's clock across the blocks without searching again.
    tracker = ClockTracker(max_offset_ps=seconds_to_ps(1.0))
    for alice, bob in blocks:
        found = tracker.update(alice.time_tags_ps, bob.time_tags_ps)
        paired = found.coincidences
        a_bits, b_bits = alice.outcomes[paired.alice_index], bob.outcomes[paired.bob_index]
        same = alice.settings[paired.alice_index] == bob.settings[paired.bob_index]
        assert np.mean(a_bits[same] != b_bits[same]) < 0.03  # V = 0.97: 1.5 % errors, and a few accidentals
    assert tracker.reacquisitions == 0 and tracker.clock is not None
    assert tracker.clock.drift * 1e6 == pytest.approx(-3.0, abs=0.01)


def test_an_old_device_s_hello_means_paired_records_and_a_bad_flag_is_refused() -> None:
    plain = encode_hello(DeviceInfo("alice", "e91", 7, "a-b"))
    assert b"clicks" not in plain and not _read_hello(plain).clicks
    body = b'{"party": "alice", "protocol": "e91", "epoch": 7, "clicks": "yes"}'
    with pytest.raises(ProtocolError, match="clicks must be true or false"):
        _read_hello(b"QDV1" + len(body).to_bytes(4, "little") + body)


def test_pairing_sends_only_times_and_gives_both_sides_the_same_pairs() -> None:
    alice, bob = _emulator(5).sample(0)
    pairing_a = PairingAlice(ClockTracker(max_offset_ps=seconds_to_ps(1.0)), alice.time_tags_ps)
    pairing_b = PairingBob(bob.time_tags_ps)
    sent: list[object] = []

    class Spy:
        def intercept(self, sender: str, messages: list[object]) -> list[tuple[str, object]]:
            sent.extend(messages)
            return [(sender, m) for m in messages]

    run_over_channel(pairing_a, pairing_b, ClassicalChannel(), interceptor=Spy())  # type: ignore[arg-type]
    assert [type(m) for m in sent] == [ClickTimes, ClickPairs]
    assert np.array_equal(sent[0].times_ps, bob.time_tags_ps)  # type: ignore[attr-defined]
    assert pairing_a.alice_index.size == pairing_b.bob_index.size > 10_000
    same = alice.settings[pairing_a.alice_index] == bob.settings[pairing_b.bob_index]
    errors = alice.outcomes[pairing_a.alice_index][same] != bob.outcomes[pairing_b.bob_index][same]
    assert errors.mean() < 0.03


def test_a_pairing_that_names_clicks_bob_does_not_have_is_refused() -> None:
    bob = PairingBob(np.arange(10, dtype=np.int64))
    bob.start()
    with pytest.raises(ProtocolError, match="names click 10 of a block of 10"):
        bob.receive(ClickPairs(np.array([3, 10])))
    with pytest.raises(ProtocolError, match="unexpected ClickTimes"):
        PairingBob(np.arange(3, dtype=np.int64)).receive(ClickTimes(np.arange(3)))


def test_a_block_without_a_peak_pairs_nothing_and_says_why() -> None:
    rng = np.random.default_rng(9)
    mine = np.sort(rng.integers(0, 10**11, 5_000))
    alice = PairingAlice(ClockTracker(max_offset_ps=seconds_to_ps(1.0)), mine)
    (reply,) = alice.receive(ClickTimes(np.sort(rng.integers(0, 10**11, 5_000))))
    assert isinstance(reply, ClickPairs) and reply.bob_index.size == 0
    assert alice.alice_index.size == 0 and "no coincidence peak" in (alice.failure or "")
