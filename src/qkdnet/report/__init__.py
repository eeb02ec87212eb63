"""Figures and reports of results tables (layer 6; matplotlib and pyarrow are imported only when used).

``plot_results(KIND, rows)`` draws one of :data:`PLOT_KINDS`; ``write_report(TABLE, OUT, command=...)`` writes
one self-contained HTML file with every suitable figure, the tables and each run's configuration.
"""

from qkdnet.report.html import render_report, write_report
from qkdnet.report.plots import PLOT_KINDS, Figure, plot_results, suitable_kinds
from qkdnet.report.published import PublishedPoint, key_per_pair_points, key_points, pair_rate_points

__all__ = [
    "PLOT_KINDS",
    "Figure",
    "PublishedPoint",
    "key_per_pair_points",
    "key_points",
    "pair_rate_points",
    "plot_results",
    "render_report",
    "suitable_kinds",
    "write_report",
]
