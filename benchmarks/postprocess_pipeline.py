"""Speed of post-processing: privacy amplification, verification, and the whole authenticated finite-key road.

Targets (issue 5, one core): privacy amplification ≥ 50 Mbit/s on 10⁶ and 10⁷ bits; the whole road (estimation,
reconciliation, verification, amplification, every message authenticated) ≥ 10 Mbit/s of sifted key. Everything
is single-threaded (FFT workers=1, BLAS/OpenMP pinned to one thread) and both parties of the road run on the same
core, so "per core" here is the simulator's cost of both ends together. The last lines time the road from the
parties' records (``key_from_records``: announcements, sifting, estimation, the decision, then the road above) on
BBM92 Werner pairs at Q = 2 %; its rate is per bit of sifted key too. Best of a few runs; the machine is shared.
Run with `make bench` or `python benchmarks/postprocess_pipeline.py [--quick]`.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from qkdnet.postprocess import (
    ESTIMATION_SAMPLE,
    FiniteKeyLength,
    HashSeed,
    LeakageLedger,
    Message,
    PartyTagKeys,
    Reconciler,
    ReconcilingAlice,
    ReconcilingBob,
    get_reconciler,
    modified_toeplitz_hash,
    reconcile_and_amplify,
    run_protocol,
    verification_seed_bits,
    verification_tag,
)

PA_TARGET_MBPS = 50.0
PIPELINE_TARGET_MBPS = 10.0
QBER = 0.02
SAMPLE_FRACTION = 0.1


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    """Shortest wall time of ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def random_bits(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.unpackbits(np.frombuffer(rng.bytes((n + 7) // 8), dtype=np.uint8), count=n)


def amplification_mbps(n: int, repeats: int) -> float:
    """One party's modified-Toeplitz hash of n bits to n/2 bits."""
    rng = np.random.default_rng(n)
    key, seed = random_bits(n, rng), random_bits(n - 1, rng)
    return n / best_seconds(lambda: modified_toeplitz_hash(key, seed, n // 2), repeats) / 1e6


def verification_mbps(n: int, repeats: int) -> float:
    """One party's 40-bit verification tag of n bits."""
    rng = np.random.default_rng(n + 1)
    key = random_bits(n, rng)
    seed = random_bits(verification_seed_bits(40), rng)
    return n / best_seconds(lambda: verification_tag(key, HashSeed(seed), 40), repeats) / 1e6


class _AlreadyEqual:
    """A reconciler for keys that already agree: it discloses nothing (to time the road without reconciliation)."""

    class _Party:
        def __init__(self, key: np.ndarray) -> None:
            self.key, self.disclosed_bits, self.rounds, self.corrected_bits = key, 0, 0, 0
            self.frame_lengths = np.array([key.size], dtype=np.int64)  # one frame: the whole key
            self.failed_frames = np.zeros(1, dtype=np.bool_)
            self.done = True
            self.result = self

        def start(self) -> list[Message]:
            return []

        def receive(self, message: Message) -> list[Message]:
            raise AssertionError("no message expected")

    def make_alice(self, key: np.ndarray, *, ledger: LeakageLedger, rng: np.random.Generator) -> ReconcilingAlice:
        return self._Party(key)

    def make_bob(
        self, key: np.ndarray, *, qber_estimate: float, ledger: LeakageLedger, rng: np.random.Generator
    ) -> ReconcilingBob:
        return self._Party(key)


def pipeline(n_sifted: int, repeats: int) -> tuple[float, float, float, int]:
    """Mbit/s of sifted key through the whole road, through the road without reconciliation, through
    Cascade alone (on the same key bits), and the final key bits of the whole road."""
    rng = np.random.default_rng(n_sifted)
    alice = random_bits(n_sifted, rng)
    bob = alice ^ (rng.random(n_sifted) < QBER).astype(np.uint8)
    preshared = random_bits(1 << 17, rng)
    sample = np.random.default_rng(7).choice(n_sifted, size=round(SAMPLE_FRACTION * n_sifted), replace=False)
    keep = np.ones(n_sifted, dtype=bool)
    keep[sample] = False
    estimate = float(np.mean(alice[sample] != bob[sample]))
    final_bits = 0

    def road(bob_key: np.ndarray, reconciler: str | Reconciler) -> None:
        nonlocal final_bits
        run_rng = np.random.default_rng(7)
        # estimation: Bob picks the sample, both disclose it, the rest is the key
        chosen = run_rng.choice(n_sifted, size=sample.size, replace=False)
        kept = np.ones(n_sifted, dtype=bool)
        kept[chosen] = False
        measured = float(np.mean(alice[chosen] != bob_key[chosen]))
        ledger = LeakageLedger()
        ledger.record(ESTIMATION_SAMPLE, chosen.size, charged=False)
        tag_keys = (
            PartyTagKeys.from_preshared(preshared, side="alice"),
            PartyTagKeys.from_preshared(preshared.copy(), side="bob"),
        )
        out = reconcile_and_amplify(
            alice[kept],
            bob_key[kept],
            qber_estimate=measured,
            ledger=ledger,
            rng=run_rng,
            key_length=FiniteKeyLength.adaptive(max(measured, estimate)),
            reconciler=reconciler,
            tag_keys=tag_keys,
        )
        final_bits = out.final_bits if reconciler == "cascade" else final_bits

    def reconciliation() -> None:
        cascade = get_reconciler("cascade")
        run_rng = np.random.default_rng(8)
        run_protocol(
            cascade.make_alice(alice[keep], ledger=LeakageLedger(), rng=run_rng),
            cascade.make_bob(bob[keep], qber_estimate=estimate, ledger=LeakageLedger(), rng=run_rng),
        )

    whole = best_seconds(lambda: road(bob, "cascade"), repeats)
    rest = best_seconds(lambda: road(alice, _AlreadyEqual()), repeats)
    alone = best_seconds(reconciliation, repeats)
    return n_sifted / whole / 1e6, n_sifted / rest / 1e6, n_sifted / alone / 1e6, final_bits


def records_road(n_pairs: int, repeats: int) -> tuple[float, int, int]:
    """Mbit/s of sifted key from BBM92 records (Werner pairs, Q = 2 %) to the final key, sifted and final bits."""
    from qkdnet.network.sources import WernerSource
    from qkdnet.qkd import BBM92
    from qkdnet.qkd.pipeline import key_from_records
    from qkdnet.qkd.records import simulate_records
    from qkdnet.rng import SeedTree

    source = WernerSource(visibility=1.0 - 2.0 * QBER, pair_rate_hz=1e6)
    records = simulate_records(source, BBM92, n_pairs, tree=SeedTree(n_pairs))
    result = key_from_records(records, BBM92, seed=7)  # also compiles and loads what the road needs
    seconds = best_seconds(lambda: key_from_records(records, BBM92, seed=7), repeats)
    return result.sifted_bits / seconds / 1e6, result.sifted_bits, result.final_key_bits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and one run each (for tests)")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 3
    pa_sizes = (10**5,) if args.quick else (10**6, 10**7)
    road_sizes = (10**5,) if args.quick else (10**5, 10**6)

    print(f"{'stage':<44}{'bits':>12}{'Mbit/s':>10}{'target':>10}  verdict")
    for n in pa_sizes:
        rate = amplification_mbps(n, repeats)
        verdict = "meets" if rate >= PA_TARGET_MBPS else "MISSES"
        print(
            f"{'privacy amplification (modified Toeplitz)':<44}{n:>12,}{rate:>10.1f}{PA_TARGET_MBPS:>10.0f}  {verdict}"
        )
    for n in pa_sizes:
        print(f"{'verification tag (Poly1305 + Toeplitz)':<44}{n:>12,}{verification_mbps(n, repeats):>10.1f}{'':>10}")
    for n in road_sizes:
        whole, rest, alone, final_bits = pipeline(n, repeats)
        verdict = "meets" if whole >= PIPELINE_TARGET_MBPS else "MISSES"
        label = f"whole road, QBER {100 * QBER:g} % (sifted key)"
        print(f"{label:<44}{n:>12,}{whole:>10.2f}{PIPELINE_TARGET_MBPS:>10.0f}  {verdict} ({final_bits:,} final bits)")
        print(f"{'  the road without reconciliation':<44}{n:>12,}{rest:>10.2f}")
        print(f"{'  Cascade (original) alone':<44}{n:>12,}{alone:>10.2f}")
    for n_pairs in (2 * 10**5,) if args.quick else (2 * 10**5, 2 * 10**6):
        rate, sifted, final_bits = records_road(n_pairs, repeats)
        verdict = "meets" if rate >= PIPELINE_TARGET_MBPS else "MISSES"
        label = "records to key, BBM92 Q 2 % (sifted key)"
        target = f"{PIPELINE_TARGET_MBPS:>10.0f}"
        print(f"{label:<44}{sifted:>12,}{rate:>10.2f}{target}  {verdict} ({final_bits:,} final bits)")
    print("single-threaded; both parties on one core; best of", repeats, "run(s) on a shared machine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
