"""Verification: equal keys pass, a single flipped bit is caught, the tag is charged, seeds are one-shot."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
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
    verification_seed_bits,
    verification_tag,
    verification_tag_bits,
)

from .helpers import poly1305_by_definition


def test_poly1305_oracle_reproduces_rfc8439() -> None:
    """RFC 8439 §2.5.2 test vector, so the oracle below is itself checked."""
    key = bytes.fromhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
    tag = poly1305_by_definition(key, b"Cryptographic Forum Research Group")
    assert tag.hex() == "a8061dc1305136c6c22b8baf0c0127a9"


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 700), tag_bits=st.integers(1, 64), seed=st.integers(0, 2**32 - 1))
def test_tag_is_toeplitz_of_the_polynomial_hash(n: int, tag_bits: int, seed: int) -> None:
    """tag = T · Poly1305_{r, s=0}(n as 8 bytes | packed key), T the t × 128 Toeplitz matrix of the seed's tail."""
    rng = np.random.default_rng(seed)
    key = rng.integers(0, 2, n, dtype=np.uint8)
    seed_bits = rng.integers(0, 2, verification_seed_bits(tag_bits), dtype=np.uint8)
    got = verification_tag(key, HashSeed(seed_bits), tag_bits)
    r = np.packbits(seed_bits[:128]).tobytes()
    digest = poly1305_by_definition(r + bytes(16), n.to_bytes(8, "little") + np.packbits(key).tobytes())
    u = np.unpackbits(np.frombuffer(digest, np.uint8)).astype(np.int64)
    toeplitz_seed = seed_bits[128:].astype(np.int64)
    t = scipy.linalg.toeplitz(toeplitz_seed[127:], toeplitz_seed[127::-1])
    assert got == np.packbits((t @ u) % 2).tobytes()


@pytest.mark.parametrize(
    ("eps", "bits"),
    [(1e-12, 40), (2.0**-40 * 1.01, 40), (2.0**-40 * 0.99, 41), (0.5, 1), (0.9, 1)],
)
def test_tag_length_is_ceil_log2_one_over_eps(eps: float, bits: int) -> None:
    # log2(1e12) = 39.86 -> 40
    assert verification_tag_bits(eps) == bits


def test_tag_length_leaves_room_for_the_polynomial_stage() -> None:
    """2^-t plus the polynomial hash's 2^-70 must not exceed eps: at eps = 2^-40 exactly, 40 bits fall short."""
    assert verification_tag_bits(2.0**-40) == 41
    assert verification_tag_bits(2.0**-60) == 61
    assert 2.0**-40 + 2.0**-70 > 2.0**-40 >= 2.0**-41 + 2.0**-70


@pytest.mark.parametrize("eps", [0.0, 1.0, -1e-3, float("nan"), 2.0**-69, 1e-30])
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
    seed = HashSeed.random(verification_seed_bits(40), rng=np.random.default_rng(0))
    assert len(seed) == 128 + 40 + 128 - 1
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
