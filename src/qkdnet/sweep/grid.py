"""``--vary FIELD=VALUES``: one axis of a sweep, and the grid of every combination of axes.

VALUES is ``start:stop:count`` (``count`` evenly spaced numbers, both ends included), ``start:stop:count:log``
(evenly spaced on a log scale), a comma list ``0,0.1,0.2`` or ``cloner,intercept-resend``, or one value.
Items of a list are read as JSON-like scalars: integers, numbers, ``true``/``false``, ``none``, else text.

>>> parse_vary("link.length_km=1:100:3")
Axis(field='link.length_km', values=(1.0, 50.5, 100.0))
>>> parse_vary("eve.strength=0,0.1,0.2").values
(0.0, 0.1, 0.2)
>>> parse_vary("memory.storage_s=1e-6:1e-2:5:log").values[2]
0.0001
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from qkdnet.errors import InvalidParameter
from qkdnet.sweep.document import Scalar

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\[\]:@-]*$")
#: A sweep of more points than this is refused (a typo in a count, not a plan).
MAX_POINTS = 10_000_000


@dataclass(frozen=True, slots=True)
class Axis:
    """One varied field and its values, in order."""

    field: str
    values: tuple[Scalar, ...]


def _scalar(text: str) -> Scalar:
    t = text.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    try:
        return int(t.replace("_", "")) if re.fullmatch(r"[+-]?\d[\d_]*", t) else float(t)
    except ValueError:
        return t


def _number(text: str, what: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidParameter(f"--vary {spec}: {what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise InvalidParameter(f"--vary {spec}: {what} must be finite, got {text!r}")
    return value


def _range(spec: str, parts: list[str]) -> tuple[float, ...]:
    start = _number(parts[0], "start", spec)
    stop = _number(parts[1], "stop", spec)
    try:
        count = int(parts[2])
    except ValueError:
        raise InvalidParameter(f"--vary {spec}: count must be a whole number, got {parts[2]!r}") from None
    if count < 1:
        raise InvalidParameter(f"--vary {spec}: count must be at least 1, got {count}")
    if len(parts) == 4:
        if parts[3] != "log":
            raise InvalidParameter(f"--vary {spec}: the fourth part can only be 'log', got {parts[3]!r}")
        if start <= 0 or stop <= 0:
            raise InvalidParameter(f"--vary {spec}: a log range needs start and stop > 0")
        values = np.geomspace(start, stop, count)
    else:
        values = np.linspace(start, stop, count)
    return tuple(float(v) for v in np.round(values, 12))


def parse_vary(spec: str) -> Axis:
    """Read one ``FIELD=VALUES`` (the text after ``--vary``); a malformed one is a one-line error."""
    field, sep, text = spec.partition("=")
    field = field.strip()
    if not sep:
        raise InvalidParameter(f"--vary {spec!r}: expected FIELD=VALUES, e.g. link.length_km=1:100:20")
    if not field or not _FIELD.match(field):
        raise InvalidParameter(f"--vary {spec!r}: expected a field name before '=', e.g. eve.strength=0,0.1")
    text = text.strip()
    if not text:
        raise InvalidParameter(f"--vary {spec!r}: no values after '='")
    if "," not in text and ":" in text:
        parts = text.split(":")
        if len(parts) not in (3, 4):
            raise InvalidParameter(f"--vary {spec!r}: a range is start:stop:count (or start:stop:count:log)")
        return Axis(field, _range(spec, parts))
    items = text.split(",")
    if any(not item.strip() for item in items):
        raise InvalidParameter(f"--vary {spec!r}: empty item in the list")
    values = [_scalar(item) for item in items]
    if any(isinstance(v, float) for v in values) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        values = [float(v) for v in values if isinstance(v, int | float)]
    return Axis(field, tuple(values))


def merge_axes(axes: Sequence[Axis]) -> tuple[Axis, ...]:
    """Axes with one entry per field: a later ``--vary`` of the same field replaces an earlier one."""
    by_field: dict[str, Axis] = {}
    for axis in axes:
        by_field.pop(axis.field, None)
        by_field[axis.field] = axis
    return tuple(by_field.values())


def grid_size(axes: Sequence[Axis]) -> int:
    """Number of points of the grid."""
    return math.prod(len(a.values) for a in axes)


def grid(axes: Sequence[Axis]) -> Iterator[dict[str, Scalar]]:
    """Every combination of the axes' values, the last axis varying fastest."""
    size = grid_size(axes)
    if size > MAX_POINTS:
        raise InvalidParameter(f"the sweep has {size:,} points, more than {MAX_POINTS:,}: check the counts")
    fields = [a.field for a in axes]
    for values in itertools.product(*(a.values for a in axes)):
        yield dict(zip(fields, values, strict=True))


__all__ = ["MAX_POINTS", "Axis", "grid", "grid_size", "merge_axes", "parse_vary"]
