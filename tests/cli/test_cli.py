"""The `qkdnet` command end to end, in process and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qkdnet.cli import main

REQUIRED = {
    "protocol",
    "pairs",
    "sifted_bits",
    "qber",
    "qber_stderr",
    "chsh_s",
    "chsh_s_stderr",
    "security",
    "key_fraction_bound",
    "secure",
    "abort_reason",
    "final_key_bits",
}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_demo_json_tells_a_secure_story(capsys: pytest.CaptureFixture[str]) -> None:
    # 2·10⁶ pairs (the demo's default): fewer leave no key once finite-key effects and authentication are paid
    out = run_json(capsys, "demo", "--pairs", "2000000", "--seed", "3", "--json")
    assert REQUIRED | {"message_ok"} <= out.keys()
    assert out["secure"] is True and out["message_ok"] is True
    assert out["final_key_bits"] > 0 and out["key_length"] == "finite"
    assert out["final_key_bits"] == out["amplified_key_bits"] - out["authentication_key_bits"]
    runs = out["runs"]
    assert isinstance(runs, list) and runs[0]["preset"] == "ritter2012"


def test_demo_with_full_eve_aborts_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "demo", "--eve", "1", "--pairs", "100000", "--json")
    assert out["secure"] is False and out["message_ok"] is False and out["final_key_bits"] == 0
    assert "QBER" in str(out["abort_reason"])
    assert abs(float(out["qber"]) - 0.25) < 5 * float(out["qber_stderr"]) + 0.03  # 25 % diluted by link noise


def test_demo_story_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--pairs", "2000000", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    for phrase in ("60 m of fiber", "QBER", "CHSH S", "verdict", "on the wire", "Bob decrypts", "never a signal"):
        assert phrase in text


@pytest.mark.parametrize("protocol", ["e91", "bbm92"])
def test_visibility_runs_report_werner_statistics(capsys: pytest.CaptureFixture[str], protocol: str) -> None:
    out = run_json(capsys, protocol, "--visibility", "0.9", "--pairs", "1000000", "--json")
    assert out.keys() >= REQUIRED
    assert abs(float(out["qber"]) - 0.05) < 5 * float(out["qber_stderr"])
    assert out["security"] == "trusted" and out["secure"] is True
    if protocol == "bbm92":
        assert out["chsh_s"] is None


def test_device_independent_flag(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "e91", "--visibility", "0.99", "--device-independent", "--pairs", "300000", "--json")
    assert out["security"] == "device-independent" and out["secure"] is True


def test_preset_and_length(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "e91", "--preset", "zhang2022", "--length-km", "0.7", "--pairs", "50000", "--json")
    assert out["length_km"] == pytest.approx(0.7) and out["preset"] == "zhang2022"
    assert out["pair_source"] == "link"


@pytest.mark.parametrize("command", [["e91"], ["attack", "--kind", "cloner", "--strength", "0"]])
def test_werner_pairs_are_not_reported_as_the_presets_link(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """--visibility replaces the link (attack does so by default): the JSON says so instead of naming the preset."""
    out = run_json(capsys, *command, "--preset", "zhang2022", "--visibility", "0.97", "--pairs", "50000", "--json")
    assert (out["pair_source"], out["preset"], out["rate_preset"]) == ("werner", None, "zhang2022")
    assert out["visibility"] == 0.97 and out["length_km"] is None


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--eve", "1.5"],
        ["demo", "--pairs", "0"],
        ["demo", "--pairs", "many"],
        ["demo", "--seed", "-1"],
        ["e91", "--preset", "nosuch"],
        ["e91", "--length-km", "-3"],
        ["e91", "--visibility", "nan"],
        ["bbm92", "--device-independent"],
        ["bbm92", "--reconciler", "nope"],
        ["e91", "--reconciler", ""],
        ["frobnicate"],
        [],
    ],
)
def test_bad_flags_give_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("qkdnet: error:") and err.count("\n") == 1
    assert "Traceback" not in err


def test_the_parser_lists_the_registry_s_reconcilers() -> None:
    """The parser's static names (kept so building it imports no post-processing) are the registry's, sorted."""
    from qkdnet.cli._common import RECONCILER_NAMES
    from qkdnet.postprocess import RECONCILERS

    assert tuple(sorted(RECONCILERS)) == RECONCILER_NAMES


def test_an_unknown_reconciler_lists_the_registry_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from qkdnet.postprocess import RECONCILERS

    for command in (["e91"], ["bbm92"], ["attack", "--kind", "cloner", "--strength", "0"], ["attack", "sweep"]):
        assert main([*command, "--reconciler", "cascade-nope"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "'cascade-nope'" in err, command
        assert all(f"'{name}'" in err for name in RECONCILERS), command


# Werner V = 0.95 (Q = 2.5 %), 2·10⁵ pairs: both reconcilers leave a key on this seed (measured: 2.2·10⁴ bits with
# Cascade, 3.3·10⁴ with LDPC).
RECONCILER_RUN = ("bbm92", "--visibility", "0.95", "--pairs", "200000", "--seed", "2012", "--json")


def test_the_reconciler_flag_reaches_post_processing(capsys: pytest.CaptureFixture[str]) -> None:
    """The run names the reconciler it used, and its ledger shows that protocol's disclosures and no other's."""
    default = run_json(capsys, *RECONCILER_RUN)
    cascade = run_json(capsys, *RECONCILER_RUN, "--reconciler", "cascade")
    ldpc = run_json(capsys, *RECONCILER_RUN, "--reconciler", "ldpc")
    assert default == cascade and cascade["reconciler"] == "cascade" and ldpc["reconciler"] == "ldpc"
    assert cascade["secure"] is True and ldpc["secure"] is True
    c_leak, l_leak = cascade["leakage_bits"], ldpc["leakage_bits"]
    assert isinstance(c_leak, dict) and isinstance(l_leak, dict)
    assert c_leak["cascade_parity"] > 0 and not any(k.startswith("ldpc") for k in c_leak)
    assert l_leak["ldpc_syndrome"] > 0 and "cascade_parity" not in l_leak
    # same pairs, same sample: only the error correction differs, and it discloses a different number of bits
    assert c_leak["estimation_sample"] == l_leak["estimation_sample"] and cascade["qber"] == ldpc["qber"]
    c_bits = c_leak["cascade_parity"]
    l_bits = sum(v for k, v in l_leak.items() if k.startswith("ldpc"))
    assert c_bits != l_bits
    assert cascade["final_key_bits"] != ldpc["final_key_bits"]


def test_console_script_runs_as_a_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "qkdnet", "e91", "--visibility", "0.5", "--pairs", "20000", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["secure"] is False and out["final_key_bits"] == 0
    bad = subprocess.run(
        [sys.executable, "-m", "qkdnet", "e91", "--pairs", "-5"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5e-6, "5 µs"),
        (0.25, "250 ms"),
        (42.0, "42 s"),
        (5400.0, "1.5 hours"),
        (3600.0, "1 hour"),
        (3601.0, "1 hour"),
        (60.0, "1 minute"),
        (86400.0, "1 day"),
        (1.0, "1 s"),
        (3 * 86400.0, "3 days"),
        (730.5 * 86400.0, "2 years"),
    ],
)
def test_link_time_is_said_in_human_units(seconds: float, text: str) -> None:

    from qkdnet._display import human_duration

    assert human_duration(seconds) == text


def test_a_link_of_days_per_pair_runs_on_exact_time(capsys: pytest.CaptureFixture[str]) -> None:
    """zhang2022 over 10 km heralds about once in 5.5 days: 20,000 pairs are ~300 years of link time."""
    from qkdnet.network import link_from_preset

    mean_s = link_from_preset("zhang2022", 10.0).mean_time_between_heralds_s
    n = 20_000
    out = run_json(capsys, "bbm92", "--preset", "zhang2022", "--length-km", "10", "--pairs", str(n), "--json")
    assert float(out["duration_s"]) > 2**63 / 1e12  # past the int64-picosecond range that once stopped it
    # Geometric gaps: the mean's relative standard error is about 1/sqrt(n).
    assert abs(float(out["duration_s"]) / (n * mean_s) - 1.0) < 5 / n**0.5


def test_a_slow_link_is_simulated_in_few_blocks() -> None:
    """ritter2012 over 10 km: one block once held 3,805 pairs (a quarter of int64 ps); now the memory bound rules."""
    from qkdnet.network import link_from_preset
    from qkdnet.qkd.pipeline import BLOCK_PAIRS

    assert link_from_preset("ritter2012", 10.0).max_pairs_per_block >= BLOCK_PAIRS


def _subparsers(parser: object) -> dict[str, object]:
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_a_command_parses_with_its_own_group_exactly_as_with_the_whole_parser() -> None:
    """``build_parser(command)`` adds only that command's group; every command's help is the whole parser's."""
    from qkdnet.cli.main import _COMMAND_LIST, COMMANDS, build_parser

    whole = _subparsers(build_parser())
    assert set(whole) == set(COMMANDS) == set(_COMMAND_LIST.replace(" or ", ", ").split(", "))
    for command in COMMANDS:
        alone = _subparsers(build_parser(command))
        assert command in alone and len(alone) < len(whole), command
        assert alone[command].format_help() == whole[command].format_help(), command  # type: ignore[attr-defined]


