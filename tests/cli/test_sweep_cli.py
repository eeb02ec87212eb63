"""``qkdnet sweep``, ``sweep merge``, ``plot`` and ``report`` from the command line: results, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from qkdnet.cli import main
from qkdnet.sweep import read_rows

TWO_LABS = str(Path(__file__).resolve().parents[2] / "examples" / "two_labs.toml")


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("qkdnet: error: ") and "\n" not in err, err
    return err


def test_sweep_merge_plot_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b, c = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    assert main(["sweep", TWO_LABS, "--vary", "link.length_km=0.03:1:5", "--out", str(a)]) == 0
    assert main(["sweep", TWO_LABS, "--vary", "link.length_km=0.03:1:9", "--out", str(b)]) == 0
    assert main(["sweep", "merge", str(a), str(b), "--out", str(c)]) == 0
    assert "5 duplicates by key dropped" in capsys.readouterr().out
    assert len(read_rows(c)) == 9  # 0.03:1:5 is a subset of 0.03:1:9
    assert main(["plot", "key-rate", str(c), "--out", str(tmp_path / "k.svg")]) == 0
    assert (tmp_path / "k.svg").read_text().startswith("<?xml")
    assert main(["report", str(c), "--out", str(tmp_path / "r.html")]) == 0
    assert "9 runs" in capsys.readouterr().out


def test_dry_run_and_list_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["sweep", TWO_LABS, "--vary", "link.length_km=1:100:20", "--vary", "eve.strength=0,0.1,0.2", "--dry-run"])
        == 0
    )
    assert "60 runs of the 'key' runner" in capsys.readouterr().out
    assert main(["sweep", "--list-fields", TWO_LABS]) == 0
    out = capsys.readouterr().out
    assert "links[0].length_km" in out and "link.length_km" in out and "memory.storage_s" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--vary", "link.lenght_km=1,2"], "nearest: link.length_km"),
        (["--vary", "link.length_km"], "expected FIELD=VALUES"),
        (["--vary", "link.length_km=1:2"], "start:stop:count"),
        (["--vary", "eve.strength=0,0.1", "--runner", "link"], "does not read"),
        (["--vary", "link.length_km=1"], "--out RESULTS.parquet is required"),
        (["--vary", "link.length_km=1", "--runner", "nope", "--out", "x.parquet"], "unknown runner 'nope'"),
    ],
)
def test_sweep_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], words: str) -> None:
    assert words in _error(capsys, "sweep", TWO_LABS, *argv)


def test_plot_and_merge_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no such results table" in _error(
        capsys, "plot", "key-rate", str(tmp_path / "none.parquet"), "--out", str(tmp_path / "x.png")
    )
    assert "--out must end in" in _error(capsys, "plot", "key-rate", str(tmp_path / "a.parquet"), "--out", "x.txt")
    assert "sweep merge needs --out" in _error(capsys, "sweep", "merge", str(tmp_path / "a.parquet"))


def test_unreachable_scheduler_fails_fast_naming_its_address(tmp_path: Path) -> None:
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "qkdnet",
            "sweep",
            TWO_LABS,
            "--vary",
            "link.length_km=1,2",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--out",
            str(tmp_path / "r.parquet"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - start
    assert done.returncode == 2
    assert "tcp://127.0.0.1:9" in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert elapsed < 15  # 3 s to connect, the rest is Python starting up
    assert not (tmp_path / "r.parquet").exists()


def test_the_parser_names_every_plot_kind() -> None:
    from qkdnet.cli.main import PLOT_KIND_NAMES
    from qkdnet.report import PLOT_KINDS

    assert list(PLOT_KINDS) == PLOT_KIND_NAMES


def test_the_command_line_imports_no_sweep_or_plotting_code_to_parse() -> None:
    code = "import sys; from qkdnet.cli.main import build_parser; build_parser(); print(sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("'qkdnet.sweep'", "'qkdnet.report'", "'matplotlib'", "'pyarrow'", "'distributed'"):
        assert heavy not in out


def test_a_key_sweep_says_how_many_runs_made_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Runs that abort are not failures, but the user is told: no Eve gives key, Eve on every photon none."""
    attack = str(Path(TWO_LABS).parent / "sweeps" / "two_labs_attack.toml")
    argv = ["sweep", attack, "--vary", "eve.strength=0,1", "--vary", "eve.kind=intercept-resend"]
    assert main([*argv, "--out", str(tmp_path / "r.parquet")]) == 0
    err = capsys.readouterr().err
    assert "of these 2 runs, 1 made key and 1 aborted with no key; the first: QBER" in err, err
