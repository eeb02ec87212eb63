"""Sweeps run here, on local processes and on a real Dask LocalCluster, and resume after an interruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from qkdnet.sweep import (
    SweepInterrupted,
    comparable,
    get_runner,
    plan_sweep,
    read_rows,
    run_sweep,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TWO_LABS = EXAMPLES / "two_labs.toml"
#: Key runs on Werner pairs: random (seeded) results, a few tens of ms each.
KEY_VARY = ["key.visibility=0.95", "key.pairs=4000", "eve.strength=0,0.3", "link.length_km=0.1,1"]


def _key_plan() -> Any:
    return plan_sweep(TWO_LABS, KEY_VARY)


def test_serial_sweep_writes_one_row_per_point_with_parameters_and_metrics(tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    plan = plan_sweep(TWO_LABS, ["link.length_km=0.03:2:5", "memory.storage_s=0,1e-5"])
    outcome = run_sweep(plan, out)
    assert (outcome.points, outcome.ran, outcome.already, outcome.failed) == (10, 10, 0, 0)
    rows = read_rows(out)
    assert len({r["key"] for r in rows}) == 10
    row = rows[0]
    for column in ("key", "run_seed", "wall_s", "qkdnet_version", "config", "links[0].length_km", "seed"):
        assert column in row
    assert row["memory.storage_s"] in (0.0, 1e-5) and row["key_rate_bps"] is not None
    again = run_sweep(plan, out)
    assert (again.ran, again.already, again.rows) == (0, 10, 10)


def test_processes_and_a_dask_cluster_give_the_serial_table(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    plan = _key_plan()
    run_sweep(plan, tmp_path / "serial.parquet")
    run_sweep(plan, tmp_path / "procs.parquet", workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        # the address first, with no client of this process open: --scheduler makes its own, not the default one
        run_sweep(plan, tmp_path / "dask_address.parquet", scheduler=cluster.scheduler_address)
        with Client(cluster) as client:
            run_sweep(plan, tmp_path / "dask.parquet", client=client)
    serial = comparable(read_rows(tmp_path / "serial.parquet"))
    assert len(serial) == 4 and all(r["status"] == "ok" for r in serial.values())
    for name in ("procs", "dask", "dask_address"):
        assert comparable(read_rows(tmp_path / f"{name}.parquet")) == serial, name


_calls = {"n": 0}


def interrupting_runner(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The key runner, but the third call is a Ctrl-C."""
    _calls["n"] += 1
    if _calls["n"] == 3:
        raise KeyboardInterrupt
    return get_runner("key").function(config, seed)


def test_interrupted_and_resumed_equals_straight_through(tmp_path: Path) -> None:
    plan = _key_plan()
    straight = tmp_path / "straight.parquet"
    run_sweep(plan, straight)
    resumed = tmp_path / "resumed.parquet"
    _calls["n"] = 0
    with pytest.raises(SweepInterrupted) as info:
        run_sweep(plan, resumed, runner=interrupting_runner, flush_interval_s=3600)
    assert info.value.outcome.ran == 2 and len(read_rows(resumed)) == 2  # kept although no flush was due
    rest = run_sweep(plan, resumed)
    assert (rest.already, rest.ran) == (2, 2)
    first = {k: {c: v for c, v in r.items() if c != "runner"} for k, r in comparable(read_rows(straight)).items()}
    second = {k: {c: v for c, v in r.items() if c != "runner"} for k, r in comparable(read_rows(resumed)).items()}
    assert second == first


def failing_runner(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Fails on long links."""
    if config["links"][0]["length_km"] > 1:
        raise ValueError("too long for this test")
    return {"value": float(config["links"][0]["length_km"])}


def test_failed_runs_are_recorded_and_retried_on_request(tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    plan = plan_sweep(TWO_LABS, ["link.length_km=0.5,2"], runner="null")
    outcome = run_sweep(plan, out, runner=failing_runner)
    assert outcome.failed == 1 and outcome.first_error is not None
    assert "ValueError: too long for this test" in outcome.first_error
    assert run_sweep(plan, out, runner=failing_runner).ran == 0
    assert run_sweep(plan, out, runner=failing_runner, retry_errors=True).ran == 1


def test_limit_stops_after_that_many_runs(tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    plan = plan_sweep(TWO_LABS, ["link.length_km=0.03:2:7"])
    assert run_sweep(plan, out, limit=3).ran == 3
    assert run_sweep(plan, out).ran == 4


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "qkdnet", "sweep", str(TWO_LABS), *args]


def test_a_killed_sweep_resumes_to_the_same_table(tmp_path: Path) -> None:
    vary = ["--vary", "key.visibility=0.95", "--vary", "key.pairs=20000", "--vary", "eve.strength=0:0.3:8"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    killed = tmp_path / "killed.parquet"
    proc = subprocess.Popen([*_cli(*vary, "--out", str(killed))], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not killed.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = len(read_rows(killed))  # readable: the kill never leaves half a table
    assert 1 <= before <= 8
    subprocess.run(_cli(*vary, "--out", str(killed)), env=env, check=True, capture_output=True)
    straight = tmp_path / "straight.parquet"
    subprocess.run(_cli(*vary, "--out", str(straight)), env=env, check=True, capture_output=True)
    assert comparable(read_rows(killed)) == comparable(read_rows(straight))
    assert len(read_rows(killed)) == 8


def test_ctrl_c_keeps_what_finished(tmp_path: Path) -> None:
    vary = ["--vary", "key.visibility=0.95", "--vary", "key.pairs=20000", "--vary", "eve.strength=0:0.3:30"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    out = tmp_path / "r.parquet"
    proc = subprocess.Popen([*_cli(*vary, "--out", str(out), "--workers", "2")], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert b"interrupted" in err and b"resume" in err
    rows = read_rows(out)
    assert 1 <= len(rows) < 30


SCRIPT = """
import sys
from qkdnet.sweep import SweepInterrupted, plan_sweep, run_sweep
from tests.sweep.helpers import ctrl_c_at_one_km

plan = plan_sweep(sys.argv[1], ["link.length_km=0.5,0.6,0.7,1.0,1.5,2.0"], runner="null")
try:
    run_sweep(plan, sys.argv[2], workers=2, runner=ctrl_c_at_one_km)
except SweepInterrupted as stop:
    print("interrupted", stop.outcome.ran)
"""


def test_an_interrupted_process_pool_lets_python_exit(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    out = tmp_path / "r.parquet"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(TWO_LABS), str(out)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a hang at interpreter exit (joining the pool's queue threads) fails here
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("interrupted")
    keys = {r["links[0].length_km"] for r in read_rows(out)}
    assert 1.0 not in keys and len(keys) >= 1
