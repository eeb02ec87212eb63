"""Time-tag files: a lab's recording of (time in ps, detector channel), as CSV or qkdnet's compact binary.

**CSV**: a header line ``time_ps,channel``, then one event per line, two integers. Lines may be out of order
by up to :data:`SORT_TOLERANCE_PS` (a tagger's buffers interleave channels); they are sorted on reading.

**Binary** (``.qtag``, 5 bytes an event, read without parsing; all integers little-endian): the 8 bytes
``QKDNTAG1``; the number of events *n* and the number of long gaps *m* (unsigned 64-bit); the first time
(signed 64-bit, ps); *n* − 1 gaps to the next event (unsigned 32-bit, ps; 0 where the gap is long); *m* long
gaps, each the index of its gap (unsigned 64-bit) and the gap (signed 64-bit), for gaps of 2³² ps (4.3 ms) or
more; then *n* channels (one byte each). ``qkdnet timetags convert`` turns CSV into it and back.

Each failure is one :class:`~qkdnet.errors.ConfigError` line naming the file and, for CSV, the line. A
recording's channels hold the raw key bits, so every file written here is owner-only (0600).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np

from qkdnet.errors import ConfigError
from qkdnet.hardware.timetagger import TimeTags
from qkdnet.kms.keyfiles import create_private

MAGIC = b"QKDNTAG1"
HEADER = "time_ps,channel"
#: How far back in time an event may be listed after a later one (10 µs) before the file is refused as unsorted.
SORT_TOLERANCE_PS = 10_000_000
BINARY_SUFFIX = ".qtag"
_HEADER_BYTES = len(MAGIC) + 24
_LONG_GAP = 1 << 32


def read_tags(path: str | os.PathLike[str], *, channel_names: tuple[str, ...]) -> TimeTags:
    """The events of a CSV or binary time-tag file, sorted by time; channels must be 0…len(channel_names)−1."""
    path = Path(path)
    try:
        binary = is_binary(path)
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a time-tag file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    tags = _read_binary(path) if binary else _read_csv(path)
    if len(tags) == 0:
        raise ConfigError(f"{path}: no events")
    top = int(tags.channels.max())
    if top >= len(channel_names):
        where = "" if binary else f" line {_csv_line_of_channel(path, top)}:"
        raise ConfigError(
            f"{path}:{where} channel {top} is not one of the {len(channel_names)} named "
            f"({', '.join(f'{i}={n}' for i, n in enumerate(channel_names))})"
        )
    return tags


def _read_binary(path: Path) -> TimeTags:
    size = path.stat().st_size
    with path.open("rb") as f:
        header = f.read(_HEADER_BYTES)
        if len(header) < _HEADER_BYTES:
            raise ConfigError(f"{path}: a binary time-tag file's header is {_HEADER_BYTES} bytes, this file has {size}")
        count, longs = (int.from_bytes(header[k : k + 8], "little") for k in (8, 16))
        first = int.from_bytes(header[24:32], "little", signed=True)
        expected = _HEADER_BYTES + 4 * max(0, count - 1) + 16 * longs + count
        if size != expected:
            raise ConfigError(
                f"{path}: a binary time-tag file of {count} events and {longs} long gaps must be {expected} bytes "
                f"long, this one is {size} (truncated, or not one)"
            )
        gaps = np.fromfile(f, dtype="<u4", count=max(0, count - 1)).astype(np.int64)
        table = np.fromfile(f, dtype="<i8", count=2 * longs).reshape(longs, 2)
        channels = np.fromfile(f, dtype=np.uint8, count=count)
    if longs:
        where = table[:, 0]
        if where.min() < 0 or where.max() >= gaps.size or np.any(table[:, 1] < _LONG_GAP):
            raise ConfigError(f"{path}: its table of long gaps points outside the file's gaps (corrupted)")
        gaps[where] = table[:, 1]
    times = np.empty(count, dtype=np.int64)
    if count:
        times[0] = first
        np.cumsum(gaps, out=times[1:])
        times[1:] += first
    return TimeTags(times_ps=times, channels=channels)


def _read_csv(path: Path) -> TimeTags:
    text = path.read_bytes()
    if not text.strip():
        raise ConfigError(f"{path}: empty file (expected a header {HEADER!r} and one event per line)")
    first, _, body = text.partition(b"\n")
    if first.decode("utf-8", "replace").strip().replace(" ", "") != HEADER:
        shown = first[:40].decode("utf-8", "replace").strip()
        raise ConfigError(f"{path}: line 1 must be the header {HEADER!r}, got {shown!r}")
    if not body.strip():
        raise ConfigError(f"{path}: no events after the header")
    try:
        table = np.loadtxt(io.BytesIO(body), delimiter=",", dtype=np.int64, ndmin=2, comments=None)
    except ValueError:
        raise ConfigError(f"{path}: {_first_bad_line(body)}") from None
    if table.shape[1] != 2:
        raise ConfigError(f"{path}: {_first_bad_line(body)}")
    times = np.ascontiguousarray(table[:, 0])
    if np.any(table[:, 1] < 0) or np.any(table[:, 1] > 255):
        bad = int(np.flatnonzero((table[:, 1] < 0) | (table[:, 1] > 255))[0])
        raise ConfigError(f"{path}: line {bad + 2}: channel {int(table[bad, 1])} is not a channel number 0-255")
    late = times < np.maximum.accumulate(times) - SORT_TOLERANCE_PS
    if late.any():
        bad = int(np.flatnonzero(late)[0])
        raise ConfigError(
            f"{path}: line {bad + 2}: time {int(times[bad])} comes more than {SORT_TOLERANCE_PS // 1_000_000} µs "
            "after a later one (the file must be sorted by time, give or take a few µs)"
        )
    order = np.argsort(times, kind="stable")
    return TimeTags(times_ps=times[order], channels=table[order, 1].astype(np.uint8))


_EVENT = re.compile(rb"^\s*-?\d+\s*,\s*\d+\s*$")


def _first_bad_line(body: bytes) -> str:
    """Where a CSV body first fails to be ``integer,integer`` (only called once loading has failed)."""
    for number, line in enumerate(body.split(b"\n"), start=2):
        if line.strip() and not _EVENT.match(line):
            shown = line[:40].decode("utf-8", "replace").strip()
            return f"line {number}: expected two integers 'time_ps,channel', got {shown!r}"
    return "expected two integers 'time_ps,channel' on every line"


def _csv_line_of_channel(path: Path, channel: int) -> int:
    """The first line of a CSV file that names ``channel`` (for the error only)."""
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        fields = line.split(b",")
        if number > 1 and len(fields) == 2 and fields[1].strip() == str(channel).encode():
            return number
    return 0


def write_csv(path: str | os.PathLike[str], tags: TimeTags) -> None:
    """``tags`` as CSV (owner-only)."""
    with os.fdopen(create_private(path), "w", encoding="ascii", newline="\n") as out:
        out.write(HEADER + "\n")
        np.savetxt(out, np.column_stack([tags.times_ps, tags.channels.astype(np.int64)]), fmt="%d", delimiter=",")


def write_binary(path: str | os.PathLike[str], tags: TimeTags) -> None:
    """``tags`` in the binary format (owner-only); they must be sorted."""
    times = np.asarray(tags.times_ps, dtype=np.int64)
    gaps = np.diff(times)
    if np.any(gaps < 0):
        raise ConfigError("binary time-tag files hold sorted times")
    long = np.flatnonzero(gaps >= _LONG_GAP)
    header = MAGIC + times.size.to_bytes(8, "little") + long.size.to_bytes(8, "little")
    header += (int(times[0]) if times.size else 0).to_bytes(8, "little", signed=True)
    short = np.where(gaps >= _LONG_GAP, 0, gaps).astype("<u4")
    with os.fdopen(create_private(path), "wb") as out:
        out.write(header)
        short.tofile(out)
        np.column_stack([long, gaps[long]]).astype("<i8").tofile(out)
        np.ascontiguousarray(tags.channels, dtype=np.uint8).tofile(out)


def is_binary(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts with the binary format's magic bytes."""
    with Path(path).open("rb") as f:
        return f.read(len(MAGIC)) == MAGIC


__all__ = [
    "BINARY_SUFFIX",
    "HEADER",
    "MAGIC",
    "SORT_TOLERANCE_PS",
    "is_binary",
    "read_tags",
    "write_binary",
    "write_csv",
]
