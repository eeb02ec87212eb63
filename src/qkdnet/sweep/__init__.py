"""Sweeps: a grid of runs of one scenario, locally or on a Dask cluster, into a resumable Parquet table.

Layer 6. ``plan_sweep(SCENARIO, ["link.length_km=1:100:20"])`` reads a scenario (or sweep) file and checks
every varied field; ``run_sweep(plan, "results.parquet")`` runs what the table lacks, each run keyed by the
SHA-256 of its resolved configuration and seeded from the scenario's seed and that key. A runner is a
function ``(config, seed) -> metrics``; :data:`RUNNERS` holds ``link``, ``key`` and ``null``. Dask and
pyarrow are imported only when used.
"""

from qkdnet.sweep.backends import (
    Backend,
    DaskBackend,
    Outcome,
    ProcessBackend,
    SchedulerUnreachable,
    SerialBackend,
    Task,
    connect,
    execute,
    make_backend,
)
from qkdnet.sweep.document import SweepDocument, canonical_field, flatten, read_document, split_document
from qkdnet.sweep.grid import Axis, grid, parse_vary
from qkdnet.sweep.keys import canonical_json, run_key, run_seed
from qkdnet.sweep.plan import RunPoint, SweepPlan, default_runner, list_fields, plan_sweep
from qkdnet.sweep.run import SweepInterrupted, SweepOutcome, make_row, run_sweep
from qkdnet.sweep.runners import (
    RUNNERS,
    Metrics,
    Runner,
    RunnerSpec,
    get_runner,
    key_runner,
    link_runner,
    null_runner,
)
from qkdnet.sweep.table import (
    META_COLUMNS,
    VOLATILE_COLUMNS,
    MergeSummary,
    ResultsWriter,
    TableLocked,
    comparable,
    merge_results,
    read_rows,
    write_rows,
)

__all__ = [
    "META_COLUMNS",
    "RUNNERS",
    "VOLATILE_COLUMNS",
    "Axis",
    "Backend",
    "DaskBackend",
    "MergeSummary",
    "Metrics",
    "Outcome",
    "ProcessBackend",
    "ResultsWriter",
    "RunPoint",
    "Runner",
    "RunnerSpec",
    "SchedulerUnreachable",
    "SerialBackend",
    "SweepDocument",
    "SweepInterrupted",
    "SweepOutcome",
    "SweepPlan",
    "TableLocked",
    "Task",
    "canonical_field",
    "canonical_json",
    "comparable",
    "connect",
    "default_runner",
    "execute",
    "flatten",
    "get_runner",
    "grid",
    "key_runner",
    "link_runner",
    "list_fields",
    "make_backend",
    "make_row",
    "merge_results",
    "null_runner",
    "parse_vary",
    "plan_sweep",
    "read_document",
    "read_rows",
    "run_key",
    "run_seed",
    "run_sweep",
    "split_document",
    "write_rows",
]
