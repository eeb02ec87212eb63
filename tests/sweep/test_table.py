"""The results table: atomic writes, the lock, types, merging by key."""

from __future__ import annotations

from pathlib import Path

import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.sweep import ResultsWriter, TableLocked, merge_results, read_rows, write_rows


def _row(key: str, status: str = "ok", **extra: object) -> dict[str, object]:
    return {"key": key, "status": status, "config": "{}", **extra}


def test_rows_round_trip_with_union_of_columns_and_numeric_promotion(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    write_rows(path, [_row("a", x=1, s="u"), _row("b", x=2.5, y=True), _row("c", x=None)])
    rows = {r["key"]: r for r in read_rows(path)}
    assert rows["a"]["x"] == 1.0 and isinstance(rows["a"]["x"], float)
    assert rows["b"]["y"] is True and rows["a"]["y"] is None
    assert rows["c"]["s"] is None
    assert [p.name for p in tmp_path.iterdir()] == ["r.parquet"]  # no temporary file left behind


def test_a_failed_write_leaves_the_old_table_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "r.parquet"
    write_rows(path, [_row("a")])
    real = pq.write_table

    def crash(table: object, where: object, **kwargs: object) -> None:
        real(table.slice(0, 0), where)  # type: ignore[attr-defined]  # half a file, then the crash
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        write_rows(path, [_row("a"), _row("b")])
    monkeypatch.undo()
    assert [r["key"] for r in read_rows(path)] == ["a"]
    assert [p.name for p in tmp_path.iterdir()] == ["r.parquet"]


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    with ResultsWriter(path) as first:
        first.add(_row("a"))
        with pytest.raises(TableLocked, match="another sweep"):
            ResultsWriter(path)
    with ResultsWriter(path) as again:
        assert set(again.rows) == {"a"}
    assert not (tmp_path / "r.parquet.lock").exists()


def test_writer_flushes_on_close_only_when_interval_not_reached(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    writer = ResultsWriter(path, flush_interval_s=3600)
    writer.add(_row("a"))
    assert not path.exists()
    writer.close()
    assert [r["key"] for r in read_rows(path)] == ["a"]


def test_merge_deduplicates_by_key_and_prefers_finished_runs(tmp_path: Path) -> None:
    a, b, out = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    write_rows(a, [_row("k1", metric=1.0), _row("k2", status="error")])
    write_rows(b, [_row("k2", metric=2.0), _row("k3", metric=3.0), _row("k1", metric=9.0)])
    summary = merge_results([a, b], out)
    assert summary.read == (2, 3) and summary.written == 3 and summary.duplicates == 2
    rows = {r["key"]: r for r in read_rows(out)}
    assert rows["k1"]["metric"] == 1.0  # first seen stays
    assert rows["k2"]["status"] == "ok" and rows["k2"]["metric"] == 2.0  # a finished run beats a failed one


def test_a_file_that_is_not_a_table_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InvalidParameter, match=r"bad\.parquet: not a Parquet results table"):
        read_rows(bad)
