"""Varying a link's preset in a sweep brings the preset's scheme and node hardware; hybrids only when asked for,
and then labelled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qkdnet.cli.main import main
from qkdnet.sweep import get_runner, plan_sweep
from qkdnet.sweep.whole_presets import hybrid_parts

TWO_LABS = Path(__file__).resolve().parents[2] / "examples" / "two_labs.toml"


def _configs(*vary: str) -> list[dict[str, object]]:
    return [p.config for p in plan_sweep(TWO_LABS, list(vary), runner="link").points()]


@pytest.mark.parametrize("preset", ["nolleke2013", "hofmann2012", "zhang2022"])
def test_a_varied_preset_models_what_qkdnet_link_models(preset: str, capsys: pytest.CaptureFixture[str]) -> None:
    """two_labs.toml is written for ritter2012's emission-absorption; another preset there is that preset whole."""
    (config,) = _configs(f"link.preset={preset}", "link.length_km=0.2")
    link = config["links"][0]  # type: ignore[index]
    assert link["heralding"] == "two-photon" and config["nodes"]["alice"]["preset"] == preset  # type: ignore[index]
    assert hybrid_parts(config) == []
    metrics = get_runner("link").function(config, 0)
    assert main(["link", "--preset", preset, "--length-km", "0.2", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    for name in ("success_probability", "pair_rate_hz", "fidelity", "qber"):
        assert metrics[name] == pytest.approx(cli[name], rel=1e-12), name


def test_the_scenarios_own_preset_is_left_as_written() -> None:
    (varied,) = _configs("link.preset=ritter2012")
    (plain,) = _configs()
    assert varied == plain


def test_a_hybrid_needs_the_mixed_field_varied_and_says_what_it_mixes() -> None:
    (config,) = _configs("link.preset=nolleke2013", "link.heralding=emission-absorption")
    assert config["links"][0]["heralding"] == "emission-absorption"  # type: ignore[index]
    assert hybrid_parts(config) == ["emission-absorption heralding"]
    (config,) = _configs("link.preset=nolleke2013", "nodes.bob.preset=ritter2012")
    assert hybrid_parts(config) == ["bob: ritter2012"]


def test_figures_label_a_hybrid_curve_as_such(tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    vary = ["--vary", "link.length_km=0.05,0.1", "--vary", "link.preset=ritter2012,nolleke2013"]
    assert main(["sweep", str(TWO_LABS), *vary, "--out", str(out)]) == 0
    assert main(["sweep", str(TWO_LABS), *vary, "--vary", "link.heralding=emission-absorption", "--out", str(out)]) == 0
    from qkdnet.report.plots import plot_key_rate
    from qkdnet.sweep import read_rows

    figure = plot_key_rate(read_rows(out)).figure
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    hybrids = [label for label in labels if label.startswith("model: hybrid")]
    assert hybrids == [
        "model: hybrid preset=nolleke2013, heralding=emission-absorption (emission-absorption heralding)"
    ]
    assert "model: preset=nolleke2013, heralding=two-photon" in labels  # the preset whole is no hybrid
