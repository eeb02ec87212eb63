"""Verification: equal keys pass, a single flipped bit is caught, the tag is charged, seeds are one-shot."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import AlreadyConsumed, InvalidParameter, ProtocolError, VerificationFailed
from qkdnet.postprocess import (
    VERIFICATION_HASH,
    HashSeed,
    LeakageLedger,
    VerificationTag,
    VerifyAlice,
    VerifyBob,
    run_protocol,
    verification_tag,
    verification_tag_bits,
)


@pytest.mark.parametrize(
    ("eps", "bits"),
    [(1e-12, 40), (2.0**-40, 40), (2.0**-40 * 1.01, 40), (2.0**-40 * 0.99, 41), (0.5, 1), (0.9, 1)],
)
def test_tag_length_is_ceil_log2_one_over_eps(eps: float, bits: int) -> None:
    # log2(1e12) = 39.86 -> 40
    assert verification_tag_bits(eps) == bits


@pytest.mark.parametrize("eps", [0.0, 1.0, -1e-3, float("nan")])
def test_tag_length_refuses_bad_eps(eps: float) -> None:
    with pytest.raises(InvalidParameter):
        verification_tag_bits(eps)


def _run(alice_key: np.ndarray, bob_key: np.ndarray, seed: int) -> tuple[VerifyAlice, VerifyBob, LeakageLedger]:
    ledger_a, ledger_b = LeakageLedger(), LeakageLedger()
    alice = VerifyAlice(alice_key, ledger=ledger_a, rng=np.random.default_rng(seed))
    bob = VerifyBob(bob_key, ledger=ledger_b)
    try:
        run_protocol(alice, bob)
    finally:
        assert ledger_a == ledger_b
    return alice, bob, ledger_b


def test_equal_keys_are_accepted_and_the_tag_is_charged() -> None:
    key = np.random.default_rng(1).integers(0, 2, 5000, dtype=np.uint8)
    alice, bob, ledger = _run(key, key.copy(), seed=2)
    assert bob.accepted and alice.done and bob.done
    np.testing.assert_array_equal(bob.key, key)
    np.testing.assert_array_equal(alice.key, key)
    assert ledger.by_kind() == {VERIFICATION_HASH: 40}
    bob.check()


@settings(max_examples=40, deadline=None)
@given(position=st.integers(0, 2999), seed=st.integers(0, 2**32 - 1))
def test_a_single_flipped_bit_is_detected(position: int, seed: int) -> None:
    key = np.random.default_rng(seed).integers(0, 2, 3000, dtype=np.uint8)
    other = key.copy()
    other[position] ^= 1
    ledger_a, ledger_b = LeakageLedger(), LeakageLedger()
    alice = VerifyAlice(key, ledger=ledger_a, rng=np.random.default_rng(seed + 1))
    bob = VerifyBob(other, ledger=ledger_b)
    with pytest.raises(VerificationFailed):  # Alice learns the verdict and raises
        run_protocol(alice, bob)
    assert bob.done and not bob.accepted
    with pytest.raises(VerificationFailed):
        bob.check()
    with pytest.raises(VerificationFailed):
        _ = alice.key
    assert ledger_a.charged_bits == ledger_b.charged_bits == 40  # the tag was disclosed anyway


def test_seed_reuse_raises_already_consumed() -> None:
    key = np.ones(100, np.uint8)
    seed = HashSeed.random(100 + 40 - 1, rng=np.random.default_rng(0))
    verification_tag(key, seed, 40)
    with pytest.raises(AlreadyConsumed):
        verification_tag(key, seed, 40)


def test_bob_refuses_a_tag_of_the_wrong_shape() -> None:
    key = np.ones(50, np.uint8)
    bob = VerifyBob(key, ledger=LeakageLedger())
    short = VerificationTag(np.ones(50 + 20 - 1, np.uint8), bytes(3), 20)
    with pytest.raises(ProtocolError):
        bob.receive(short)
    wrong_seed = VerificationTag(np.ones(10, np.uint8), bytes(5), 40)
    with pytest.raises(ProtocolError):
        bob.receive(wrong_seed)
    with pytest.raises(ProtocolError):
        _ = bob.key