def test_a_key_run_imports_no_other_commands_code_to_parse() -> None:
    """``qkdnet bbm92`` parses without the KMS (pydantic), the daemons (asyncio), the file transfer or
    post-processing (numba; ``--reconciler`` lists its names without the registry)."""
    code = (
        "import sys; from qkdnet.cli.main import build_parser; build_parser('bbm92').parse_args(['bbm92']); "
        "print(sorted(sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    heavy_modules = ("'qkdnet.kms'", "'pydantic'", "'asyncio'", "'qkdnet.cli.otp_transfer'", "'qkdnet.cli.daemons'")
    for heavy in (*heavy_modules, "'qkdnet.postprocess'", "'numba'"):
        assert heavy not in out, heavy
    whole = "import sys; from qkdnet.cli.main import build_parser; build_parser(); print(sorted(sys.modules))"
    assert "'qkdnet.kms'" in subprocess.run([sys.executable, "-c", whole], capture_output=True, text=True).stdout


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0"), (0.00873, "0.00873"), (42.34, "42.3"), (999.4, "999"), (17664.0, "17,664"), (82598.2, "82,598")],
)
def test_figures_keep_small_values_and_group_large_ones(value: float, text: str) -> None:
    from qkdnet._display import significant

    assert significant(value) == text


def test_output_to_a_file_is_not_cut_at_80_columns(tmp_path) -> None:
    """``qkdnet simulate SCENARIO > log``: rich lays out tables 80 columns wide off a terminal; ours are not."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    out = subprocess.run(
        [sys.executable, "-m", "qkdnet", "simulate", "examples/metro20.toml"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "…" not in out.stdout
    assert max(len(line) for line in out.stdout.splitlines()) > 80  # one row per line, however wide


def test_abbreviated_options_are_refused() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "qkdnet", "bbm92", "--pair", "1000"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 2 and "unrecognized arguments: --pair 1000" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("plot", "says"),
    [("/nonexistent/dir/x.png", "directory '/nonexistent/dir' does not exist"), ("x.jpgg", "--plot must end in")],
)
def test_link_refuses_a_plot_path_it_cannot_write_in_one_line(plot: str, says: str) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "qkdnet", "link", "--preset", "ritter2012", "--plot", plot],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 2 and says in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
