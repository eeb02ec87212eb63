"""benchmarks/reconciliation_cascade.py runs in quick mode and prints one row per variant, size and QBER."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "reconciliation_cascade.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reconciliation_cascade", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_quick_run_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load()
    assert bench.main(["--quick"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines[1:] if line and not line.startswith("targets")]
    assert lines[0].split()[:4] == ["variant", "frame", "QBER", "%"]
    assert len(rows) == 5 * 2 * 2  # variants x frame sizes x QBERs of the quick run
    for row in rows:
        fields = row.split()
        assert fields[0] in {"original", "biconf", "yanetal", "option7", "option8"}
        assert 1.0 < float(fields[4]) < 1.6  # f: above the Shannon limit, below anything absurd
        assert "f " in row and "FER" in row and "speed" in row


def test_fer_bound_is_the_clopper_pearson_one() -> None:
    bench = _load()
    row = bench.Row("original", 10_000, 0.02, 1000, 1.1, 0, 40.0, 60.0, 5.0)
    assert row.fer_upper == pytest.approx(1 - 0.05 ** (1 / 1000), rel=1e-9)  # no failure: 1 - 0.05^(1/N)
    assert math.isclose(bench.h2(0.11), 0.4999, abs_tol=1e-4)
    assert bench.verdict(row) == "f ok, FER n/r, speed ok"  # 3e-3 bound: not resolved against 2e-3
    assert row.fer_lower == 0.0
    missed = bench.Row("yanetal", 10_000, 0.02, 1000, 1.07, 9, 90.0, 180.0, 4.0)
    assert missed.fer_lower > 2e-3  # 9 in 1000 is significantly above 2e-3
    assert bench.verdict(missed) == "f ok, FER MISS, speed MISS"
