"""Recorded time tags in, key out, against models the finder does not control: clocks recovered within the
jitter, the QBER of accidentals against R_A·R_B·τ, dark-count-dominated links aborting, and a wrong offset
giving no key rather than a wrong one."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.hardware.timetagger import DetectorSide, EntangledPairSource, TaggedRun, record_time_tags
from qkdnet.qkd import BBM92, E91
from qkdnet.qkd.recorded import channel_map, default_channels, key_from_time_tags
from qkdnet.units import seconds_to_ps

Z0Z1X0X1 = channel_map(default_channels(BBM92), BBM92)


def _record(seconds: float, seed: int, *, source: EntangledPairSource | None = None, **bob: object) -> TaggedRun:
    return record_time_tags(
        source or EntangledPairSource(pair_rate_hz=1e6),
        DetectorSide(),
        DetectorSide(**bob),  # type: ignore[arg-type]
        seconds,
        rng=np.random.default_rng(seed),
    )


@pytest.mark.parametrize(
    ("offset_s", "drift_ppm", "seed"), [(0.99, 20.0, 1), (-0.99, -20.0, 2), (-0.2, 0.0, 3), (0.0371, 3.3, 4)]
)
def test_offsets_up_to_a_second_and_drifts_up_to_20_ppm_are_recovered_within_the_jitter(
    offset_s: float, drift_ppm: float, seed: int
) -> None:
    offset_ps = seconds_to_ps(offset_s)
    run = _record(1.0, seed, clock_offset_ps=offset_ps, clock_drift_ppm=drift_ppm, clock_wander_ps=50.0)
    found = key_from_time_tags(run.alice, run.bob, BBM92, channels=Z0Z1X0X1, seed=seed)
    jitter = math.hypot(DetectorSide().jitter_ps, DetectorSide().jitter_ps)  # both sides' tags jitter
    # Bob's clock at Alice's first click: the offset plus the drift over a few µs and a walk of ≲ 1 ps there.
    truth = offset_ps + drift_ppm * 1e-6 * run.alice.times_ps[0]
    assert abs(found.offset_ps - truth) <= jitter
    # The slope of ~38,000 pairs over 1 s jittered by 212 ps: σ ≈ 212·√12/(10¹²·√38000) ≈ 4·10⁻⁶ ppm, and the
    # 50 ps walk bends the line by ~10⁻⁴ ppm; 10⁻³ ppm bounds both.
    assert found.drift_ppm == pytest.approx(drift_ppm, abs=1e-3)
    assert found.clock.estimate.jitter_ps == pytest.approx(jitter, rel=0.15)
    # The floor off the peak predicts the accidentals: R_A·R_B·τ over the overlap, within 5 Poisson σ.
    pairs = found.coincidences
    accidentals = len(run.alice) * len(run.bob) / run.duration_s**2 * found.clock.estimate.window_ps * 1e-12
    accidentals *= pairs.duration_s
    assert pairs.accidentals_expected == pytest.approx(accidentals, abs=5 * math.sqrt(accidentals) + 1)
    # 99.7 % of the true pairs are in the ±3σ window, dead time and afterpulses aside.
    true_found = found.coincidences.alice_index.size - found.coincidences.accidentals_expected
    assert true_found >= 0.99 * run.pairs_seen_by_both - 5 * math.sqrt(run.pairs_seen_by_both)


def test_both_sides_get_the_same_secret_key_from_clicks() -> None:
    run = _record(
        2.0, 5, source=EntangledPairSource(pair_rate_hz=4e6), clock_offset_ps=-123_456_789_012, clock_drift_ppm=-4.0
    )
    found = key_from_time_tags(run.alice, run.bob, BBM92, channels=Z0Z1X0X1, seed=5)
    r = found.result
    assert r.secure, r.abort_reason
    assert r.alice_key is not None and r.bob_key is not None and r.final_key_bits > 10_000
    assert np.array_equal(r.alice_key, r.bob_key)
    summary = found.summary()
    assert summary["coincidences"] == r.pairs and summary["final_key_bits"] == r.final_key_bits
    assert "alice_key" not in summary and "bob_key" not in summary


def test_the_qber_of_accidentals_is_half_their_share_with_r_a_r_b_tau_of_them() -> None:
    """Perfect pairs (V = 1) among dark counts: every error is an accidental coincidence's, at ½ each."""
    run = record_time_tags(
        EntangledPairSource(pair_rate_hz=1e6, visibility=1.0),
        DetectorSide(dark_count_rate_hz=4e5),
        DetectorSide(dark_count_rate_hz=4e5, clock_offset_ps=seconds_to_ps(0.25)),
        2.0,
        rng=np.random.default_rng(11),
    )
    found = key_from_time_tags(run.alice, run.bob, BBM92, channels=Z0Z1X0X1, seed=11)
    pairs = found.coincidences
    rate_a, rate_b = len(run.alice) / run.duration_s, len(run.bob) / run.duration_s
    tau_s = found.clock.estimate.window_ps * 1e-12
    accidentals = rate_a * rate_b * tau_s * pairs.duration_s  # Neumann et al. 2021: R_A R_B τ per second
    assert pairs.accidentals_expected == pytest.approx(accidentals, abs=5 * math.sqrt(accidentals))
    expected_qber = 0.5 * accidentals / pairs.alice_index.size
    sifted = found.result.sifted_bits
    measured = found.result.observer.true_qber  # every sifted bit, not only the sample
    assert measured is not None and expected_qber > 0.02
    sigma = math.hypot(
        math.sqrt(expected_qber * (1 - expected_qber) / sifted), 0.5 * math.sqrt(accidentals) / pairs.alice_index.size
    )
    assert abs(measured - expected_qber) <= 5 * sigma


