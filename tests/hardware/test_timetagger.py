"""The time-tagger model against closed forms: Poisson counts of singles and pairs, the Werner error rate,
a non-paralysable dead time, afterpulsing, and the clocks' offset, drift and random walk."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.hardware.timetagger import DetectorSide, EntangledPairSource, TimeTags, record_time_tags

IDEAL = {"dead_time_ns": 0.0, "afterpulse_probability": 0.0, "jitter_ps": 0.0, "dark_count_rate_hz": 0.0}


def _within(observed: float, expected: float, sigma: float, k: float = 5.0) -> bool:
    return abs(observed - expected) <= k * sigma


def test_singles_and_pairs_are_the_poisson_counts_of_the_rates() -> None:
    source = EntangledPairSource(pair_rate_hz=2e5, transmission_alice=0.4, transmission_bob=0.3)
    alice = DetectorSide(**{**IDEAL, "efficiency": 0.5, "dark_count_rate_hz": 2e3})
    bob = DetectorSide(**{**IDEAL, "efficiency": 0.8})
    seconds = 1.0
    run = record_time_tags(source, alice, bob, seconds, rng=np.random.default_rng(5))
    expected_a = 2e5 * seconds * 0.4 * 0.5 + 4 * 2e3 * seconds  # photons thinned, plus four channels of darks
    expected_b = 2e5 * seconds * 0.3 * 0.8
    expected_both = 2e5 * seconds * 0.2 * 0.24
    assert _within(len(run.alice), expected_a, math.sqrt(expected_a))
    assert _within(len(run.bob), expected_b, math.sqrt(expected_b))
    assert _within(run.pairs_seen_by_both, expected_both, math.sqrt(expected_both))
    assert np.all(np.diff(run.alice.times_ps) >= 0) and set(np.unique(run.alice.channels)) == {0, 1, 2, 3}


def _perfect_pairs(visibility: float, seed: int, **bob: float) -> tuple[TimeTags, TimeTags]:
    """Every pair seen on both sides, no darks, no jitter: the i-th click of each side is one pair."""
    source = EntangledPairSource(pair_rate_hz=1e5, visibility=visibility, transmission_alice=1, transmission_bob=1)
    side = {**IDEAL, "efficiency": 1.0}
    run = record_time_tags(
        source, DetectorSide(**side), DetectorSide(**{**side, **bob}), 1.0, rng=np.random.default_rng(seed)
    )
    assert len(run.alice) == len(run.bob) == run.pairs_emitted
    return run.alice, run.bob


def test_outcomes_follow_the_werner_state_in_each_pair_of_bases() -> None:
    alice, bob = _perfect_pairs(0.9, 6)
    basis_a, basis_b = alice.channels >> 1, bob.channels >> 1
    differ = (alice.channels & 1) != (bob.channels & 1)
    same = basis_a == basis_b
    n = int(same.sum())
    # Same basis: (1 − V)/2 errors; Z against X: uncorrelated; each basis chosen half the time.
    assert _within(differ[same].mean(), 0.05, math.sqrt(0.05 * 0.95 / n))
    assert _within(differ[~same].mean(), 0.5, math.sqrt(0.25 / (~same).sum()))
    assert _within(basis_a.mean(), 0.5, math.sqrt(0.25 / basis_a.size))


def test_the_clock_reads_offset_drift_and_a_random_walk() -> None:
    offset, drift_ppm = 987_654_321, 12.5
    alice, bob = _perfect_pairs(1.0, 7, clock_offset_ps=offset, clock_drift_ppm=drift_ppm)
    t = alice.times_ps.astype(np.float64)
    assert np.array_equal(bob.times_ps - alice.times_ps, offset + np.rint(drift_ppm * 1e-6 * alice.times_ps))
    alice, walked = _perfect_pairs(1.0, 7, clock_wander_ps=400.0)
    residual = (walked.times_ps - alice.times_ps).astype(np.float64)
    # A Brownian walk of 400 ps after 1 s: its steps over 1 ms have variance 400²·10⁻³ ps² (1000 of them, so
    # the sample variance is within √(2/1000) of it, relatively, per σ).
    steps = np.diff(np.interp(np.arange(0, 1e12, 1e9), t, residual))  # over 1 ms
    assert _within(np.var(steps), 400.0**2 * 1e-3, 400.0**2 * 1e-3 * math.sqrt(2 / steps.size))


def test_a_detector_registers_nothing_within_its_dead_time() -> None:
    rate, dead_ns = 2e6, 100.0
    side = DetectorSide(**{**IDEAL, "dark_count_rate_hz": (rate, 0.0, 0.0, 0.0), "dead_time_ns": dead_ns})
    run = record_time_tags(
        EntangledPairSource(pair_rate_hz=1.0), side, DetectorSide(), 0.5, rng=np.random.default_rng(8)
    )
    clicks = run.alice.times_ps[run.alice.channels == 0]
    assert np.diff(clicks).min() >= dead_ns * 1e3
    # Non-paralysable: registered = r / (1 + r τ); Poisson counting of the thinned process bounds the spread.
    expected = 0.5 * rate / (1 + rate * dead_ns * 1e-9)
    assert _within(clicks.size, expected, math.sqrt(expected))


def test_afterpulses_follow_a_click_after_the_dead_time() -> None:
    p, dead_ns, delay_ns = 0.2, 20.0, 50.0
    side = DetectorSide(
        **{
            **IDEAL,
            "dark_count_rate_hz": (1e4, 0, 0, 0),
            "dead_time_ns": dead_ns,
            "afterpulse_probability": p,
            "afterpulse_delay_ns": delay_ns,
        }
    )
    run = record_time_tags(
        EntangledPairSource(pair_rate_hz=1.0), side, DetectorSide(), 1.0, rng=np.random.default_rng(9)
    )
    clicks = run.alice.times_ps[run.alice.channels == 0]
    gaps = np.diff(clicks)
    close = np.count_nonzero(gaps < (dead_ns + 10 * delay_ns) * 1e3)
    primaries = clicks.size / (1 + p)
    assert _within(close, p * primaries, math.sqrt(p * primaries) + 5)
    assert gaps.min() >= dead_ns * 1e3


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: DetectorSide(efficiency=(0.5, 0.5)), "one per channel"),
        (lambda: DetectorSide(basis_split=(0.5, 0.6)), "summing to 1"),
        (lambda: DetectorSide(clock_offset_ps=1.5), "integer"),  # type: ignore[arg-type]
        (lambda: DetectorSide(dead_time_ns=-1), "non-negative"),
        (lambda: EntangledPairSource(pair_rate_hz=0), "positive"),
        (lambda: EntangledPairSource(visibility=1.5), "visibility"),
    ],
)
def test_bad_parameters_are_refused(make: object, says: str) -> None:
    with pytest.raises(InvalidParameter, match=says):
        make()  # type: ignore[operator]
