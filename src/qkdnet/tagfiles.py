"""Time-tag files: a lab's recording of (time in ps, detector channel), as CSV or qkdnet's compact binary.

**CSV**: a header line ``time_ps,channel``, then one event per line, two integers. Lines may be out of order
by up to :data:`SORT_TOLERANCE_PS` (a tagger's buffers interleave channels); they are sorted on reading.

**Binary** (``.qtag``, 9 bytes an event, read without parsing): the 8 bytes ``QKDNTAG1``, the number of
events *n* as a little-endian unsigned 64-bit integer, then *n* little-endian signed 64-bit times in ps, sorted,
then *n* unsigned bytes of channels. ``qkdnet timetags convert`` turns one into the other.

Each failure is one :class:`~qkdnet.errors.ConfigError` line naming the file and, for CSV, the line. A
recording's channels hold the raw key bits, so every file written here is owner-only (0600).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import numpy.typing as npt

from qkdnet.errors import ConfigError
from qkdnet.hardware.timetagger import TimeTags
from qkdnet.kms.keyfiles import create_private

MAGIC = b"QKDNTAG1"
HEADER = "time_ps,channel"
#: How far back in time an event may be listed after a later one (10 µs) before the file is refused as unsorted.
SORT_TOLERANCE_PS = 10_000_000
BINARY_SUFFIX = ".qtag"
_HEADER_BYTES = len(MAGIC) + 8


def read_tags(path: str | os.PathLike[str], *, channel_names: tuple[str, ...]) -> TimeTags:
    """The events of a CSV or binary time-tag file, sorted by time; channels must be 0…len(channel_names)−1."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(len(MAGIC))
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a time-tag file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    tags = _read_binary(path) if head == MAGIC else _read_csv(path)
    if len(tags) == 0:
        raise ConfigError(f"{path}: no events")
    top = int(tags.channels.max())
    if top >= len(channel_names):
        where = "" if head == MAGIC else f" line {_csv_line_of_channel(path, top)}:"
        raise ConfigError(
            f"{path}:{where} channel {top} is not one of the {len(channel_names)} named "
            f"({', '.join(f'{i}={n}' for i, n in enumerate(channel_names))})"
        )
    return tags


def _read_binary(path: Path) -> TimeTags:
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(len(MAGIC))
        count = int.from_bytes(f.read(8), "little")
        if size != _HEADER_BYTES + 9 * count:
            raise ConfigError(
                f"{path}: a binary time-tag file of {count} events must be {_HEADER_BYTES + 9 * count} "
                f"bytes long, this one is {size} (truncated or not one)"
            )
        times = np.fromfile(f, dtype="<i8", count=count).astype(np.int64, copy=False)
        channels = np.fromfile(f, dtype=np.uint8, count=count)
    if count and np.any(np.diff(times) < 0):
        raise ConfigError(f"{path}: the times of a binary time-tag file must be sorted")
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
    times: npt.NDArray[np.int64] = np.ascontiguousarray(tags.times_ps, dtype="<i8")
    if times.size and np.any(np.diff(times) < 0):
        raise ConfigError("binary time-tag files hold sorted times")
    with os.fdopen(create_private(path), "wb") as out:
        out.write(MAGIC + times.size.to_bytes(8, "little"))
        times.tofile(out)
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
