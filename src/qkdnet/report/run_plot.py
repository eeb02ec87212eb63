"""The figure of one network run (``qkdnet simulate --plot``): the delivered pairs' fidelities, deliveries over
time, and how busy each link was."""

from __future__ import annotations

from typing import Any

import numpy as np

from qkdnet.network import NetworkRun
from qkdnet.report.figure import Figure, new_figure
from qkdnet.units import PS_PER_S

#: Requests drawn (the ones that delivered most); the legend stays readable.
SHOWN_REQUESTS = 8
#: Up to this many links get one bar each; more are drawn as a histogram.
LINK_BARS = 30


def run_figure(summary: dict[str, Any], run: NetworkRun) -> Figure:
    """Three panels of a run of :func:`qkdnet.network.simulate`, its ``summary`` from
    :func:`qkdnet.report.run_summary`."""
    name = summary["scenario"] or "scenario"
    served = [o for o in run.outcomes if o.delivered]
    shown = sorted(served, key=lambda o: -o.delivered)[:SHOWN_REQUESTS]
    fig, (ax_f, ax_t, ax_u) = new_figure(3, 1, figsize=(7.5, 10))

    for o in shown:
        ax_f.hist(o.fidelities, bins=40, histtype="step", label=o.request.name)
    ax_f.set_xlabel("fidelity of a delivered pair with Φ+ (after readout)")
    ax_f.set_ylabel("delivered pairs")
    for o in shown:
        t = o.delivery_times_ps / PS_PER_S
        ax_t.step(t, np.arange(1, len(t) + 1), where="post", label=o.request.name)
    ax_t.set_xlabel("simulated time (s)")
    ax_t.set_ylabel("pairs delivered so far")
    for ax in (ax_f, ax_t):
        if shown:
            ax.legend(fontsize=7, title="request", title_fontsize=7)
        else:
            ax.text(0.5, 0.5, "no request was delivered a pair", ha="center", va="center", transform=ax.transAxes)
        ax.grid(alpha=0.3)

    links = summary["links"]
    busy = [100 * link["utilisation"] for link in links]
    if len(links) <= LINK_BARS:
        ax_u.bar([link["name"] for link in links], busy, color="tab:blue")
        ax_u.set_ylabel("time spent attempting (%)")
        ax_u.set_ylim(0, 100)
        ax_u.tick_params(axis="x", labelrotation=45 if len(links) > 6 else 0, labelsize=7)
        utilisation = "each link's utilisation (per cent of the run spent attempting)"
    else:
        ax_u.hist(busy, bins=20, range=(0.0, 100.0), color="tab:blue")
        ax_u.set_xlabel("time spent attempting (%)")
        ax_u.set_ylabel("links")
        ax_u.yaxis.get_major_locator().set_params(integer=True)
        utilisation = f"a histogram of the {len(links):,} links' utilisation (per cent of the run spent attempting)"
    ax_u.grid(alpha=0.3, axis="y")
    fig.suptitle(f"{name}: {len(summary['requests']):,} requests on {len(links):,} links", fontsize=10)
    more = len(served) - len(shown)
    caption = (
        f"Network run of {name} (seed {summary['seed']}, {summary['simulated_s']:.3g} s simulated). Top: the "
        "fidelity of each delivered pair with Φ+ after both qubits were read out, per request; middle: pairs "
        f"delivered over simulated time; bottom: {utilisation}."
        + (f" The {len(shown)} requests that delivered most are drawn; {more:,} more delivered pairs." if more else "")
    )
    return Figure(fig, caption, "network-run")


__all__ = ["run_figure"]
