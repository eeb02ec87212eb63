"""Entanglement swapping against the Werner formula and an explicit 4-qubit density-matrix oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import InvalidParameter
from qkdnet.quantum import BellDiagonal, is_density_matrix
from qkdnet.quantum.swap import (
    bell_convolve,
    measurement_noise,
    sample_swap,
    sample_swap_density,
    swap,
    swap_branches,
)
from tests.quantum import oracle
from tests.quantum.helpers import random_density

probability = st.floats(0.0, 1.0, allow_nan=False)
weights4 = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=4, max_size=4).filter(lambda w: sum(w) > 1e-3)


def _bd(w: list[float]) -> BellDiagonal:
    arr = np.asarray(w, dtype=float)
    return BellDiagonal(arr / arr.sum())


@given(probability, probability)
def test_werner_pairs_swap_to_the_published_formula(v1: float, v2: float) -> None:
    """F = F₁F₂ + (1 − F₁)(1 − F₂)/3 (REFERENCES.md, swapping of Werner pairs)."""
    f1, f2 = (1 + 3 * v1) / 4, (1 + 3 * v2) / 4
    out = swap(BellDiagonal.werner(v1), BellDiagonal.werner(v2))
    assert float(out.fidelity) == pytest.approx(f1 * f2 + (1 - f1) * (1 - f2) / 3, abs=1e-12)
    # and the output is Werner again, with the product visibility
    assert np.allclose(out.weights, BellDiagonal.werner(v1 * v2).weights, atol=1e-12)


def test_perfect_pairs_swap_to_a_perfect_pair() -> None:
    out = swap(BellDiagonal.bell("phi+"), BellDiagonal.bell("phi+"))
    assert np.allclose(out.weights, [1, 0, 0, 0])


def test_bell_labels_compose_like_paulis() -> None:
    """Ψ+ (X) swapped with Φ− (Z) gives Ψ− (XZ ∝ Y); a check of the XOR table by hand."""
    out = swap(BellDiagonal.bell("psi+"), BellDiagonal.bell("phi-"))
    assert np.allclose(out.weights, [0, 0, 0, 1])


@settings(max_examples=30, deadline=None)
@given(weights4, weights4, probability)
def test_bell_diagonal_swap_matches_the_four_qubit_oracle(a: list[float], b: list[float], f: float) -> None:
    left, right = _bd(a), _bd(b)
    expected = oracle.swap_average(oracle.bell_diagonal(left.weights), oracle.bell_diagonal(right.weights), f)
    got = swap(left, right, measurement_fidelity=f).to_density()
    assert np.allclose(got, expected, atol=1e-12)


def test_every_outcome_is_equally_likely_and_corrects_to_the_same_state_for_bell_diagonal_inputs() -> None:
    rng = np.random.default_rng(3)
    left, right = _bd(list(rng.random(4))), _bd(list(rng.random(4)))
    target = swap(left, right).to_density()
    for k in range(4):
        p, state = oracle.swap_corrected(oracle.bell_diagonal(left.weights), oracle.bell_diagonal(right.weights), k)
        assert p == pytest.approx(0.25, abs=1e-12)
        assert np.allclose(state, target, atol=1e-12)


def test_swap_branches_match_the_oracle_for_general_states() -> None:
    rng = np.random.default_rng(11)
    r1 = np.stack([random_density(rng) for _ in range(5)])
    r2 = np.stack([random_density(rng) for _ in range(5)])
    branches = swap_branches(r1, r2)
    for n in range(5):
        for k in range(4):
            p, state = oracle.swap_branch(r1[n], r2[n], k)
            assert np.trace(branches[n, k]).real == pytest.approx(p, abs=1e-12)
            assert np.allclose(branches[n, k] / p, state, atol=1e-10)


def test_sampled_density_swaps_give_the_oracle_state_of_the_announced_outcome() -> None:
    rng = np.random.default_rng(5)
    r1 = np.stack([random_density(rng) for _ in range(50)])
    r2 = np.stack([random_density(rng) for _ in range(50)])
    out = sample_swap_density(r1, r2, rng=np.random.default_rng(9))
    assert out.success.all() and out.states.shape == (50, 4, 4)
    for n in range(50):
        _, expected = oracle.swap_corrected(r1[n], r2[n], int(out.outcome[n]))
        assert np.allclose(out.states[n], expected, atol=1e-10)


def test_sampled_outcome_frequencies_follow_the_born_rule() -> None:
    rng = np.random.default_rng(21)
    r1, r2 = random_density(rng), random_density(rng)
    n = 40_000
    out = sample_swap_density(np.repeat(r1[None], n, 0), np.repeat(r2[None], n, 0), rng=np.random.default_rng(2))
    counts = np.bincount(out.outcome, minlength=4)
    for k in range(4):
        p, _ = oracle.swap_branch(r1, r2, k)
        assert abs(counts[k] - n * p) < 5 * np.sqrt(n * p * (1 - p)) + 1


def test_noisy_density_swap_announces_wrong_outcomes_at_the_given_rate_and_averages_to_the_oracle() -> None:
    rng = np.random.default_rng(8)
    r1, r2 = random_density(rng), random_density(rng)
    n, f = 40_000, 0.7
    out = sample_swap_density(
        np.repeat(r1[None], n, 0), np.repeat(r2[None], n, 0), measurement_fidelity=f, rng=np.random.default_rng(4)
    )
    mean = out.states.mean(axis=0)
    expected = oracle.swap_average(r1, r2, f)
    # each entry of a mean of n bounded states: several sigma of at most 1/(2√n)
    assert np.abs(mean - expected).max() < 5 / (2 * np.sqrt(n))


def test_sampled_bell_diagonal_swaps_succeed_at_the_efficiency() -> None:
    n, eff = 100_000, 0.3
    out = sample_swap(
        BellDiagonal.werner(0.9), BellDiagonal.werner(0.8), efficiency=eff, rng=np.random.default_rng(1), n=n
    )
    k = int(out.success.sum())
    assert abs(k - n * eff) < 5 * np.sqrt(n * eff * (1 - eff))
    assert out.states.shared and float(out.states.fidelity) == pytest.approx((1 + 3 * 0.72) / 4)
    counts = np.bincount(out.outcome, minlength=4)
    assert np.all(np.abs(counts - n / 4) < 5 * np.sqrt(n * 3 / 16))


def test_sampled_swaps_of_batches_keep_the_successful_pairs_in_order() -> None:
    v1, v2 = np.linspace(0.5, 1.0, 1000), np.linspace(1.0, 0.2, 1000)
    out = sample_swap(BellDiagonal.werner(v1), BellDiagonal.werner(v2), efficiency=0.5, rng=np.random.default_rng(3))
    assert len(out.states) == out.success.sum()
    assert np.allclose(out.states.weights, BellDiagonal.werner((v1 * v2)[out.success]).weights)


def test_efficiency_edges_are_exact() -> None:
    pair = BellDiagonal.werner(0.9)
    assert not sample_swap(pair, pair, efficiency=0.0, rng=np.random.default_rng(0), n=1000).success.any()
    assert sample_swap(pair, pair, efficiency=1.0, rng=np.random.default_rng(0), n=1000).success.all()


def test_per_pair_measurement_fidelity_is_applied_to_the_right_pairs() -> None:
    fid = np.array([1.0, 0.25, 1.0, 0.25])
    out = sample_swap(
        BellDiagonal.bell(),
        BellDiagonal.bell(),
        measurement_fidelity=fid,
        rng=np.random.default_rng(0),
        n=4,
    )
    assert np.allclose(out.states.weights[:, 0], fid)


@settings(max_examples=50, deadline=None)
@given(weights4, weights4, probability)
def test_swap_outputs_are_states(a: list[float], b: list[float], f: float) -> None:
    out = swap(_bd(a), _bd(b), measurement_fidelity=f)
    assert np.all(out.weights >= -1e-15)
    assert out.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert is_density_matrix(out.to_density())


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), probability)
def test_sampled_density_swap_outputs_are_states(seed: int, f: float) -> None:
    rng = np.random.default_rng(seed)
    r1 = np.stack([random_density(rng) for _ in range(8)])
    r2 = np.stack([random_density(rng) for _ in range(8)])
    out = sample_swap_density(r1, r2, measurement_fidelity=f, rng=rng)
    assert is_density_matrix(out.states, atol=1e-9)
    assert set(np.unique(out.outcome)) <= {0, 1, 2, 3}


def test_measurement_noise_is_a_probability_vector() -> None:
    assert np.allclose(measurement_noise(0.7).weights, [0.7, 0.1, 0.1, 0.1])


def test_bad_inputs_are_named() -> None:
    pair = BellDiagonal.werner(0.9)
    with pytest.raises(InvalidParameter, match="measurement_fidelity"):
        swap(pair, pair, measurement_fidelity=1.5)
    with pytest.raises(InvalidParameter, match="efficiency"):
        sample_swap(pair, pair, efficiency=-0.1, rng=np.random.default_rng(0), n=3)
    with pytest.raises(InvalidParameter, match="pass n"):
        sample_swap(pair, pair, rng=np.random.default_rng(0))
    with pytest.raises(InvalidParameter, match="different numbers of pairs"):
        sample_swap(BellDiagonal.werner([0.9, 0.8]), BellDiagonal.werner([0.9]), rng=np.random.default_rng(0))
    with pytest.raises(InvalidParameter, match="cannot combine batches of 2 and 3"):
        bell_convolve(BellDiagonal.werner([0.9, 0.8]), BellDiagonal.werner([0.9, 0.8, 0.7]))
    with pytest.raises(InvalidParameter, match="efficiency must be a scalar or hold one value per pair"):
        sample_swap(pair, pair, efficiency=[0.5, 0.5], rng=np.random.default_rng(0), n=3)
    with pytest.raises(InvalidParameter, match=r"first must be pair density matrices"):
        swap_branches(np.eye(2), np.eye(4) / 4)
