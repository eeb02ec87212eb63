"""The tutorial notebook (docs/tutorial.ipynb) runs from a clean kernel, link to key to sweep to figure, and the
stored copy is the one docs/make_tutorial.py builds (so the page a reader opens is what the code does)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import nbformat

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _maker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_tutorial", DOCS / "make_tutorial.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.extend(str(v) for k, v in out.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(parts)


def test_the_stored_notebook_is_the_one_the_maker_builds() -> None:
    stored = nbformat.read(DOCS / "tutorial.ipynb", as_version=4)
    built = _maker().build()
    assert [(c.cell_type, c.source) for c in stored.cells] == [(c.cell_type, c.source) for c in built.cells]
    assert all(c.outputs for c in stored.cells if c.cell_type == "code" and not c.source.startswith("%matplotlib"))


def test_the_tutorial_runs_from_a_clean_kernel() -> None:
    maker = _maker()
    nb = maker.execute(maker.build())
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    shown = {c.source.splitlines()[-1]: c for c in code}
    assert "secret key bits" in _text(shown["result"]) and "no key" in _text(shown["attacked"])
    figures = [c for c in code if any("image/png" in o.get("data", {}) for o in c.outputs)]
    assert len(figures) == 3  # the link, the key-rate sweep and the network run, drawn inline
    assert "PLOB" in _text(shown["print(qkdnet.plots.caption(figure))"])
    assert "<td>grid points</td><td>40</td>" in _text(shown["run_sweep(plan, table)"])
