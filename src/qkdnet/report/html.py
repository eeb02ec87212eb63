"""``qkdnet report``: one self-contained HTML file of a results table — figures, tables, every run's configuration.

Nothing is loaded from elsewhere: figures are base64 PNG ``<img>`` data, the style sheet is inline, there is
no script. Provenance (qkdnet version, date, the command, the table's SHA-256) heads the page, so a report
found on a disk says where it came from.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import os
import platform
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qkdnet.report.plots import PLOT_KINDS, PLOTTERS, ok_rows, studies, suitable_kinds, varied_fields
from qkdnet.sweep.table import META_COLUMNS, read_rows

Row = Mapping[str, Any]
#: Metrics shown in the summary table when present, in this order (the full table has every column).
MAIN_METRICS = (
    "pair_rate_hz",
    "fidelity",
    "qber",
    "chsh_s",
    "key_rate_bps",
    "secret_key_rate_bps",
    "final_key_bits",
    "secure",
    "plob_key_rate_bps",
)
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}
h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.2em .5em;text-align:right}
th{background:#f4f4f4;position:sticky;top:0}td.t,th.t{text-align:left}
figure{margin:1.5em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#444;margin-top:.4em}
.prov td{text-align:left}.err{color:#a00}pre{background:#f8f8f8;padding:.6em;overflow-x:auto;font-size:.8em}
details{margin:.3em 0}summary{cursor:pointer}.scroll{overflow-x:auto;max-height:40em}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(rows: Sequence[Row], columns: Sequence[str], *, cls: str = "") -> str:
    head = "".join(f'<th class="t">{_e(c)}</th>' if i == 0 else f"<th>{_e(c)}</th>" for i, c in enumerate(columns))
    body = []
    for r in rows:
        cells = []
        for i, c in enumerate(columns):
            v = r.get(c)
            klass = "t" if i == 0 or isinstance(v, str) else ""
            cells.append(f'<td class="{klass}">{_e(_cell(v))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table class="{cls}"><tr>{head}</tr>{"".join(body)}</table></div>'


def _figures(rows: Sequence[Row], *, network: bool) -> list[str]:
    out = []
    for kind in suitable_kinds(rows):
        if kind == "network" and not network:
            continue
        try:
            figure = PLOTTERS[kind](rows)
        except Exception as exc:  # one figure that cannot be drawn must not cost the whole report
            out.append(f'<p class="err">figure {_e(kind)} could not be drawn: {_e(exc)}</p>')
            continue
        data = base64.b64encode(figure.png()).decode("ascii")
        out.append(
            f'<figure id="fig-{kind}"><img alt="{_e(PLOT_KINDS[kind])}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>{_e(PLOT_KINDS[kind][0].upper() + PLOT_KINDS[kind][1:])}.</b> "
            f"{_e(figure.caption)}</figcaption></figure>"
        )
    return out


def _shared_config(rows: Sequence[Row]) -> dict[str, Any]:
    """The fields every run has with the same value (printed once)."""
    fields = [c for c in rows[0] if (c not in META_COLUMNS and "." in c) or c in ("seed", "name", "description")]
    return {c: rows[0].get(c) for c in fields if all(r.get(c) == rows[0].get(c) for r in rows)}


def render_report(rows: Sequence[Row], *, source: str, command: str, title: str | None = None, digest: str = "") -> str:
    """The HTML text of the report of ``rows`` (a results table)."""
    from qkdnet._version import __version__

    done = ok_rows(rows)
    failed = [r for r in rows if r.get("status") != "ok"]
    names = sorted({json.loads(r["config"]).get("name") or "scenario" for r in rows}) if rows else []
    heading = title or f"Sweep report: {', '.join(names) or 'empty table'}"
    runners = Counter(str(r.get("runner")) for r in rows)
    varied = varied_fields(rows)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    versions = sorted({str(r.get("qkdnet_version")) for r in rows})
    provenance = [
        ("results", source),
        ("SHA-256 of the table", digest),
        ("runs", f"{len(rows):,} ({len(done):,} finished, {len(failed):,} failed)"),
        ("runners", ", ".join(f"{k} ({v})" for k, v in runners.items())),
        ("varied", ", ".join(varied) or "nothing"),
        ("made by", f"qkdnet {__version__}, Python {platform.python_version()}, {now}"),
        ("runs made by", ", ".join(f"qkdnet {v}" for v in versions)),
        ("command", command),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(heading)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(heading)}</h1>",
        '<table class="prov">'
        + "".join(f'<tr><th class="t">{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in provenance)
        + "</table>",
        "<p>How to read this report: each <i>study</i> below is one set of runs of one runner that varied the "
        "same fields (one <code>qkdnet sweep</code> command, or several that extend each other). Its figures "
        "show what the runs measured against what was varied; each caption says what is drawn, which model "
        "made it, and where every reference line and published point comes from. Then come the table of "
        "runs (varied fields and main results), and the full configuration of every run: its <code>key"
        "</code> is the SHA-256 of that configuration, and the same configuration always gives the same "
        "results.</p>",
    ]
    scenarios_drawn: set[str] = set()
    for number, (label, members) in enumerate(studies(rows), 1):
        names_here = {json.loads(r["config"]).get("name") or "" for r in members}
        new = bool(names_here - scenarios_drawn)
        scenarios_drawn |= names_here
        parts.append(f"<h2>Study {number}: {_e(label)}</h2>")
        parts += _figures(members, network=new) or ["<p>No figure fits this study.</p>"]
    if not rows:
        parts.append("<p>The table is empty.</p>")
    if rows:
        summary_columns = ["key", *varied, *[m for m in MAIN_METRICS if any(m in r for r in rows)], "wall_s"]
        short = [{**r, "key": str(r["key"])[:12]} for r in rows]
        parts += ["<h2>Runs</h2>", _table(short, summary_columns)]
        if failed:
            parts += ["<h2>Failed runs</h2>", _table(failed, ["key", *varied, "error"])]
        every = list(dict.fromkeys(c for r in rows for c in r if c != "config"))
        parts += [
            "<details><summary>Every column of every run</summary>",
            _table(short, every),
            "</details>",
            "<h2>Configuration</h2>",
            "<p>Shared by every run (fields by address, as <code>--vary</code> names them):</p>",
            f"<pre>{_e(json.dumps(_shared_config(rows), indent=1, ensure_ascii=False))}</pre>",
            "<p>The full configuration of each run (what its key hashes):</p>",
        ]
        for r in rows:
            label = ", ".join(f"{f}={_cell(r.get(f))}" for f in varied)
            config = json.dumps(json.loads(r["config"]), indent=1, ensure_ascii=False)
            parts.append(
                f"<details><summary><code>{_e(str(r['key'])[:12])}</code> {_e(label)} "
                f"(seed {_e(r.get('run_seed'))})</summary><pre>{_e(config)}</pre></details>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    results: str | os.PathLike[str], out: str | os.PathLike[str], *, command: str, title: str | None = None
) -> str:
    """Write the report of table ``results`` to ``out`` (atomically); returns a one-line summary."""
    path = Path(results)
    rows = read_rows(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    text = render_report(rows, source=str(path), command=command, title=title, digest=digest)
    target = Path(out)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return f"{len(rows):,} runs in {len(studies(rows))} studies"


__all__ = ["MAIN_METRICS", "render_report", "write_report"]
