"""The FGGNP entangling probe against an independent circuit model (QuTiP), the published curve, and in key runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.attacks import PhaseCovariantCloner, fggnp_information
from qkdnet.errors import InvalidParameter
from qkdnet.network import WernerSource
from qkdnet.qkd import BBM92, E91, eve_report, run_key_exchange
from qkdnet.quantum import BellDiagonal, joint_probabilities, pauli_channel
from qkdnet.quantum import reference as ref

ANGLES = (0.0, 22.5, 33.75, 45.0, 67.5, 10.0)


def h(p: float) -> float:
    return 0.0 if p in (0.0, 1.0) else -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def circuit_model(d: float):
    """FGGNP's probe as a circuit: two ancillas in √(1−D)|0> + √D|1> control a Z and then an X on Bob's photon.

    Returns the QuTiP state of (Alice, Bob, E_x, E_z) for a Φ+ input.
    """
    qt = pytest.importorskip("qutip")
    anc = (math.sqrt(1 - d) * qt.basis(2, 0) + math.sqrt(d) * qt.basis(2, 1)).unit()
    phi = (qt.tensor(qt.basis(2, 0), qt.basis(2, 0)) + qt.tensor(qt.basis(2, 1), qt.basis(2, 1))).unit()
    psi = qt.tensor(phi, anc, anc)
    i2, p0, p1 = qt.qeye(2), qt.basis(2, 0).proj(), qt.basis(2, 1).proj()
    cz = qt.tensor(i2, i2, i2, p0) + qt.tensor(i2, qt.sigmaz(), i2, p1)  # E_z controls Z on Bob
    cx = qt.tensor(i2, i2, p0, i2) + qt.tensor(i2, qt.sigmax(), p1, i2)  # E_x controls X on Bob
    return cx * cz * psi


def polarization_projector(angle_deg: float, k: int):
    qt = pytest.importorskip("qutip")
    return qt.Qobj(ref.projector(angle_deg, k))


@pytest.mark.parametrize("d", [0.0, 0.05, 0.1464, 0.3, 0.5])
def test_pairs_match_the_circuit_model_and_the_pauli_channel(d: float) -> None:
    """Alice–Bob's state after the probe: QuTiP's circuit, our Pauli channel and our Kraus isometry agree."""
    state = circuit_model(d)
    rho_ab = state.ptrace([0, 1]).full()
    cloner = PhaseCovariantCloner(d)
    expected = pauli_channel(BellDiagonal.bell(), p_x=d * (1 - d), p_y=d * d, p_z=d * (1 - d)).to_density()
    assert np.allclose(rho_ab, expected, atol=1e-12)
    hit = cloner.attack(BellDiagonal.bell(), 3, rng=np.random.default_rng(0))
    assert np.allclose(hit.attacked_states.to_density(), expected, atol=1e-12)
    v = cloner.isometry
    assert np.allclose(v.conj().T @ v, np.eye(2))
    kraus = [v.reshape(2, 4, 2)[:, e, :] for e in range(4)]  # Kraus operator of probe state |e>
    phi_plus = np.outer([1, 0, 0, 1], [1, 0, 0, 1]).astype(np.complex128) / 2
    assert np.allclose(ref.apply_kraus(phi_plus, kraus, target=1), expected, atol=1e-12)


@pytest.mark.parametrize("d", [0.02, 0.1, 0.1464, 0.3])
@pytest.mark.parametrize("angle", ANGLES)
def test_eve_guessing_probability_is_fggnp_at_every_angle(d: float, angle: float) -> None:
    """Helstrom on the circuit model's conditional probe states (computed by QuTiP) = ours = 1/2 + √(D(1 − D))."""
    qt = pytest.importorskip("qutip")
    rho = circuit_model(d).proj()
    i2 = qt.qeye(2)
    conditional = [(qt.tensor(polarization_projector(angle, x), i2, i2, i2) * rho).ptrace([2, 3]) for x in (0, 1)]
    helstrom = 0.5 + 0.5 * float(np.abs((conditional[0] - conditional[1]).eigenenergies()).sum())
    _, ours = PhaseCovariantCloner(d).eve_measurement(angle)
    assert ours == pytest.approx(helstrom, abs=1e-10)
    assert ours == pytest.approx(0.5 + math.sqrt(d * (1 - d)), abs=1e-10)


