"""Run a sweep plan into a results table: skip the runs already there, write each finished run, stop cleanly.

Resumable: a run whose key is in the table is not run again (a failed one only with ``retry_errors``).
Interruptible: on Ctrl-C (or any KeyboardInterrupt) the finished runs are written before
:class:`SweepInterrupted` is raised, and the same command resumes where the sweep stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qkdnet._display import html_table
from qkdnet.errors import InvalidParameter
from qkdnet.sweep.backends import Backend, Outcome, Task, make_backend
from qkdnet.sweep.document import flatten
from qkdnet.sweep.plan import RunPoint, SweepPlan
from qkdnet.sweep.runners import Runner
from qkdnet.sweep.table import META_COLUMNS, ResultsWriter, Row

#: Called after each finished run: (runs finished so far, runs to do, the run's row).
Progress = Callable[[int, int, Row], None]


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    """What a sweep did: grid points, runs found in the table, runs done now, failed, and the table's rows."""

    points: int
    already: int
    ran: int
    failed: int
    rows: int
    out: Path
    first_error: str | None = None

    def __str__(self) -> str:
        failed = f", {self.failed:,} failed (first: {self.first_error})" if self.failed else ""
        return (
            f"{self.points:,} grid points: {self.ran:,} run now, {self.already:,} already in the table{failed}; "
            f"{self.out} holds {self.rows:,} rows"
        )

    def _repr_html_(self) -> str:
        """The sweep's counts (Jupyter)."""
        rows: list[tuple[str, object]] = [
            ("grid points", f"{self.points:,}"),
            ("run now", f"{self.ran:,}"),
            ("already in the table", f"{self.already:,}"),
            ("failed", f"{self.failed:,}" + (f" (first: {self.first_error})" if self.first_error else "")),
            ("table", f"{self.out}: {self.rows:,} rows"),
        ]
        return html_table("sweep", rows)


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: every finished run is in the table; ``outcome`` says how far it got."""

    def __init__(self, outcome: SweepOutcome) -> None:
        super().__init__(f"sweep interrupted after {outcome.ran} runs; {outcome.rows} rows in {outcome.out}")
        self.outcome = outcome


def make_row(point: RunPoint, outcome: Outcome, runner: str, varied: tuple[str, ...]) -> Row:
    """The table row of a run: meta columns, every configuration field by address, then the metrics."""
    from qkdnet._version import __version__

    params = flatten(point.config)
    row: Row = {
        "key": point.run_id,
        "runner": runner,
        "status": outcome.status,
        "error": outcome.error,
        "run_seed": point.seed,
        "wall_s": outcome.wall_s,
        "cpu_s": outcome.cpu_s,
        "qkdnet_version": __version__,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "varied": json.dumps(list(varied)),
        "config": point.config_json,
    }
    row.update(params)
    clash = sorted(k for k in outcome.metrics if k in row)
    if clash:
        row.update(status="error", error=f"runner returned metrics named like columns: {', '.join(clash)}")
        return row
    row.update(outcome.metrics)
    return row


def run_sweep(
    plan: SweepPlan,
    out: str | os.PathLike[str],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    client: Any = None,
    backend: Backend | None = None,
    runner: Runner | None = None,
    limit: int | None = None,
    retry_errors: bool = False,
    progress: Progress | None = None,
    on_start: Callable[[int, int], None] | None = None,
    flush_interval_s: float = 1.0,
) -> SweepOutcome:
    """Run every point of ``plan`` not yet in the table ``out`` and append the rows.

    Runs go to ``backend``, else a Dask ``client`` or ``scheduler`` address, else ``workers`` local processes
    (this process for one). ``runner`` replaces the plan's runner by a (picklable) function; ``limit`` stops
    after that many runs; ``on_start(points, to_run)`` is called once the table has been read.
    """
    if workers < 1:
        raise InvalidParameter(f"workers must be at least 1, got {workers}")
    if limit is not None and limit < 0:
        raise InvalidParameter(f"limit must be >= 0, got {limit}")
    points = list(plan.points())
    name = plan.runner if runner is None else f"{getattr(runner, '__module__', '?')}:{runner.__qualname__}"
    warm = (plan.runner,) if runner is None else ()
    exe = backend or (make_backend(workers, scheduler=scheduler, client=client, warm=warm) if points else None)
    try:
        return _run(plan, points, out, exe, runner, name, limit, retry_errors, progress, on_start, flush_interval_s)
    finally:
        if exe is not None and backend is None:
            exe.close()


def _run(
    plan: SweepPlan,
    points: list[RunPoint],
    out: str | os.PathLike[str],
    exe: Backend | None,
    runner: Runner | None,
    name: str,
    limit: int | None,
    retry_errors: bool,
    progress: Progress | None,
    on_start: Callable[[int, int], None] | None,
    flush_interval_s: float,
) -> SweepOutcome:
    varied = plan.varied_fields
    with ResultsWriter(out, flush_interval_s=flush_interval_s) as writer:
        done = writer.rows

        def wanted(p: RunPoint) -> bool:
            row = done.get(p.run_id)
            return row is None or (retry_errors and row.get("status") != "ok")

        todo = [p for p in points if wanted(p)]
        todo = todo if limit is None else todo[:limit]
        already = len(points) - len([p for p in points if wanted(p)])
        if on_start is not None:
            on_start(len(points), len(todo))
        by_key = {p.run_id: p for p in todo}
        ran = failed = 0
        first_error = None
        try:
            if exe is not None and todo:
                tasks = (Task(runner or plan.runner, p.run_id, p.seed, p.config) for p in todo)
                for outcome in exe.run(tasks):
                    row = make_row(by_key[outcome.run_id], outcome, name, varied)
                    writer.add(row)
                    ran += 1
                    if row["status"] != "ok":
                        failed += 1
                        first_error = first_error or row["error"]
                    if progress is not None:
                        progress(ran, len(todo), row)
        except KeyboardInterrupt:
            writer.close()
            stopped = SweepOutcome(len(points), already, ran, failed, len(writer.rows), Path(out), first_error)
            raise SweepInterrupted(stopped) from None
        return SweepOutcome(len(points), already, ran, failed, len(writer.rows), Path(out), first_error)


__all__ = ["META_COLUMNS", "Progress", "SweepInterrupted", "SweepOutcome", "make_row", "run_sweep"]
