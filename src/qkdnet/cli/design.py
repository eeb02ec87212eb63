"""``qkdnet design STUDY.toml --out RESULTS.parquet``: the least-improved hardware that beats the PLOB bound."""

from __future__ import annotations

import argparse
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from qkdnet.cli._common import UsageError, check_writable, make_console, print_json
from qkdnet.design import DesignResult, load_study, run_design


def _summary(result: DesignResult, out: str) -> dict[str, Any]:
    """The JSON of ``qkdnet design --json``."""
    best, confirmed = result.best, result.confirmed
    return {
        "study": result.study.name,
        "beats_plob": result.beats_plob,
        "plob_per_use": None if best is None else best["plob_per_use"],
        "key_per_use": None if best is None else best["key_per_use"],
        "confirmed_key_per_use": None if confirmed is None else confirmed["key_per_use"],
        "confirmed_pairs": result.study.search.confirm_pairs,
        "total_improvement": None if best is None else best["total_improvement"],
        "parameters": [
            {"name": n, "preset": base, "design": value, "factor": k} for n, base, value, k in result.improvements()
        ],
        "evaluations": result.evaluations,
        "reused": result.reused,
        "wall_s": result.wall_s,
        "results": out,
    }


def run_design_command(args: argparse.Namespace) -> int:
    """``qkdnet design``: search a study, every evaluation into ``--out``; print the best design found."""
    study = load_study(args.study)
    search = study.search.model_copy(
        update={k: v for k, v in (("evaluations", args.evaluations), ("seed", args.seed)) if v is not None}
    )
    study = study.model_copy(update={"search": search})
    if args.scheduler is not None and args.workers is not None:
        raise UsageError("--workers applies to local runs; a --scheduler cluster has its own workers")
    check_writable(args.out, "--out")
    err = make_console(stderr=True, highlight=False)
    with Progress(
        TextColumn("design points"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal or args.json,
    ) as bar:
        task = bar.add_task("search", total=search.evaluations)
        result = run_design(
            study,
            args.out,
            workers=args.workers or 1,
            scheduler=args.scheduler,
            progress=lambda done, total, wall_s: bar.update(task, completed=min(done, total)),
        )
    summary = _summary(result, str(args.out))
    if args.json:
        print_json(summary)
    else:
        _print(result, summary)
    return 0


def _print(result: DesignResult, summary: dict[str, Any]) -> None:
    console = make_console(highlight=False)
    chain = result.study.chain
    console.print(
        f"[bold]{result.study.name}[/bold]: {chain.nodes} nodes of {chain.preset} over {chain.length_km:g} km "
        f"({chain.length_km / (chain.nodes - 1):g} km links); {result.evaluations:,} points simulated "
        f"({result.reused:,} reused from {summary['results']}) in {result.wall_s:.1f} s"
    )
    if result.best is None:
        console.print("no design within the parameter ranges beats the PLOB bound: widen the ranges or add nodes")
        return
    table = Table(title=f"least-improved design found: {summary['total_improvement']:.2f} decades in all")
    for column in ("parameter", "preset", "design", "factor k"):
        table.add_column(column, justify="left" if column == "parameter" else "right")
    for p in summary["parameters"]:
        table.add_row(p["name"], f"{p['preset']:.4g}", f"{p['design']:.4g}", f"{p['factor']:.3g}")
    console.print(table)
    confirmed = result.confirmed or {}
    verdict = "beats" if result.beats_plob else "does NOT beat (the confirmation run fell short)"
    console.print(
        f"  key per channel use {summary['key_per_use']:.4g} bit (PLOB {summary['plob_per_use']:.4g}); "
        f"confirmed with {summary['confirmed_pairs']:,} pairs and another seed: "
        f"{confirmed.get('key_per_use', 0.0):.4g} bit, margin {confirmed.get('margin', 0.0):.3f}: {verdict} the bound"
    )
    console.print(
        f"  Pareto front: {len(result.front)} designs; draw it with `qkdnet plot design {summary['results']} "
        "--out design.png`",
        soft_wrap=True,
    )


__all__ = ["run_design_command"]
