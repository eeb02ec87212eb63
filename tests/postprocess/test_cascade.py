"""The original Cascade (the default variant): block sizes, permutations, correctness, efficiency, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter, ProtocolError, ReconciliationFailed
from qkdnet.postprocess import (
    CASCADE_PARITY,
    CascadeAlice,
    CascadeBob,
    CascadeDone,
    CascadeStart,
    LeakageLedger,
    ParityQuery,
    cascade_block_sizes,
    pass_permutation,
    run_protocol,
)

from .helpers import h2, noisy_pair


def _cascade(
    alice_key: np.ndarray, bob_key: np.ndarray, q: float, seed: int, **kwargs: int
) -> tuple[CascadeAlice, CascadeBob, LeakageLedger, LeakageLedger]:
    ledger_a, ledger_b = LeakageLedger(), LeakageLedger()
    alice = CascadeAlice(alice_key, ledger=ledger_a)
    bob = CascadeBob(bob_key, qber_estimate=q, ledger=ledger_b, rng=np.random.default_rng(seed), **kwargs)
    return alice, bob, ledger_a, ledger_b


@pytest.mark.parametrize(
    ("n", "q", "sizes"),
    [
        (10_000, 0.01, (73, 146, 292, 584)),  # 0.73 / 0.01 = 73
        (10_000, 0.05, (15, 30, 60, 120)),  # ceil(14.6) = 15
        (10_000, 0.5, (4, 8, 16, 32)),  # ceil(1.46) = 2 -> floor of 4
        (100, 0.01, (73,)),  # 146 is past n: a whole-key block would only repeat the key's parity
        (1000, 0.0, (1000,)),
        (3, 0.1, (3,)),
        (100, 1e-300, (100,)),  # 0.73 / Q beyond n: one whole-key block
    ],
)
def test_block_sizes(n: int, q: float, sizes: tuple[int, ...]) -> None:
    assert cascade_block_sizes(n, q) == sizes


@pytest.mark.parametrize("q", [-0.01, 0.51, float("nan"), True, "0.1"])
def test_block_sizes_refuse_bad_qber(q: object) -> None:
    with pytest.raises(InvalidParameter):
        cascade_block_sizes(100, q)  # type: ignore[arg-type]


def test_permutations_are_public_deterministic_and_distinct() -> None:
    np.testing.assert_array_equal(pass_permutation(5, 0, 10), np.arange(10))
    p1 = pass_permutation(123, 1, 1000)
    np.testing.assert_array_equal(np.sort(p1), np.arange(1000))
    np.testing.assert_array_equal(p1, pass_permutation(123, 1, 1000))
    assert not np.array_equal(p1, pass_permutation(123, 2, 1000))
    assert not np.array_equal(p1, pass_permutation(124, 1, 1000))


@pytest.mark.parametrize("n", [1, 2, 1000, 100_001])
def test_the_radix_sorted_permutation_is_argsort_of_the_seeded_keys(n: int) -> None:
    """pass_permutation sorts with a compiled radix sort; its order is argsort's of the same PCG64 keys."""
    bit_gen = np.random.PCG64(np.random.SeedSequence(77, spawn_key=(3,)))
    keys = (bit_gen.random_raw(n) >> np.uint64(27)) << np.uint64(27) | np.arange(n, dtype=np.uint64)
    np.testing.assert_array_equal(pass_permutation(77, 3, n), np.argsort(keys))


def test_no_errors_costs_exactly_the_block_parities_in_one_round_trip() -> None:
    key = np.random.default_rng(0).integers(0, 2, 1000, dtype=np.uint8)
    alice, bob, ledger_a, ledger_b = _cascade(key, key.copy(), 0.01, seed=1)
    transcript = run_protocol(alice, bob)
    result = bob.result
    # blocks: ceil(1000/73) + ceil(1000/146) + ceil(1000/292) + ceil(1000/584) = 14 + 7 + 4 + 2
    assert result.disclosed_bits == 27 == ledger_b.charged_bits == ledger_a.charged_bits
    # every pass's block parities travel in the first round; nothing is odd, so that is all
    assert result.corrected_bits == 0 and result.rounds == 1 and transcript.round_trips == 1
    np.testing.assert_array_equal(result.key, key)


def test_one_error_is_found_by_binary_search() -> None:
    key = np.random.default_rng(0).integers(0, 2, 1000, dtype=np.uint8)
    noisy = key.copy()
    noisy[500] ^= 1
    alice, bob, ledger_a, ledger_b = _cascade(key, noisy, 0.01, seed=1)
    run_protocol(alice, bob)
    result = bob.result
    np.testing.assert_array_equal(result.key, key)
    assert result.corrected_bits == 1
    # 27 block parities + one binary search in a 73-bit block: 6 or 7 halvings (ceil(log2 73) = 7)
    assert 27 + 6 <= result.disclosed_bits <= 27 + 7
    assert ledger_a == ledger_b


