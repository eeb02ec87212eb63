"""``qkdnet.plots``: every figure a matplotlib Figure with its caption, drawn without pyplot, saved with the
caption beside it; and the results a notebook shows (short reprs, HTML tables)."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

import qkdnet.plots
from qkdnet import E91, link_from_preset, run_key_exchange
from qkdnet.errors import InvalidParameter
from qkdnet.sweep import plan_sweep, run_sweep
from tests.report.figure_checks import lines_drawn_over_each_other, unnamed_lines

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def lengths(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plots") / "lengths.parquet"
    run_sweep(plan_sweep(EXAMPLES / "two_labs.toml", ["link.length_km=0.03:0.6:5"]), out)
    return out


def test_link_figure_from_a_preset_or_a_link_object() -> None:
    by_name = qkdnet.plots.link("vanleent2022", length_km=33)
    by_object = qkdnet.plots.link(link_from_preset("vanleent2022"), length_km=33)
    for fig in (by_name, by_object):
        assert isinstance(fig, Figure)
        assert unnamed_lines(fig) == [] and lines_drawn_over_each_other(fig) == []
    assert "vanleent2022" in qkdnet.plots.caption(by_name) and "33 km" in qkdnet.plots.caption(by_object)


def test_results_figures_take_a_table_path_or_its_rows(lengths: Path, tmp_path: Path) -> None:
    from qkdnet.sweep import read_rows

    from_path = qkdnet.plots.key_rate(lengths)
    from_rows = qkdnet.plots.key_rate(read_rows(lengths))
    assert isinstance(from_path, Figure) and isinstance(from_rows, Figure)
    assert qkdnet.plots.caption(from_path) == qkdnet.plots.caption(from_rows)
    assert isinstance(qkdnet.plots.network(lengths), Figure)
    with pytest.raises(InvalidParameter, match="attack: the table varies none of strength"):
        qkdnet.plots.attack(lengths)
    caption = qkdnet.plots.save(from_path, tmp_path / "k.pdf")
    assert (tmp_path / "k.pdf").read_bytes()[:4] == b"%PDF"
    assert caption.read_text(encoding="utf-8") == qkdnet.plots.caption(from_path) + "\n"


def test_attack_sweep_figure_from_detection_points() -> None:
    from qkdnet.attacks import InterceptResend
    from qkdnet.network import WernerSource
    from qkdnet.qkd import detection_sweep

    source = WernerSource(visibility=0.98, pair_rate_hz=1000.0)
    points = detection_sweep(
        lambda p: InterceptResend(fraction=p), [0.0, 1.0], source=source, protocol=E91, n_pairs=20_000, seeds=[1]
    )
    fig = qkdnet.plots.attack_sweep(points, title="intercept-resend")
    assert "intercept-resend" in qkdnet.plots.caption(fig)
    with pytest.raises(InvalidParameter, match="no points"):
        qkdnet.plots.attack_sweep([])


def test_a_figure_not_drawn_here_has_no_caption_to_give() -> None:
    with pytest.raises(InvalidParameter, match=r"not drawn by qkdnet\.plots"):
        qkdnet.plots.caption(Figure())


def test_results_show_one_line_and_an_html_table_without_key_bits() -> None:
    link = link_from_preset("zhang2022", length_km=0.06)
    result = run_key_exchange(link, E91, 200_000, seed=1)
    assert result.alice_key is not None and result.secure
    line = repr(result)
    assert line.count("\n") == 0 and len(line) < 200
    assert f"{result.final_key_bits:,} secret key bits" in line and f"QBER {100 * result.qber:.2f} %" in line
    table = result._repr_html_()
    assert table.startswith("<table>") and "CHSH S" in table
    key_text = "".join(map(str, result.alice_key[:64]))
    assert key_text not in table and key_text not in line
    assert "heralded pairs" in link._repr_html_() and "<b>Zhang et al. 2022" in link._repr_html_()
