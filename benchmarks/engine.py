"""Events per second of qkdnet's event kernel beside SimPy's, on the same workloads, in one run.

SimPy (pinned, ``SIMPY_VERSION``) is installed into a throwaway virtualenv outside the repository (default
``~/.cache/qkdnet-bench/simpy-<version>``, reused when it exists; never a qkdnet dependency), and this very
file is run there with ``--inner simpy``.
The same workload functions drive both kernels, since they share SimPy's API (``env.timeout``, ``env.event``,
``env.process``, ``env.any_of``, ``event.succeed``, ``env.run``); each workload returns the final clock and a
checksum, and the two kernels must agree on both. Workloads:

* ``timeouts``: 1,000 processes, each yielding 1,000 timeouts of deterministic pseudo-random length (10⁶).
* ``ping-pong``: 500 pairs of processes passing a message back and forth 500 times over a fixed latency.
* ``any-of``: 1,000 processes, each waiting 200 times for the first of two timeouts (a condition).
* ``timeouts, yield int`` (qkdnet only): the first workload written with qkdnet's ``yield delay_ps`` shorthand.

"events" counts every event the kernel processes (timeouts, messages, conditions, process starts and ends),
as counted by qkdnet's ``Environment.processed_events``; SimPy processes the same events (the checksums agree).
The two kernels run alternately (qkdnet, SimPy, qkdnet, SimPy, ...), each run in a fresh process, and the
median of ``--repeats`` runs per workload is kept. Neither kernel uses numba, so there is nothing to warm.
Run: ``PYTHONPATH=src .venv/bin/python benchmarks/engine.py`` (about a minute). Not a test: if SimPy cannot be
installed it prints a one-line reason and still measures qkdnet.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _reference import median  # the benchmarks folder is not a package

SIMPY_VERSION = "4.1.2"  # pinned: the reference is the same code on every run
DEFAULT_VENV = Path.home() / ".cache" / "qkdnet-bench" / f"simpy-{SIMPY_VERSION}"
TIMEOUT_S = 900


def _delay(i: int, k: int) -> int:
    """Deterministic pseudo-random delay in [1, 1000] for process i, step k (identical on both kernels)."""
    return (i * 7919 + k * 104_729) % 1000 + 1


def timeouts(env: Any, n_proc: int = 1000, n_steps: int = 1000) -> int:
    def proc(i: int) -> Generator[Any, Any, None]:
        for k in range(n_steps):
            yield env.timeout(_delay(i, k))

    for i in range(n_proc):
        env.process(proc(i))
    env.run()
    return 0


def timeouts_int(env: Any, n_proc: int = 1000, n_steps: int = 1000) -> int:
    def proc(i: int) -> Generator[Any, Any, None]:
        for k in range(n_steps):
            yield _delay(i, k)

    for i in range(n_proc):
        env.process(proc(i))
    env.run()
    return 0


def ping_pong(env: Any, n_pairs: int = 500, rounds: int = 500) -> int:
    total = [0]

    def player(boxes: list[Any], me: int, other: int, latency: int, serve: bool) -> Generator[Any, Any, None]:
        if serve:
            boxes[other].succeed(0)
        for _ in range(rounds):
            msg = yield boxes[me]
            boxes[me] = env.event()
            yield env.timeout(latency)
            boxes[other].succeed(msg + 1)
            total[0] += msg

    for i in range(n_pairs):
        boxes = [env.event(), env.event()]
        env.process(player(boxes, 0, 1, 10 + i % 7, True))
        env.process(player(boxes, 1, 0, 10 + i % 7, False))
    env.run()
    return total[0]


def any_of(env: Any, n_proc: int = 1000, n_steps: int = 200) -> int:
    wins = [0]

    def proc(i: int) -> Generator[Any, Any, None]:
        for k in range(n_steps):
            a = env.timeout(_delay(i, k))
            b = env.timeout(_delay(i + 1, k + 1))
            done = yield env.any_of([a, b])
            wins[0] += a in done

    for i in range(n_proc):
        env.process(proc(i))
    env.run()
    return wins[0]


WORKLOADS: dict[str, Callable[[Any], int]] = {"timeouts": timeouts, "ping-pong": ping_pong, "any-of": any_of}


def measure(make_env: Callable[[], Any], repeats: int, workloads: dict[str, Callable[[Any], int]]) -> dict[str, Any]:
    """Best wall time of ``repeats`` runs per workload, with the final clock, checksum and event count."""
    out: dict[str, Any] = {}
    for name, workload in workloads.items():
        best = float("inf")
        for _ in range(repeats):
            env = make_env()
            start = time.perf_counter()
            checksum = workload(env)
            best = min(best, time.perf_counter() - start)
        out[name] = {
            "seconds": best,
            "now": int(env.now),
            "checksum": checksum,
            "events": getattr(env, "processed_events", None),
        }
    return out


def inner(kernel: str, repeats: int) -> None:
    """Run in a child process: measure one kernel, print one JSON line."""
    if kernel == "simpy":
        import simpy  # type: ignore[import-not-found]

        result = measure(simpy.Environment, repeats, WORKLOADS)
        result["version"] = simpy.__version__
    else:
        from qkdnet.engine import Environment

        result = measure(Environment, repeats, {**WORKLOADS, "timeouts, yield int": timeouts_int})
        result["version"] = "qkdnet"
    print(json.dumps(result))


def ensure_simpy(venv: Path) -> Path:
    """Create (or reuse) ``venv`` with SimPy installed; return its interpreter."""
    python = venv / "bin" / "python"
    if not python.exists():
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=TIMEOUT_S)  # noqa: S603
    probe = subprocess.run(  # noqa: S603
        [str(python), "-c", "import simpy; print(simpy.__version__)"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0 or probe.stdout.strip() != SIMPY_VERSION:
        print(f"pip-installing simpy=={SIMPY_VERSION} into {venv} ...", file=sys.stderr)
        subprocess.run(  # noqa: S603
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"simpy=={SIMPY_VERSION}"],
            check=True,
            capture_output=True,
            timeout=TIMEOUT_S,
        )
    return python


def run_child(python: Path | str, kernel: str, repeats: int) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(  # noqa: S603
        [str(python), __file__, "--inner", kernel, "--repeats", str(repeats)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kernel} run failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One result per workload from several runs: the median time (clock, checksum and events are the same)."""
    out: dict[str, Any] = {"version": runs[0]["version"]}
    for name, row in runs[0].items():
        if name != "version":
            out[name] = {**row, "seconds": median([run[name]["seconds"] for run in runs])}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="throwaway venv for SimPy (%(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per kernel, median kept (%(default)s)")
    parser.add_argument("--inner", choices=("simpy", "qkdnet"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        inner(args.inner, args.repeats)
        return 0

    # Alternate the two kernels, one fresh process per run, and keep each one's median: on a shared machine a
    # burst of load then hurts both sides alike instead of whichever happened to run during it.
    our_runs: list[dict[str, Any]] = []
    their_runs: list[dict[str, Any]] | None = []
    try:
        simpy_python: Path | None = ensure_simpy(args.venv)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"SimPy reference skipped: {exc}")
        simpy_python, their_runs = None, None
    for _ in range(args.repeats):
        our_runs.append(run_child(sys.executable, "qkdnet", 1))
        if simpy_python is not None and their_runs is not None:
            try:
                their_runs.append(run_child(simpy_python, "simpy", 1))
            except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
                print(f"SimPy reference skipped: {exc}")
                their_runs = None
    ours = _medians(our_runs)
    theirs = _medians(their_runs) if their_runs else None

    version = theirs["version"] if theirs else "-"
    print(
        f"Python {sys.version.split()[0]}; SimPy {version} in {args.venv}; median of {args.repeats} interleaved "
        "fresh processes per kernel (qkdnet, SimPy, ...), each timing the workload alone; no numba on either side"
    )
    header = f"{'workload':<22}{'events':>11}{'qkdnet ev/s':>14}{'SimPy ev/s':>14}{'qkdnet/SimPy':>14}"
    print(header)
    print("-" * len(header))
    for name, row in ours.items():
        if name == "version":
            continue
        rate = row["events"] / row["seconds"]
        ref = theirs.get(name) if theirs else None
        if ref is not None and (ref["now"], ref["checksum"]) != (row["now"], row["checksum"]):
            raise SystemExit(f"{name}: kernels disagree: qkdnet {row}, SimPy {ref}")
        ref_rate = row["events"] / ref["seconds"] if ref else float("nan")
        ratio = f"{rate / ref_rate:>13.2f}x" if ref else f"{'-':>14}"
        ref_text = f"{ref_rate:>14,.0f}" if ref else f"{'-':>14}"
        print(f"{name:<22}{row['events']:>11,}{rate:>14,.0f}{ref_text}{ratio}")
    print("qkdnet/SimPy: ratio of median events per second, same events (checksums agree), interleaved runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
