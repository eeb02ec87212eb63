"""The KMS load benchmark runs in quick mode against two real KME processes and prints its table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import qkdnet

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "kms_load.py"


def test_quick_mode_prints_the_table() -> None:
    env = dict(os.environ)
    src = str(Path(qkdnet.__file__).resolve().parents[1])  # the qkdnet under test, wherever it is installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("requests ")]
    assert [lines[i].split()[7:] for i in headers] == [["(saturated)"], ["(paced", "at", "1100/s)"]]
    for first in headers:  # each phase's table: requests were served, each checked by the benchmark
        assert lines[first].split()[:7] == ["requests", "count", "req/s", "p50", "ms", "p99", "ms"]
        rows = {line.split()[0]: line.split() for line in lines[first + 1 : first + 4]}
        assert set(rows) == {"enc_keys", "dec_keys", "both"}
        assert all(int(row[1]) > 0 and float(row[2]) > 0 for row in rows.values())
        assert rows["enc_keys"][1] == rows["dec_keys"][1]  # every key the master got, the slave got too
    assert "CPU per request" in proc.stdout
    assert sum("requests/s, p99" in line for line in lines) == 2  # a verdict per phase
