"""One table of post-processing against its goals (issue 13 item 7), measured side by side in one run.

1. Every reconciler of the registry at QBER 1, 2, 5, 8 and 10 % and frames of 10⁴ and 10⁵ bits, through the
   in-memory driver with every message serialised (i.i.d. errors, Bob's estimate = the QBER):
   f (the ledger's charged bits over n·h(Q)), FER and frames dropped (frames Bob knows failed, plus frames left
   wrong, which verification drops), round trips of the block, Mbit/s of sifted key (wall time, one thread,
   codes built before timing). Tag-key bits per block come from one whole key run per reconciler (BBM92 on
   Werner pairs at Q = 2 %, 10⁶ pairs): every stage's transcript costs one tag per direction, so the cost
   is per block whatever the QBER.
2. Privacy amplification on 10⁶ and 10⁷ bits, fresh and warm, beside the plain NumPy FFT Toeplitz product
   (benchmarks/privacy_amplification.py); the whole road at 10⁶ sifted bits
   (benchmarks/postprocess_pipeline.py); the KME under paced load (benchmarks/kms_load.py).

Each row shows its goal and a verdict. ``--quick`` runs a small version (fewer bits, no KME).
Run: ``python benchmarks/table.py [--quick]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np

from qkdnet.errors import ReconciliationFailed
from qkdnet.network import WernerSource
from qkdnet.postprocess import LeakageLedger, run_protocol
from qkdnet.postprocess.reconciler import RECONCILERS
from qkdnet.qkd import BBM92, KeyRunConfig, run_key_exchange

QBERS = (0.01, 0.02, 0.05, 0.08, 0.10)
FRAMES = (10_000, 100_000)
GOAL_F = {10_000: 1.10, 100_000: 1.06}
GOAL_FER = 1e-2
GOAL_MBITS = 5.0
HERE = Path(__file__).resolve().parent


def h2(p: float) -> float:
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


@dataclasses.dataclass
class Row:
    name: str
    frame_bits: int
    qber: float
    f: float
    frames: int
    dropped: int
    round_trips: int
    mbits: float

    def verdict(self) -> str:
        notes = [
            "f ok" if self.f <= GOAL_F[self.frame_bits] else "f miss",
            "FER ok" if self.dropped / self.frames <= GOAL_FER else "FER miss",
            "speed ok" if self.mbits >= GOAL_MBITS else "speed miss",
        ]
        return ", ".join(notes)


def reconcile(name: str, frame_bits: int, qber: float, block_bits: int, seed: int) -> Row:
    """One block of ``block_bits`` through the reconciler ``name`` cut into ``frame_bits`` frames."""
    reconciler = dataclasses.replace(RECONCILERS[name], frame_bits=frame_bits)  # type: ignore[type-var]
    rng = np.random.default_rng(seed)
    alice_key = rng.integers(0, 2, block_bits, dtype=np.uint8)
    bob_key = alice_key ^ (rng.random(block_bits) < qber).astype(np.uint8)
    ledger_a, ledger_b = LeakageLedger(), LeakageLedger()
    alice = reconciler.make_alice(alice_key, ledger=ledger_a, rng=rng)
    bob = reconciler.make_bob(bob_key, qber_estimate=qber, ledger=ledger_b, rng=rng)
    plan = getattr(bob, "plan", None)
    if plan is not None:
        plan.code  # noqa: B018 - build (and cache) the LDPC code outside the timed part
    start = time.perf_counter()
    try:
        transcript = run_protocol(alice, bob)
        result = bob.result
    except ReconciliationFailed:
        seconds = time.perf_counter() - start
        frames = max(1, block_bits // frame_bits)
        return Row(name, frame_bits, qber, math.inf, frames, frames, 0, block_bits / seconds / 1e6)
    seconds = time.perf_counter() - start
    lengths = np.asarray(result.frame_lengths)
    ends = np.cumsum(lengths)
    wrong = [
        not np.array_equal(result.key[e - n : e], alice_key[e - n : e]) for n, e in zip(lengths, ends, strict=True)
    ]
    dropped = int(np.count_nonzero(np.asarray(result.failed_frames) | np.asarray(wrong)))
    f = ledger_b.charged_bits / (block_bits * h2(qber))
    return Row(name, frame_bits, qber, f, lengths.size, dropped, transcript.round_trips, block_bits / seconds / 1e6)


def tag_key_bits(name: str, pairs: int) -> tuple[int, int, bool]:
    """(tag-key bits spent, final key bits, secure) of one whole BBM92 key run at Q = 2 %."""
    run = run_key_exchange(
        WernerSource(visibility=0.96, pair_rate_hz=1e6), BBM92, pairs, seed=13, config=KeyRunConfig(reconciler=name)
    )
    return run.authentication_key_bits, run.final_key_bits, run.secure


def reconciler_table(block_bits: int, pairs: int) -> None:
    print(f"reconcilers: blocks of {block_bits:,} bits; goals f <= 1.10 (10⁴) / 1.06 (10⁵), FER <= 1e-2, >= 5 Mbit/s")
    head = f"{'reconciler':<17}{'frame':>8}{'QBER':>6}{'f':>7}{'FER':>8}{'dropped':>10}{'RT':>6}{'Mbit/s':>8}"
    print(f"{head}{'tag bits':>10}  verdict")
    for name in sorted(RECONCILERS):
        tags, final, secure = tag_key_bits(name, pairs)
        for frame_bits in FRAMES:
            for k, qber in enumerate(QBERS):
                row = reconcile(name, frame_bits, qber, block_bits, seed=1000 * k + frame_bits % 997)
                fer = row.dropped / row.frames
                print(
                    f"{name:<17}{frame_bits:>8,}{100 * qber:>5.0f}%{row.f:>7.3f}{fer:>8.1e}"
                    f"{f'{row.dropped}/{row.frames}':>10}{row.round_trips:>6}{row.mbits:>8.2f}{tags:>10,}  "
                    f"{row.verdict()}"
                )
        print(f"{'':<17}whole key run at Q = 2 %: {final:,} final bits, secure: {secure}; tag key {tags:,} bits")


def run_script(script: str, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own benchmark scripts
        [sys.executable, str(HERE / script), *args], capture_output=True, text=True, check=False, timeout=1800
    )
    return done.stdout + done.stderr


def rest_table(quick: bool) -> None:
    print("\nprivacy amplification (goal >= 50 Mbit/s fresh), beside plain NumPy FFT Toeplitz:")
    out = run_script("privacy_amplification.py", "--quick") if quick else run_script("privacy_amplification.py")
    print("\n".join("  " + line for line in out.strip().splitlines()))
    print("\nwhole road (goal >= 10 Mbit/s of sifted key):")
    out = run_script("postprocess_pipeline.py", "--quick") if quick else run_script("postprocess_pipeline.py")
    print("\n".join("  " + line for line in out.strip().splitlines()))
    if quick:
        return
    print("\nKME under paced load (goal >= 1,000 req/s with p99 <= 50 ms):")
    out = run_script("kms_load.py", "--seconds", "10")
    summary = [line for line in out.splitlines() if re.match(r"(saturated|paced): ", line)]
    print("\n".join("  " + line for line in summary or out.strip().splitlines()[-5:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small blocks, no KME (a smoke run)")
    args = parser.parse_args(argv)
    reconciler_table(200_000 if args.quick else 1_000_000, 200_000 if args.quick else 1_000_000)
    rest_table(args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
