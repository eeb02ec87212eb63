"""The sweep benchmark runs in quick mode: it prints the scaling and the per-run overhead (< 50 ms locally)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import qkdnet

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "sweep.py"


def test_quick_mode_prints_speed_up_and_overhead() -> None:
    env = dict(os.environ)
    src = str(Path(qkdnet.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(re.findall(r"speed-up \d+\.\d\dx", proc.stdout)) == 2  # network runs, key runs
    overheads = [float(v) for v in re.findall(r"(\d+\.\d+) ms per run\n", proc.stdout)]
    assert len(overheads) == 3  # this process, 2 processes, Dask LocalCluster
    assert "meets the 50 ms target" in proc.stdout
