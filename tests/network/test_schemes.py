"""The link schemes against closed forms derived here: loss, dark counts → QBER, timing, single-click
trade-off, state transfer, and the common Link interface."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import AtomCavityNode, BellStateMeasurement, Detector, Fiber, FrequencyConverter, preset_names
from qkdnet.network import (
    HeraldedLink,
    Link,
    SingleClickLink,
    StateTransferLink,
    TwoNodeLink,
    TwoPhotonLink,
    link_from_preset,
)


def node(name: str = "A", *, eta: float = 0.2, fidelity: float = 1.0, t2_s: float = math.inf) -> AtomCavityNode:
    return AtomCavityNode(name, photon_generation_efficiency=eta, atom_photon_fidelity=fidelity, t2_s=t2_s)


def two_photon(
    *,
    length_km: float = 10.0,
    alpha: float = 0.2,
    eta: float = 0.2,
    eta_det: float = 0.8,
    dark: float = 0.0,
    overlap: float = 1.0,
    fidelity: float = 1.0,
    t2_s: float = math.inf,
    rate_hz: float = 1e6,
    converter: FrequencyConverter | None = None,
    window_s: float = math.inf,
) -> TwoPhotonLink:
    fiber = Fiber(length_km / 2, alpha)
    return TwoPhotonLink(
        node("A", eta=eta, fidelity=fidelity, t2_s=t2_s),
        node("B", eta=eta, fidelity=fidelity, t2_s=t2_s),
        fiber,
        fiber,
        BellStateMeasurement(Detector(eta_det, dark, window_s=window_s), overlap),
        attempt_rate_hz=rate_hz,
        converter=converter,
    )


# ---- two-photon heralding ------------------------------------------------------------------------
@pytest.mark.parametrize(("length_km", "alpha"), [(0.0, 0.2), (10.0, 0.2), (33.0, 0.2), (2.0, 3.5)])
def test_loss_gives_success_half_eta_squared_times_transmission(length_km: float, alpha: float) -> None:
    link = two_photon(length_km=length_km, alpha=alpha, eta=0.3, eta_det=0.9)
    eta = 0.3 * 0.9
    # ½ · η_A η_B · 10^(−αL/10): the two arms together carry the whole fiber's loss once.
    assert link.success_probability == pytest.approx(0.5 * eta * eta * 10 ** (-alpha * length_km / 10), rel=1e-12)
    n = 20_000
    pairs = link.generate(n, rng=np.random.default_rng(1))
    p = link.success_probability
    mean_k = pairs.attempts / n
    assert abs(mean_k - 1 / p) < 5 * math.sqrt((1 - p) / p**2 / n)


def test_dark_counts_raise_qber_as_the_formula_says() -> None:
    p_a = 0.2 * 0.8 * 10 ** (-0.2 * 5 / 10)
    for dark in (0.0, 1e-4, 1e-3, 1e-2):
        link = two_photon(dark=dark)
        s = (1 - dark) ** 2
        p_true = 0.5 * p_a * p_a * s
        p_false = (2 * p_a * (1 - p_a) + 0.5 * p_a * p_a) * 2 * dark * s + (1 - p_a) ** 2 * 4 * dark * dark * s
        f = p_false / (p_true + p_false)
        # perfect true pairs have no errors; false ones are random: Q = f/2 in every basis.
        assert link.expected_qber_z == pytest.approx(f / 2, rel=1e-9, abs=1e-15)
        assert link.expected_qber_x == pytest.approx(f / 2, rel=1e-9, abs=1e-15)
        assert link.false_herald_fraction == pytest.approx(f, rel=1e-9, abs=1e-15)
    assert two_photon(dark=1e-3).expected_qber > two_photon(dark=1e-4).expected_qber


def test_sampled_false_heralds_follow_the_fraction() -> None:
    link = two_photon(dark=5e-3)
    f = link.false_herald_fraction
    n = 50_000
    pairs = link.generate(n, rng=np.random.default_rng(9))
    assert abs(pairs.false_herald.mean() - f) < 5 * math.sqrt(f * (1 - f) / n)
    np.testing.assert_allclose(pairs.states.weights[pairs.false_herald], 0.25)
    np.testing.assert_allclose(pairs.states.fidelity[~pairs.false_herald], 1.0)


def test_pair_state_werner_and_interference() -> None:
    link = two_photon(fidelity=0.95, overlap=0.9, length_km=0.0)
    v = (4 * 0.95 - 1) / 3
    t_z, t_x = v * v, v * v * 0.9
    w = link.expected_weights().weights
    assert w[0] == pytest.approx((1 + t_z + 2 * t_x) / 4)
    assert link.expected_qber_z == pytest.approx((1 - t_z) / 2)
    assert link.expected_qber_x == pytest.approx((1 - t_x) / 2)
    assert link.expected_chsh == pytest.approx(math.sqrt(2) * (t_z + t_x))
    assert link.teleportation_fidelity == pytest.approx((2 * w[0] + 1) / 3)


def test_memory_waits_for_the_herald_round_trip() -> None:
    link = two_photon(length_km=20.0, t2_s=1e-3, rate_hz=1e7)
    tau_s = link.fiber_a.delay_ps / 1e12
    assert link.attempt_period_ps == 2 * link.fiber_a.delay_ps
    assert link.wait_times_s() == pytest.approx((2 * tau_s, 2 * tau_s))
    c = math.exp(-2 * tau_s / 1e-3)
    assert link.expected_fidelity == pytest.approx((1 + 1 + 2 * c * c) / 4, rel=1e-6)
    pairs = link.generate(1000, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(pairs.herald_times_ps + link.fiber_a.delay_ps, pairs.ready_times_ps)
    assert np.diff(pairs.herald_times_ps).min() >= link.attempt_period_ps


def test_asymmetric_station_and_per_pair_delays() -> None:
    a, b = Fiber(2.0, 0.2), Fiber(8.0, 0.2)
    link = TwoPhotonLink(
        node("A", t2_s=1e-4), node("B", t2_s=1e-4), a, b, BellStateMeasurement(Detector(1.0)), attempt_rate_hz=1e5
    )
    assert link.station_position == pytest.approx(0.2)
    wait_a, wait_b = link.wait_times_s()
    assert wait_a == pytest.approx((b.delay_ps + a.delay_ps) / 1e12)
    assert wait_b == pytest.approx(2 * b.delay_ps / 1e12)
    pairs = link.generate(3, rng=np.random.default_rng(1), measurement_delay_s=np.array([0.0, 1e-5, 1e-4]))
    assert pairs.states.fidelity[0] > pairs.states.fidelity[1] > pairs.states.fidelity[2]
    moved = link.with_length(20.0)
    assert moved.fiber.length_km == pytest.approx(20.0) and moved.station_position == pytest.approx(0.2)


def test_frequency_conversion_costs_efficiency_and_adds_noise() -> None:
    plain = two_photon(length_km=20.0, window_s=100e-9)
    qfc = FrequencyConverter(efficiency=0.57, noise_rate_hz=1e4, process_fidelity=1.0)
    converted = two_photon(length_km=20.0, converter=qfc, window_s=100e-9)
    assert converted.true_herald_probability == pytest.approx(plain.true_herald_probability * 0.57**2, rel=1e-3)
    assert converted.false_herald_fraction > plain.false_herald_fraction == 0.0
    with pytest.raises(InvalidParameter, match="window_s"):
        two_photon(converter=qfc)


# ---- single click ----------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.02, 0.05, 0.1, 0.3])
def test_single_click_rate_and_fidelity_trade_off(alpha: float) -> None:
    fiber = Fiber(10.0, 0.2)
    eta = 0.01
    link = SingleClickLink(
        node("A", eta=eta),
        node("B", eta=eta),
        fiber,
        fiber,
        BellStateMeasurement(Detector(1.0)),
        attempt_rate_hz=1e4,
        bright_population=alpha,
    )
    p = eta * fiber.transmission
    # Low-loss limit of the herald classes: rate ≈ 2αη, fidelity ≈ 1 − α.
    assert link.success_probability == pytest.approx(2 * alpha * p, rel=2 * alpha * p + 1e-3)
    assert link.expected_fidelity == pytest.approx(1 - alpha, abs=2 * p)
    two = two_photon(length_km=20.0, eta=eta, eta_det=1.0)
    assert link.success_probability > two.success_probability  # one photon instead of two


def test_single_click_phase_visibility() -> None:
    fiber = Fiber(0.0, 0.2)
    link = SingleClickLink(
        node("A", eta=0.001),
        node("B", eta=0.001),
        fiber,
        fiber,
        BellStateMeasurement(Detector(1.0), two_photon_overlap=0.8),
        attempt_rate_hz=1e4,
        bright_population=0.01,
    )
    assert link.expected_fidelity == pytest.approx(0.99 * 0.9, abs=1e-3)
    with pytest.raises(InvalidParameter, match="bright_population"):
        SingleClickLink(node(), node(), fiber, fiber, BellStateMeasurement(Detector(1.0)), 1e4, bright_population=0.0)


# ---- emission/absorption and direct state transfer ---------------------------------------------------
def test_state_transfer_process_and_average_fidelity() -> None:
    sender = AtomCavityNode("A", 0.5, atom_photon_fidelity=0.95, t2_s=1e-3)
    receiver = AtomCavityNode(
        "B", 0.5, atom_photon_fidelity=0.9, t2_s=1e-3, photon_absorption_efficiency=0.4, photon_absorption_fidelity=0.9
    )
    fiber = Fiber(0.06, 3.5)
    transfer = StateTransferLink(sender, receiver, fiber, Detector(1.0), attempt_rate_hz=1e4)
    v = (4 * 0.95 - 1) / 3 * (4 * 0.9 - 1) / 3
    assert transfer.process_fidelity == pytest.approx((1 + 3 * v) / 4)
    assert transfer.average_fidelity == pytest.approx((2 * transfer.process_fidelity + 1) / 3)
    assert transfer.efficiency == pytest.approx(0.5 * fiber.transmission * 0.4)
    # No round trip: the sender retries every 1/rate, unlike the entangling link on the same hardware.
    entangling = TwoNodeLink(sender, receiver, fiber, Detector(1.0), attempt_rate_hz=1e9)
    assert StateTransferLink(sender, receiver, fiber, Detector(1.0), 1e9).attempt_period_ps == 1000
    assert entangling.attempt_period_ps == 2 * fiber.delay_ps
    pairs = transfer.generate(100, rng=np.random.default_rng(0))
    np.testing.assert_allclose(pairs.wait_a_s, 0.0)


def test_emit_absorb_includes_fiber_noise_readout_and_gate() -> None:
    fiber = Fiber(1.0, 0.2, depolarization_per_km=0.02)
    a = AtomCavityNode("A", 0.5, 1.0, t2_s=math.inf, readout_fidelity=0.99, photon_decay_time_s=20e-9)
    b = AtomCavityNode("B", 0.5, 1.0, t2_s=math.inf, readout_fidelity=0.99)
    gate = Detector(0.9, window_s=20e-9)
    link = TwoNodeLink(a, b, fiber, gate, attempt_rate_hz=1e4)
    v = 0.98 * 0.98 * 0.98
    assert link.expected_fidelity == pytest.approx((1 + 3 * v) / 4)
    assert link.true_herald_probability == pytest.approx(0.5 * fiber.transmission * 0.9 * (1 - math.exp(-1)))


# ---- the common interface ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", preset_names())
def test_every_preset_link_offers_the_common_interface(name: str) -> None:
    link = link_from_preset(name)
    assert isinstance(link, Link) and isinstance(link, HeraldedLink)
    assert 0.0 < link.success_probability <= 1.0
    assert 0.25 <= link.expected_fidelity <= 1.0
    n = min(2000, link.max_pairs_per_block)
    pairs = link.generate(n, rng=np.random.default_rng(3))
    assert len(pairs) == n and pairs.states.weights.shape == (n, 4)
    moved = link.with_length(link.length_km * 2 + 0.1)
    assert moved.success_probability < link.success_probability
    assert moved.length_km == pytest.approx(link.length_km * 2 + 0.1)
    assert link.expected_key_rate_bps >= 0.0


@settings(max_examples=40, deadline=None)
@given(
    length_km=st.floats(0.0, 100.0),
    eta=st.floats(0.01, 1.0),
    dark=st.floats(0.0, 0.2),
    overlap=st.floats(0.0, 1.0),
    fidelity=st.floats(0.25, 1.0),
    t2=st.one_of(st.floats(1e-6, 1.0), st.just(math.inf)),
    alpha=st.floats(0.01, 1.0),
    n=st.integers(0, 30),
    seed=st.integers(0, 2**32 - 1),
)
def test_generated_two_photon_and_single_click_states_are_valid(
    length_km: float,
    eta: float,
    dark: float,
    overlap: float,
    fidelity: float,
    t2: float,
    alpha: float,
    n: int,
    seed: int,
) -> None:
    link = two_photon(length_km=length_km, eta=eta, dark=dark, overlap=overlap, fidelity=fidelity, t2_s=t2)
    single = SingleClickLink(
        link.node_a, link.node_b, link.fiber_a, link.fiber_b, link.station, 1e5, bright_population=alpha
    )
    for candidate in (link, single):
        if candidate.success_probability == 0.0 or n > candidate.max_pairs_per_block:
            continue
        w = candidate.generate(n, rng=np.random.default_rng(seed)).states.weights
        assert w.shape == (n, 4) and np.all(w >= 0.0)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
