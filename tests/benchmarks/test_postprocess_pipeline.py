"""The post-processing benchmark runs in quick mode and prints its table (speed is not asserted here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import qkdnet

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "postprocess_pipeline.py"


def test_quick_mode_prints_the_table() -> None:
    env = dict(os.environ)
    src = str(Path(qkdnet.__file__).resolve().parents[1])  # the qkdnet under test, wherever it is installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["stage", "bits", "Mbit/s", "target"]
    stages = ("privacy amplification", "verification tag", "whole road", "without reconciliation", "Cascade")
    for stage in (*stages, "records to key"):
        row = next(line for line in lines if stage in line)
        assert float(row[44:].split()[1]) > 0  # a positive throughput after the bit count
    assert "final bits" in proc.stdout and "single-threaded" in proc.stdout
