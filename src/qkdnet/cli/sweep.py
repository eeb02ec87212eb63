"""``qkdnet sweep``, ``qkdnet sweep merge``, ``qkdnet plot`` and ``qkdnet report``: grids of runs and what they show."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from qkdnet.cli._common import FIGURE_SUFFIXES, UsageError, check_writable, make_console
from qkdnet.sweep import (
    SweepInterrupted,
    SweepOutcome,
    list_fields,
    merge_results,
    plan_sweep,
    read_document,
    run_sweep,
)
from qkdnet.sweep.table import Row

EXIT_INTERRUPTED = 130


def _command_line() -> str:
    return "qkdnet " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def run_sweep_command(args: argparse.Namespace) -> int:
    """``qkdnet sweep``: list fields, merge tables, or run the grid with a progress bar."""
    if args.scenario == "merge":
        return _merge(args)
    if args.inputs:
        raise UsageError(f"unexpected arguments {' '.join(args.inputs)} (did you mean: qkdnet sweep merge ...?)")
    if args.list_fields:
        return _list_fields(args)
    plan = plan_sweep(args.scenario, args.vary, runner=args.runner)
    err = make_console(stderr=True, highlight=False)
    if args.dry_run:
        axes = ", ".join(f"{a.field} ({len(a.values)})" for a in plan.axes) or "no field varied"
        make_console(highlight=False).print(f"{plan.size:,} runs of the {plan.runner!r} runner: {axes}")
        return 0
    if args.out is None:
        raise UsageError("--out RESULTS.parquet is required")
    check_writable(args.out, "--out")
    if args.scheduler is not None and args.workers is not None:
        raise UsageError("--workers applies to local runs; a --scheduler cluster has its own workers")
    workers = args.workers or 1
    show_bar = err.is_terminal
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not show_bar,
    ) as bar:
        task = bar.add_task(f"{plan.runner} runs", total=None, failed="")
        failures = 0
        aborted: list[str] = []  # key runs that ran but handed out no key: why

        def started(points: int, todo: int) -> None:
            where = args.scheduler or (f"{workers} processes" if workers > 1 else "this process")
            err.print(
                f"{points:,} runs of the {plan.runner!r} runner: {points - todo:,} in {args.out}, "
                f"{todo:,} to run on {where}"
            )
            bar.update(task, total=todo)

        def progress(done: int, total: int, row: Row) -> None:
            nonlocal failures
            failures += row["status"] != "ok"
            if row["status"] == "ok" and row.get("secure") is False:
                aborted.append(str(row.get("abort_reason")))
            bar.update(task, completed=done, failed=f"[red]{failures} failed[/red]" if failures else "")

        try:
            outcome = run_sweep(
                plan,
                args.out,
                workers=workers,
                scheduler=args.scheduler,
                limit=args.limit,
                retry_errors=args.retry_errors,
                progress=progress,
                on_start=started,
            )
        except SweepInterrupted as stop:
            bar.stop()
            _say(err, stop.outcome, aborted, interrupted=True)
            _exit_now(EXIT_INTERRUPTED)
    _say(err, outcome, aborted, interrupted=False)
    return 1 if outcome.failed else 0


def _exit_now(code: int) -> NoReturn:
    """Leave at once after Ctrl-C: the table is written and the workers ended, and a process pool torn down
    mid-task can hang CPython's exit handlers (joining its queue threads), so they are skipped."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _say(err: Console, o: SweepOutcome, aborted: list[str], *, interrupted: bool) -> None:
    head = "interrupted" if interrupted else "done"
    err.print(f"{head}: {o.ran:,} runs now, {o.already:,} were already there; {o.out} holds {o.rows:,} rows")
    if aborted:
        finished = o.ran - o.failed
        err.print(
            f"of these {finished:,} runs, {finished - len(aborted):,} made key and {len(aborted):,} aborted with"
            f" no key; the first: {aborted[0]}"
        )
    if o.failed:
        err.print(f"[red]{o.failed:,} runs failed[/red]; the first: {o.first_error}")
    if interrupted:
        err.print("run the same command again to resume: finished runs are skipped")


def _merge(args: argparse.Namespace) -> int:
    if len(args.inputs) < 1:
        raise UsageError(
            "sweep merge needs the tables to merge: qkdnet sweep merge A.parquet B.parquet --out C.parquet"
        )
    if args.out is None:
        raise UsageError("sweep merge needs --out C.parquet")
    if args.vary or args.list_fields:
        raise UsageError("sweep merge takes tables and --out only")
    check_writable(args.out, "--out")
    summary = merge_results(args.inputs, args.out)
    make_console(highlight=False).print(
        f"merged {' + '.join(f'{n:,}' for n in summary.read)} rows into {args.out}: {summary.written:,} runs "
        f"({summary.duplicates:,} duplicates by key dropped)"
    )
    return 0


def _list_fields(args: argparse.Namespace) -> int:
    document = read_document(args.scenario)
    fields = list_fields(document, args.runner)
    width = max(len(f) for f, _, _ in fields)
    print(f"# fields of {args.scenario} that --vary FIELD=VALUES can set (value: as the file resolves it)")
    for field, value, note in fields:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        print(f"{field:<{width}}  {shown:<40}  {note}".rstrip())
    return 0


def run_plot_command(args: argparse.Namespace) -> int:
    """``qkdnet plot KIND RESULTS --out FILE``."""
    from qkdnet.report.plots import plot_results
    from qkdnet.sweep import read_rows

    if args.out.suffix.lower() not in FIGURE_SUFFIXES:
        raise UsageError(f"--out must end in {', '.join(FIGURE_SUFFIXES)}, got {args.out.name!r}")
    check_writable(args.out, "--out")
    _existing(args.results)
    rows = read_rows(args.results)
    figure = plot_results(args.kind, rows)
    caption = figure.save(args.out)
    make_console(highlight=False).print(
        f"{args.kind}: {len(rows):,} runs drawn to {args.out} (caption: {caption})", soft_wrap=True
    )
    return 0


def run_report_command(args: argparse.Namespace) -> int:
    """``qkdnet report RESULTS --out REPORT.html``."""
    from qkdnet.report.html import write_report

    _existing(args.results)
    if args.out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out must end in .html, got {args.out.name!r}")
    check_writable(args.out, "--out")
    summary = write_report(args.results, args.out, command=_command_line(), title=args.title)
    make_console(highlight=False).print(f"report of {summary} written to {args.out}")
    return 0


def _existing(path: Path) -> None:
    if not os.path.exists(path):
        raise UsageError(f"{path}: no such results table (qkdnet sweep ... --out {path} makes one)")


__all__ = ["run_plot_command", "run_report_command", "run_sweep_command"]
