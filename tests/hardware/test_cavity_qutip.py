"""CavityQED against an independent oracle: the atom-cavity master equation solved with QuTiP.

Units inside the QuTiP models: time in µs, rates in rad/µs (2π × MHz). The Hamiltonians are written here
from scratch (Jaynes–Cummings coupling g(a†σ + aσ†), cavity field decay κ → collapse √(2κ) a, dipole decay
γ → collapse √(2γ) σ), so the only thing shared with the model is the parameter values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import qutip

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import AtomCavityNode, CavityQED

TWO_PI = 2.0 * math.pi
N_FOCK = 3


def _solve(h: object, psi0: qutip.Qobj, c_ops: list[qutip.Qobj], times_us: np.ndarray, e_ops: list[qutip.Qobj]):
    opts = {"atol": 1e-10, "rtol": 1e-8, "nsteps": 100_000, "max_step": float(times_us[1] - times_us[0])}
    return qutip.mesolve(h, psi0, times_us, c_ops=c_ops, e_ops=e_ops, options=opts)


def excited_atom_photon_flux(cavity: CavityQED, times_us: np.ndarray) -> np.ndarray:
    """Two-level atom starting in |e>, empty cavity: output flux 2κ_out⟨a†a⟩ in 1/µs."""
    g, k, y = (TWO_PI * v for v in (cavity.g_mhz, cavity.kappa_mhz, cavity.gamma_mhz))
    a = qutip.tensor(qutip.destroy(N_FOCK), qutip.qeye(2))
    sm = qutip.tensor(qutip.qeye(N_FOCK), qutip.destroy(2))  # |e> = basis(2, 1)
    h = g * (a.dag() * sm + a * sm.dag())
    psi0 = qutip.tensor(qutip.basis(N_FOCK, 0), qutip.basis(2, 1))
    result = _solve(h, psi0, [math.sqrt(2 * k) * a, math.sqrt(2 * y) * sm], times_us, [a.dag() * a])
    return 2.0 * k * cavity.output_coupling * np.asarray(result.expect[0])


def lambda_atom_photon_flux(cavity: CavityQED, times_us: np.ndarray, pump_mhz: np.ndarray) -> np.ndarray:
    """Λ atom |u> –Ω(t)– |e> –g– |g> in a resonant cavity; spontaneous decay to a dark level |x>."""
    g, k, y = (TWO_PI * v for v in (cavity.g_mhz, cavity.kappa_mhz, cavity.gamma_mhz))
    u, e, gr, x = (qutip.basis(4, i) for i in range(4))
    a = qutip.tensor(qutip.destroy(N_FOCK), qutip.qeye(4))

    def atom(op: qutip.Qobj) -> qutip.Qobj:
        return qutip.tensor(qutip.qeye(N_FOCK), op)

    coupling = g * (a.dag() * atom(gr * e.dag()) + a * atom(e * gr.dag()))
    drive = 0.5 * (atom(e * u.dag()) + atom(u * e.dag()))
    omega = qutip.coefficient(TWO_PI * pump_mhz, tlist=times_us)
    h = [coupling, [drive, omega]]
    psi0 = qutip.tensor(qutip.basis(N_FOCK, 0), u)
    c_ops = [math.sqrt(2 * k) * a, math.sqrt(2 * y) * atom(x * e.dag())]
    result = _solve(h, psi0, c_ops, times_us, [a.dag() * a])
    return 2.0 * k * cavity.output_coupling * np.asarray(result.expect[0])


@pytest.mark.parametrize(
    ("g", "kappa", "gamma", "out"),
    [(5.0, 3.0, 3.03, 0.89), (2.0, 30.0, 3.0, 1.0), (10.0, 1.0, 3.0, 0.5), (3.0, 3.0, 3.0, 1.0)],
)
def test_excited_atom_flux_and_efficiency_match_the_master_equation(
    g: float, kappa: float, gamma: float, out: float
) -> None:
    cavity = CavityQED(g, kappa, gamma, out)
    times_us = np.linspace(0.0, 3.0, 3001)
    oracle_per_us = excited_atom_photon_flux(cavity, times_us)
    model_per_us = cavity.excited_state_flux(times_us * 1e-6) * 1e-6
    scale = oracle_per_us.max()
    np.testing.assert_allclose(model_per_us, oracle_per_us, atol=2e-6 * scale + 1e-9)
    oracle_efficiency = np.trapezoid(oracle_per_us, times_us)
    assert cavity.excited_state_emission_efficiency == pytest.approx(oracle_efficiency, rel=2e-4)


def test_vstirap_efficiency_is_2c_over_2c_plus_1() -> None:
    # The seed's node: C ≈ 1.4. A slow sin² ramp of the pump transfers the atom adiabatically.
    cavity = CavityQED(g_mhz=5.0, kappa_mhz=3.0, gamma_mhz=3.03, output_coupling=0.89)
    times_us = np.linspace(0.0, 12.0, 6001)
    ramp_us = 8.0
    pump = 30.0 * np.sin(np.pi / 2 * np.clip(times_us / ramp_us, 0.0, 1.0)) ** 2
    oracle = np.trapezoid(lambda_atom_photon_flux(cavity, times_us, pump), times_us)
    # Non-adiabatic corrections shrink as the ramp slows; at this ramp they are below 2 %.
    assert cavity.emission_efficiency == pytest.approx(oracle, rel=0.02)
    assert cavity.absorption_efficiency == cavity.emission_efficiency


def test_raman_photon_shape_in_the_bad_cavity_limit() -> None:
    # κ ≫ g and a weak constant pump: the adiabatically eliminated model holds.
    cavity = CavityQED(g_mhz=5.0, kappa_mhz=40.0, gamma_mhz=3.03, output_coupling=1.0)
    times_us = np.linspace(0.0, 4.0, 4001)
    pump_mhz = 1.0
    oracle_per_us = lambda_atom_photon_flux(cavity, times_us, np.full_like(times_us, pump_mhz))
    model_per_us = cavity.photon_flux(times_us * 1e-6, pump_mhz) * 1e-6
    # After the ~0.1 µs build-up of the excited-state amplitude (which the eliminated model skips) the shapes
    # agree to the size of the neglected terms, (Ω/2(γ + g²/κ))² ≈ 2 %, accumulated over a few decay times.
    late = times_us > 0.2
    np.testing.assert_allclose(model_per_us[late], oracle_per_us[late], rtol=0.10)
    # The photon's total probability and its mean emission time agree closely.
    assert np.trapezoid(model_per_us, times_us) == pytest.approx(np.trapezoid(oracle_per_us, times_us), rel=1e-3)
    mean_t = [np.trapezoid(times_us * f, times_us) / np.trapezoid(f, times_us) for f in (model_per_us, oracle_per_us)]
    assert mean_t[0] == pytest.approx(mean_t[1], rel=0.05)


def test_time_dependent_pump_shape_integrates_the_rate() -> None:
    cavity = CavityQED(g_mhz=5.0, kappa_mhz=40.0, gamma_mhz=3.03)
    t_s = np.linspace(0.0, 5e-6, 5001)
    pump = np.where(t_s < 1e-6, 0.0, 1.0)
    flux = cavity.photon_flux(t_s, pump)
    assert np.all(flux[t_s < 1e-6] == 0.0)
    assert np.trapezoid(flux, t_s) == pytest.approx(
        cavity.emission_efficiency * (1 - math.exp(-4e-6 / cavity.photon_duration_s(1.0))), rel=1e-3
    )


def test_cooperativity_and_node_from_cavity() -> None:
    cavity = CavityQED(g_mhz=7.0, kappa_mhz=2.5, gamma_mhz=3.0, output_coupling=0.8)
    c = 49.0 / (2 * 2.5 * 3.0)
    assert cavity.cooperativity == pytest.approx(c)
    assert cavity.emission_efficiency == pytest.approx(2 * c / (2 * c + 1) * 0.8)
    node = AtomCavityNode.from_cavity(
        "A", cavity, extraction_efficiency=0.5, atom_photon_fidelity=0.9, t2_s=1e-4, mode_matching=0.7
    )
    assert node.photon_generation_efficiency == pytest.approx(cavity.emission_efficiency * 0.5)
    assert node.photon_absorption_efficiency == pytest.approx(cavity.emission_efficiency * 0.7)
    assert node.cavity is cavity


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"g_mhz": -1.0}, "CavityQED.g_mhz"),
        ({"kappa_mhz": 0.0}, "CavityQED.kappa_mhz"),
        ({"gamma_mhz": math.nan}, "CavityQED.gamma_mhz"),
        ({"output_coupling": 1.2}, "CavityQED.output_coupling"),
    ],
)
def test_cavity_validation_names_the_field(kwargs: dict[str, float], field: str) -> None:
    base = {"g_mhz": 5.0, "kappa_mhz": 3.0, "gamma_mhz": 3.0}
    base.update(kwargs)
    with pytest.raises(InvalidParameter, match=field.replace(".", r"\.")):
        CavityQED(**base)
    with pytest.raises(InvalidParameter, match="pump"):
        CavityQED(5.0, 3.0, 3.0).photon_duration_s(0.0)
