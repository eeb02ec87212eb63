"""Reports: summaries of network runs (``qkdnet simulate``), figures of results tables and HTML reports.

Layer 6; matplotlib and pyarrow are imported only when a figure is drawn or a table read.
``run_summary`` is the JSON of ``qkdnet simulate``; ``plot_results(KIND, rows)`` draws one of
:data:`PLOT_KINDS` from a sweep's results; ``write_report(TABLE, OUT, command=...)`` writes one
self-contained HTML file with every suitable figure, the tables and each run's configuration.
"""

from qkdnet.report.figure import Figure
from qkdnet.report.html import render_report, write_report
from qkdnet.report.network import (
    PIPELINE_MIN_PAIRS,
    REQUEST_FIELDS,
    RUN_FIELDS,
    request_summary,
    run_summary,
)
from qkdnet.report.plots import PLOT_KINDS, plot_results, suitable_kinds
from qkdnet.report.published import PublishedPoint, key_per_pair_points, key_points, pair_rate_points

__all__ = [
    "PIPELINE_MIN_PAIRS",
    "PLOT_KINDS",
    "REQUEST_FIELDS",
    "RUN_FIELDS",
    "Figure",
    "PublishedPoint",
    "key_per_pair_points",
    "key_points",
    "pair_rate_points",
    "plot_results",
    "render_report",
    "request_summary",
    "run_summary",
    "suitable_kinds",
    "write_report",
]