def test_a_dark_count_dominated_link_aborts() -> None:
    run = record_time_tags(
        EntangledPairSource(pair_rate_hz=1e6),
        DetectorSide(dark_count_rate_hz=1e6),
        DetectorSide(dark_count_rate_hz=1e6, clock_offset_ps=77_000_000),
        0.5,
        rng=np.random.default_rng(12),
    )
    found = key_from_time_tags(run.alice, run.bob, BBM92, channels=Z0Z1X0X1, seed=12)
    assert not found.result.secure and found.result.final_key_bits == 0 and found.result.alice_key is None
    assert found.result.qber > 0.11 and "QBER" in (found.result.abort_reason or "")


@pytest.mark.parametrize("shift", ["window", "coarse bin"])
def test_an_offset_wrong_by_one_bin_gives_no_key_rather_than_a_wrong_one(shift: str) -> None:
    run = _record(1.0, 13, source=EntangledPairSource(pair_rate_hz=4e6), clock_offset_ps=5_000_000_000)
    right = key_from_time_tags(run.alice, run.bob, BBM92, channels=Z0Z1X0X1, seed=13)
    estimate = right.clock.estimate
    step = estimate.window_ps if shift == "window" else 2 * seconds_to_ps(1.0) // (1 << 20) + 1
    wrong_clock = replace(right.clock, estimate=replace(estimate, offset_ps=estimate.offset_ps + step))
    wrong = key_from_time_tags(run.alice, run.bob, BBM92, channels=Z0Z1X0X1, seed=13, clock=wrong_clock)
    assert wrong.result.qber == pytest.approx(0.5, abs=5 * 0.5 / math.sqrt(max(1, wrong.result.sample_bits)))
    assert not wrong.result.secure and wrong.result.alice_key is None


def test_streams_without_common_pairs_have_no_peak() -> None:
    a = _record(0.2, 14)
    b = _record(0.2, 15)  # another source: no pairs in common
    with pytest.raises(InvalidParameter, match="no coincidence peak"):
        key_from_time_tags(a.alice, b.bob, BBM92, channels=Z0Z1X0X1, seed=14)


