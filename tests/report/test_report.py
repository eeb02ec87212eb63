"""Figures and the HTML report of real sweeps; the report opened in headless Chromium, every image loaded."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest

from qkdnet.design import SearchSpec, load_study, run_design
from qkdnet.errors import InvalidParameter
from qkdnet.report import PLOT_KINDS, key_per_pair_points, key_points, plot_results, suitable_kinds, write_report
from qkdnet.sweep import plan_sweep, read_rows, run_sweep
from tests.report.figure_checks import lines_drawn_over_each_other, unnamed_lines

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TWO_LABS = EXAMPLES / "two_labs.toml"


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One table holding a length sweep, a storage sweep, a purification sweep, an attack sweep and a design
    study."""
    out = tmp_path_factory.mktemp("report") / "results.parquet"
    run_sweep(plan_sweep(TWO_LABS, ["link.length_km=0.03:0.6:6", "link.preset=ritter2012,nolleke2013"]), out)
    run_sweep(plan_sweep(TWO_LABS, ["memory.storage_s=1e-6:1e-2:5:log"]), out)
    run_sweep(plan_sweep(TWO_LABS, ["policies.purification_rounds=0,1,2,3"]), out)
    attack = ["key.visibility=0.98", "key.pairs=4000", "key.protocol=e91", "eve.strength=0,0.5,1"]
    run_sweep(plan_sweep(TWO_LABS, attack), out)
    study = load_study(EXAMPLES / "design" / "krutyanskiy_100km.toml")
    run_design(study.model_copy(update={"search": SearchSpec(evaluations=48, population=24, confirm_pairs=2000)}), out)
    return out


def test_published_points_are_the_papers_numbers() -> None:
    per_pair = {p.preset: p.value for p in key_per_pair_points()}
    assert per_pair["zhang2022"] == 0.07  # Zhang et al. 2022, abstract: 0.07 bit per event
    assert per_pair["nadlinger2022"] == pytest.approx(95_628 / 1.5e6)  # Nadlinger et al. 2022, abstract
    rates = {p.preset: p.value for p in key_points()}
    assert rates["nadlinger2022"] == pytest.approx(95_628 / 1.5e6 * 52.0)  # × 52 pairs/s (1.5·10⁶ in 8 h)


@pytest.mark.parametrize("kind", list(PLOT_KINDS))
def test_every_kind_draws_png_and_svg(table: Path, kind: str, tmp_path: Path) -> None:
    rows = read_rows(table)
    if kind == "key-rate":
        rows = [r for r in rows if '"links[0].length_km"' in r["varied"]]
    if kind == "attack":
        rows = [r for r in rows if r["runner"] == "key"]
    if kind == "memory":
        rows = [r for r in rows if "storage_s" in r["varied"]]
    if kind == "purification":
        rows = [r for r in rows if "purification" in r["varied"]]
    if kind == "design":
        rows = [r for r in rows if r["runner"] == "design"]
    for suffix in (".png", ".svg"):
        figure = plot_results(kind, rows)
        if kind != "network":  # the map's links are keyed by its colour bar, not a legend
            assert unnamed_lines(figure.figure) == [] and lines_drawn_over_each_other(figure.figure) == []
        caption = figure.save(tmp_path / f"{kind}{suffix}")
        assert (tmp_path / f"{kind}{suffix}").stat().st_size > 5000
        assert caption == tmp_path / f"{kind}.caption.txt" and caption.read_text() == figure.caption + "\n"
    assert (tmp_path / f"{kind}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_figure_the_table_cannot_support_says_why(table: Path) -> None:
    rows = [r for r in read_rows(table) if "storage_s" in r["varied"]]
    with pytest.raises(InvalidParameter, match="attack: the table varies none of strength"):
        plot_results("attack", rows)


def test_suitable_kinds_follow_what_was_varied(table: Path) -> None:
    assert set(suitable_kinds(read_rows(table))) == set(PLOT_KINDS)


def test_report_is_self_contained(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    write_report(table, out, command="qkdnet report results.parquet --out report.html")
    text = out.read_text(encoding="utf-8")
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == len(PLOT_KINDS)
    assert all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched from elsewhere
    assert "<script" not in text
    rows = read_rows(table)
    assert all(r["key"][:12] in text for r in rows)  # every run's configuration is there
    assert "qkdnet report results.parquet --out report.html" in text
    assert "Pirandola" in text and "Shor &amp; Preskill" in text


#: Appended to a copy of the report: after load, write what the images did into the DOM that --dump-dom prints.
PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0);
  const probe = document.createElement('div');
  probe.id = 'probe';
  probe.textContent = `images=${imgs.length} loaded=${ok.length} width=${document.body.scrollWidth}`;
  document.body.appendChild(probe);
});
</script>"""


def _headless(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
    ]
    return subprocess.run([chromium, *flags, *args], capture_output=True, text=True, timeout=120, check=False)


def test_report_renders_in_chromium_and_every_image_loads(table: Path, tmp_path: Path, chromium: str) -> None:
    out = tmp_path / "report.html"
    write_report(table, out, command="qkdnet report")
    probed = tmp_path / "probed.html"
    probed.write_text(out.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _headless(chromium, tmp_path / "profile", "--dump-dom", probed.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'id="probe">images=(\d+) loaded=(\d+) width=(\d+)<', dom.stdout)
    assert found, dom.stdout[-2000:]
    images, loaded, width = map(int, found.groups())
    assert images == len(PLOT_KINDS) and loaded == images and width > 0
    shot = tmp_path / "report.png"
    taken = _headless(chromium, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1200,2400", out.as_uri())
    assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-2000:]


def test_network_map_colours_links_by_their_simulated_rates(tmp_path: Path) -> None:
    out = tmp_path / "chain.parquet"
    run_sweep(plan_sweep(EXAMPLES / "chain3.toml", ["policies.cutoff_s=none"]), out)
    rows = read_rows(out)
    assert rows[0]["runner"] == "network"
    figure = plot_results("network", rows)
    assert "simulated link rates" in figure.caption
    figure.save(tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 5000


def test_the_map_of_a_sweep_over_its_links_says_which_run_it_draws(table: Path) -> None:
    rows = [r for r in read_rows(table) if '"links[0].length_km"' in r["varied"]]
    figure = plot_results("network", rows)
    title = figure.figure.axes[0].get_title()
    assert f"run 1 of {len(rows)}; the sweep varies links[0].length_km" in title
    assert "the sweep varies" in figure.caption
    unvaried = plot_results("network", [r for r in read_rows(table) if "storage_s" in r["varied"]])
    assert "sweep varies" not in unvaried.figure.axes[0].get_title()
