"""Every ``.venv/bin/qkdnet`` command of the README, parsed from the README itself, does what its line says.

Each command runs in-process in a fresh directory (shorter where a flag allows, listed in ``SHORTER``) and must
exit 0, print no traceback, and show what the README promises: a key where it promises a key, an abort where it
announces one (``PROMISES``). A command the README gains without a promise here fails the first test. The
key network's process-by-process recipe (plain ``qkdnet ...`` lines, long-running daemons) is exercised by
tests/kms and tests/cli/test_system_demo.py.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from qkdnet.cli import main

ROOT = Path(__file__).resolve().parents[2]
PROMPT = ".venv/bin/qkdnet "


def readme_commands() -> list[tuple[str, str]]:
    """(arguments, comment) of every ``.venv/bin/qkdnet`` line in the README's bash blocks, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.startswith(PROMPT):
                args, _, comment = line[len(PROMPT) :].partition("  #")
                out.append((args.strip(), comment.strip()))
    return out


#: What each command's output must show (a regex over stdout and stderr), and the files it must write.
PROMISES: dict[str, tuple[str, tuple[str, ...]]] = {
    "demo": (r"Bob decrypts\s*: .*\(identical\)", ()),
    "demo --eve 1": (r"no key is handed out", ()),
    "e91 --visibility 0.95 --pairs 2000000 --json": (r'"secure": true', ()),
    "e91 --preset zhang2022 --device-independent": (r"device-independent[\s\S]*secure: [\d,]+ final key bits", ()),
    "bbm92 --preset zhang2022": (r"secure: [\d,]+ final key bits", ()),
    "bbm92 --preset zhang2022 --eve 0.2": (r"aborted: [\s\S]*no key handed out", ()),
    "presets": (r"ritter2012 .*Nature 484, 195 \(2012\)", ()),
    "link --preset vanleent2022 --length-km 33 --plot link.png": (
        r"heralded pairs\s+\d",
        ("link.png", "link.caption.txt"),
    ),
    "attack --kind cloner --strength 0.05 --json": (r'"secure": true', ()),
    "attack sweep --kind intercept-resend --plot out.png": (r"0/1[\s\S]*1/1", ("out.png",)),
    "attack --kind mitm-alter --strength 1 --json": (r'"abort_reason": "AuthenticationFailed', ()),
    "simulate examples/two_labs.toml": (r"entangled pairs\s+completed[\s\S]*a key\s+completed", ()),
    "simulate examples/chain3.toml": (r"end-to-end pairs\s+completed\s+2\s", ()),
    "simulate examples/metro20.toml": (r"neighbours\s+completed\s+1\s[\s\S]*deadline\s+[3-5]\s", ()),
    "simulate examples/chain3.toml --json --plot out/": (r'"requests"', ("out/network_run.png",)),
    "simulate examples/multiplexed_link.toml": (r"one mode\s+deadline\s+1\s+268\s[\s\S]*multiplexed\s+completed", ()),
    "link --preset ritter2012 --length-km 1 --modes 50": (r"modes\s+50 per round[\s\S]*heralded pairs\s+227\.9 /s", ()),
    "sweep examples/two_labs.toml --vary link.length_km=0.03:2:40 --vary link.preset=ritter2012,nolleke2013 "
    "--out results.parquet": (r"done: 6 runs now", ("results.parquet",)),
    "sweep examples/sweeps/two_labs_attack.toml --workers 2 --out results.parquet": (
        r"of these 22 runs, [1-9]\d* made key and [1-9]\d* aborted",
        ("results.parquet",),
    ),
    "sweep --list-fields examples/two_labs.toml": (r"link\.length_km[\s\S]*key\.pairs[\s\S]*eve\.strength", ()),
    "plot key-rate results.parquet --out key_rate.png": (r"", ("key_rate.png",)),
    "report results.parquet --out report.html": (r"", ("report.html",)),
    "pki init certs --kme KME_A --kme KME_B --sae SAE_1 --sae SAE_2": (r"", ("certs/ca.crt", "certs/SAE_2.key")),
}

#: Commands not run here, and why.
NOT_RUN = {
    "simulate examples/rgg1000.toml": "20–40 s; its loading is tested in tests/config, its scale in benchmarks",
    "sweep examples/sweeps/two_labs_attack.toml --scheduler tcp://HOST:8786 --out attack.parquet": (
        "needs the user's Dask cluster; tests/sweep/test_run.py runs a sweep on a scheduler address"
    ),
    "sweep merge a.parquet b.parquet --out all.parquet": "merges the user's own tables; tests/cli/test_sweep_cli.py",
    "design examples/design/krutyanskiy_100km.toml --out design.parquet --workers 2": (
        "a 1,200-point search (11-17 s); tests/design/test_search.py runs it with a smaller budget"
    ),
    "plot design design.parquet --out design.png": "needs the search's table; tests/design/test_search.py draws it",
    "report design.parquet --out design.html": "needs the search's table; tests/design/test_search.py writes it",
    "kme --config node_a.toml": "a server until Ctrl-C; tests/kms/test_kme_cli.py",
}

#: Smaller sizes where a flag allows, so the whole README runs in about a minute.
SHORTER = {
    "link.length_km=0.03:2:40": "link.length_km=0.03:2:3",
    "--kind intercept-resend": "--kind intercept-resend --seeds 1 --strengths 0,1",
}

#: Commands that read what an earlier command wrote: run in README order in one directory.
IN_ORDER = [args for args, _ in readme_commands() if "results.parquet" in args and args in PROMISES]


def _run(args: str, where: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    """Run one README command in ``where``; assert exit 0, no traceback, the promised output and files."""
    pattern, files = PROMISES[args]
    argv = args
    for long, short in SHORTER.items():
        argv = argv.replace(long, short)
    monkeypatch.chdir(where)
    monkeypatch.delenv("COLUMNS", raising=False)  # as in a log: full-width tables
    words = [str(ROOT / w) if w.startswith("examples/") else w for w in shlex.split(argv)]
    code = main(words)
    out = capsys.readouterr()
    shown = out.out + out.err
    assert code == 0, f"{args}: exit {code}\n{shown[-3000:]}"
    assert "Traceback" not in shown, shown[-3000:]
    assert re.search(pattern, shown), f"{args}: expected /{pattern}/ in\n{shown[-3000:]}"
    for name in files:
        assert (where / name).exists(), f"{args}: wrote no {name}"
    return shown


def test_every_readme_command_is_run_or_says_why_not() -> None:
    commands = [args for args, _ in readme_commands()]
    assert len(commands) == len(set(commands)), "a README command appears twice"
    assert set(commands) == set(PROMISES) | set(NOT_RUN), (
        f"new in the README: {set(commands) - set(PROMISES) - set(NOT_RUN)}; "
        f"gone from it: {(set(PROMISES) | set(NOT_RUN)) - set(commands)}"
    )
    assert set(PROMISES).isdisjoint(NOT_RUN)
    for long in SHORTER:
        assert any(long in args for args in PROMISES), f"SHORTER {long!r} shortens nothing"


@pytest.mark.parametrize("args", [a for a in PROMISES if a not in IN_ORDER and a in dict(readme_commands())])
def test_a_readme_command_shows_what_its_line_says(
    args: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(args, tmp_path, capsys, monkeypatch)


def test_the_sweep_section_runs_in_readme_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(IN_ORDER) == 4  # two sweeps into results.parquet, then its figure and its report
    for args in IN_ORDER:
        _run(args, tmp_path, capsys, monkeypatch)
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "eve.strength" in report and "length_km" in report  # both studies
