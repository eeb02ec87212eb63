"""States and channels, held against explicit formulas and the slow reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import InvalidParameter
from qkdnet.quantum import (
    BellDiagonal,
    amplitude_damping_kraus,
    apply_local_channel,
    bell_state,
    dephase,
    dephasing_kraus,
    dephasing_probability,
    depolarize,
    depolarizing_kraus,
    erasure_kraus,
    fidelity_to_bell,
    is_density_matrix,
    werner_state,
)
from qkdnet.quantum import reference as ref

from .helpers import random_density

probability = st.floats(0.0, 1.0, allow_nan=False)
BELLS = ("phi+", "phi-", "psi+", "psi-")


def test_bell_states_are_orthonormal_pure_states() -> None:
    rhos = [bell_state(name) for name in BELLS]
    for i, a in enumerate(rhos):
        assert is_density_matrix(a)
        for j, b in enumerate(rhos):
            assert np.trace(a @ b).real == pytest.approx(1.0 if i == j else 0.0, abs=1e-12)


def test_werner_fidelity_is_one_plus_three_v_over_four() -> None:
    for v in (0.0, 0.3, 0.8, 1.0):
        assert fidelity_to_bell(werner_state(v)) == pytest.approx((1 + 3 * v) / 4)


@pytest.mark.parametrize("name", BELLS)
def test_bell_diagonal_round_trips_through_density_matrices(name: str) -> None:
    bd = BellDiagonal.werner(0.6, name)  # type: ignore[arg-type]
    assert np.allclose(bd.to_density(), werner_state(0.6, name))  # type: ignore[arg-type]
    assert np.allclose(BellDiagonal.from_density(bd.to_density()).weights, bd.weights)


KRAUS_CASES = [
    (depolarizing_kraus, "depolarizing"),
    (dephasing_kraus, "dephasing"),
    (amplitude_damping_kraus, "damping"),
]


@pytest.mark.parametrize(("make", "name"), KRAUS_CASES)
@given(p=probability)
@settings(max_examples=25, deadline=None)
def test_kraus_sets_are_trace_preserving(make, name, p: float) -> None:
    k = make(p)
    assert np.allclose(np.einsum("kji,kjl->il", k.conj(), k), np.eye(2), atol=1e-12), name


@pytest.mark.parametrize(("make", "name"), KRAUS_CASES)
@given(p=probability, seed=st.integers(0, 2**32 - 1), target=st.sampled_from([0, 1]))
@settings(max_examples=25, deadline=None)
def test_channels_match_reference_and_keep_states_physical(make, name, p: float, seed: int, target: int) -> None:
    rho = random_density(np.random.default_rng(seed))
    k = make(p)
    out = apply_local_channel(rho, k, target=target)
    assert np.allclose(out, ref.apply_kraus(rho, list(k), target), atol=1e-12), name
    assert is_density_matrix(out, atol=1e-9)


def test_batched_kraus_gives_each_pair_its_own_channel() -> None:
    p = np.array([0.0, 0.5, 1.0])
    rho = np.broadcast_to(bell_state(), (3, 4, 4))
    out = apply_local_channel(rho, dephasing_kraus(p), target=1)
    for i, pi in enumerate(p):
        assert np.allclose(out[i], ref.apply_kraus(bell_state(), list(dephasing_kraus(pi)), 1))


def test_depolarizing_formula() -> None:
    """ρ → (1−p)ρ + p I/2 ⊗ Tr_B ρ, written independently."""
    rho = random_density(np.random.default_rng(3))
    p = 0.37
    rho_a = np.einsum("ibjb->ij", rho.reshape(2, 2, 2, 2))
    expected = (1 - p) * rho + p * np.kron(rho_a, np.eye(2) / 2)
    assert np.allclose(apply_local_channel(rho, depolarizing_kraus(p), target=1), expected)


def test_erasure_moves_weight_p_to_the_flag_state() -> None:
    out = apply_local_channel(bell_state(), erasure_kraus(0.25), target=1)
    assert out.shape == (6, 6)
    assert is_density_matrix(out)
    flagged = np.einsum("ibjb->b", out.reshape(2, 3, 2, 3)).real  # diagonal of Bob's reduced state
    assert flagged[2] == pytest.approx(0.25)


@given(p=probability, q=probability, name=st.sampled_from(BELLS))
@settings(max_examples=40, deadline=None)
def test_bell_diagonal_pauli_channels_match_kraus_form(p: float, q: float, name: str) -> None:
    bd = BellDiagonal.bell(name)  # type: ignore[arg-type]
    fast = dephase(depolarize(bd, p), q).to_density()
    slow = ref.apply_kraus(
        ref.apply_kraus(bd.to_density(), list(depolarizing_kraus(p)), 0), list(dephasing_kraus(q)), 1
    )
    assert np.allclose(fast, slow, atol=1e-12)


def test_dephasing_probability_matches_exponential_decay() -> None:
    t2 = 100e-6
    p = dephasing_probability(np.array([0.0, t2, 10 * t2]), t2)
    assert np.allclose(1 - 2 * p, np.exp(-np.array([0.0, 1.0, 10.0])))


@pytest.mark.parametrize("bad", [-0.1, 1.1, float("nan")])
def test_invalid_probabilities_raise(bad: float) -> None:
    with pytest.raises(InvalidParameter):
        werner_state(bad)
    with pytest.raises(InvalidParameter):
        depolarizing_kraus(bad)
    with pytest.raises(InvalidParameter):
        depolarize(BellDiagonal.bell(), bad)


def test_bell_diagonal_rejects_unnormalised_weights() -> None:
    with pytest.raises(InvalidParameter):
        BellDiagonal(np.array([0.5, 0.5, 0.5, 0.0]))
