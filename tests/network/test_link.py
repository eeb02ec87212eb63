"""TwoNodeLink: herald statistics, pair states against an independent density-matrix derivation,
edge cases, validation, and the presets' published numbers."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import AtomCavityNode, Detector, Fiber, get_preset
from qkdnet.network import HeraldedPairs, TwoNodeLink, TwoPhotonLink, link_from_preset
from qkdnet.quantum import apply_local_channel, dephasing_kraus, depolarizing_kraus

C_M_PER_S = 299_792_458.0
PHI_PLUS = np.array([1.0, 0.0, 0.0, 1.0]) / math.sqrt(2.0)


def make_link(
    *,
    eta_gen: float = 0.3,
    eta_abs: float = 0.5,
    eta_det: float = 0.8,
    dark: float = 0.0,
    f_emit: float = 0.95,
    f_abs: float = 0.97,
    t2_a: float = 50e-6,
    t2_b: float = 80e-6,
    length_km: float = 0.01,
    alpha: float = 3.0,
    rate_hz: float = 1e6,
    delay_s: float = 0.0,
) -> TwoNodeLink:
    return TwoNodeLink(
        emitter=AtomCavityNode("A", photon_generation_efficiency=eta_gen, atom_photon_fidelity=f_emit, t2_s=t2_a),
        receiver=AtomCavityNode(
            "B",
            photon_generation_efficiency=0.1,
            atom_photon_fidelity=0.9,
            t2_s=t2_b,
            photon_absorption_efficiency=eta_abs,
            photon_absorption_fidelity=f_abs,
        ),
        fiber=Fiber(length_km, alpha),
        detector=Detector(eta_det, dark),
        attempt_rate_hz=rate_hz,
        measurement_delay_s=delay_s,
    )


def independent_success_probability(
    eta_gen: float, eta_abs: float, eta_det: float, dark: float, length_km: float, alpha: float
) -> tuple[float, float]:
    """(p_herald, false-herald fraction), from the parameters alone."""
    p_true = eta_gen * 10 ** (-alpha * length_km / 10) * eta_abs * eta_det
    p_false = dark * (1 - p_true)
    return p_true + p_false, p_false / (p_true + p_false)


def independent_fidelity(
    f_emit: float, f_abs: float, wait_a: float, wait_b: float, t2_a: float, t2_b: float, false_fraction: float
) -> float:
    """Φ+ → depolarize A, depolarize B → dephase A, dephase B, with 4×4 density matrices and Kraus maps."""
    rho = np.outer(PHI_PLUS, PHI_PLUS).astype(np.complex128)
    p_dep_a = 1 - (4 * f_emit - 1) / 3  # ρ → (1 − p)ρ + p I/2 leaves visibility 1 − p
    p_dep_b = 1 - (4 * f_abs - 1) / 3
    rho = apply_local_channel(rho, depolarizing_kraus(p_dep_a), target=0)
    rho = apply_local_channel(rho, depolarizing_kraus(p_dep_b), target=1)
    rho = apply_local_channel(rho, dephasing_kraus((1 - math.exp(-wait_a / t2_a)) / 2), target=0)
    rho = apply_local_channel(rho, dephasing_kraus((1 - math.exp(-wait_b / t2_b)) / 2), target=1)
    f_true = float(np.real(PHI_PLUS @ rho @ PHI_PLUS))
    return (1 - false_fraction) * f_true + false_fraction / 4


# ---- probabilities --------------------------------------------------------------------------------
def test_success_probability_and_false_heralds_match_independent_formula() -> None:
    kw = {"eta_gen": 0.3, "eta_abs": 0.5, "eta_det": 0.8, "dark": 0.01, "length_km": 2.0, "alpha": 3.0}
    link = make_link(**kw)
    p, f = independent_success_probability(**kw)
    assert link.success_probability == pytest.approx(p, rel=1e-12)
    assert link.false_herald_fraction == pytest.approx(f, rel=1e-12)
    assert link.true_herald_probability == pytest.approx(p - 0.01 * (1 - link.true_herald_probability))


def test_link_that_never_heralds() -> None:
    link = make_link(eta_gen=0.0, dark=0.0)
    assert link.success_probability == 0.0
    assert link.false_herald_fraction == 0.0
    assert link.expected_pair_rate_hz == 0.0
    with pytest.raises(InvalidParameter, match="never heralds"):
        link.generate(1, rng=np.random.default_rng(0))
    assert len(link.generate(0, rng=np.random.default_rng(0))) == 0


def test_dark_counts_alone_give_maximally_mixed_pairs() -> None:
    link = make_link(eta_gen=0.0, dark=0.2)
    assert link.false_herald_fraction == 1.0
    pairs = link.generate(1000, rng=np.random.default_rng(3))
    assert pairs.false_herald.all()
    np.testing.assert_allclose(pairs.states.weights, 0.25, atol=1e-15)


# ---- herald times ---------------------------------------------------------------------------------
def test_mean_time_between_heralds_is_one_over_p_rate() -> None:
    link = make_link(rate_hz=1e6, dark=1e-3)  # period 1 µs > 2τ ≈ 0.1 µs
    p, _ = independent_success_probability(0.3, 0.5, 0.8, 1e-3, 0.01, 3.0)
    n = 200_000
    pairs = link.generate(n, rng=np.random.default_rng(11))
    gaps_s = np.diff(pairs.herald_times_ps) / 1e12
    expected = 1.0 / (p * 1e6)
    sigma = (1e-6 * math.sqrt(1 - p) / p) / math.sqrt(n - 1)  # sd of a geometric count × period / √n
    assert abs(gaps_s.mean() - expected) < 5 * sigma
    assert link.mean_time_between_heralds_s == pytest.approx(expected, rel=1e-12)
    assert link.expected_pair_rate_hz == pytest.approx(p * 1e6, rel=1e-12)
    assert pairs.attempts == int(pairs.attempts_per_pair.sum())
    assert np.all(gaps_s > 0)


def test_attempts_per_herald_are_geometric() -> None:
    link = make_link(eta_gen=0.9, eta_abs=0.8, eta_det=0.6, dark=0.02)
    p = link.success_probability
    n = 100_000
    k = link.generate(n, rng=np.random.default_rng(5)).attempts_per_pair
    # Fraction of heralds on the first attempt is p (5σ binomial tolerance).
    assert abs(np.mean(k == 1) - p) < 5 * math.sqrt(p * (1 - p) / n)
    # Chi-square against geometric(p) on 1..9 and a tail bin.
    edges = np.arange(1, 10)
    observed = np.array([np.sum(k == j) for j in edges] + [np.sum(k >= 10)])
    probs = np.array([(1 - p) ** (j - 1) * p for j in edges] + [(1 - p) ** 9])
    assert stats.chisquare(observed, n * probs).pvalue > 1e-4


def test_herald_timeline_for_a_perfect_link() -> None:
    link = TwoNodeLink(
        emitter=AtomCavityNode.perfect("A"),
        receiver=AtomCavityNode.perfect("B"),
        fiber=Fiber(0.1, 0.0),
        detector=Detector(1.0, 0.0),
        attempt_rate_hz=1e5,
    )
    assert link.success_probability == 1.0
    tau = link.fiber.delay_ps
    pairs = link.generate(50, rng=np.random.default_rng(0), start_ps=7)
    np.testing.assert_array_equal(pairs.attempts_per_pair, 1)
    np.testing.assert_array_equal(pairs.herald_times_ps, 7 + np.arange(50) * 10_000_000 + tau)
    np.testing.assert_array_equal(pairs.ready_times_ps, pairs.herald_times_ps + tau)
    assert pairs.next_start_ps == 7 + 50 * 10_000_000
    np.testing.assert_array_equal(pairs.states.weights, np.tile([1.0, 0.0, 0.0, 0.0], (50, 1)))
    assert not pairs.false_herald.any()
    assert link.expected_fidelity == 1.0


def test_single_atom_waits_for_the_herald_round_trip() -> None:
    link = make_link(rate_hz=1e9, length_km=1.0)  # 1 ns period, but 2τ ≈ 9.8 µs
    two_tau = 2 * link.fiber.delay_ps
    assert link.attempt_period_ps == two_tau
    p = link.success_probability
    assert link.mean_time_between_heralds_s == pytest.approx(two_tau / p / 1e12)


def test_measurement_delay_adds_dead_time_and_memory_wait() -> None:
    delay = 3e-6  # longer than the period (1 µs) minus 2τ
    link = make_link(rate_hz=1e6, delay_s=delay, eta_gen=0.5)
    p = link.success_probability
    tau_ps = link.fiber.delay_ps
    n = 100_000
    pairs = link.generate(n, rng=np.random.default_rng(8))
    restart_ps = 2 * tau_ps + 3_000_000
    expected_ps = 1e6 / p + restart_ps - 1e6
    sigma = 1e6 * math.sqrt(1 - p) / p / math.sqrt(n - 1)
    assert abs(np.diff(pairs.herald_times_ps).mean() - expected_ps) < 5 * sigma
    assert link.mean_time_between_heralds_s == pytest.approx(expected_ps / 1e12)
    np.testing.assert_allclose(pairs.wait_a_s, (2 * tau_ps + 3_000_000) / 1e12)
    np.testing.assert_allclose(pairs.wait_b_s, (tau_ps + 3_000_000) / 1e12)
    # No attempt overlaps a held pair: consecutive emissions are at least the restart time apart.
    assert np.diff(pairs.herald_times_ps).min() >= restart_ps


def test_per_pair_measurement_delays() -> None:
    link = make_link(t2_a=20e-6, t2_b=20e-6)
    delays = np.array([0.0, 10e-6, 40e-6])
    pairs = link.generate(3, rng=np.random.default_rng(2), measurement_delay_s=delays)
    tau_s = link.fiber.delay_ps / 1e12
    np.testing.assert_allclose(pairs.wait_a_s, 2 * tau_s + delays, rtol=1e-9)
    assert pairs.states.fidelity[0] > pairs.states.fidelity[1] > pairs.states.fidelity[2]


def test_streaming_batches_continue_the_timeline() -> None:
    link = make_link()
    rng = np.random.default_rng(4)
    first = link.generate(1000, rng=rng)
    second = link.generate(1000, rng=rng, start_ps=first.next_start_ps)
    times = np.concatenate([first.herald_times_ps, second.herald_times_ps])
    assert np.all(np.diff(times) > 0)
    assert second.herald_times_ps[0] >= first.next_start_ps + link.fiber.delay_ps


def test_same_seed_same_pairs() -> None:
    link = make_link(dark=0.05)
    a = link.generate(500, rng=np.random.default_rng(123))
    b = link.generate(500, rng=np.random.default_rng(123))
    np.testing.assert_array_equal(a.herald_times_ps, b.herald_times_ps)
    np.testing.assert_array_equal(a.states.weights, b.states.weights)


def test_outputs_are_read_only() -> None:
    pairs = make_link().generate(10, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="read-only"):
        pairs.herald_times_ps[0] = 0
    with pytest.raises(ValueError, match="read-only"):
        pairs.states.weights[0, 0] = 0.0


def exact_herald_times(pairs: HeraldedPairs, restart_ps: int, herald_ps: int) -> list[int]:
    """Oracle: each herald's time from the attempt counts, in Python's unbounded integers."""
    times, t = [], pairs.start_ps
    for i, k in enumerate(pairs.attempts_per_pair.tolist()):
        t += (k - 1) * pairs.period_ps + (restart_ps if i else 0)
        times.append(t + herald_ps)
    return times


def test_herald_times_are_exact_integers_inside_int64() -> None:
    link = make_link(delay_s=3e-6)
    timing = link._timing()
    restart = max(timing.period_ps, timing.ready_ps + 3_000_000)
    pairs = link.generate(2_000, rng=np.random.default_rng(4), start_ps=12_345)
    expected = exact_herald_times(pairs, restart, timing.herald_ps)
    assert pairs.herald_times_ps.tolist() == expected
    assert pairs.ready_times_ps.tolist() == [t + timing.ready_ps - timing.herald_ps for t in expected]
    assert pairs.last_herald_ps == expected[-1]
    assert pairs.next_start_ps == expected[-1] - timing.herald_ps + restart
    np.testing.assert_array_equal(pairs.wrapped_herald_times_ps(), pairs.herald_times_ps)
    np.testing.assert_allclose(pairs.herald_times_s, np.array(expected) / 1e12, rtol=1e-15)


def test_a_batch_of_millennia_keeps_exact_times() -> None:
    """A link that heralds once in ~3 years: 1,000 pairs span millennia, far past int64 picoseconds."""
    link = make_link(eta_gen=1e-6, eta_abs=1e-6, rate_hz=1.0)
    timing = link._timing()
    pairs = link.generate(1000, rng=np.random.default_rng(0))
    expected = exact_herald_times(pairs, max(timing.period_ps, timing.ready_ps), timing.herald_ps)
    assert expected[-1] > 2**63  # the representation is really tested beyond int64
    assert pairs.last_herald_ps == expected[-1]
    assert pairs.wrapped_herald_times_ps().tolist() == [(t + 2**63) % 2**64 - 2**63 for t in expected]
    np.testing.assert_allclose(pairs.herald_times_s, np.array(expected, dtype=float) / 1e12, rtol=1e-12)
    with pytest.raises(InvalidParameter, match="beyond int64 picoseconds"):
        _ = pairs.herald_times_ps
    assert link.max_pairs_per_block > 500_000  # counted in attempts (in picoseconds it was 1)


def test_too_many_attempts_for_one_batch_are_refused() -> None:
    link = make_link(eta_gen=1e-9, eta_abs=1e-9, rate_hz=1.0)
    with pytest.raises(InvalidParameter, match="too many to count in int64"):
        link.generate(100, rng=np.random.default_rng(0))
    assert link.max_pairs_per_block == 1


# ---- pair states ----------------------------------------------------------------------------------
def test_pair_fidelity_matches_independent_density_matrix_model() -> None:
    kw = {"eta_gen": 0.3, "eta_abs": 0.5, "eta_det": 0.8, "dark": 0.02, "length_km": 2.0, "alpha": 3.0}
    link = make_link(**kw, f_emit=0.93, f_abs=0.96, t2_a=30e-6, t2_b=60e-6, delay_s=5e-6)
    _, false_fraction = independent_success_probability(**kw)
    tau = 2.0 * 1000 * 1.468 / C_M_PER_S
    wait_a, wait_b = 2 * tau + 5e-6, tau + 5e-6
    f_true = independent_fidelity(0.93, 0.96, wait_a, wait_b, 30e-6, 60e-6, 0.0)
    f_mean = independent_fidelity(0.93, 0.96, wait_a, wait_b, 30e-6, 60e-6, false_fraction)
    # The link keeps time in whole picoseconds (τ rounded); that moves the fidelity by < 1e-7 here.
    assert link.expected_fidelity == pytest.approx(f_mean, abs=1e-7)

    n = 200_000
    pairs = link.generate(n, rng=np.random.default_rng(17))
    fid = pairs.states.fidelity
    # Each true pair has exactly the model's fidelity, each false one 1/4.
    np.testing.assert_allclose(fid[~pairs.false_herald], f_true, atol=1e-7)
    np.testing.assert_allclose(fid[pairs.false_herald], 0.25, atol=1e-12)
    # The mean agrees within 5σ of the Bernoulli false-herald count.
    sigma = (f_true - 0.25) * math.sqrt(false_fraction * (1 - false_fraction) / n)
    assert abs(fid.mean() - f_mean) < 5 * sigma
    assert abs(pairs.false_herald.mean() - false_fraction) < 5 * math.sqrt(false_fraction * (1 - false_fraction) / n)


def test_expected_weights_are_bell_diagonal_of_the_density_matrix_model() -> None:
    link = make_link(dark=0.0, f_emit=0.9, f_abs=0.95, t2_a=10e-6, t2_b=10e-6, delay_s=4e-6)
    wait_a, wait_b = link.wait_times_s()
    rho = np.outer(PHI_PLUS, PHI_PLUS).astype(np.complex128)
    rho = apply_local_channel(rho, depolarizing_kraus(1 - (4 * 0.9 - 1) / 3), target=0)
    rho = apply_local_channel(rho, depolarizing_kraus(1 - (4 * 0.95 - 1) / 3), target=1)
    rho = apply_local_channel(rho, dephasing_kraus((1 - math.exp(-wait_a / 10e-6)) / 2), target=0)
    rho = apply_local_channel(rho, dephasing_kraus((1 - math.exp(-wait_b / 10e-6)) / 2), target=1)
    bell = np.array([[1, 0, 0, 1], [1, 0, 0, -1], [0, 1, 1, 0], [0, 1, -1, 0]]) / math.sqrt(2)
    expected = np.real(np.einsum("ki,ij,kj->k", bell, rho, bell))
    np.testing.assert_allclose(link.expected_weights().weights, expected, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    eta=st.floats(0.1, 1.0),
    eta_det=st.floats(0.1, 1.0),
    dark=st.floats(0.0, 1.0),
    f_emit=st.floats(0.25, 1.0),
    f_abs=st.floats(0.25, 1.0),
    t2=st.one_of(st.floats(1e-7, 1.0), st.just(math.inf)),
    length_km=st.floats(0.0, 20.0),
    rate_hz=st.floats(1e3, 1e9),
    delay_s=st.floats(0.0, 1e-3),
    n=st.integers(0, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_generated_states_are_valid_bell_diagonal(
    eta: float,
    eta_det: float,
    dark: float,
    f_emit: float,
    f_abs: float,
    t2: float,
    length_km: float,
    rate_hz: float,
    delay_s: float,
    n: int,
    seed: int,
) -> None:
    link = make_link(
        eta_gen=eta,
        eta_abs=eta,
        eta_det=eta_det,
        dark=dark,
        f_emit=f_emit,
        f_abs=f_abs,
        t2_a=t2,
        t2_b=t2,
        length_km=length_km,
        alpha=0.5,
        rate_hz=rate_hz,
        delay_s=delay_s,
    )
    pairs = link.generate(n, rng=np.random.default_rng(seed))
    w = pairs.states.weights
    assert w.shape == (n, 4)
    assert np.all(w >= 0.0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(np.diff(pairs.herald_times_ps) > 0)
    assert np.all(pairs.attempts_per_pair >= 1)
    assert pairs.attempts == int(pairs.attempts_per_pair.sum())
    np.testing.assert_array_equal(pairs.ready_times_ps - pairs.herald_times_ps, link.fiber.delay_ps)


# ---- validation -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"attempt_rate_hz": 0.0}, "attempt_rate_hz"),
        ({"attempt_rate_hz": math.inf}, "attempt_rate_hz"),
        ({"attempt_rate_hz": math.nan}, "attempt_rate_hz"),
        ({"measurement_delay_s": -1e-6}, "measurement_delay_s"),
        ({"emitter": "A"}, "TwoNodeLink.emitter"),
        ({"fiber": 1.0}, "TwoNodeLink.fiber"),
        ({"detector": None}, "TwoNodeLink.detector"),
    ],
)
def test_link_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    base: dict[str, object] = {
        "emitter": AtomCavityNode.perfect("A"),
        "receiver": AtomCavityNode.perfect("B"),
        "fiber": Fiber(1.0, 0.2),
        "detector": Detector(0.9),
        "attempt_rate_hz": 1e6,
    }
    base.update(kwargs)
    with pytest.raises(InvalidParameter, match=re.escape(field)):
        TwoNodeLink(**base)  # type: ignore[arg-type]


def test_generate_validation() -> None:
    link = make_link()
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidParameter, match="n_pairs"):
        link.generate(-1, rng=rng)
    with pytest.raises(InvalidParameter, match="n_pairs"):
        link.generate(2.5, rng=rng)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="rng"):
        link.generate(1, rng=np.random.RandomState(0))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="start_ps"):
        link.generate(1, rng=rng, start_ps=-5)
    with pytest.raises(InvalidParameter, match="measurement_delay_s"):
        link.generate(2, rng=rng, measurement_delay_s=[0.0, -1.0])
    with pytest.raises(InvalidParameter, match="one per pair"):
        link.generate(3, rng=rng, measurement_delay_s=[0.0, 1e-6])
    with pytest.raises(TypeError):
        link.generate(1, np.random.default_rng(0))  # type: ignore[misc]
    with pytest.raises(InvalidParameter):
        HeraldedPairs(
            start_ps=0,
            period_ps=1,
            herald_periods=np.zeros(2, dtype=np.int64),
            herald_offsets_ps=np.zeros(1, dtype=np.int64),
            ready_delay_ps=0,
            states=link.generate(2, rng=rng).states,
            attempts=2,
            attempts_per_pair=np.ones(2, dtype=np.int64),
            wait_a_s=np.zeros(2),
            wait_b_s=np.zeros(2),
            false_herald=np.zeros(2, dtype=bool),
            next_start_ps=0,
        )


# ---- presets --------------------------------------------------------------------------------------
def model_value(link: TwoNodeLink, quantity: str) -> float:
    w = link.expected_weights().weights
    values = {"pair_fidelity": float(w[0]), "qber": float(w[2] + w[3])}  # Z-basis errors: the Ψ± weights
    return values[quantity]


def test_ritter2012_sampled_pairs_match_the_headline_fidelity() -> None:
    link = link_from_preset("ritter2012")
    pairs = link.generate(20_000, rng=np.random.default_rng(2012))
    headline = get_preset("ritter2012").headline["pair_fidelity"]
    assert abs(pairs.states.fidelity.mean() - headline.value) <= headline.uncertainty  # type: ignore[operator]
    p = link.true_herald_probability
    n_attempts = pairs.attempts
    assert abs(len(pairs) / n_attempts - p) < 5 * math.sqrt(p * (1 - p) / n_attempts)


def test_link_from_preset_rebuilds_the_link_at_another_length() -> None:
    published = link_from_preset("zhang2022")
    lab = link_from_preset("zhang2022", length_km=0.06)
    assert isinstance(lab, TwoPhotonLink)
    assert lab == TwoPhotonLink.from_preset(get_preset("zhang2022").with_length(0.06))
    assert lab.fiber.length_km == pytest.approx(0.06)
    assert isinstance(published, TwoPhotonLink)
    assert (lab.node_a, lab.node_b, lab.station) == (published.node_a, published.node_b, published.station)
    assert lab.success_probability > published.success_probability
    assert lab.expected_fidelity > published.expected_fidelity
    # Today's hardware over the seed experiment's 60 m stays well under BBM92's 11 % QBER limit.
    assert model_value(lab, "qber") < 0.08
    assert link_from_preset("ritter2012").with_length(0.06) == link_from_preset("ritter2012")
    with pytest.raises(InvalidParameter, match="valid names"):
        link_from_preset("nope")


# ---- reporting --------------------------------------------------------------------------------------
def test_description_and_provenance_lines_mark_estimates() -> None:
    link = link_from_preset("ritter2012")
    assert link.length_km == 0.06
    assert "Ritter" in link.description
    lines = link.provenance_lines()
    assert lines[0].startswith("source: ") and "1202.5955" in lines[0]
    assert "fiber.length_km = 0.06 (estimate)" in lines
    assert "nodes.t2_s = 0.0001 (estimate)" in lines
    assert not any(line.startswith("receiver.") for line in lines)  # identical nodes print once
    moved = link_from_preset("zhang2022", length_km=0.06)
    assert "published: 0.7 km" in moved.description
    assert moved.preset is not None and moved.preset.provenance["fiber.length_km"].value == 0.06
    assert any("(confirmed)" in line for line in moved.provenance_lines())
    custom = make_link()
    assert custom.preset is None
    assert "A → B" in custom.description
    assert custom.provenance_lines() == ["custom link: every number set by the caller (no published source)"]
    with pytest.raises(InvalidParameter, match="preset"):
        TwoNodeLink(
            emitter=AtomCavityNode.perfect("A"),
            receiver=AtomCavityNode.perfect("B"),
            fiber=Fiber(1.0, 0.2),
            detector=Detector(0.9),
            attempt_rate_hz=1e6,
            preset="ritter2012",  # type: ignore[arg-type]
        )
