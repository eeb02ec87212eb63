"""The recipe: Cascade → verification → privacy amplification, end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import InvalidParameter, NoSecretKey, PadExhausted, ReconciliationFailed, VerificationFailed
from qkdnet.postprocess import (
    CASCADE_PARITY,
    ESTIMATION_SAMPLE,
    VERIFICATION_HASH,
    FiniteKeyLength,
    LeakageLedger,
    PartyTagKeys,
    PostprocessAlice,
    PostprocessBob,
    reconcile_and_amplify,
    run_protocol,
)

from .helpers import noisy_pair


def test_end_to_end_keys_are_identical_and_length_follows_the_ledger() -> None:
    rng = np.random.default_rng(77)
    alice_key, bob_key = noisy_pair(20_000, 600, rng)
    a0, b0 = alice_key.copy(), bob_key.copy()
    ledger = LeakageLedger()
    ledger.record(ESTIMATION_SAMPLE, 2000, charged=False)
    result = reconcile_and_amplify(
        alice_key, bob_key, qber_estimate=0.03, eve_information_bits=4000.0, ledger=ledger, rng=rng
    )
    np.testing.assert_array_equal(result.alice_key, result.bob_key)
    assert result.corrected_bits == 600  # Bob found every error (after verification, keys are equal)
    kinds = ledger.by_kind()
    assert kinds[ESTIMATION_SAMPLE] == 2000 and kinds[VERIFICATION_HASH] == 40
    assert kinds[CASCADE_PARITY] == result.cascade_parity_bits
    # by hand: n - Eve - parities - tag - 2 log2(1e10)
    expected = math.floor(20_000 - 4000 - result.cascade_parity_bits - 40 - 2 * 10 * math.log2(10))
    assert result.final_bits == expected == result.alice_key.size
    assert result.transcript.round_trips == result.cascade_rounds + 1
    np.testing.assert_array_equal(alice_key, a0)
    np.testing.assert_array_equal(bob_key, b0)
    assert 0.45 < float(result.alice_key.mean()) < 0.55


def test_same_seed_same_keys() -> None:
    def run(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        a, b = noisy_pair(3000, 45, rng)
        out = reconcile_and_amplify(
            a, b, qber_estimate=0.015, eve_information_bits=400, ledger=LeakageLedger(), rng=rng
        )
        return out.alice_key

    np.testing.assert_array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))


def test_no_secret_key_is_raised_and_the_disclosure_still_recorded() -> None:
    rng = np.random.default_rng(3)
    a, b = noisy_pair(2000, 40, rng)
    ledger = LeakageLedger()
    with pytest.raises(NoSecretKey):
        reconcile_and_amplify(a, b, qber_estimate=0.02, eve_information_bits=1990, ledger=ledger, rng=rng)
    assert ledger.by_kind()[CASCADE_PARITY] > 0 and ledger.by_kind()[VERIFICATION_HASH] == 40


def test_residual_errors_are_caught_by_verification() -> None:
    """Estimate Q = 0 → one whole-key block; two errors keep its parity even, so Cascade misses them."""
    rng = np.random.default_rng(21)
    a, b = noisy_pair(1000, 2, rng)
    ledger = LeakageLedger()
    with pytest.raises(VerificationFailed):
        reconcile_and_amplify(a, b, qber_estimate=0.0, eve_information_bits=0, ledger=ledger, rng=rng)
    assert ledger.by_kind() == {CASCADE_PARITY: 1, VERIFICATION_HASH: 40}


def test_mismatched_inputs_are_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidParameter):
        reconcile_and_amplify(
            np.zeros(10, np.uint8), np.zeros(11, np.uint8), qber_estimate=0.01,
            eve_information_bits=0, ledger=LeakageLedger(), rng=rng,
        )  # fmt: skip
    with pytest.raises(InvalidParameter):
        reconcile_and_amplify(
            np.zeros(10, np.uint8), np.zeros(10, np.uint8), qber_estimate=0.01,
            eve_information_bits=-1, ledger=LeakageLedger(), rng=rng,
        )  # fmt: skip
    with pytest.raises(InvalidParameter):
        PostprocessAlice(np.zeros(10, np.uint8), ledger=LeakageLedger(), rng=rng, eve_information_bits=0, eps_pa=0)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 3000),
    qber=st.floats(0.0, 0.10),
    estimate=st.floats(0.0, 0.10),
    passes=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_keys_are_identical_or_the_road_raises(n: int, qber: float, estimate: float, passes: int, seed: int) -> None:
    """Never silently different keys: identical (after verification) or a raised failure."""
    rng = np.random.default_rng(seed)
    alice_key, bob_key = noisy_pair(n, round(qber * n), rng)
    ledger_a, ledger_b = LeakageLedger(), LeakageLedger()
    alice = PostprocessAlice(alice_key, ledger=ledger_a, rng=rng.spawn(1)[0], eve_information_bits=0, eps_pa=0.25)
    bob = PostprocessBob(
        bob_key, qber_estimate=estimate, ledger=ledger_b, rng=rng.spawn(1)[0], eve_information_bits=0,
        eps_pa=0.25, passes=passes,
    )  # fmt: skip
    try:
        run_protocol(alice, bob)
    except (ReconciliationFailed, VerificationFailed, NoSecretKey):
        with pytest.raises((ReconciliationFailed, VerificationFailed, NoSecretKey)):
            _ = bob.key
        return
    finally:
        assert ledger_a == ledger_b
    np.testing.assert_array_equal(bob.cascade_result.key, alice_key)
    np.testing.assert_array_equal(alice.key, bob.key)
    assert bob.key.size == n - ledger_b.charged_bits - 4  # 2 log2(1/0.25) = 4


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(200, 30_000),
    qber=st.floats(0.0, 0.06),
    estimate=st.floats(0.0, 0.06),
    seed=st.integers(0, 2**32 - 1),
)
def test_authenticated_finite_key_road_gives_identical_keys_or_raises(
    n: int, qber: float, estimate: float, seed: int
) -> None:
    """The full road (finite-key length, every message sealed): identical keys, or a raised failure."""
    rng = np.random.default_rng(seed)
    alice_key, bob_key = noisy_pair(n, round(qber * n), rng)
    ledger = LeakageLedger()
    ledger.record(ESTIMATION_SAMPLE, n // 4, charged=False)
    bits = rng.integers(0, 2, 2048 * 128, dtype=np.uint8)
    tag_keys = (PartyTagKeys.from_preshared(bits, side="alice"), PartyTagKeys.from_preshared(bits.copy(), side="bob"))
    try:
        out = reconcile_and_amplify(
            alice_key, bob_key, qber_estimate=estimate, ledger=ledger, rng=rng, tag_keys=tag_keys,
            key_length=FiniteKeyLength(min(0.5, qber + 0.01), eps_sec=1e-6),
        )  # fmt: skip
    except (ReconciliationFailed, VerificationFailed, NoSecretKey, PadExhausted):
        return
    np.testing.assert_array_equal(out.alice_key, out.bob_key)
    assert out.final_bits == out.amplified_bits - out.authentication_key_bits > 0
