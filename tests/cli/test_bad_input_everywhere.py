"""Bad input anywhere in the CLI is one line on stderr (one per problem in a file) and exit code 2, never a
traceback.

The inputs are swept over every subcommand: each typed option of the parser (found by walking it, so a new
option is swept too) gets values its checker must refuse, every command gets an unknown flag and loses its
required arguments, every file a command reads is given as a missing path, a folder, an empty file, binary
garbage and text of the wrong kind, and every output path is put below a regular file, where nothing can be
created. Schedulers that are not Dask (random bytes, HTTP, silence) are swept in
tests/sweep/test_scheduler_probe.py, figure paths in tests/cli/test_plot_option.py.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from qkdnet.cli import main
from qkdnet.cli.main import COMMANDS, build_parser

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TWO_LABS = str(EXAMPLES / "two_labs.toml")
DESIGN = str(EXAMPLES / "design" / "krutyanskiy_100km.toml")
KME = "https://127.0.0.1:9"  # nothing listens: a command that got past its checks would fail there, not here

#: A command line of each subcommand that parses (what it would do is beside the point: the sweep breaks one
#: value at a time, and a broken value must stop it before it does anything).
BASE: dict[str, list[str]] = {
    "demo": ["demo"],
    "e91": ["e91"],
    "bbm92": ["bbm92"],
    "presets": ["presets"],
    "link": ["link", "--preset", "ritter2012"],
    "attack": ["attack", "--kind", "cloner", "--strength", "0.1"],
    "attack sweep": ["attack", "sweep", "--kind", "cloner"],
    "simulate": ["simulate", TWO_LABS],
    "kme": ["kme", "--config", "node.toml"],
    "pki init": ["pki", "init", "pki"],
    "link-emulator": ["link-emulator", "--scenario", "link.toml"],
    "node": ["node", "--config", "node.toml"],
    "network up": ["network", "up", TWO_LABS, "--dir", "net"],
    "network down": ["network", "down", "--dir", "net"],
    "network status": ["network", "status", "--dir", "net"],
    "network node": ["network", "node", "--config", "node.toml"],
    "send": ["send", "file.txt", "--kme", KME, "--to", "SAE_B", "--peer", "127.0.0.1:9"],
    "receive": ["receive", "--kme", KME, "--listen", "127.0.0.1:9", "--out", "inbox"],
    "sweep": ["sweep", TWO_LABS, "--vary", "link.length_km=0.1,0.2", "--out", "r.parquet"],
    "plot": ["plot", "key-rate", "r.parquet", "--out", "x.png"],
    "report": ["report", "r.parquet", "--out", "r.html"],
    "design": ["design", DESIGN, "--out", "d.parquet"],
    "postprocess": ["postprocess", "--alice", "a.csv", "--bob", "b.csv"],
    "timetags simulate": ["timetags", "simulate", "--out", "recording"],
    "timetags convert": ["timetags", "convert", "a.csv", "a.qtag"],
}

#: Values a typed option is tried with; those its type accepts are skipped (they are valid for it).
BAD_VALUES = ("abc", "-1", "0", "nan", "inf", "1e999", "", "1,,2", "256.256.256.256:99999", "\x00")


def _expect_one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, (argv, code, captured.err[-500:])
    assert "Traceback" not in captured.err + captured.out, argv
    # One line, or one per problem when a file has several (each naming the file and the field).
    assert captured.err.startswith("qkdnet: error: ") and 1 <= captured.err.count("\n") <= 8, (argv, captured.err)
    return captured.err


def _subparser(path: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = build_parser()
    for name in path.split():
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def _refused(action: argparse.Action, value: str) -> bool:
    if action.choices is not None:
        return value not in action.choices
    try:
        assert action.type is not None and callable(action.type)
        action.type(value)
    except (argparse.ArgumentTypeError, ValueError, TypeError):
        return True
    return False


def _typed_options() -> Iterator[tuple[str, str, str]]:
    for path in BASE:
        for action in _subparser(path)._actions:
            if not action.option_strings or (action.type is None and action.choices is None) or action.nargs == 0:
                continue
            for value in BAD_VALUES:
                if _refused(action, value):
                    yield path, action.option_strings[0], value


def test_the_sweep_covers_every_subcommand() -> None:
    assert {path.split()[0] for path in BASE} == set(COMMANDS)
    swept = {(path, option) for path, option, _ in _typed_options()}
    checked = {
        (path, action.option_strings[0])
        for path in BASE
        for action in _subparser(path)._actions
        if action.option_strings
        and action.nargs != 0
        and (action.choices is not None or action.type not in (None, Path))
    }
    # Every option with a checker or choices meets values it refuses (paths are swept as files below).
    assert swept == checked and len(swept) > 40


@pytest.mark.parametrize(("path", "option", "value"), list(_typed_options()))
def test_a_value_an_option_refuses_is_one_line(
    path: str,
    option: str,
    value: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    err = _expect_one_line(capsys, [*BASE[path], f"{option}={value}"])
    assert option in err


@pytest.mark.parametrize("path", list(BASE))
def test_an_unknown_flag_or_missing_arguments_are_one_line(
    path: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert "--no-such-flag" in _expect_one_line(capsys, [*BASE[path], "--no-such-flag"])
    bare = path.split()
    if bare != BASE[path]:
        _expect_one_line(capsys, bare)


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "folder").mkdir()
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "garbage").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "not-toml").write_text("[nodes\nalice = = 1\n")
    (tmp_path / "wrong-toml").write_text('[something]\nelse = "entirely"\n')
    return {
        "missing": tmp_path / "no" / "such" / "file",
        "folder": tmp_path / "folder",
        "empty": tmp_path / "empty",
        "garbage": tmp_path / "garbage",
        "not-toml": tmp_path / "not-toml",
        "wrong-toml": tmp_path / "wrong-toml",
    }


KINDS = ("missing", "folder", "empty", "garbage", "not-toml", "wrong-toml")

#: Every command that reads a file, with FILE where the file goes.
READERS: dict[str, list[str]] = {
    "simulate": ["simulate", "FILE"],
    "sweep": ["sweep", "FILE", "--vary", "link.length_km=0.1,0.2", "--out", "r.parquet"],
    "sweep --list-fields": ["sweep", "--list-fields", "FILE"],
    "sweep merge": ["sweep", "merge", "FILE", "FILE", "--out", "m.parquet"],
    "plot": ["plot", "key-rate", "FILE", "--out", "x.png"],
    "report": ["report", "FILE", "--out", "r.html"],
    "design": ["design", "FILE", "--out", "d.parquet"],
    "presets --add": ["presets", "--add", "FILE"],
    "kme": ["kme", "--config", "FILE"],
    "node": ["node", "--config", "FILE"],
    "link-emulator": ["link-emulator", "--scenario", "FILE"],
    "network up": ["network", "up", "FILE", "--dir", "net"],
    "network node": ["network", "node", "--config", "FILE"],
    "postprocess --alice": ["postprocess", "--alice", "FILE", "--bob", "FILE"],
    "timetags convert": ["timetags", "convert", "FILE", "out.qtag"],
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("kind", KINDS)
def test_a_file_that_is_not_what_the_command_reads_is_one_line(
    reader: str, kind: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _bad_files(tmp_path)[kind]
    argv = READERS[reader]
    err = _expect_one_line(capsys, [str(path) if part == "FILE" else part for part in argv])
    assert path.name in err  # the error names the file it could not use


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qkdnet.kms.pki import init_pki

    directory = tmp_path_factory.mktemp("pki")
    init_pki(directory, kme_ids=("KME_A", "KME_B"), sae_ids=("SAE_A", "SAE_B"), validity_days=2)
    return directory


#: The file to send may hold any bytes, so only a missing one or a folder is wrong; a TLS file must be PEM.
TRANSFER_FILES = [("send", "FILE", kind) for kind in ("missing", "folder")] + [
    (command, flag, kind) for command in ("send", "receive") for flag in ("--cert", "--key", "--ca") for kind in KINDS
]


@pytest.mark.parametrize(("command", "flag", "kind"), TRANSFER_FILES)
def test_a_file_to_send_or_a_tls_file_that_is_not_one_is_one_line(
    command: str,
    flag: str,
    kind: str,
    pki: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = _bad_files(tmp_path)[kind]
    (tmp_path / "message.txt").write_text("hello")
    tls = {"--cert": pki / "SAE_A.crt", "--key": pki / "SAE_A.key", "--ca": pki / "ca.crt"}
    if flag != "FILE":
        tls[flag] = bad
    argv = [*BASE[command], *(str(part) for pair in tls.items() for part in pair)]
    if command == "send":
        argv[1] = str(bad if flag == "FILE" else tmp_path / "message.txt")
    err = _expect_one_line(capsys, argv)
    assert bad.name in err


#: Output paths that cannot be written, per command that writes one.
WRITERS: dict[str, list[str]] = {
    "plot --out": ["plot", "key-rate", "r.parquet", "--out", "OUT"],
    "sweep merge --out": ["sweep", "merge", "r.parquet", "r.parquet", "--out", "OUT"],
    "receive --out": ["receive", "--kme", KME, "--listen", "127.0.0.1:9", "--out", "OUT", "--pki", "pki", "--sae", "B"],
    "link --plot": ["link", "--preset", "ritter2012", "--plot", "OUT"],
    "simulate --plot": ["simulate", TWO_LABS, "--plot", "OUT"],
    "attack sweep --plot": ["attack", "sweep", "--kind", "cloner", "--plot", "OUT"],
    "sweep --out": ["sweep", TWO_LABS, "--vary", "link.length_km=0.1,0.2", "--out", "OUT"],
    "design --out": ["design", DESIGN, "--out", "OUT"],
    "report --out": ["report", "r.parquet", "--out", "OUT"],
    "pki init": ["pki", "init", "OUT"],
    "network up --dir": ["network", "up", TWO_LABS, "--dir", "OUT"],
    "postprocess --out": ["postprocess", "--alice", "a.csv", "--bob", "b.csv", "--out", "OUT"],
    "timetags simulate --out": ["timetags", "simulate", "--out", "OUT"],
    "timetags convert": ["timetags", "convert", "a.csv", "OUT"],
}
#: What the error names for a writer whose output is not a flag.
WRITER_NAMES = {"pki init": "pki init DIR", "timetags convert": "OUT"}


@pytest.mark.parametrize("writer", list(WRITERS))
@pytest.mark.parametrize("name", ["x.png", "r.parquet", "r.html", "folder"])
def test_an_output_path_that_cannot_be_written_is_one_line(
    writer: str, name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below a regular file nothing can be created, even by root (which may create /nonexistent/dir)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    if writer.split()[0] in ("report", "plot", "sweep"):  # a real table, so only the output path is wrong
        from qkdnet.sweep import plan_sweep, run_sweep

        run_sweep(plan_sweep(EXAMPLES / "two_labs.toml", ["link.length_km=0.1"]), tmp_path / "r.parquet")
    out = str(tmp_path / "a-file" / name)
    err = _expect_one_line(capsys, [out if part == "OUT" else part for part in WRITERS[writer]])
    assert WRITER_NAMES.get(writer, writer.split()[-1]) in err
    assert (tmp_path / "a-file").read_text() == "not a folder"