def test_inputs_are_not_modified() -> None:
    rng = np.random.default_rng(4)
    alice_key, bob_key = noisy_pair(2000, 60, rng)
    a0, b0 = alice_key.copy(), bob_key.copy()
    alice, bob, _, _ = _cascade(alice_key, bob_key, 0.03, seed=5)
    run_protocol(alice, bob)
    np.testing.assert_array_equal(alice_key, a0)
    np.testing.assert_array_equal(bob_key, b0)


@pytest.mark.parametrize("q", [0.01, 0.02, 0.03, 0.04, 0.05])
def test_efficiency_of_original_cascade_on_1e4_bits(q: float) -> None:
    """f = disclosed / (n h(Q)); published reproductions of the original give ≈ 1.14–1.22 at 10^4 bits."""
    n, frames = 10_000, 5
    rng = np.random.default_rng(int(q * 1000))
    errors = round(q * n)
    effs, residual, trips = [], 0, []
    for frame in range(frames):
        alice_key, bob_key = noisy_pair(n, errors, rng)
        alice, bob, ledger_a, ledger_b = _cascade(alice_key, bob_key, q, seed=frame)
        transcript = run_protocol(alice, bob)
        result = bob.result
        assert ledger_a == ledger_b
        assert ledger_b.by_kind() == {CASCADE_PARITY: result.disclosed_bits}
        effs.append(result.disclosed_bits / (n * h2(errors / n)))
        residual += int(not np.array_equal(result.key, alice_key))
        trips.append(transcript.round_trips)
    mean = float(np.mean(effs))
    assert 1.10 <= mean <= 1.30, f"f = {mean:.3f} at Q = {q}"
    assert residual <= 1  # residual errors are rare (verification catches them)
    assert max(trips) < 120  # lockstep binary searches keep round trips few


def test_round_budget_aborts_and_both_sides_raise() -> None:
    rng = np.random.default_rng(9)
    alice_key, bob_key = noisy_pair(3000, 90, rng)
    alice, bob, _, _ = _cascade(alice_key, bob_key, 0.03, seed=1, max_rounds=3)
    with pytest.raises(ReconciliationFailed):
        run_protocol(alice, bob)
    with pytest.raises(ReconciliationFailed):
        _ = bob.result
    assert alice.done and bob.done


def test_alice_refuses_out_of_protocol_messages() -> None:
    key = np.zeros(100, np.uint8)
    query = ParityQuery(1, np.zeros(1, np.uint8), np.zeros(1, np.int64), np.ones(1, np.int64))
    with pytest.raises(ProtocolError):
        CascadeAlice(key, ledger=LeakageLedger()).receive(query)  # before CascadeStart
    alice = CascadeAlice(key, ledger=LeakageLedger())
    with pytest.raises(ProtocolError):
        alice.receive(CascadeStart(99, (10,), 1))  # length mismatch
    alice.receive(CascadeStart(100, (10, 20), 1))  # the single-frame set-up of older peers
    with pytest.raises(ProtocolError):  # round 2 before round 1
        alice.receive(ParityQuery(2, np.zeros(1, np.uint8), np.zeros(1, np.int64), np.ones(1, np.int64)))
    with pytest.raises(ProtocolError):  # range outside the key
        alice.receive(ParityQuery(1, np.zeros(1, np.uint8), np.zeros(1, np.int64), np.array([101])))
    with pytest.raises(ProtocolError):  # unknown pass
        alice.receive(ParityQuery(1, np.array([2], np.uint8), np.zeros(1, np.int64), np.ones(1, np.int64)))
    assert alice.receive(query)[0].parities.tolist() == [0]  # type: ignore[union-attr]
    with pytest.raises(ProtocolError):  # disagreeing ledgers
        alice.receive(CascadeDone(rounds=1, disclosed_bits=5))


def test_bob_refuses_unexpected_messages() -> None:
    bob = CascadeBob(np.zeros(100, np.uint8), qber_estimate=0.05, ledger=LeakageLedger(), rng=np.random.default_rng())
    with pytest.raises(ProtocolError):
        bob.receive(CascadeDone(0, 0))
    with pytest.raises(ProtocolError):
        _ = bob.result
    bob.start()
    with pytest.raises(ProtocolError):
        bob.start()


def test_round_trip_count_is_logarithmic_not_linear() -> None:
    """Lockstep searches: about passes × (log2 k + a few) round trips, independent of the error count."""
    rng = np.random.default_rng(12)
    n, q = 20_000, 0.02
    alice_key, bob_key = noisy_pair(n, round(q * n), rng)
    alice, bob, _, _ = _cascade(alice_key, bob_key, q, seed=3)
    transcript = run_protocol(alice, bob)
    k_last = cascade_block_sizes(n, q)[-1]
    assert transcript.round_trips < 4 * (math.log2(k_last) + 1) * 3
    assert transcript.round_trips < bob.result.corrected_bits
