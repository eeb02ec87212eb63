"""BBPSSW and DEJMPS purification against the published formulas and an explicit 4-qubit oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import InvalidParameter
from qkdnet.quantum import BellDiagonal, is_density_matrix
from qkdnet.quantum.purify import (
    PURIFICATION_SCHEMES,
    purification_branches,
    purify,
    sample_purification,
    sample_purification_density,
    twirl,
)
from tests.quantum import oracle
from tests.quantum.helpers import random_density

weights4 = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=4, max_size=4).filter(lambda w: sum(w) > 1e-3)
schemes = st.sampled_from(PURIFICATION_SCHEMES)


def _bd(w: list[float] | np.ndarray) -> BellDiagonal:
    arr = np.asarray(w, dtype=float)
    return BellDiagonal(arr / arr.sum())


@given(st.floats(0.0, 1.0, allow_nan=False))
def test_bbpssw_matches_the_published_formulas(f: float) -> None:
    """Bennett et al. 1996: p_s = F² + 2F(1−F)/3 + 5((1−F)/3)², F′ = [F² + ((1−F)/3)²]/p_s."""
    q = (1 - f) / 3
    pair = BellDiagonal(np.array([f, q, q, q]))
    out = purify(pair, pair, scheme="bbpssw")
    p_s = f**2 + 2 * f * (1 - f) / 3 + 5 * q**2
    assert float(out.success_probability) == pytest.approx(p_s, abs=1e-12)
    assert float(out.states.fidelity) == pytest.approx((f**2 + q**2) / p_s, abs=1e-12)


def test_bbpssw_published_threshold_and_fixed_point() -> None:
    """BBPSSW improves Werner pairs exactly when F > 1/2; F = 1/2 and F = 1 are fixed points."""
    for f, better in ((0.45, False), (0.55, True), (0.9, True)):
        q = (1 - f) / 3
        out = purify(BellDiagonal(np.array([f, q, q, q])), BellDiagonal(np.array([f, q, q, q])), scheme="bbpssw")
        assert (float(out.states.fidelity) > f) is better
    for f in (0.5, 1.0):
        q = (1 - f) / 3
        out = purify(BellDiagonal(np.array([f, q, q, q])), BellDiagonal(np.array([f, q, q, q])), scheme="bbpssw")
        assert float(out.states.fidelity) == pytest.approx(f, abs=1e-12)


@given(weights4)
def test_dejmps_matches_the_published_map(w: list[float]) -> None:
    """Deutsch et al. 1996 with (A, B, C, D) = (Φ+, Ψ−, Ψ+, Φ−): N = (A+B)² + (C+D)², A′ = (A²+B²)/N, ..."""
    pair = _bd(w)
    phi_p, phi_m, psi_p, psi_m = pair.weights
    a, b, c, d = phi_p, psi_m, psi_p, phi_m
    n = (a + b) ** 2 + (c + d) ** 2
    out = purify(pair, pair, scheme="dejmps")
    assert float(out.success_probability) == pytest.approx(n, abs=1e-12)
    if n > 1e-9:
        a2, b2, c2, d2 = (a * a + b * b) / n, 2 * c * d / n, (c * c + d * d) / n, 2 * a * b / n
        assert np.allclose(out.states.weights, [a2, d2, c2, b2], atol=1e-9)  # back to (Φ+, Φ−, Ψ+, Ψ−)


def test_dejmps_beats_bbpssw_from_the_second_round_on() -> None:
    """The point of Deutsch et al.: without re-twirling, DEJMPS gains more fidelity per round than BBPSSW."""
    pair = BellDiagonal.werner(0.6)  # F = 0.7; on Werner inputs the first rounds coincide
    fidelity = {}
    for scheme in PURIFICATION_SCHEMES:
        state = pair
        for _ in range(2):
            state = purify(state, state, scheme=scheme).states
        fidelity[scheme] = float(state.fidelity)
    first = {s: float(purify(pair, pair, scheme=s).states.fidelity) for s in PURIFICATION_SCHEMES}
    assert first["dejmps"] == pytest.approx(first["bbpssw"], abs=1e-12)
    assert fidelity["dejmps"] > fidelity["bbpssw"] + 0.01


@settings(max_examples=25, deadline=None)
@given(weights4, weights4, schemes)
def test_bell_diagonal_purification_matches_the_four_qubit_oracle(a: list[float], b: list[float], scheme: str) -> None:
    first, second = _bd(a), _bd(b)
    p, state = oracle.purify_kept(oracle.bell_diagonal(first.weights), oracle.bell_diagonal(second.weights), scheme)
    out = purify(first, second, scheme=scheme)  # type: ignore[arg-type]
    assert float(out.success_probability) == pytest.approx(p, abs=1e-12)
    if p > 1e-9:
        assert np.allclose(out.states.to_density(), state, atol=1e-9)


@pytest.mark.parametrize("scheme", PURIFICATION_SCHEMES)
def test_purification_branches_match_the_oracle_for_general_states(scheme: str) -> None:
    rng = np.random.default_rng(17)
    r1 = np.stack([random_density(rng) for _ in range(4)])
    r2 = np.stack([random_density(rng) for _ in range(4)])
    branches = purification_branches(r1, r2, scheme=scheme)  # type: ignore[arg-type]
    for n in range(4):
        expected = oracle.purify_branches(r1[n], r2[n], scheme)
        for k, key in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
            p, state = expected[key]
            assert np.trace(branches[n, k]).real == pytest.approx(p, abs=1e-12)
            assert np.allclose(branches[n, k] / p, state, atol=1e-10)


def test_twirl_matches_the_clifford_average() -> None:
    rng = np.random.default_rng(2)
    pair = _bd(rng.random(4))
    assert np.allclose(twirl(pair).to_density(), oracle.twirl(pair.to_density()), atol=1e-12)


@pytest.mark.parametrize("scheme", PURIFICATION_SCHEMES)
def test_sampled_success_follows_the_success_probability(scheme: str) -> None:
    n = 100_000
    pair = BellDiagonal.werner(0.7)
    out = sample_purification(pair, pair, scheme=scheme, rng=np.random.default_rng(6), n=n)  # type: ignore[arg-type]
    p = float(purify(pair, pair, scheme=scheme).success_probability)  # type: ignore[arg-type]
    assert abs(int(out.success.sum()) - n * p) < 5 * np.sqrt(n * p * (1 - p))
    assert np.all(out.success_probability == p)


def test_sampled_purification_of_batches_keeps_each_pairs_own_result() -> None:
    v = np.linspace(0.3, 1.0, 500)
    first, second = BellDiagonal.werner(v), BellDiagonal.werner(v[::-1])
    out = sample_purification(first, second, scheme="dejmps", rng=np.random.default_rng(1))
    full = purify(first, second, scheme="dejmps")
    assert np.allclose(out.states.weights, full.states.weights[out.success])
    assert np.allclose(out.success_probability, full.success_probability)


@pytest.mark.parametrize("scheme", PURIFICATION_SCHEMES)
def test_sampled_density_purification_matches_the_oracle(scheme: str) -> None:
    rng = np.random.default_rng(12)
    r1, r2 = random_density(rng), random_density(rng)
    n = 40_000
    out = sample_purification_density(
        np.repeat(r1[None], n, 0),
        np.repeat(r2[None], n, 0),
        scheme=scheme,  # type: ignore[arg-type]
        rng=np.random.default_rng(3),
    )
    p, kept = oracle.purify_kept(r1, r2, scheme)
    k = int(out.success.sum())
    assert abs(k - n * p) < 5 * np.sqrt(n * p * (1 - p))
    assert np.allclose(out.success_probability, p, atol=1e-12)
    assert np.abs(out.states.mean(axis=0) - kept).max() < 5 / (2 * np.sqrt(k))


def test_edges_are_exact() -> None:
    perfect = BellDiagonal.bell()
    for scheme in PURIFICATION_SCHEMES:
        out = purify(perfect, perfect, scheme=scheme)
        assert float(out.success_probability) == 1.0 and np.allclose(out.states.weights, [1, 0, 0, 0])
    # a Φ+ control with a Ψ+ target never passes the parity check (DEJMPS leaves both untouched)
    never = purify(BellDiagonal.bell("phi+"), BellDiagonal.bell("psi+"), scheme="dejmps")
    assert float(never.success_probability) == 0.0
    assert np.allclose(never.states.weights, 0.25)  # undefined, returned maximally mixed
    assert not sample_purification(
        BellDiagonal.bell("phi+"), BellDiagonal.bell("psi+"), scheme="dejmps", rng=np.random.default_rng(0), n=100
    ).success.any()


@settings(max_examples=50, deadline=None)
@given(weights4, weights4, schemes)
def test_purification_outputs_are_states(a: list[float], b: list[float], scheme: str) -> None:
    out = purify(_bd(a), _bd(b), scheme=scheme)  # type: ignore[arg-type]
    assert 0.0 <= float(out.success_probability) <= 1.0 + 1e-12
    assert np.all(out.states.weights >= -1e-15)
    assert out.states.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert is_density_matrix(out.states.to_density())


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), schemes)
def test_sampled_density_purification_outputs_are_states(seed: int, scheme: str) -> None:
    rng = np.random.default_rng(seed)
    r1 = np.stack([random_density(rng) for _ in range(8)])
    r2 = np.stack([random_density(rng) for _ in range(8)])
    out = sample_purification_density(r1, r2, scheme=scheme, rng=rng)  # type: ignore[arg-type]
    assert np.all((out.success_probability >= 0) & (out.success_probability <= 1 + 1e-12))
    assert is_density_matrix(out.states, atol=1e-9)


def test_bad_inputs_are_named() -> None:
    pair = BellDiagonal.werner(0.9)
    with pytest.raises(InvalidParameter, match="unknown purification scheme 'pumping'; expected one of bbpssw, dejmps"):
        purify(pair, pair, scheme="pumping")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="pass n"):
        sample_purification(pair, pair, rng=np.random.default_rng(0))
    with pytest.raises(InvalidParameter, match="cannot combine batches of 2 and 3"):
        purify(BellDiagonal.werner([0.9, 0.8]), BellDiagonal.werner([0.9, 0.8, 0.7]))
    with pytest.raises(InvalidParameter, match="second must be pair density matrices"):
        purification_branches(np.eye(4) / 4, np.eye(2))
