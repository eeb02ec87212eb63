"""`qkdnet attack` and `qkdnet attack sweep` end to end, in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qkdnet.attacks import ATTACK_KINDS
from qkdnet.cli import main

EVE_FIELDS = {
    "eve_information_sifted_bits_per_bit",
    "eve_information_final_bits_per_bit",
    "eve_guess_accuracy_sifted",
    "eve_guess_accuracy_final",
    "eve_privacy_margin_bits",
    "eve",
    "attack",
}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


#: Pairs that leave a finite key under the cloner at D = 3 % (Q ≈ 3.9 %): measured on seeds 0–7, E91 needs 6·10⁵
#: (7/8 at 4·10⁵), BBM92 3·10⁵ (≥ 1.9·10⁴ bits; 2·10⁵ leaves only 1.5·10³ on its worst seed).
CLONER_PAIRS = {"e91": "600000", "bbm92": "300000"}


@pytest.mark.parametrize("protocol", ["e91", "bbm92"])
def test_attack_json_has_the_e91_fields_plus_eve(capsys: pytest.CaptureFixture[str], protocol: str) -> None:
    honest = run_json(capsys, protocol, "--visibility", "0.98", "--pairs", "30000", "--json")
    pairs = CLONER_PAIRS[protocol]
    argv = ["attack", "--kind", "cloner", "--strength", "0.03", "--protocol", protocol, "--pairs", pairs, "--json"]
    out = run_json(capsys, *argv)
    assert out.keys() >= honest.keys() | EVE_FIELDS
    assert out["secure"] is True and out["final_key_bits"] > 0 and out["eve_fraction"] == 1.0
    assert abs(out["qber"] - 0.0394) < 5 * out["qber_stderr"]  # D + (1 − 2D)·1 % from the honest channel
    assert out["eve_guess_accuracy_sifted"] > 0.6 and out["eve_information_sifted_bits_per_bit"] > 0.05
    assert out["eve"]["final"]["beats_chance_5_sigma"] is False
    assert abs(out["eve_guess_accuracy_final"] - 0.5) < 5 * out["eve"]["final"]["guess_accuracy_stderr"]
    assert out["eve_privacy_margin_bits"] >= 0
    assert out["attack"] == {"kind": "cloner", "strength": 0.03, "strength_means": ATTACK_KINDS["cloner"].strength}


def test_caught_attack_reports_no_final_key(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "attack", "--kind", "intercept-resend", "--strength", "1", "--pairs", "60000", "--json")
    assert out["secure"] is False and out["final_key_bits"] == 0 and "QBER" in out["abort_reason"]
    assert out["eve_guess_accuracy_final"] is None and out["eve_information_final_bits_per_bit"] is None
    assert out["eve"]["final"] is None and out["eve_guess_accuracy_sifted"] > 0.7


def test_attack_story_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attack", "--kind", "loss-hiding", "--strength", "1", "--physical-link", "--preset", "zhang2022",
                 "--pairs", "50000"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    for phrase in ("loss-hiding", "QBER", "Eve, sifted key", "Eve, final key"):
        assert phrase in text


def test_sweep_json_and_figure(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """4·10⁵ pairs: the honest E91 point must keep a finite key (every one of 100 seeds does from 3.2·10⁵)."""
    figure = tmp_path / "ir.png"
    out = run_json(
        capsys,
        "attack", "sweep", "--kind", "intercept-resend", "--points", "3", "--seeds", "2", "--pairs", "400000",
        "--plot", str(figure), "--json",
    )  # fmt: skip
    assert [p["strength"] for p in out["points"]] == [0.0, 0.5, 1.0]
    assert out["points"][0]["abort_rate"] == 0.0 and out["points"][2]["abort_rate"] == 1.0
    assert out["points"][2]["eve_guess_accuracy_final"] is None
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["attack", "sweep", "--kind", "cloner", "--strengths", "0,0.25", "--seeds", "1", "--pairs", "30000"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "cloner" in text and "no key" in text and "0.25" in text


def test_help_names_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["attack", "--help"])
    text = capsys.readouterr().out
    for kind in ATTACK_KINDS:
        assert kind in text


@pytest.mark.parametrize(
    "argv",
    [
        ["attack", "--kind", "intercept-resend", "--strength", "1.5"],
        ["attack", "--kind", "nosuch", "--strength", "0.1"],
        ["attack", "--kind", "cloner", "--strength", "0.7"],
        ["attack", "--kind", "cloner"],
        ["attack", "--strength", "0.1"],
        ["attack", "--kind", "cloner", "--strength", "0.1", "--eve-angle", "10"],
        ["attack", "--kind", "intercept-fixed", "--strength", "0.1", "--eve-angle", "inf"],
        ["attack", "--kind", "cloner", "--strength", "0.1", "--visibility", "0.9", "--physical-link"],
        ["attack", "--kind", "cloner", "--strength", "0.1", "--protocol", "bbm92", "--device-independent"],
        ["attack", "sweep", "--kind", "cloner", "--strengths", "0,0.6"],
        ["attack", "sweep", "--kind", "cloner", "--strengths", "0,x"],
        ["attack", "sweep", "--kind", "cloner", "--plot", "out.txt"],
        ["attack", "sweep", "--kind", "cloner", "--plot", "/no/such/dir/out.png"],
        ["attack", "sweep"],
    ],
)
def test_bad_flags_give_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("qkdnet: error:") and err.count("\n") == 1
    assert "Traceback" not in err


def test_attack_runs_take_the_reconciler(capsys: pytest.CaptureFixture[str]) -> None:
    """`--reconciler` reaches the post-processing of an attack run and of every run of a sweep."""
    argv = ["attack", "--kind", "cloner", "--strength", "0.03", "--protocol", "bbm92", "--pairs", "300000", "--json"]
    out = run_json(capsys, *argv, "--reconciler", "ldpc")
    assert out["reconciler"] == "ldpc" and out["secure"] is True
    assert out["leakage_bits"]["ldpc_syndrome"] > 0 and "cascade_parity" not in out["leakage_bits"]
    sweep = ["attack", "sweep", "--kind", "cloner", "--strengths", "0", "--seeds", "1", "--pairs", "200000", "--json"]
    ldpc = run_json(capsys, *sweep, "--protocol", "bbm92", "--reconciler", "ldpc")
    cascade = run_json(capsys, *sweep, "--protocol", "bbm92")
    assert ldpc["reconciler"] == "ldpc" and cascade["reconciler"] == "cascade"
    # the same pairs: the estimates agree, the final keys (what the reconcilers disclosed differs) do not
    assert ldpc["points"][0]["qber"] == cascade["points"][0]["qber"]
    assert ldpc["points"][0]["final_key_bits"] != cascade["points"][0]["final_key_bits"]
