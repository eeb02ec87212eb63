"""The LDPC benchmark's quick mode runs and prints its table (speed targets live in the benchmark)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "reconciliation_ldpc.py"


def test_quick_mode_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("reconciliation_ldpc", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["reconciliation_ldpc"] = module
    spec.loader.exec_module(module)
    assert module.main(["--quick"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["frame", "n", "QBER"]
    rows = [line.split() for line in out[1:3]]
    for row, qber in zip(rows, ("3.0%", "8.0%"), strict=True):
        assert row[0] == "4000" and row[1] == qber
        efficiency = float(row[4])
        assert 1.0 < efficiency < 1.4  # above the Shannon limit, and not absurd
