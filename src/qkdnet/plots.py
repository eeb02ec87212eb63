"""Figures for notebooks and scripts, each a :class:`matplotlib.figure.Figure` (shown inline by Jupyter).

The same figures the command line draws (``qkdnet link --plot``, ``attack sweep --plot``, ``simulate --plot``,
``qkdnet plot KIND``), without touching pyplot's global state. Every figure carries a caption that says what
it shows and cites its sources: :func:`caption` returns it, :func:`save` writes it beside the image.

>>> import qkdnet.plots
>>> fig = qkdnet.plots.link("vanleent2022", length_km=33)
>>> "PLOB" in qkdnet.plots.caption(fig)
True
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qkdnet.errors import InvalidParameter
from qkdnet.report.figure import Figure as _Drawn
from qkdnet.report.plots import PLOT_KINDS, plot_results

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qkdnet.network import HeraldedLink, NetworkRun
    from qkdnet.qkd import DetectionPoint

#: A results table: a Parquet file written by ``qkdnet sweep`` / :func:`qkdnet.sweep.run_sweep`, a pandas
#: DataFrame of one, or its rows.
Results = str | Path | Sequence[Mapping[str, Any]] | Any

_CAPTIONS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _keep(drawn: _Drawn) -> Figure:
    _CAPTIONS[drawn.figure] = drawn.caption
    return drawn.figure  # type: ignore[no-any-return]


def caption(fig: Figure) -> str:
    """The caption of a figure drawn here: what it shows, and the papers its lines and points come from."""
    try:
        return _CAPTIONS[fig]
    except KeyError:
        raise InvalidParameter("this figure was not drawn by qkdnet.plots: it has no caption") from None


def save(fig: Figure, path: str | Path) -> Path:
    """Write the figure (PNG, SVG or PDF by suffix) and its caption beside it as ``FILE.caption.txt``; returns
    the caption's path."""
    return _Drawn(fig, caption(fig), "").save(path)


def link(preset: str | HeraldedLink, *, length_km: float | None = None) -> Figure:
    """Heralded pair rate, pair fidelity and secret key rate of a link against fiber length, with the PLOB
    bound: a preset's name (at its published length, or ``length_km``) or a link object."""
    from qkdnet.network import link_from_preset
    from qkdnet.report.link_plot import link_figure

    if isinstance(preset, str):
        return _keep(link_figure(link_from_preset(preset, length_km=length_km), name=preset))
    if length_km is not None:
        preset = preset.with_length(length_km)
    return _keep(link_figure(preset))


def attack_sweep(points: Sequence[DetectionPoint], *, title: str = "attack sweep") -> Figure:
    """QBER, CHSH S and Eve's information against her strength, from :func:`qkdnet.qkd.detection_sweep`."""
    from qkdnet.report.attack_plot import attack_sweep_figure

    if not points:
        raise InvalidParameter("attack_sweep: no points to draw")
    return _keep(attack_sweep_figure(list(points), title=title))


def network_run(summary: Mapping[str, Any], run: NetworkRun) -> Figure:
    """Delivered fidelities, deliveries over time and link utilisation of a :func:`qkdnet.network.simulate`
    run, with its :func:`qkdnet.report.run_summary` (as ``qkdnet simulate --plot``)."""
    from qkdnet.report.run_plot import run_figure

    return _keep(run_figure(dict(summary), run))


def _rows(results: Results) -> list[Mapping[str, Any]]:
    if isinstance(results, str | Path):
        from qkdnet.sweep import read_rows

        return list(read_rows(Path(results)))
    if hasattr(results, "to_dict"):  # a pandas DataFrame of a results table
        return list(results.to_dict("records"))
    return list(results)


def key_rate(results: Results) -> Figure:
    """Secret key rate against fiber length, the PLOB bound and published experiments (``plot key-rate``)."""
    return _keep(plot_results("key-rate", _rows(results)))


def attack(results: Results) -> Figure:
    """QBER and CHSH S against the attack strength, with the security thresholds (``plot attack``)."""
    return _keep(plot_results("attack", _rows(results)))


def memory(results: Results) -> Figure:
    """Pair fidelity and QBER against memory storage time (``plot memory``)."""
    return _keep(plot_results("memory", _rows(results)))


def purification(results: Results) -> Figure:
    """Heralded pair rate against fidelity, one point per purification round (``plot purification``)."""
    return _keep(plot_results("purification", _rows(results)))


def network(results: Results) -> Figure:
    """Map of a run's network, links coloured by heralded pair rate (``plot network``)."""
    return _keep(plot_results("network", _rows(results)))


__all__ = [
    "PLOT_KINDS",
    "Results",
    "attack",
    "attack_sweep",
    "caption",
    "key_rate",
    "link",
    "memory",
    "network",
    "network_run",
    "purification",
    "save",
]
