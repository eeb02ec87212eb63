"""Speed of coincidence finding on two time-tag streams: tags per second, from scratch and with a drifting clock.

Target (issue 15 item 2): >= 10^7 time tags per second per core. Synthetic streams of one second: 10^5 pairs/s
detected with efficiencies 0.5 and 0.6, 80 ps of jitter, 500 kHz of dark counts per side (about 1.1·10^6
tags in all), Bob's clock 0.31 s ahead. Timed: ``find_offset`` + ``match`` (fixed clocks), ``find_clock`` +
``match`` (2 ppm of drift, from scratch), and ``ClockTracker`` following the same drifting streams in blocks of
0.1 s once it has found the clock in the first (what a node does while tags keep coming); best of a few runs,
after one warm-up. Every run checks the offset or drift it found.

Run: ``python benchmarks/coincidence.py [--seconds S]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from qkdnet.qkd.coincidence import ClockTracker, find_clock, find_offset, match

TARGET_TAGS_PER_S = 1e7
OFFSET_PS = 313_700_012_345
REPEATS = 3
BLOCK_PS = 100_000_000_000  # 0.1 s


def streams(seconds: float, drift: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Alice's and Bob's sorted tags (ps)."""
    rng = np.random.default_rng(seed)
    span = int(seconds * 1e12)
    pairs = np.sort(rng.integers(0, span, rng.poisson(1e5 * seconds)))
    seen_a, seen_b = rng.random(pairs.size) < 0.5, rng.random(pairs.size) < 0.6
    jitter = np.rint(rng.normal(0.0, 80.0, pairs.size)).astype(np.int64)
    alice = np.concatenate([pairs[seen_a], rng.integers(0, span, rng.poisson(5e5 * seconds))])
    bob = np.concatenate([pairs[seen_b] + jitter[seen_b], rng.integers(0, span, rng.poisson(5e5 * seconds))])
    bob = bob + OFFSET_PS
    bob = bob + np.rint(drift * bob).astype(np.int64)
    return np.sort(alice), np.sort(bob)


def fixed(alice: np.ndarray, bob: np.ndarray) -> None:
    """Find the offset from scratch and match."""
    match(alice, bob, find_offset(alice, bob, max_offset_ps=10**12))


def drifting(alice: np.ndarray, bob: np.ndarray) -> None:
    """Fit offset and drift from scratch and match."""
    fit = find_clock(alice, bob, max_offset_ps=10**12)
    match(alice, fit.to_alice_clock(bob), fit.estimate)


def tracked_time(alice: np.ndarray, bob: np.ndarray) -> tuple[int, float]:
    """Tags and seconds of a tracker following the clock through blocks of 0.1 s, best of a few runs; the first
    block's search from scratch is not timed."""
    blocks = [
        (
            alice[np.searchsorted(alice, lo) : np.searchsorted(alice, lo + BLOCK_PS)],
            bob[np.searchsorted(bob, lo + OFFSET_PS) : np.searchsorted(bob, lo + BLOCK_PS + OFFSET_PS)],
        )
        for lo in range(int(alice[0]), int(alice[-1]), BLOCK_PS)
    ]
    best = float("inf")
    for _ in range(REPEATS + 1):
        tracker = ClockTracker(max_offset_ps=10**12)
        tracker.update(*blocks[0])
        start = time.perf_counter()
        for a, b in blocks[1:]:
            tracker.update(a, b)
        best = min(best, time.perf_counter() - start)
        assert tracker.reacquisitions == 0 and tracker.clock is not None and abs(tracker.clock.drift - 2e-6) < 1e-8
    return sum(a.size + b.size for a, b in blocks[1:]), best


def best_time(run: Callable[[np.ndarray, np.ndarray], None], alice: np.ndarray, bob: np.ndarray) -> float:
    """Best wall time of ``run(alice, bob)`` over a few calls, after a warm-up."""
    run(alice, bob)
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        run(alice, bob)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of the streams (default 1 s)")
    args = parser.parse_args()
    print("coincidence finding, Mtags/s of both streams (best of 3 after a warm-up; goal >= 10 Mtags/s)")
    for label, drift, run in (
        ("fixed clocks: find_offset + match", 0.0, fixed),
        ("2 ppm drift: find_clock + match", 2e-6, drifting),
        ("2 ppm drift: ClockTracker, 0.1 s blocks", 2e-6, None),
    ):
        alice, bob = streams(args.seconds, drift)
        found = find_clock(alice, bob, max_offset_ps=10**12) if drift else None
        if found is None:
            assert abs(find_offset(alice, bob, max_offset_ps=10**12).offset_ps - OFFSET_PS) <= 5
        else:
            assert abs(found.drift - drift) < 1e-10, found
        if run is None:
            tags, seconds = tracked_time(alice, bob)
        else:
            tags, seconds = alice.size + bob.size, best_time(run, alice, bob)
        rate = tags / seconds
        verdict = "met" if rate >= TARGET_TAGS_PER_S else f"missed by {(TARGET_TAGS_PER_S - rate) / 1e6:.1f} M"
        print(f"  {label:36s} {tags:>11,} tags  {seconds * 1e3:7.1f} ms  {rate / 1e6:6.1f} Mtags/s  {verdict}")


if __name__ == "__main__":
    main()
