"""Source replacement: Eve's own pairs, from classically correlated to perfect Φ+, against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.attacks import SourceReplacement
from qkdnet.attacks._probe import eve_states_given_alice, helstrom
from qkdnet.errors import InvalidParameter
from qkdnet.network import WernerSource
from qkdnet.qkd import BBM92, E91, eve_report, run_key_exchange
from qkdnet.quantum import BellDiagonal, bell_state, is_density_matrix, joint_probabilities
from qkdnet.quantum import reference as ref


def test_no_knowledge_means_perfect_pairs_and_full_knowledge_classical_ones() -> None:
    assert np.allclose(SourceReplacement(0.0).pair_state(0.0), bell_state("phi+"))
    assert np.allclose(SourceReplacement(0.0).pair_state(30.0), bell_state("phi+"))  # Φ+ is the same in every basis
    classical = SourceReplacement(1.0).pair_state(45.0)
    expected = (
        np.kron(ref.projector(45, 0), ref.projector(45, 0)) + np.kron(ref.projector(45, 1), ref.projector(45, 1))
    ) / 2
    assert np.allclose(classical, expected)


@pytest.mark.parametrize("knowledge", [0.0, 0.2, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("basis", [0.0, 45.0, 22.5])
def test_eve_guess_in_her_basis_is_helstrom_of_her_two_copies(knowledge: float, basis: float) -> None:
    """In her own basis Eve tells |e_0> from |e_1> (overlap c): right with (1 + √(1 − c²))/2; conjugate basis: 1/2."""
    src = SourceReplacement(knowledge)
    c = src.overlap
    psi = src.tripartite_state(basis)
    assert np.linalg.norm(psi) == pytest.approx(1.0)
    assert is_density_matrix(src.pair_state(basis))
    _, own = helstrom(eve_states_given_alice(psi, basis))
    assert own == pytest.approx((1 + math.sqrt(1 - c * c)) / 2, abs=1e-12)
    _, conjugate = helstrom(eve_states_given_alice(psi, basis + 45.0))
    assert conjugate == pytest.approx(0.5, abs=1e-12)
    # the pair's concurrence-like coherence: <Φ+_θ|ρ|Φ+_θ> = (1 + c)/2 for the rotated Φ+ (which is Φ+ itself)
    assert float(np.real(bell_state("phi+").ravel() @ src.pair_state(basis).ravel())) == pytest.approx((1 + c) / 2)


@pytest.mark.parametrize("s", [0.0, 0.3, 1.0])
def test_bbm92_sees_q_s_over_4_and_eve_keeps_her_share(s: float) -> None:
    """Z/X pairs, Z/X key bases: Q = s/4 and Eve is right on 1/2 + √(1 − (1 − s)²)/4 of the sifted bits."""
    r = run_key_exchange(WernerSource(0.5, 1e6), BBM92, 200_000, seed=4, attack=SourceReplacement(s))
    assert abs(r.qber - s / 4) <= 5 * max(r.qber_stderr, 1e-4)
    eve = eve_report(r).sifted
    expected = 0.5 + math.sqrt(1 - (1 - s) ** 2) / 4
    assert abs(eve.guess_accuracy.value - expected) <= 5 * eve.guess_accuracy.stderr
    if s == 1.0:
        assert not r.secure and r.final_key_bits == 0


def test_e91_chsh_falls_like_intercept_resend() -> None:
    """Averaged over Eve's Z/X bases the pairs give E(a, b) = (1 + c)/2 · cos 2(a − b): S = √2(1 + c)."""
    for s in (0.4, 1.0):
        r = run_key_exchange(WernerSource(1.0, 1e6), E91, 200_000, seed=6, attack=SourceReplacement(s))
        assert r.chsh_s is not None and r.chsh_s_stderr is not None
        assert abs(r.chsh_s - math.sqrt(2) * (2 - s)) <= 5 * r.chsh_s_stderr


def test_off_axis_bases_keep_full_density_matrices() -> None:
    src = SourceReplacement(0.7, bases_deg=(22.5,))
    hit = src.attack(BellDiagonal.bell(), 10, rng=np.random.default_rng(1))
    assert isinstance(hit.attacked_states, np.ndarray) and hit.attacked_states.shape == (10, 4, 4)
    on_axis = SourceReplacement(0.7).attack(BellDiagonal.bell(), 10, rng=np.random.default_rng(1))
    assert isinstance(on_axis.attacked_states, BellDiagonal)
    p = joint_probabilities(hit.attacked_states[0], 22.5, 22.5)
    assert p[1] + p[2] == pytest.approx(0.0, abs=1e-12)  # no errors in Eve's own basis


def test_bad_parameters() -> None:
    with pytest.raises(InvalidParameter, match="knowledge"):
        SourceReplacement(1.2)
    with pytest.raises(InvalidParameter, match="fraction"):
        SourceReplacement(0.5, fraction=-0.1)
    with pytest.raises(InvalidParameter, match="bases"):
        SourceReplacement(0.5, bases_deg=())