def test_channel_maps_name_every_setting_and_outcome_once() -> None:
    swapped = channel_map(["x1", "X0", "Z1", "Z0"], BBM92)
    assert swapped.names == ("X1", "X0", "Z1", "Z0")
    assert swapped.settings.tolist() == [1, 1, 0, 0] and swapped.outcomes.tolist() == [1, 0, 1, 0]
    assert default_channels(E91) == ("A0", "A1", "B0", "B1", "C0", "C1")
    with pytest.raises(InvalidParameter, match="unknown channel name 'Y0'"):
        channel_map(["Z0", "Z1", "X0", "Y0"], BBM92)
    with pytest.raises(InvalidParameter, match="named once"):
        channel_map(["Z0", "Z1", "X0", "X0"], BBM92)
    run = _record(0.05, 16)
    with pytest.raises(InvalidParameter, match="channel 3, but only 2 are named"):
        key_from_time_tags(
            run.alice, run.bob, BBM92, channels=replace(Z0Z1X0X1, settings=Z0Z1X0X1.settings[:2]), seed=1
        )


def _blocks(run: TaggedRun, bob_times: np.ndarray, edges_s: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Both streams cut at Alice times ``edges_s`` (Bob's at the same instants of his clock, roughly)."""
    a, b = run.alice.times_ps, bob_times
    lag = int(np.median(b[:100]) - np.median(a[:100]))  # where a block ends on Bob's clock: any rough guess
    cuts = [seconds_to_ps(e) for e in edges_s]
    return [
        (
            a[np.searchsorted(a, lo) : np.searchsorted(a, hi)],
            b[np.searchsorted(b, lo + lag) : np.searchsorted(b, hi + lag)],
        )
        for lo, hi in itertools.pairwise(cuts)
    ]


def test_the_tracker_follows_the_clock_block_by_block_and_reacquires_after_a_jump() -> None:
    """Bob's tagger jumps by 37 µs at 1.25 s (a reset): the block with the jump is lost at most, and the
    tracker finds the clock again in the next one; every other block keeps its pairs."""
    from qkdnet.qkd.coincidence import ClockTracker

    run = _record(2.0, 21, clock_offset_ps=seconds_to_ps(0.4), clock_drift_ppm=7.0, clock_wander_ps=80.0)
    bob = run.bob.times_ps.copy()
    jump_at = seconds_to_ps(0.4) + seconds_to_ps(1.25)
    bob[bob >= jump_at] += 37_000_000
    tracker = ClockTracker(max_offset_ps=seconds_to_ps(1.0))
    blocks = [tracker.update(a, b) for a, b in _blocks(run, bob, np.linspace(0.0, 2.0, 21))]
    assert blocks[0].reacquired and tracker.reacquisitions in (1, 2)
    expected = run.pairs_seen_by_both / 20
    for k, block in enumerate(blocks):
        true_pairs = block.coincidences.alice_index.size - block.coincidences.accidentals_expected
        if k in (12, 13):  # the jump's block, and the one after if the jump came late in it
            continue
        assert true_pairs >= 0.97 * expected - 5 * math.sqrt(expected), k
        assert block.clock.drift * 1e6 == pytest.approx(7.0, abs=0.05), k
    assert blocks[13].reacquired or blocks[12].reacquired


def test_an_e91_recording_with_three_settings_a_side_gives_a_chsh_certified_key() -> None:
    """Passive choice among E91's three settings a side (six channels, A0 … C1): the CHSH value of Werner
    pairs of V = 0.97 is 2√2·V within 5σ, and both ends get the same key."""
    third = (1 / 3, 1 / 3, 1 / 3)
    run = record_time_tags(
        EntangledPairSource(pair_rate_hz=8e6, visibility=0.97),
        DetectorSide(basis_split=third),
        DetectorSide(basis_split=third, clock_offset_ps=seconds_to_ps(0.6), clock_drift_ppm=-2.0),
        2.0,
        angles_deg=(E91.alice_angles_deg, E91.bob_angles_deg),
        rng=np.random.default_rng(31),
    )
    found = key_from_time_tags(run.alice, run.bob, E91, channels=channel_map(default_channels(E91), E91), seed=31)
    r = found.result
    assert r.chsh_s is not None and r.chsh_s_stderr is not None
    assert abs(r.chsh_s - 2 * math.sqrt(2) * 0.97) < 5 * r.chsh_s_stderr + 0.03  # accidentals lower S a little
    assert r.secure and r.alice_key is not None and np.array_equal(r.alice_key, r.bob_key)
