"""Verification frame by frame: a frame whose tags differ is dropped alone, and everything disclosed stays charged."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import ProtocolError, VerificationFailed
from qkdnet.postprocess import (
    FrameTags,
    FrameVerdicts,
    LeakageLedger,
    reconcile_and_amplify,
    run_protocol,
)
from qkdnet.postprocess._bits import Bits, uniform_frames
from qkdnet.postprocess.ledger import VERIFICATION_HASH
from qkdnet.postprocess.verify import VerifyAlice, VerifyBob, frame_tag_bits, verification_tag_bits

from .helpers import SilentReconciler


def _verify(
    a: Bits, b: Bits, frame_bits: int | None, seed: int = 0, failed: list[int] | None = None
) -> tuple[VerifyAlice, VerifyBob, LeakageLedger]:
    ledger_a, ledger_b = LeakageLedger(), LeakageLedger()
    lengths = uniform_frames(a.size, frame_bits)
    flags = np.isin(np.arange(lengths.size), failed or [])
    alice = VerifyAlice(a, ledger=ledger_a, rng=np.random.default_rng(seed), frame_lengths=lengths)
    bob = VerifyBob(b, ledger=ledger_b, frame_lengths=lengths, failed_frames=flags)
    try:
        run_protocol(alice, bob)
    finally:
        assert ledger_a == ledger_b  # both charge every frame's tag, kept or not
    return alice, bob, ledger_b


def test_a_frame_with_an_error_is_dropped_alone() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2, 10_500, dtype=np.uint8)
    b = a.copy()
    b[[2_345, 5_001, 5_999]] ^= 1  # frames 2 and 5 of 1,000 bits
    alice, bob, ledger = _verify(a, b, 1_000)
    expected = np.ones(11, dtype=np.uint8)
    expected[[2, 5]] = 0
    np.testing.assert_array_equal(bob.kept_frames, expected)
    np.testing.assert_array_equal(alice.kept_frames, expected)
    np.testing.assert_array_equal(alice.key, bob.key)
    assert alice.key.size == 10_500 - 2_000
    t = frame_tag_bits(1e-12, 11)
    assert t == verification_tag_bits(1e-12 / 11) and ledger.by_kind()[VERIFICATION_HASH] == 11 * t


def test_a_block_fails_only_when_every_frame_does() -> None:
    a = np.zeros(3_000, dtype=np.uint8)
    b = a.copy()
    b[[10, 1_010, 2_010]] = 1
    with pytest.raises(VerificationFailed):
        _verify(a, b, 1_000)


def test_one_frame_keeps_the_single_tag_protocol() -> None:
    a = np.ones(900, dtype=np.uint8)
    _, bob, ledger = _verify(a, a.copy(), 1_000)
    assert bob.kept_frames.tolist() == [1] and ledger.by_kind()[VERIFICATION_HASH] == verification_tag_bits(1e-12)
    assert uniform_frames(900, None).tolist() == uniform_frames(900, 1_000).tolist() == [900]
    assert uniform_frames(2_500, 1_000).tolist() == [1_000, 1_000, 500]


def test_a_frame_the_reconciler_gave_up_on_is_dropped_whatever_its_tag() -> None:
    a = np.zeros(3_000, dtype=np.uint8)
    alice, bob, _ = _verify(a, a.copy(), 1_000, failed=[1])
    assert bob.kept_frames.tolist() == alice.kept_frames.tolist() == [1, 0, 1]
    assert alice.key.size == bob.key.size == 2_000


def test_verdicts_for_the_wrong_number_of_frames_are_a_protocol_error() -> None:
    a = np.zeros(3_000, dtype=np.uint8)
    alice = VerifyAlice(a, ledger=LeakageLedger(), rng=np.random.default_rng(0), frame_lengths=[1_000] * 3)
    (tags,) = alice.start()
    assert isinstance(tags, FrameTags) and tags.frame_lengths.tolist() == [1_000] * 3
    with pytest.raises(ProtocolError, match="verdicts for 2 frames"):
        alice.receive(FrameVerdicts(np.ones(2, dtype=np.uint8)))
    bob = VerifyBob(a, ledger=LeakageLedger(), frame_lengths=[500] * 6)
    with pytest.raises(ProtocolError, match="not the 6 frames"):
        bob.receive(tags)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 6_000),
    frame_bits=st.integers(1, 2_500),
    flips=st.lists(st.integers(0, 5_999), max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_kept_keys_are_identical_or_the_block_fails(n: int, frame_bits: int, flips: list[int], seed: int) -> None:
    a = np.random.default_rng(seed).integers(0, 2, n, dtype=np.uint8)
    b = a.copy()
    for i in flips:
        b[i % n] ^= 1
    wrong_frames = {int(i) // frame_bits for i in np.flatnonzero(a != b)}
    try:
        alice, bob, _ = _verify(a, b, frame_bits, seed)
    except VerificationFailed:
        assert len(wrong_frames) == uniform_frames(n, frame_bits).size
        return
    np.testing.assert_array_equal(alice.key, bob.key)
    dropped = set(np.flatnonzero(bob.kept_frames == 0).tolist())
    assert dropped == wrong_frames  # with 40+-bit tags a collision is beyond any test's reach


def _flip_bit_3500(key: Bits) -> Bits:
    key[3_500] ^= 1  # a residual error in frame 3
    return key


def test_the_road_keeps_the_block_when_one_frame_is_wrong() -> None:
    key = np.random.default_rng(4).integers(0, 2, 8_000, dtype=np.uint8)
    out = reconcile_and_amplify(
        key, key.copy(), qber_estimate=0.01, eve_information_bits=500, ledger=LeakageLedger(),
        rng=np.random.default_rng(5),
        reconciler=SilentReconciler(_flip_bit_3500, np.full(8, 1_000, dtype=np.int64)),
    )  # fmt: skip
    assert out.frames == 8 and out.frames_dropped == 1
    np.testing.assert_array_equal(out.alice_key, out.bob_key)
    assert out.final_bits > 0 and out.verification_bits == 8 * frame_tag_bits(1e-12, 8)
    assert out.kept_positions.size == 7_000 and not np.isin(np.arange(3_000, 4_000), out.kept_positions).any()


def test_an_ldpc_frame_left_undecoded_is_dropped_and_the_block_kept() -> None:
    """One frame with 20 % errors under a 3 % plan cannot decode: the road drops it, the other frames go on."""
    from qkdnet.postprocess.reconciler import LdpcReconciler

    rng = np.random.default_rng(8)
    a = rng.integers(0, 2, 8_000, dtype=np.uint8)
    noise = rng.random(8_000) < 0.03
    noise[4_000:6_000] = rng.random(2_000) < 0.2
    b = a ^ noise.astype(np.uint8)
    out = reconcile_and_amplify(
        a, b, qber_estimate=0.03, eve_information_bits=300, ledger=LeakageLedger(),
        rng=np.random.default_rng(9), reconciler=LdpcReconciler(frame_bits=2_000),
    )  # fmt: skip
    assert out.frames_dropped >= 1 and out.frames > out.frames_dropped
    np.testing.assert_array_equal(out.alice_key, out.bob_key)
    assert out.final_bits > 0
    assert not np.isin(np.arange(4_500, 5_500), out.kept_positions).any()  # the noisy stretch is gone
