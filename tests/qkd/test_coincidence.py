"""Coincidence finding on synthetic time-tag streams with a known offset, jitter, losses and dark counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import InvalidParameter
from qkdnet.qkd.coincidence import find_clock, find_offset, match

PAIR_RATE_HZ = 100_000.0
DARK_HZ = 500_000.0  # dark counts and stray light: enough accidentals to check the floor against
ETA_A, ETA_B = 0.5, 0.6
JITTER_PS = 80.0
SECONDS = 1.0


def _streams(
    offset_ps: int, seed: int, *, common: bool = True, drift: float = 0.0, wander_ps: float = 0.0
) -> tuple[np.ndarray, np.ndarray, int]:
    """Alice's and Bob's sorted tags (Bob's clock runs ``1 + drift`` times as fast, and wanders by a random
    walk of ``wander_ps`` standard deviation after one second), and how many pairs both detected."""
    rng = np.random.default_rng(seed)
    span = int(SECONDS * 1e12)
    pairs = np.sort(rng.integers(0, span, rng.poisson(PAIR_RATE_HZ * SECONDS)))
    seen_a = rng.random(pairs.size) < ETA_A
    seen_b = rng.random(pairs.size) < ETA_B
    if not common:
        seen_b &= ~seen_a
    alice = np.concatenate([pairs[seen_a], rng.integers(0, span, rng.poisson(DARK_HZ * SECONDS))])
    jitter = np.rint(rng.normal(0.0, JITTER_PS, pairs.size)).astype(np.int64)
    bob = np.concatenate(
        [pairs[seen_b] + offset_ps + jitter[seen_b], rng.integers(0, span, rng.poisson(DARK_HZ * SECONDS)) + offset_ps]
    )
    bob = bob + np.rint(drift * bob).astype(np.int64)
    if wander_ps:
        steps = np.cumsum(rng.normal(0.0, wander_ps / math.sqrt(1000), 1001))  # one step per ms
        bob = bob + np.rint(np.interp(bob - offset_ps, np.linspace(0, span, 1001), steps)).astype(np.int64)
    return np.sort(alice), np.sort(bob), int(np.count_nonzero(seen_a & seen_b))


@pytest.mark.parametrize(("offset_ps", "seed"), [(313_700_012_345, 1), (-42_000_777, 2), (0, 3)])
def test_the_offset_is_found_from_scratch_and_the_pairs_matched(offset_ps: int, seed: int) -> None:
    alice, bob, both = _streams(offset_ps, seed)
    estimate = find_offset(alice, bob, max_offset_ps=10**12)
    # The peak's centre is a mean of ~30,000 jittered differences: σ/√N ≈ 0.5 ps, plus rounding to fine bins.
    assert abs(estimate.offset_ps - offset_ps) <= 5
    assert estimate.jitter_ps == pytest.approx(JITTER_PS, rel=0.25)
    found = match(alice, bob, estimate)
    # Accidentals: every Alice click meets Bob's uncorrelated clicks (his darks, and pairs only he saw) at the
    # rate r_B,uncorrelated over the window: the floor of the histogram must predict that, within 5 Poisson σ.
    bob_uncorrelated_hz = DARK_HZ + PAIR_RATE_HZ * ETA_B * (1 - ETA_A)
    predicted = alice.size * bob_uncorrelated_hz * estimate.window_ps * 1e-12
    assert predicted > 100 and found.accidentals_expected == pytest.approx(predicted, abs=5 * math.sqrt(predicted))
    true_found = found.alice_index.size - found.accidentals_expected
    assert true_found >= 0.99 * both - 5 * math.sqrt(both)  # the ±3σ window keeps 99.7 % of the pairs
    assert true_found <= both + 5 * math.sqrt(predicted + 1)
    eta_a, eta_b = found.heralding_efficiency
    assert eta_a == pytest.approx(both / bob.size, rel=0.03) and eta_b == pytest.approx(both / alice.size, rel=0.03)
    assert found.rate_hz == pytest.approx(found.alice_index.size / SECONDS, rel=0.01)
    assert np.all(np.diff(found.bob_index) > 0)  # no Bob click is used twice


def test_streams_without_common_pairs_have_no_peak() -> None:
    alice, bob, both = _streams(1_000_000, 4, common=False)
    assert both == 0
    with pytest.raises(InvalidParameter, match="no coincidence peak"):
        find_offset(alice, bob, max_offset_ps=10**12)


@pytest.mark.parametrize(
    ("alice", "says"),
    [(np.array([3, 1, 2]), "sorted"), (np.array([1.5, 2.5]), "integer"), (np.array([1]), "at least 2")],
)
def test_bad_tags_are_refused(alice: np.ndarray, says: str) -> None:
    with pytest.raises(InvalidParameter, match=says):
        find_offset(alice, np.arange(10), max_offset_ps=100)


def test_a_coarse_bin_too_short_for_the_offset_range_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="less than twice max_offset_ps"):
        find_offset(np.arange(10), np.arange(10), max_offset_ps=10**12, coarse_bin_ps=1000)


@pytest.mark.parametrize("drift", [2e-6, -5e-6])
def test_a_drifting_clock_is_fitted_and_its_pairs_matched(drift: float) -> None:
    """2 ppm moves the offset by 2 µs over the second: one offset for the whole stream smears the peak over
    4,000 windows, into the floor; the fitted drift brings it back to the jitter."""
    alice, bob, both = _streams(5_000_000_000, 5, drift=drift)
    with pytest.raises(InvalidParameter, match="no coincidence peak"):
        find_offset(alice, bob, max_offset_ps=10**12)
    clock = find_clock(alice, bob, max_offset_ps=10**12)
    assert clock.drift == pytest.approx(drift, abs=8e-11)  # what is left drifts by under one jitter σ in 1 s
    assert clock.estimate.jitter_ps == pytest.approx(JITTER_PS, rel=0.25)
    found = match(alice, clock.to_alice_clock(bob), clock.estimate)
    assert found.alice_index.size - found.accidentals_expected >= 0.99 * both - 5 * math.sqrt(both)


def test_a_wandering_clock_is_followed() -> None:
    """A random walk of 1.5 ns over the second on top of 1 ppm: the line alone leaves a peak several times the
    jitter; following the wander in 10 ms steps brings it back to the jitter and what the walk does between
    two knots, and the pairs into the window."""
    alice, bob, both = _streams(7_000_000_000, 6, drift=1e-6, wander_ps=1500.0)
    line = find_clock(alice, bob, max_offset_ps=10**12, knot_s=10.0)  # one knot for the whole second: no tracking
    assert line.estimate.jitter_ps > 2 * JITTER_PS
    clock = find_clock(alice, bob, max_offset_ps=10**12)
    # Between knots 10 ms apart the walk leaves a Brownian bridge: mean variance σ²·τ/6 on top of the jitter.
    expected = math.sqrt(JITTER_PS**2 + 1500.0**2 * 0.01 / 6)
    assert clock.estimate.jitter_ps == pytest.approx(expected, rel=0.1)
    found = match(alice, clock.to_alice_clock(bob), clock.estimate)
    assert found.alice_index.size - found.accidentals_expected >= 0.99 * both - 5 * math.sqrt(both)


def test_a_peak_smeared_by_drift_is_reported_broad_not_as_a_spike() -> None:
    """1 ppm over 0.1 s smears the pairs over 100 ns: zooming in on such a plateau used to end on a 1 ps noise
    spike; the estimate must stay as broad as the smear, so a caller sees that one offset does not fit."""
    alice, bob, _ = _streams(2_000_000_000, 7, drift=1e-6)
    piece = alice[(alice >= alice[0] + int(0.3e12)) & (alice < alice[0] + int(0.4e12))]
    estimate = find_offset(piece, bob, max_offset_ps=10**12)
    assert estimate.window_ps > 50_000 and estimate.jitter_ps > 10_000


@settings(max_examples=60, deadline=None)
@given(
    haystack=st.lists(st.integers(-1000, 1000), max_size=60),
    needles=st.lists(st.integers(-1000, 1000), max_size=60),
    low=st.integers(-50, 0),
    width=st.integers(0, 80),
)
def test_the_merge_pass_finds_the_windows_searchsorted_finds(
    haystack: list[int], needles: list[int], low: int, width: int
) -> None:
    from qkdnet.qkd.coincidence_kernels import window_bounds

    h = np.sort(np.array(haystack, dtype=np.int64))
    x = np.sort(np.array(needles, dtype=np.int64))
    lo, hi = window_bounds(h, x, low, low + width)
    assert np.array_equal(lo, np.searchsorted(h, x + low, side="left"))
    assert np.array_equal(hi, np.searchsorted(h, x + low + width, side="right"))
