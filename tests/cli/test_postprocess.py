"""``qkdnet postprocess`` and ``qkdnet timetags``: a simulated recording in, the same key out at both ends,
owner-only; the file formats round-trip; every malformed file is one line naming the file and the line."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.cli import main
from qkdnet.errors import ConfigError
from qkdnet.hardware.timetagger import TimeTags
from qkdnet.tagfiles import SORT_TOLERANCE_PS, read_tags, write_binary, write_csv

NAMES = ("Z0", "Z1", "X0", "X1")


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of both labs' time tags (Bob 0.3141 s and 1.5 ppm off), written by the CLI."""
    out = tmp_path_factory.mktemp("recording")
    assert main(["timetags", "simulate", "--out", str(out), "--seconds", "2", "--seed", "3"]) == 0
    return out


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_recording_gives_the_same_key_at_both_ends_owner_only(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    old = os.umask(0)  # whatever the umask, key files are private
    try:
        code = main(
            [
                "postprocess",
                *("--alice", str(recording / "alice.csv"), "--bob", str(recording / "bob.csv")),
                *("--out", str(tmp_path / "keys"), "--json", "--seed", "7"),
            ]
        )
    finally:
        os.umask(old)
    assert code == 0
    fields = json.loads(capsys.readouterr().out)
    assert fields["secure"] is True and fields["abort_reason"] is None
    alice, bob = (tmp_path / "keys" / "alice.key").read_bytes(), (tmp_path / "keys" / "bob.key").read_bytes()
    assert alice == bob and len(alice) == fields["final_key_bits"] // 8 > 1000
    assert _mode(tmp_path / "keys" / "alice.key") == _mode(tmp_path / "keys" / "bob.key") == 0o600
    assert _mode(recording / "alice.csv") == 0o600  # raw outcomes are key material too
    assert abs(fields["offset_ps"] - 314_100_000_000) < 300 and abs(fields["drift_ppm"] - 1.5) < 1e-3
    for name in (
        "events_alice",
        "events_bob",
        "coincidences",
        "accidentals_estimate",
        "window_ps",
        "sifted_bits",
        "qber",
        "qber_stderr",
        "final_key_bits",
    ):
        assert isinstance(fields[name], int | float), name
    assert fields["coincidences"] == fields["pairs"] and fields["protocol"] == "bbm92"
    assert fields["events_alice"] == len(read_tags(recording / "alice.csv", channel_names=NAMES))


def test_the_binary_format_gives_the_same_key_and_converts_back(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for side in ("alice", "bob"):
        assert main(["timetags", "convert", str(recording / f"{side}.csv"), str(tmp_path / f"{side}.qtag")]) == 0
    assert main(["timetags", "convert", str(tmp_path / "alice.qtag"), str(tmp_path / "back.csv")]) == 0
    assert (tmp_path / "back.csv").read_bytes() == (recording / "alice.csv").read_bytes()
    # 5 bytes an event against ~15 of CSV (13-digit times).
    assert (tmp_path / "alice.qtag").stat().st_size < 0.35 * (recording / "alice.csv").stat().st_size
    capsys.readouterr()
    runs = []
    for suffix in ("csv", "qtag"):
        folder = recording if suffix == "csv" else tmp_path
        argv = ["postprocess", "--alice", str(folder / f"alice.{suffix}"), "--bob", str(folder / f"bob.{suffix}")]
        assert main([*argv, "--json", "--seed", "9"]) == 0
        runs.append(json.loads(capsys.readouterr().out))
    assert runs[0] == runs[1]


def test_detectors_wired_to_other_channels_give_the_same_key_when_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wiring = "X1,Z0,X0,Z1"
    simulate = ["timetags", "simulate", "--out", str(tmp_path), "--seconds", "1.5", "--seed", "3"]
    assert main([*simulate, "--channels", wiring, "--format", "qtag"]) == 0
    capsys.readouterr()
    argv = ["postprocess", "--alice", str(tmp_path / "alice.qtag"), "--bob", str(tmp_path / "bob.qtag")]
    assert main([*argv, "--channels", wiring, "--json", "--seed", "2"]) == 0
    right = json.loads(capsys.readouterr().out)
    assert main([*argv, "--json", "--seed", "2"]) == 0  # read as Z0,Z1,X0,X1: bases and bits scrambled
    wrong = json.loads(capsys.readouterr().out)
    assert right["secure"] and right["qber"] < 0.03
    assert not wrong["secure"] and wrong["qber"] > 0.2


def test_the_story_names_the_clock_it_found(recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    argv = ["postprocess", "--alice", str(recording / "alice.csv"), "--bob", str(recording / "bob.csv")]
    assert main([*argv, "--seed", "1"]) == 0
    out = capsys.readouterr().out
    clock = re.search(r"Bob's clock +([+-][0-9.]+) s from Alice's, drifting ([+-][0-9.]+) ppm", out)
    assert clock is not None, out
    assert abs(float(clock.group(1)) - 0.3141) < 1e-9 and abs(float(clock.group(2)) - 1.5) < 1e-3
    assert "coincidences" in out and "secure" in out


@settings(max_examples=40, deadline=None)
@given(
    times=st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=50),
    channels=st.lists(st.integers(0, 3), min_size=50, max_size=50),
)
def test_both_formats_round_trip_any_recording(
    times: list[int], channels: list[int], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("round-trip")
    ordered = np.sort(np.array(times, dtype=np.int64))
    tags = TimeTags(ordered, np.array(channels[: ordered.size], dtype=np.uint8))
    for write, name in ((write_csv, "t.csv"), (write_binary, "t.qtag")):
        write(folder / name, tags)
        back = read_tags(folder / name, channel_names=NAMES)
        assert np.array_equal(back.times_ps, tags.times_ps) and np.array_equal(back.channels, tags.channels)
        assert _mode(folder / name) == 0o600


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("", "empty file"),
        ("time,chan\n1,0\n", "line 1 must be the header 'time_ps,channel'"),
        ("time_ps,channel\n", "no events after the header"),
        ("time_ps,channel\n10,0\n20,x\n", "line 3: expected two integers"),
        ("time_ps,channel\n10,0\n20,1,5\n", "line 3: expected two integers"),
        ("time_ps,channel\n10,0\n1.5,1\n", "line 3: expected two integers"),
        ("time_ps,channel\n10,0\n20,7\n30,1\n", "line 3: channel 7 is not one of the 4 named (0=Z0, 1=Z1"),
        ("time_ps,channel\n10,0\n20,-1\n", "line 3"),
        (f"time_ps,channel\n{3 * SORT_TOLERANCE_PS},0\n5,1\n", "line 3: time 5 comes more than 10 µs"),
    ],
)
def test_a_malformed_csv_is_one_line_naming_the_file_and_line(content: str, says: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ConfigError, match=r"bad\.csv") as error:
        read_tags(path, channel_names=NAMES)
    assert says in str(error.value) and "\n" not in str(error.value)


def test_events_out_of_order_within_the_tolerance_are_sorted(tmp_path: Path) -> None:
    path = tmp_path / "jumbled.csv"
    path.write_text("time_ps,channel\n2000000,1\n1000000,2\n3000000,0\n")
    tags = read_tags(path, channel_names=NAMES)
    assert tags.times_ps.tolist() == [1000000, 2000000, 3000000] and tags.channels.tolist() == [2, 1, 0]


def test_a_truncated_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.qtag"
    write_binary(path, TimeTags(np.arange(10, dtype=np.int64), np.zeros(10, dtype=np.uint8)))
    path.write_bytes(path.read_bytes()[:-3])
    says = r"cut\.qtag: a binary time-tag file of 10 events and 0 long gaps must be 78 bytes"
    with pytest.raises(ConfigError, match=says):
        read_tags(path, channel_names=NAMES)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--channels", "Z0,Z1,X0,Q1"], "unknown channel name 'Q1'"),
        (["--channels", "Z0,Z1,X0"], "needs each of Z0, Z1, X0, X1 named once"),
        (["--protocol", "e91", "--channels", "Z0,Z1,X0,X1"], "unknown channel name 'Z0' for e91"),
    ],
)
def test_bad_channel_maps_are_one_line(
    argv: list[str], says: str, recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    base = ["postprocess", "--alice", str(recording / "alice.csv"), "--bob", str(recording / "bob.csv")]
    assert main([*base, *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qkdnet: error: ") and says in err and err.count("\n") == 1


def test_recordings_with_no_common_pairs_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(4)
    for side in ("alice", "bob"):
        times = np.sort(rng.integers(0, 10**11, 20_000))
        write_csv(tmp_path / f"{side}.csv", TimeTags(times, rng.integers(0, 4, times.size).astype(np.uint8)))
    capsys.readouterr()
    code = main(["postprocess", "--alice", str(tmp_path / "alice.csv"), "--bob", str(tmp_path / "bob.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "no coincidence peak" in err and err.count("\n") == 1 and "Traceback" not in err
