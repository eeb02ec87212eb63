"""Multiplexed links: M independent modes per attempt round into one memory, 1 − (1 − p)^M per round.

The closed form is checked exactly on every scheme, against a per-mode Bernoulli reference (drawn as one
array, rounds × modes) and on sampled herald statistics, with tolerances of five standard deviations from
the sample size; M = 1 is today's link bit for bit, and p = 0 and p = 1 are exact.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import AtomCavityNode, BellStateMeasurement, Detector, Fiber
from qkdnet.network import (
    IdealLink,
    Network,
    NetworkLink,
    NetworkNode,
    Request,
    SingleClickLink,
    TwoNodeLink,
    link_from_preset,
    simulate,
)
from qkdnet.network._sampling import round_probability

SIGMAS = 5.0


def ideal(p: float, modes: int = 1, *, length_km: float = 1.0) -> IdealLink:
    return IdealLink(
        herald_probability=p, visibility=0.9, attempt_rate_hz=1e5, fiber=Fiber(length_km, 0.2), modes=modes
    )


def closed_form(p: float, modes: int) -> float:
    return 1.0 - (1.0 - p) ** modes


@pytest.mark.parametrize("preset", ["ritter2012", "zhang2022", "hofmann2012"])
@pytest.mark.parametrize("modes", [1, 2, 10, 1000])
def test_round_probability_is_the_closed_form_on_every_scheme(preset: str, modes: int) -> None:
    one = link_from_preset(preset)
    many = link_from_preset(preset, modes=modes)
    p = one.success_probability
    assert many.mode_success_probability == p
    assert many.success_probability == pytest.approx(closed_form(p, modes), rel=1e-12)
    assert many.mean_heralded_modes_per_round == pytest.approx(modes * p, rel=1e-15)
    # The stored pair is one mode's: the same state and the same share of false heralds.
    np.testing.assert_allclose(many.expected_weights().weights, one.expected_weights().weights, rtol=1e-12)
    assert many.false_herald_fraction == pytest.approx(one.false_herald_fraction, rel=1e-12, abs=1e-15)


def test_single_click_and_state_transfer_links_multiplex_too() -> None:
    node = AtomCavityNode("A", photon_generation_efficiency=0.1, atom_photon_fidelity=1.0, t2_s=1.0)
    station = BellStateMeasurement(Detector(0.9, 1e-4))
    link = SingleClickLink(
        node, node, Fiber(5, 0.2), Fiber(5, 0.2), station, attempt_rate_hz=1e5, bright_population=0.05
    )
    many = dataclasses.replace(link, modes=8)
    assert many.success_probability == pytest.approx(closed_form(link.success_probability, 8), rel=1e-12)
    assert many.expected_fidelity == pytest.approx(link.expected_fidelity, rel=1e-12)


def test_small_probabilities_keep_their_digits() -> None:
    # 1 − (1 − p)^M loses every digit in floating point for p = 1e-15; −expm1(M·log1p(−p)) does not.
    p, modes = 1e-15, 1000
    expected = modes * p - math.comb(modes, 2) * p**2
    assert round_probability(p, modes) == pytest.approx(expected, rel=1e-12)
    assert ideal(p, modes).success_probability == pytest.approx(expected, rel=1e-12)


def test_one_mode_is_todays_link_bit_for_bit() -> None:
    link = TwoNodeLink.from_preset(link_from_preset("ritter2012").preset)  # type: ignore[arg-type]
    explicit = dataclasses.replace(link, modes=1)
    assert explicit == link and link.modes == 1
    for round_class, mode_class in zip(link._classes(), link._mode_classes(), strict=True):
        assert round_class.probability == mode_class.probability and round_class.true == mode_class.true
        np.testing.assert_array_equal(round_class.weights, mode_class.weights)
    a = link.generate(5000, rng=np.random.default_rng(7))
    b = explicit.generate(5000, rng=np.random.default_rng(7))
    for name in ("herald_periods", "herald_offsets_ps", "attempts_per_pair", "false_herald"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.states.weights, b.states.weights)
    assert a.next_start_ps == b.next_start_ps


def test_edges_p_zero_and_p_one_are_exact() -> None:
    for modes in (1, 2, 64):
        assert ideal(0.0, modes).success_probability == 0.0
        assert math.isinf(ideal(0.0, modes).mean_time_between_heralds_s)
        sure = ideal(1.0, modes)
        assert sure.success_probability == 1.0
        pairs = sure.generate(1000, rng=np.random.default_rng(1))
        assert np.all(pairs.attempts_per_pair == 1)  # every round heralds, whatever M
        assert sure.mean_heralded_modes_per_round == modes
    with pytest.raises(InvalidParameter, match="never heralds"):
        ideal(0.0, 4).generate(1, rng=np.random.default_rng(1))


def test_closed_form_matches_a_per_mode_bernoulli_reference() -> None:
    # The reference draws every mode of every round (one array, rounds × modes): no closed form in it.
    p, modes, rounds = 0.01, 50, 40_000
    rng = np.random.default_rng(2026)
    fired = rng.random((rounds, modes)) < p
    hit = float(np.mean(fired.any(axis=1)))
    big_p = ideal(p, modes).success_probability
    sigma = math.sqrt(big_p * (1.0 - big_p) / rounds)
    assert abs(hit - big_p) < SIGMAS * sigma
    # The mean number of heralding modes per round is M·p (what M memories could store).
    per_mode = float(np.mean(fired.sum(axis=1)))
    assert abs(per_mode - modes * p) < SIGMAS * math.sqrt(modes * p * (1.0 - p) / rounds)


@pytest.mark.parametrize(("p", "modes"), [(0.01, 1), (0.01, 50), (0.002, 400), (0.3, 3)])
def test_sampled_rounds_per_herald_give_the_rate_gain(p: float, modes: int) -> None:
    n = 100_000
    link = ideal(p, modes)
    pairs = link.generate(n, rng=np.random.default_rng(11))
    big_p = closed_form(p, modes)
    # Rounds per herald are geometric(P): mean 1/P, standard deviation √(1 − P)/P.
    mean = float(np.mean(pairs.attempts_per_pair))
    assert abs(mean - 1.0 / big_p) < SIGMAS * math.sqrt(1.0 - big_p) / big_p / math.sqrt(n)
    # The rate gain over one mode, measured, against (1 − (1 − p)^M)/p (the one-mode mean is exact: 1/p).
    gain = (1.0 / p) / mean
    expected_gain = big_p / p
    relative_sigma = math.sqrt(1.0 - big_p) / math.sqrt(n)
    assert abs(gain / expected_gain - 1.0) < SIGMAS * relative_sigma * 1.01


def test_false_heralds_keep_their_share_when_sampled() -> None:
    node = AtomCavityNode("A", photon_generation_efficiency=0.05, atom_photon_fidelity=0.97, t2_s=1.0)
    link = TwoNodeLink(node, node, Fiber(10.0, 0.2), Detector(0.8, 5e-3), attempt_rate_hz=1e6, modes=20)
    n = 100_000
    pairs = link.generate(n, rng=np.random.default_rng(5))
    f = link.false_herald_fraction
    assert f == pytest.approx(dataclasses.replace(link, modes=1).false_herald_fraction, rel=1e-12)
    assert abs(float(np.mean(pairs.false_herald)) - f) < SIGMAS * math.sqrt(f * (1.0 - f) / n)


def test_modes_survive_length_changes_and_presets() -> None:
    link = link_from_preset("zhang2022", modes=16)
    assert link.with_length(5.0).modes == 16
    assert link.mean_time_between_heralds_s < link_from_preset("zhang2022").mean_time_between_heralds_s
    assert "modes" in link._repr_html_()


@pytest.mark.parametrize("bad", [0, -3, 2.0, 2.5, True, "4", None])
def test_bad_modes_are_refused_naming_the_field(bad: object) -> None:
    with pytest.raises(InvalidParameter, match=r"IdealLink\.modes must be an integer ≥ 1"):
        ideal(0.1, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match=r"TwoPhotonLink\.modes"):
        link_from_preset("zhang2022", modes=bad)  # type: ignore[arg-type]


def test_the_network_simulator_runs_multiplexed_links_at_their_rate() -> None:
    # One link, one request: the run lasts about n mean herald intervals of the multiplexed link.
    p, modes, n = 0.001, 100, 20_000
    link = ideal(p, modes, length_km=0.0)
    atom = AtomCavityNode.perfect("a")
    net = Network([NetworkNode("a", 1, atom), NetworkNode("b", 1, atom)], [NetworkLink("a", "b", link)])
    run = simulate(net, [Request(("a", "b"), pairs=n)], seed=3)
    assert run.outcomes[0].delivered == n
    big_p = closed_form(p, modes)
    period_s = link.attempt_period_ps / 1e12
    # n geometric(P) round counts: mean n/P rounds, standard deviation √(n(1 − P))/P.
    rounds = run.duration_s / period_s
    assert abs(rounds - n / big_p) < SIGMAS * math.sqrt(n * (1.0 - big_p)) / big_p + n  # + restarts (≤ 1 each)
    one = simulate(
        Network([NetworkNode("a", 1, atom), NetworkNode("b", 1, atom)], [NetworkLink("a", "b", ideal(p))]),
        [Request(("a", "b"), pairs=2000)],
        seed=3,
    )
    assert one.duration_s / 2000 > 30 * run.duration_s / n  # gain (1 − 0.999¹⁰⁰)/0.001 ≈ 95
