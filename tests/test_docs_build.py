"""The API reference builds from the docstrings with no warning: a reference to a function, class or module that
does not exist fails it (as ``make docs`` does)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _build(out: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sphinx", "-E", "-q", "-n", "-W", "--keep-going", "-b", "html"]
    return subprocess.run([*command, str(ROOT / "docs"), str(out)], capture_output=True, text=True, timeout=600)


def test_the_api_reference_builds_without_a_warning(tmp_path: Path) -> None:
    built = _build(tmp_path / "html")
    assert built.returncode == 0, built.stderr[-3000:]
    page = (tmp_path / "html" / "api" / "qkd.html").read_text(encoding="utf-8")
    assert "run_key_exchange" in page and "KeyRunResult" in page
    assert "plots.html" in (tmp_path / "html" / "api" / "index.html").read_text(encoding="utf-8")