@settings(max_examples=40, deadline=None)
@given(d=st.floats(0.0, 0.5), angle=st.floats(-90.0, 90.0))
def test_joint_distribution_is_consistent_and_gives_the_fggnp_information(d: float, angle: float) -> None:
    """Summing Eve's outcome out gives the pair's Born probabilities; I(A; E) from the table is FGGNP's I_E(D)."""
    from qkdnet.attacks.cloner import _effective_operators

    rho = BellDiagonal.bell().to_density()
    ops = _effective_operators(d, angle, angle)
    table = np.einsum("ij,xygji->xyg", rho, ops).real
    assert table.min() > -1e-12 and table.sum() == pytest.approx(1.0)
    after = pauli_channel(BellDiagonal.bell(), p_x=d * (1 - d), p_y=d * d, p_z=d * (1 - d))
    assert np.allclose(table.sum(axis=2).ravel(), joint_probabilities(after, angle, angle), atol=1e-12)
    assert table[0, 1].sum() + table[1, 0].sum() == pytest.approx(d, abs=1e-12)  # QBER D at any angle
    p_xg = table.sum(axis=1)
    px, pg = p_xg.sum(axis=1), p_xg.sum(axis=0)
    info = sum(
        p_xg[x, g] * math.log2(p_xg[x, g] / (px[x] * pg[g])) for x in (0, 1) for g in (0, 1) if p_xg[x, g] > 1e-15
    )
    assert info == pytest.approx(fggnp_information(d), abs=1e-9)


def test_fggnp_information_published_points() -> None:
    """I_E(0) = 0, I_E(1/2) = 1, and I_E = I_AB = 1 − h(D) at D = (1 − 1/√2)/2 ≈ 0.1464 (FGGNP 1997)."""
    assert fggnp_information(0.0) == 0.0
    assert fggnp_information(0.5) == pytest.approx(1.0)
    d_star = (1 - 1 / math.sqrt(2)) / 2
    assert fggnp_information(d_star) == pytest.approx(1 - h(d_star), abs=1e-12)
    with pytest.raises(InvalidParameter, match="disturbance"):
        fggnp_information(0.6)
    with pytest.raises(InvalidParameter, match="disturbance"):
        PhaseCovariantCloner(0.51)


def test_density_and_bell_diagonal_inputs_give_the_same_guesses() -> None:
    """The per-pair density-matrix path and the Bell-diagonal path compute the same P(g | x, y)."""
    rng = np.random.default_rng(3)
    n = 4000
    w = rng.dirichlet(np.ones(4), size=n)
    cloner = PhaseCovariantCloner(0.2)
    angles_a = rng.choice(np.array(ANGLES), n)
    angles_b = rng.choice(np.array(ANGLES), n)
    x = rng.integers(0, 2, n, dtype=np.uint8)
    y = rng.integers(0, 2, n, dtype=np.uint8)
    results = []
    for states in (BellDiagonal(w), BellDiagonal(w).to_density()):
        record = cloner.attack(states, n, rng=np.random.default_rng(9)).record
        results.append(record.guesses(angles_a, angles_b, x, y, rng=np.random.default_rng(7)))
    assert np.array_equal(results[0].guess, results[1].guess)
    assert np.allclose(results[0].confidence, results[1].confidence)


@pytest.mark.parametrize(("protocol", "d"), [(BBM92, 0.05), (E91, 0.05), (E91, 0.1), (BBM92, 0.1464)])
def test_key_runs_follow_the_information_disturbance_curve(protocol, d: float) -> None:
    """On ideal pairs: QBER = D, S = 2√2(1 − 2D), Eve right on 1/2 + √(D(1 − D)) of sifted bits, I_E = FGGNP's."""
    r = run_key_exchange(WernerSource(1.0, 1e6), protocol, 300_000, seed=21, attack=PhaseCovariantCloner(d))
    assert abs(r.qber - d) <= 5 * r.qber_stderr
    if r.chsh_s is not None and r.chsh_s_stderr is not None:
        assert abs(r.chsh_s - 2 * math.sqrt(2) * (1 - 2 * d)) <= 5 * r.chsh_s_stderr
    eve = eve_report(r).sifted
    assert abs(eve.guess_accuracy.value - (0.5 + math.sqrt(d * (1 - d)))) <= 5 * eve.guess_accuracy.stderr
    mi = eve.mutual_information
    assert abs(mi.plugin_bits - mi.bias_bits - fggnp_information(d)) <= 5 * mi.stderr_bits + 2 * mi.bias_bits
