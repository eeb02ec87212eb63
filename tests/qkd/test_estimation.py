"""Sifting, estimators and the no-signalling test on synthetic records with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.qkd import BBM92, E91, chsh, correlation_table, no_signalling_test, phase_error, sift
from qkdnet.quantum import BellDiagonal, dephase, sample_setting_outcomes


def test_sifting_keeps_exactly_the_aligned_settings() -> None:
    sa = np.array([0, 1, 2, 1, 2, 0, 1], dtype=np.uint8)
    sb = np.array([0, 0, 1, 1, 0, 2, 0], dtype=np.uint8)
    s = sift(E91, sa, sb)
    # E91 key settings: (Alice 22.5° = 1, Bob 22.5° = 0) and (Alice 45° = 2, Bob 45° = 1)
    assert s.key_index.tolist() == [1, 2, 6]
    assert s.key_basis.tolist() == [0, 1, 0]


def _records(states, protocol, n: int, seed: int):
    rng = np.random.default_rng(seed)
    sa = rng.integers(0, len(protocol.alice_angles_deg), n).astype(np.uint8)
    sb = rng.integers(0, len(protocol.bob_angles_deg), n).astype(np.uint8)
    x, y = sample_setting_outcomes(states, protocol.alice_angles_deg, protocol.bob_angles_deg, sa, sb, rng=rng)
    return sa, sb, x, y


@pytest.mark.parametrize("v", [1.0, 0.9, 0.7])
def test_chsh_of_werner_pairs_is_two_root_two_v(v: float) -> None:
    sa, sb, x, y = _records(BellDiagonal.werner(v), E91, 300_000, seed=1)
    s = chsh(E91, correlation_table(3, 3, sa, sb, x, y))
    assert abs(s.value - 2 * math.sqrt(2) * v) < 5 * s.stderr
    # the standard error is the one of four correlators from ~n/9 pairs each
    expected_err = math.sqrt(4 * (1 - 0.5 * v**2) / (300_000 / 9))
    assert s.stderr == pytest.approx(expected_err, rel=0.05)


def test_phase_error_from_correlation_tensor_matches_analytic_dephasing() -> None:
    """(1−p)Φ+ + pΦ−: T_zz = 1, T_xx = 1 − 2p. Phase error of key basis θ: (1 − E(θ+45°, θ+45°))/2."""
    p = 0.1
    states = dephase(BellDiagonal.bell(), p)
    sa, sb, x, y = _records(states, E91, 400_000, seed=2)
    table = correlation_table(3, 3, sa, sb, x, y)
    for basis in (0, 1):
        theta = math.radians(2 * (E91.key_basis_angle_deg(basis) + 45))
        expected = (1 - (math.cos(theta) ** 2 + (1 - 2 * p) * math.sin(theta) ** 2)) / 2
        est = phase_error(E91, table, basis)
        assert abs(est.value - expected) < 5 * est.stderr, basis


def test_bbm92_phase_error_is_the_other_bases_error_rate() -> None:
    p = 0.08
    sa, sb, x, y = _records(dephase(BellDiagonal.bell(), p), BBM92, 200_000, seed=3)
    table = correlation_table(2, 2, sa, sb, x, y)
    z_phase = phase_error(BBM92, table, 0)  # conjugate of Z is X, whose error rate is p
    x_phase = phase_error(BBM92, table, 1)  # conjugate of X is Z: no errors from Z dephasing
    assert abs(z_phase.value - p) < 5 * z_phase.stderr
    assert x_phase.value < 5 * x_phase.stderr + 1e-3


def test_no_signalling_holds_for_honest_pairs_and_catches_a_fake() -> None:
    sa, sb, _, y = _records(BellDiagonal.werner(0.9), E91, 200_000, seed=4)
    honest = no_signalling_test(3, 3, sa, sb, y)
    assert honest.p_value > 1e-3
    assert np.all(np.abs(honest.bob_zero_frequency - 0.5) < 5 * honest.stderr)
    # A fake "signalling" source: Bob's outcome is biased toward 0 whenever Alice chose setting 2.
    rng = np.random.default_rng(5)
    fake_y = np.where(sa == 2, (rng.random(sa.size) < 0.47).astype(np.uint8), y)
    faked = no_signalling_test(3, 3, sa, sb, fake_y)
    assert faked.p_value < 1e-6


def test_chi2_survival_is_scipy_stats_chi2_sf_bit_for_bit() -> None:
    """The scipy.special evaluation equals scipy.stats' (the oracle), down to 1 for statistics at or below 0."""
    from scipy.stats import chi2

    from qkdnet.qkd.estimation import chi2_survival

    stats = [-1.0, -1e-17, 0.0, 1e-300, 1e-9, 0.3, 1.0, 2.5, 7.0, 30.0, 150.0, 1e3, 1e5, math.inf]
    for dof in (1, 2, 3, 4, 6, 9, 50):
        for stat in stats:
            assert chi2_survival(stat, dof) == float(chi2.sf(stat, dof)), (stat, dof)
    assert chi2_survival(-1e-17, 2) == 1.0  # chdtrc itself is NaN below 0: the clamp is what makes it equal


def test_no_signalling_statistic_and_p_value_match_scipy_contingency_tests() -> None:
    """Per Bob setting, Pearson's chi-square of independence (scipy.stats.chi2_contingency, no continuity
    correction) summed over Bob's settings; the p-value is chi2.sf of the sum with the summed degrees of freedom."""
    from scipy.stats import chi2, chi2_contingency

    sa, sb, _, y = _records(BellDiagonal.werner(0.9), E91, 50_000, seed=6)
    rng = np.random.default_rng(7)
    y = np.where(sa == 1, (rng.random(sa.size) < 0.47).astype(np.uint8), y)  # a weak signal: p not ~1 nor ~0
    test = no_signalling_test(3, 3, sa, sb, y)
    stat, dof = 0.0, 0
    for j in range(3):
        table = np.array([[np.sum((sa == i) & (sb == j) & (y == o)) for o in (0, 1)] for i in range(3)])
        res = chi2_contingency(table, correction=False)
        stat += float(res.statistic)
        dof += int(res.dof)
    assert test.dof == dof == 6
    assert test.chi2 == pytest.approx(stat, rel=1e-12)
    assert test.p_value == pytest.approx(float(chi2.sf(stat, dof)), rel=1e-9)
    assert 1e-12 < test.p_value < 0.5
