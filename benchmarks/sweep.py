"""Speed of the sweep machinery: scaling with workers, and its own cost per run.

1. 200-point sweeps of the seed's two-lab link (examples/two_labs.toml, ``--vary link.length_km``) on 1 worker
   (this process) and on 2 worker processes, the speed-up on 2 cores: (a) each point a whole network
   simulation (``network`` runner, as ``qkdnet simulate``: two requests served on the event engine, the
   delivered pairs' fidelity, QBER and key), (b) each point a key run of 200,000 pairs (``key`` runner:
   heralded pairs, sifting, estimation, error correction, privacy amplification).
2. The per-run overhead: a sweep of the ``null`` runner (returns a constant) against calling it directly,
   here, on 2 processes and on a Dask LocalCluster. Target: < 50 ms per run.

Worker processes fork from a server that has run the runner once (imports, numba kernels), so the 2-worker time
includes starting them but not warming each. The machine's cores may be shared: the load average is printed.
``--quick`` runs a small version (10 points, 5,000 pairs per key run, 20 null runs): the test suite runs it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from qkdnet.sweep import get_runner, plan_sweep, read_rows, run_sweep

TWO_LABS = Path(__file__).resolve().parents[1] / "examples" / "two_labs.toml"
OVERHEAD_TARGET_S = 0.050


def timed_sweep(vary: list[str], *, runner: str | None = None, **kwargs: object) -> tuple[float, float]:
    """Wall time of one sweep into a fresh table (planning, running, writing), and the CPU seconds its runs used."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        plan = plan_sweep(TWO_LABS, vary, runner=runner)
        outcome = run_sweep(plan, Path(tmp) / "r.parquet", **kwargs)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - start
        cpu = sum(r["cpu_s"] for r in read_rows(Path(tmp) / "r.parquet"))
    if outcome.failed:
        raise SystemExit(f"{outcome.failed} runs failed: {outcome.first_error}")
    return elapsed, cpu


def scaling(points: int, runner: str, extra: list[str]) -> tuple[tuple[float, float], tuple[float, float]]:
    """(wall, CPU) seconds of the sweep on 1 worker and on 2 worker processes."""
    vary = [f"link.length_km=0.03:0.5:{points}", *extra]
    timed_sweep(["link.length_km=0.06", *extra], runner=runner)  # imports and numba kernels loaded here once
    one = timed_sweep(vary, runner=runner, workers=1)
    two = timed_sweep(vary, runner=runner, workers=2)
    return one, two


def overhead(points: int) -> dict[str, float]:
    """Seconds per run the machinery adds to the null runner, by backend."""
    vary = [f"link.length_km=0.03:2:{points}"]
    plan = plan_sweep(TWO_LABS, vary, runner="null")
    configs = [p for p in plan.points()]
    null = get_runner("null").function
    start = time.perf_counter()
    for p in configs:
        null(p.config, p.seed)
    direct = (time.perf_counter() - start) / points
    out = {
        "this process": timed_sweep(vary, runner="null")[0] / points - direct,
        "2 processes": timed_sweep(vary, runner="null", workers=2)[0] / points - direct,
    }
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        out["Dask LocalCluster"] = timed_sweep(vary, runner="null", client=client)[0] / points - direct
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 points per sweep, 5,000 pairs per key run")
    args = parser.parse_args(argv)
    points = 10 if args.quick else 200
    pairs = 5_000 if args.quick else 200_000
    cases = {"network simulations": ("network", []), f"key runs of {pairs:,} pairs": ("key", [f"key.pairs={pairs}"])}
    for label, (runner, extra) in cases.items():
        print(f"two-lab link, {points} {label} (examples/two_labs.toml, vary link.length_km=0.03:0.5)")
        load = os.getloadavg()[0]
        (one, cpu_one), (two, cpu_two) = scaling(points, runner, extra)
        per_run = 1e3 * one / points
        print(f"  1 worker  {one:8.2f} s  ({per_run:6.1f} ms per run; runs kept {cpu_one / one:.2f} cores busy)")
        print(
            f"  2 workers {two:8.2f} s  speed-up {one / two:.2f}x on {os.cpu_count()} cores "
            f"(runs kept {cpu_two / two:.2f} cores busy)"
        )
        print(f"  (load average {load:.1f} before, {os.getloadavg()[0]:.1f} after: other processes share the cores)")
    null_points = 20 if args.quick else 200
    print(f"per-run overhead of the machinery ({null_points} runs of the null runner; target < 50 ms):")
    worst = 0.0
    for backend, seconds in overhead(null_points).items():
        worst = max(worst, seconds) if backend != "Dask LocalCluster" else worst
        print(f"  {backend:<18} {1e3 * seconds:7.2f} ms per run")
    verdict = "meets" if worst < OVERHEAD_TARGET_S else "MISSES"
    print(f"  local backends: {verdict} the 50 ms target")
    return 0 if worst < OVERHEAD_TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
