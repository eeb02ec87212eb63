"""The results table: one Parquet file, one row per run, keyed by the run's configuration hash.

Columns: :data:`META_COLUMNS` (key, runner, status, error, seed, wall time, qkdnet version, time, the varied
fields, the configuration as canonical JSON), then every field of the configuration by address
(``links[0].length_km``), then the runner's metrics. A write goes to a temporary file in the same folder,
is flushed to disk and renamed over the table, so a crash leaves the old table or the new one, never half
of one. One writer at a time: a lock file beside the table keeps a second sweep out. pyarrow is imported
here only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qkdnet.errors import InvalidParameter

META_COLUMNS = (
    "key",
    "runner",
    "status",
    "error",
    "run_seed",
    "wall_s",
    "cpu_s",
    "qkdnet_version",
    "finished_at",
    "varied",
    "config",
)
#: Columns that differ between two executions of the same run (compare tables without them).
VOLATILE_COLUMNS = ("wall_s", "cpu_s", "finished_at", "qkdnet_version")
Row = dict[str, Any]
_FORMAT = {b"qkdnet.results": b"1"}


class TableLocked(InvalidParameter):
    """Another sweep is writing the same results table."""


def _arrow_column(name: str, values: list[Any]) -> Any:
    """One column: pyarrow's own inference (ints and floats together become float64); any other mixture of
    types, or an integer beyond int64, is stored as text (JSON for non-strings)."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([v if v is None or isinstance(v, str) else json.dumps(v) for v in values], type=pa.string())


def to_arrow(rows: Sequence[Mapping[str, Any]]) -> Any:
    """The rows as a pyarrow Table: meta columns first, then the others in order of first appearance."""
    import pyarrow as pa

    names = [c for c in META_COLUMNS if any(c in r for r in rows)]
    seen = set(names)
    for row in rows:
        for name in row:
            if name not in seen:
                seen.add(name)
                names.append(name)
    columns = [_arrow_column(n, [r.get(n) for r in rows]) for n in names]
    return pa.Table.from_arrays(columns, names=names).replace_schema_metadata(_FORMAT)


def read_rows(path: str | os.PathLike[str]) -> list[Row]:
    """Every row of a results table (``[]`` if the file does not exist)."""
    p = Path(path)
    if not p.exists():
        return []
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(p)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise InvalidParameter(f"{p}: not a Parquet results table ({type(exc).__name__}: {exc})") from None
    if "key" not in table.column_names:
        raise InvalidParameter(f"{p}: not a qkdnet results table (no 'key' column)")
    rows: list[Row] = table.to_pylist()
    return rows


def write_rows(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace the table at ``path`` by ``rows`` atomically (temporary file, fsync, rename)."""
    import pyarrow.parquet as pq

    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(to_arrow(rows), tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, p)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    with contextlib.suppress(OSError):
        fd = os.open(p.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class ResultsWriter:
    """Append rows to a results table: held in memory, written atomically at most every ``flush_interval_s``
    (or five times the last write's duration, whichever is longer).

    Use as a context manager; closing writes what is left, so an interrupted sweep keeps every finished run.
    """

    def __init__(self, path: str | os.PathLike[str], *, flush_interval_s: float = 1.0) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise InvalidParameter(f"{self.path}: the folder {self.path.parent} does not exist")
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock = open(self._lock_path, "a+")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise TableLocked(f"{self.path}: another sweep is writing this table (lock {self._lock_path})") from None
        self.rows: dict[str, Row] = {r["key"]: r for r in read_rows(self.path)}
        self.flush_interval_s = flush_interval_s
        self._interval_s = flush_interval_s
        self._dirty = False
        self._last_flush = time.monotonic()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, row: Row) -> None:
        """Add (or replace) the row of ``row["key"]``; write the table if the last write is old enough."""
        self.rows[row["key"]] = row
        self._dirty = True
        if time.monotonic() - self._last_flush >= self._interval_s:
            self.flush()

    def flush(self) -> None:
        """Write the table now if anything changed; a big table is written less often (at most 20 % of the time
        goes to writing it)."""
        if self._dirty:
            start = time.monotonic()
            write_rows(self.path, list(self.rows.values()))
            self._interval_s = max(self.flush_interval_s, 5.0 * (time.monotonic() - start))
            self._dirty = False
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Write what is left and release the lock."""
        if self._lock.closed:
            return
        try:
            self.flush()
        finally:
            with contextlib.suppress(FileNotFoundError):
                self._lock_path.unlink()
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()


@dataclass(frozen=True, slots=True)
class MergeSummary:
    """What a merge did: rows read from each input, rows written, duplicates dropped."""

    read: tuple[int, ...]
    written: int
    duplicates: int


def _better(new: Row, old: Row) -> bool:
    """A finished run beats a failed one; otherwise the first seen stays."""
    return old.get("status") != "ok" and new.get("status") == "ok"


def merge_results(inputs: Iterable[str | os.PathLike[str]], out: str | os.PathLike[str]) -> MergeSummary:
    """Merge results tables into ``out``, one row per key (a finished run wins over a failed one)."""
    merged: dict[str, Row] = {}
    counts = []
    duplicates = 0
    for path in inputs:
        if not Path(path).exists():
            raise InvalidParameter(f"{path}: no such results table")
        rows = read_rows(path)
        counts.append(len(rows))
        for row in rows:
            old = merged.get(row["key"])
            if old is None or _better(row, old):
                merged[row["key"]] = row
            if old is not None:
                duplicates += 1
    write_rows(out, list(merged.values()))
    return MergeSummary(read=tuple(counts), written=len(merged), duplicates=duplicates)


def comparable(rows: Iterable[Mapping[str, Any]]) -> dict[str, Row]:
    """Rows by key without the columns that change from one execution to the next (for tests and audits)."""
    return {r["key"]: {k: v for k, v in r.items() if k not in VOLATILE_COLUMNS} for r in rows}


__all__ = [
    "META_COLUMNS",
    "VOLATILE_COLUMNS",
    "MergeSummary",
    "ResultsWriter",
    "Row",
    "TableLocked",
    "comparable",
    "merge_results",
    "read_rows",
    "write_rows",
]
