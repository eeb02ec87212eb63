"""``qkdnet simulate SCENARIO.toml``: run a scenario file on the network simulator and report what it delivered.

Requests that cannot be served (no chain of links, an end without memories, a bad forced route) are
reported in one line each and set aside; the rest of the scenario runs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from qkdnet._display import human_duration, significant
from qkdnet.cli._common import make_console, plot_target, print_json
from qkdnet.config import build_network, build_policies, build_requests, load_scenario
from qkdnet.network import simulate
from qkdnet.report import run_summary

#: Rows of the request and link tables before the rest is summarised in one line.
SHOWN_ROWS = 20


def run_simulate(args: argparse.Namespace) -> int:
    """Load, build, simulate, report."""
    plot = None if args.plot is None else plot_target(args.plot, "network_run.png")
    scenario = load_scenario(args.scenario, skip_bad_requests=True)
    if args.seed is not None:
        scenario = scenario.model_copy(update={"seed": args.seed})
    network = build_network(scenario)
    requests = build_requests(scenario)
    err = make_console(stderr=True)
    show_bar = not args.json and err.is_terminal
    start = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not show_bar,
    ) as bar:
        task = bar.add_task("serving requests", total=len(requests))

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        run = simulate(
            network,
            requests,
            build_policies(scenario),
            seed=scenario.seed,
            progress=progress,
            event_by_event=args.event_by_event,
        )
    wall_s = time.perf_counter() - start
    summary = run_summary(scenario, network, run, wall_s=wall_s)
    if plot is not None:
        from qkdnet.report.run_plot import run_figure

        run_figure(summary, run).save(plot)
    if args.json:
        print_json(summary)
        return 0
    print_summary(make_console(highlight=False), summary, plot)
    return 0


def _num(value: float | None, fmt: str = "") -> str:
    """A table cell: "–" for no value, else ``value`` in ``fmt`` (default: :func:`figure`)."""
    if value is None:
        return "–"
    return format(value, fmt) if fmt else significant(value)


def print_summary(console: Console, s: dict[str, Any], plot: Path | None = None) -> None:
    """The human-readable report."""
    counts = s["counts"]
    console.print(
        f"[bold]{s['scenario'] or 'scenario'}[/bold]: {len(s['nodes'])} nodes, {len(s['links'])} links, "
        f"{len(s['requests'])} requests ({counts['skipped']} skipped at load)"
    )
    console.print(
        f"  simulated {human_duration(s['simulated_s'])} in {s['wall_s']:.2f} s of wall time "
        f"({s['events']:,} events); seed {s['seed']}"
    )
    console.print(
        "  requests: "
        + ", ".join(f"{counts[k]} {k}" for k in ("completed", "deadline", "unfinished", "rejected", "skipped"))
    )
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
    for column in ("request", "status", "hops", "delivered", "rate /s", "F mean", "F 5–95 %", "QBER", "key bit/s"):
        table.add_column(column)
    for r in s["requests"][:SHOWN_ROWS]:
        f = r["fidelity"]
        spread = "–" if f["mean"] is None else f"{f['p05']:.3f}–{f['p95']:.3f}"
        key = r["key"]
        key_text = _num(key["key_rate_bps"]) + (" (pipeline)" if key["method"] == "pipeline" else "")
        table.add_row(
            r["name"],
            r["status"],
            _num(r["hops"], "d"),
            f"{r['delivered']:,}",
            _num(r["rate_hz"]),
            _num(f["mean"], ".4f"),
            spread,
            "–" if r["qber"] is None else f"{100 * r['qber']:.2f} %",
            key_text,
        )
    console.print(table)
    if len(s["requests"]) > SHOWN_ROWS:
        console.print(f"  ... and {len(s['requests']) - SHOWN_ROWS:,} more requests (--json lists them all)")
    console.print("  key bit/s: asymptotic BBM92 from the delivered states, or the full key pipeline where marked")
    reasons = [(r["name"], r["reason"]) for r in s["requests"] if r["reason"] is not None]
    reasons += [(k["name"], k["reason"]) for k in s["skipped"]]
    for name, reason in reasons[:SHOWN_ROWS]:
        console.print(f"  [yellow]not served[/yellow] {name}: {reason}")
    if len(reasons) > SHOWN_ROWS:
        console.print(f"  ... and {len(reasons) - SHOWN_ROWS:,} more requests not served")
    busiest = sorted(s["links"], key=lambda link: -link["utilisation"])[: min(SHOWN_ROWS, 10)]
    links = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
    for column in ("link", "km", "scheme", "heralds", "utilisation", "expected pairs/s"):
        links.add_column(column)
    for link in busiest:
        links.add_row(
            link["name"],
            f"{link['length_km']:g}",
            link["scheme"],
            f"{link['heralds']:,}",
            f"{100 * link['utilisation']:.1f} %",
            significant(link["expected_rate_hz"]),
        )
    console.print("[bold]busiest links[/bold]")
    console.print(links)
    if plot is not None:
        console.print(f"  plot written to {plot} (caption beside it)", soft_wrap=True)


__all__ = ["SHOWN_ROWS", "print_summary", "run_simulate"]
