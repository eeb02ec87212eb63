"""The network benchmark's quick mode runs end to end (qkdnet side only: no SeQUeNCe install in the tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_network_chain_quick_mode_runs() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "network_chain.py"), "--quick", "--no-sequence", "--no-rgg"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line.split() for line in proc.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [int(row[0]) for row in lines] == [2, 4, 8]
    assert all(float(row[1].replace(",", "")) > 0 for row in lines)
