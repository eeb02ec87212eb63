"""Write docs/tutorial.ipynb from the cells below and execute it in place (outputs stored).

Run by hand after changing a cell: ``.venv/bin/python docs/make_tutorial.py``. The test suite executes the
notebook afresh (tests/test_tutorial_notebook.py), so a stored output that no longer matches the code shows
up as a failing cell, not as a stale page.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "tutorial.ipynb"

CELLS: list[tuple[str, str]] = [
    (
        "markdown",
        "# From a link to a key to a figure\n\n"
        "The seed's story in a notebook: two rubidium atoms in optical cavities, linked by fiber, share "
        "entangled pairs; measuring them gives both ends the same random bits, and Eve, if she touches the "
        "photons, shows up in the error rate and in the CHSH value. Every result below shows itself as a "
        "table, and every figure is a matplotlib `Figure` with a caption that cites its sources.",
    ),
    ("code", "%matplotlib inline\nimport tempfile\nfrom pathlib import Path\n\nimport qkdnet\nimport qkdnet.plots"),
    (
        "markdown",
        "## One link\n\nToday's best published atom hardware (Zhang et al. 2022) over 60 m of fiber, "
        "the distance of the seed's two labs:",
    ),
    ("code", 'link = qkdnet.link_from_preset("zhang2022", length_km=0.06)\nlink'),
    ("code", 'qkdnet.plots.link("zhang2022", length_km=0.06)'),
    (
        "markdown",
        "## A key\n\nE91 on 2·10⁶ heralded pairs: sifting, the CHSH test, parameter estimation with "
        "finite-size statistics, Cascade, verification and privacy amplification.",
    ),
    (
        "code",
        "result = qkdnet.run_key_exchange(link, qkdnet.E91, 2_000_000, seed=1)\n"
        "assert result.secure and (result.alice_key == result.bob_key).all()\n"
        "result",
    ),
    (
        "markdown",
        "## Eve\n\nShe intercepts and resends 20 % of the photons: the QBER rises by about 5 points and the "
        "run aborts without handing out a single key bit.",
    ),
    (
        "code",
        "eve = qkdnet.InterceptResend(fraction=0.2)\n"
        "attacked = qkdnet.run_key_exchange(link, qkdnet.E91, 2_000_000, seed=1, attack=eve)\n"
        "assert not attacked.secure and attacked.alice_key is None\n"
        "attacked",
    ),
    (
        "markdown",
        "## A sweep\n\nThe seed's two labs (`examples/two_labs.toml`) over fiber from 30 m to 2 km, on the "
        "2012 hardware and on Nölleke et al.'s 2013 hardware, each preset whole (its scheme and its atoms). "
        "Runs are keyed by their configuration, so running the cell again skips what is done.",
    ),
    (
        "code",
        "from qkdnet.sweep import plan_sweep, run_sweep\n\n"
        'table = Path(tempfile.mkdtemp()) / "lengths.parquet"\n'
        'plan = plan_sweep(Path("../examples/two_labs.toml"), '
        '["link.length_km=0.03:2:20", "link.preset=ritter2012,nolleke2013"])\n'
        "run_sweep(plan, table)",
    ),
    ("code", "figure = qkdnet.plots.key_rate(table)\nfigure"),
    ("code", "print(qkdnet.plots.caption(figure))"),
    (
        "markdown",
        "## A network\n\nA three-node repeater chain on the network simulator: entanglement heralded on each "
        "link, swapped at the middle node.",
    ),
    (
        "code",
        "from qkdnet.config import build_network, build_policies, build_requests, load_scenario\n"
        "from qkdnet.network import simulate\n"
        "from qkdnet.report import run_summary\n\n"
        'scenario = load_scenario(Path("../examples/chain3.toml"))\n'
        "network = build_network(scenario)\n"
        "run = simulate(network, build_requests(scenario), build_policies(scenario), seed=scenario.seed)\n"
        "run",
    ),
    ("code", "qkdnet.plots.network_run(run_summary(scenario, network, run, wall_s=0.0), run)"),
    (
        "markdown",
        '`qkdnet.plots.save(figure, "key_rate.png")` writes a figure and its caption beside it '
        "(`key_rate.caption.txt`); the command line's `--plot` draws the same figures.",
    ),
]


def build() -> nbformat.NotebookNode:
    """The notebook, unexecuted."""
    nb = nbformat.v4.new_notebook()
    make = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    nb.cells = [make[kind](source) for kind, source in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(nb: nbformat.NotebookNode, *, timeout_s: int = 600) -> nbformat.NotebookNode:
    """Run every cell in ``docs/`` (where the notebook lives); raises on the first cell that fails."""
    NotebookClient(nb, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    return nb


if __name__ == "__main__":
    nbformat.write(execute(build()), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
