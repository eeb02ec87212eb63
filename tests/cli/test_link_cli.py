"""``qkdnet presets`` and ``qkdnet link``: output fields, physics sanity against independent bounds, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qkdnet.cli import main
from qkdnet.cli.link import LINK_FIELDS
from qkdnet.hardware import get_preset, preset_names
from qkdnet.qkd import plob_bits_per_use
from qkdnet.units import binary_entropy


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_presets_lists_every_preset_with_its_source(capsys: pytest.CaptureFixture[str]) -> None:
    rows = run_json(capsys, "presets", "--json")
    assert isinstance(rows, list)
    assert [r["name"] for r in rows] == list(preset_names())
    for row in rows:
        assert row["source"] == get_preset(row["name"]).reference
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "ritter2012" in out and "Nature 484" in out
    # Each row counts its numbers by status (modeling defaults left out): ritter2012 has none confirmed.
    assert "conf/est/cal" in out
    from qkdnet.cli.link import _status_counts

    assert _status_counts(get_preset("ritter2012")) == "0/16/6"


@pytest.mark.parametrize("name", preset_names())
def test_link_json_has_exactly_the_documented_fields(capsys: pytest.CaptureFixture[str], name: str) -> None:
    out = run_json(capsys, "link", "--preset", name, "--json")
    assert isinstance(out, dict) and tuple(out) == LINK_FIELDS
    assert set(LINK_FIELDS) == {
        "attempt_rate_hz",
        "success_probability",
        "pair_rate_hz",
        "fidelity",
        "qber",
        "chsh_s",
        "key_rate_bps",
    }
    assert 0.0 < out["success_probability"] <= 1.0
    assert out["pair_rate_hz"] <= out["attempt_rate_hz"] * out["success_probability"] * (1 + 1e-9)
    assert 0.25 <= out["fidelity"] <= 1.0 and 0.0 <= out["qber"] <= 0.75
    assert abs(out["chsh_s"]) <= 2 * math.sqrt(2) + 1e-12
    # Secret bits per pair can never beat 1 − h(Q) (Shor–Preskill with the mean QBER, a loose ceiling) ...
    assert out["key_rate_bps"] <= out["pair_rate_hz"] * 0.5 * max(0.0, 1 - binary_entropy(out["qber"])) + 1e-12
    # ... nor the repeaterless PLOB bound per channel use.
    length = get_preset(name).fiber.length_km
    eta = get_preset(name).fiber.with_length(length).transmission
    assert out["key_rate_bps"] <= plob_bits_per_use(eta) * out["attempt_rate_hz"]


def test_longer_fiber_means_fewer_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    near = run_json(capsys, "link", "--preset", "vanleent2022", "--length-km", "0.7", "--json")
    far = run_json(capsys, "link", "--preset", "vanleent2022", "--length-km", "33", "--json")
    assert isinstance(near, dict) and isinstance(far, dict)
    assert far["pair_rate_hz"] < near["pair_rate_hz"] and far["fidelity"] < near["fidelity"]
    assert 0.6 < far["fidelity"] < 0.64  # van Leent et al. 2022: 0.622(15) at 33 km


def test_link_text_and_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "link.png"
    assert main(["link", "--preset", "vanleent2022", "--length-km", "33", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    for phrase in ("attempt rate", "success per try", "heralded pairs", "pair fidelity", "QBER", "CHSH", "key rate"):
        assert phrase in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plob_bound_values() -> None:
    # REFERENCES.md: 1.438 bits at 10 km, 0.1520 at 50 km of 0.2 dB/km fiber.
    assert plob_bits_per_use(10 ** (-0.2)) == pytest.approx(1.438, abs=1e-3)
    assert plob_bits_per_use(10 ** (-1.0)) == pytest.approx(0.1520, abs=1e-4)
    assert plob_bits_per_use(1.0) == math.inf


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["link", "--preset", "nope"], "valid names: hofmann2012"),
        (["link", "--preset", "ritter2012", "--length-km", "-1"], "--length-km"),
        (["link", "--preset", "ritter2012", "--length-km", "nan"], "--length-km"),
        (["link"], "--preset"),
    ],
)
def test_link_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_link_modes_multiplex_the_round(capsys: pytest.CaptureFixture[str]) -> None:
    one = run_json(capsys, "link", "--preset", "ritter2012", "--length-km", "1", "--json")
    many = run_json(capsys, "link", "--preset", "ritter2012", "--length-km", "1", "--modes", "50", "--json")
    assert isinstance(one, dict) and isinstance(many, dict) and tuple(many) == LINK_FIELDS
    p = one["success_probability"]
    assert many["success_probability"] == pytest.approx(1.0 - (1.0 - p) ** 50, rel=1e-12)
    assert many["pair_rate_hz"] / one["pair_rate_hz"] == pytest.approx((1.0 - (1.0 - p) ** 50) / p, rel=1e-9)
    assert many["fidelity"] == pytest.approx(one["fidelity"], rel=1e-12)  # one mode's pair is stored
    assert main(["link", "--preset", "ritter2012", "--modes", "50"]) == 0
    assert "50 per round" in capsys.readouterr().out
    assert main(["link", "--preset", "ritter2012"]) == 0
    assert "per round" not in capsys.readouterr().out  # an unmultiplexed link reads as before
