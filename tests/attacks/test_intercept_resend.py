"""Intercept-resend against the closed forms, and Eve's record."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.attacks import InterceptResend
from qkdnet.quantum import BellDiagonal, is_density_matrix, joint_probabilities
from qkdnet.quantum import reference as ref


def test_attacked_pairs_are_the_measure_and_resend_states() -> None:
    """Each attacked pair equals an explicit projector calculation: Alice's conditional state ⊗ Eve's resent state."""
    rng = np.random.default_rng(0)
    state = BellDiagonal.werner(0.9)
    hit = InterceptResend(1.0).attack(state, 200, rng=rng)
    assert hit.attacked_index.size == 200 and hit.record.attacked.all()
    rho = state.to_density()
    for i in range(0, 200, 37):
        basis, k = hit.record.basis_deg[i], int(hit.record.outcome[i])
        proj_b = ref.projector(basis, k)
        cond = np.einsum(
            "ibjb->ij", (np.kron(np.eye(2), proj_b) @ rho @ np.kron(np.eye(2), proj_b)).reshape(2, 2, 2, 2)
        )
        cond /= np.trace(cond)
        assert np.allclose(hit.attacked_states.rho_a[i], cond)
        assert np.allclose(hit.attacked_states.rho_b[i], proj_b)
        assert is_density_matrix(hit.attacked_states.to_density()[i])


def test_eve_basis_is_random_z_or_x_and_her_outcomes_are_fair() -> None:
    n = 100_000
    hit = InterceptResend(0.5).attack(BellDiagonal.bell(), n, rng=np.random.default_rng(1))
    frac = hit.record.attacked.mean()
    assert abs(frac - 0.5) < 5 * math.sqrt(0.25 / n)
    bases = hit.record.basis_deg[hit.record.attacked]
    assert set(np.unique(bases)) == {0.0, 45.0}
    assert np.isnan(hit.record.basis_deg[~hit.record.attacked]).all()
    m = bases.size
    assert abs((bases == 0.0).mean() - 0.5) < 5 * math.sqrt(0.25 / m)
    assert abs(hit.record.outcome[hit.record.attacked].mean() - 0.5) < 5 * math.sqrt(0.25 / m)


def test_eve_knows_the_key_bit_when_she_guessed_the_basis() -> None:
    """Measuring in Alice's basis, Eve's outcome equals Alice's on a perfect Φ+ pair (exact)."""
    hit = InterceptResend(1.0).attack(BellDiagonal.bell(), 1000, rng=np.random.default_rng(2))
    for i in range(0, 1000, 97):
        p = joint_probabilities(
            type(hit.attacked_states)(hit.attacked_states.rho_a[i : i + 1], hit.attacked_states.rho_b[i : i + 1]),
            hit.record.basis_deg[i],
            hit.record.basis_deg[i],
        )[0]
        k = int(hit.record.outcome[i])
        assert p[3 * k] == pytest.approx(1.0)  # Alice and Bob both see Eve's outcome k
