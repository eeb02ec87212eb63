"""``--plot`` means the same in every command (a figure file, or a folder that gets the command's figure), and
every figure it draws is fit for a paper: each drawn line named in a legend, its caption written beside it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from qkdnet.cli import main
from tests.report.figure_checks import lines_drawn_over_each_other, unnamed_lines

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: Each command that takes --plot (kept short), and the file it writes into a folder.
PLOTTING = {
    "link": (["link", "--preset", "vanleent2022", "--length-km", "33"], "link_vanleent2022.png"),
    "attack sweep": (
        ["attack", "sweep", "--kind", "intercept-resend", "--points", "2", "--seeds", "1", "--pairs", "20000"],
        "attack_sweep_intercept-resend.png",
    ),
    "simulate": (["simulate", str(EXAMPLES / "two_labs.toml")], "network_run.png"),
}


@pytest.mark.parametrize("command", list(PLOTTING))
@pytest.mark.parametrize("form", ["file", "new folder", "existing folder"])
def test_plot_takes_a_file_or_a_folder_in_every_command(
    command: str, form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, default_name = PLOTTING[command]
    if form == "file":
        target, written = tmp_path / "fig.svg", tmp_path / "fig.svg"
    else:
        target = tmp_path / "figures"
        if form == "existing folder":
            target.mkdir()
        written = target / default_name
    assert main([*argv, "--plot", str(target)]) == 0
    assert str(written) in capsys.readouterr().out
    assert written.stat().st_size > 1000
    caption = written.with_suffix(".caption.txt").read_text(encoding="utf-8")
    assert len(caption) > 80 and caption.endswith(".\n")


@pytest.mark.parametrize("command", list(PLOTTING))
@pytest.mark.parametrize(
    ("plot", "says"),
    [
        ("/nonexistent/dir/x.png", "--plot: directory '/nonexistent/dir' does not exist"),
        ("/nonexistent/dir/figures", "--plot: directory '/nonexistent/dir' does not exist"),
        ("x.jpgg", "--plot must end in .png, .pdf, .svg (or name a folder), got 'x.jpgg'"),
    ],
)
def test_a_plot_target_that_cannot_be_written_is_the_same_one_line_everywhere(
    command: str, plot: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, _ = PLOTTING[command]
    assert main([*argv, "--plot", plot]) == 2
    err = capsys.readouterr().err
    assert err == f"qkdnet: error: {says}\n"


def test_a_plot_path_that_is_a_file_without_a_figure_suffix_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes").write_text("mine")
    assert main(["link", "--preset", "ritter2012", "--plot", str(tmp_path / "notes")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert (tmp_path / "notes").read_text() == "mine"


@pytest.mark.parametrize("length_km", [0.06, 33.0])
def test_the_link_figure_names_every_line_and_gives_plob_its_own_axis_when_it_dwarfs_the_key(
    length_km: float,
) -> None:
    from qkdnet.network import link_from_preset
    from qkdnet.report.link_plot import link_figure

    figure = link_figure(link_from_preset("vanleent2022", length_km=length_km), name="vanleent2022")
    assert unnamed_lines(figure.figure) == [] and lines_drawn_over_each_other(figure.figure) == []
    key_axes = [ax for ax in figure.figure.axes if "bit/s" in ax.get_ylabel()]
    # Van Leent's key rate is ~10⁻⁵ of PLOB at any length: PLOB is drawn on a right axis of its own, so the key
    # axis spans only the key's own decades.
    assert [ax.get_ylabel() for ax in key_axes] == ["secret key rate (bit/s)", "PLOB bound (bit/s)"]
    low, high = key_axes[0].get_ylim()
    assert high / low < 1e4
    assert "right axis" in figure.caption


def test_the_run_figure_draws_links_as_bars_when_they_are_few(tmp_path: Path) -> None:
    from qkdnet.config import build_network, build_policies, build_requests, load_scenario
    from qkdnet.network import simulate
    from qkdnet.report import run_summary
    from qkdnet.report.run_plot import run_figure

    scenario = load_scenario(EXAMPLES / "chain3.toml")
    network = build_network(scenario)
    run = simulate(network, build_requests(scenario), build_policies(scenario), seed=scenario.seed)
    figure = run_figure(run_summary(scenario, network, run, wall_s=0.0), run)
    bars = figure.figure.axes[2]
    assert [t.get_text() for t in bars.get_xticklabels()] == [link.name for link in network.links]
    assert unnamed_lines(figure.figure) == []


def test_plotting_switches_no_matplotlib_backend(tmp_path: Path) -> None:
    """Figures are built without pyplot, so a notebook's inline backend survives a qkdnet figure."""
    import subprocess

    code = (
        "import matplotlib; matplotlib.use('svg');"
        "from qkdnet.network import link_from_preset; from qkdnet.report.link_plot import link_figure;"
        "link_figure(link_from_preset('ritter2012')).save('x.png');"
        "print(matplotlib.get_backend())"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "svg"
