"""How results show themselves to people: numbers to a few significant figures, and small HTML tables for
Jupyter (``_repr_html_``). Layer 0, so that every result class, whatever its layer, displays the same way."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence


def significant(value: float, digits: int = 3) -> str:
    """A value to ``digits`` significant figures, the same way everywhere: never "0" for a small non-zero value
    (0.00873), whole numbers from 10^digits up with thousands separators (17,664), not "1.77e+04"."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def human_duration(seconds: float) -> str:
    """Seconds as the unit a person would say: µs, ms, s, minutes, hours, days or years ("1 hour", not "1 hours")."""
    for one, many, size in (
        ("year", "years", 365.25 * 86400.0),
        ("day", "days", 86400.0),
        ("hour", "hours", 3600.0),
        ("minute", "minutes", 60.0),
        ("s", "s", 1.0),
        ("ms", "ms", 1e-3),
    ):
        if seconds >= size:
            value = f"{seconds / size:.3g}"
            return f"{value} {one if value == '1' else many}"
    return f"{seconds * 1e6:.3g} µs"


def html_table(title: str, rows: Sequence[Sequence[object]], *, header: Sequence[str] = ()) -> str:
    """A titled HTML table, every cell escaped; ``rows`` are (label, value) pairs or, with ``header``, tuples
    as long as the header."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        f"<table><caption style='text-align:left'><b>{html.escape(title)}</b></caption>"
        + (f"<thead><tr>{head}</tr></thead>" if head else "")
        + f"<tbody>{body}</tbody></table>"
    )


__all__ = ["html_table", "human_duration", "significant"]
