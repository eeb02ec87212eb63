"""Born-rule probabilities and sampling: fast path against the explicit reference and known correlations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import InvalidParameter
from qkdnet.quantum import (
    BellDiagonal,
    bell_state,
    correlation,
    joint_probabilities,
    sample_joint_outcomes,
    sample_setting_outcomes,
    werner_state,
)
from qkdnet.quantum import reference as ref

from .helpers import random_density

angle = st.floats(-360.0, 360.0, allow_nan=False)


@given(a=angle, b=angle, seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_joint_probabilities_match_reference(a: float, b: float, seed: int) -> None:
    rho = random_density(np.random.default_rng(seed))
    assert np.allclose(joint_probabilities(rho, a, b), ref.joint_probabilities(rho, a, b), atol=1e-12)


@given(a=angle, b=angle, w=st.lists(st.floats(0.01, 1.0), min_size=4, max_size=4))
@settings(max_examples=60, deadline=None)
def test_bell_diagonal_probabilities_match_reference(a: float, b: float, w: list[float]) -> None:
    bd = BellDiagonal(np.array(w) / sum(w))
    assert np.allclose(joint_probabilities(bd, a, b), ref.joint_probabilities(bd.to_density(), a, b), atol=1e-12)


def test_phi_plus_correlation_is_cos_two_delta() -> None:
    for a, b in [(0, 0), (0, 22.5), (45, 67.5), (0, 90), (10, -35)]:
        assert correlation(BellDiagonal.bell(), a, b) == pytest.approx(math.cos(2 * math.radians(a - b)))


def _binomial_tolerance(p: float, n: int, sigmas: float = 5.0) -> float:
    return sigmas * math.sqrt(max(p * (1 - p), 1e-12) / n)


def test_sampling_from_shared_and_per_pair_states_reproduces_born_rule() -> None:
    """Sampled outcome frequencies for three state representations equal the reference probabilities."""
    rng = np.random.default_rng(2024)
    n = 200_000
    angles_a = np.array([0.0, 22.5, 45.0])
    angles_b = np.array([22.5, 45.0, 67.5])
    sa = rng.integers(0, 3, n)
    sb = rng.integers(0, 3, n)
    rho = random_density(np.random.default_rng(5))
    bd = BellDiagonal.werner(0.7)
    cases = {
        "shared density": rho,
        "per-pair density": np.broadcast_to(rho, (n, 4, 4)).copy(),
        "shared bell-diagonal": bd,
        "per-pair bell-diagonal": BellDiagonal(np.tile(bd.weights, (n, 1))),
    }
    for label, states in cases.items():
        dens = states.to_density() if isinstance(states, BellDiagonal) else states
        dens = dens if dens.ndim == 2 else dens[0]
        x, y = sample_setting_outcomes(states, angles_a, angles_b, sa, sb, rng=rng)
        for i in range(3):
            for j in range(3):
                sel = (sa == i) & (sb == j)
                m = int(sel.sum())
                p = ref.joint_probabilities(dens, angles_a[i], angles_b[j])
                k = 2 * x[sel] + y[sel]
                for outcome in range(4):
                    freq = float(np.mean(k == outcome))
                    assert abs(freq - p[outcome]) < _binomial_tolerance(p[outcome], m), (label, i, j, outcome)


def test_fast_sampling_agrees_with_reference_sampler_in_distribution() -> None:
    """Slow per-pair rng.choice sampler and the vectorised one give the same distribution (chi-square)."""
    from scipy.stats import chi2_contingency

    rho = random_density(np.random.default_rng(11))
    n = 4000
    rng = np.random.default_rng(7)
    slow = [ref.sample_one(rho, 10.0, 55.0, rng) for _ in range(n)]
    slow_k = np.array([2 * a + b for a, b in slow])
    x, y = sample_joint_outcomes(rho, np.full(n, 10.0), np.full(n, 55.0), rng=np.random.default_rng(8))
    fast_k = 2 * x.astype(int) + y
    table = np.array([np.bincount(slow_k, minlength=4), np.bincount(fast_k, minlength=4)])
    table = table[:, table.sum(axis=0) > 0]
    assert chi2_contingency(table).pvalue > 1e-4


def test_edge_cases_are_exact() -> None:
    rng = np.random.default_rng(0)
    n = 10_000
    x, y = sample_joint_outcomes(BellDiagonal.bell(n=n), np.zeros(n), np.zeros(n), rng=rng)
    assert np.array_equal(x, y)  # perfect Φ+ at equal angles: always equal
    x, y = sample_joint_outcomes(bell_state(), np.zeros(n), np.full(n, 90.0), rng=rng)
    assert np.all(x != y)  # orthogonal analyser: always different
    x, _ = sample_joint_outcomes(werner_state(0.0), np.zeros(n), np.zeros(n), rng=rng)
    assert abs(x.mean() - 0.5) < _binomial_tolerance(0.5, n)


def test_invalid_inputs_raise_typed_errors() -> None:
    with pytest.raises(InvalidParameter):
        joint_probabilities(bell_state(), float("nan"), 0.0)
    with pytest.raises(InvalidParameter):
        sample_setting_outcomes(bell_state(), [0.0], [0.0], np.array([1]), np.array([0]), rng=np.random.default_rng(0))
    with pytest.raises(InvalidParameter):
        joint_probabilities(np.eye(2), 0.0, 0.0)
