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
    assert lines[0].split() == ["requests", "count", "req/s", "p50", "ms", "p99", "ms"]
    for name in ("enc_keys", "dec_keys", "both"):
        row = next(line for line in lines if line.startswith(name)).split()
        assert int(row[1]) > 0 and float(row[2]) > 0  # requests were served, each checked by the benchmark
    enc, dec = (next(line for line in lines if line.startswith(n)).split()[1] for n in ("enc_keys", "dec_keys"))
    assert enc == dec  # every key the master got, the slave got too
    assert "CPU per request" in proc.stdout and "requests/s, p99" in proc.stdout
