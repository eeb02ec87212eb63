"""Reports of simulation runs: JSON-ready summaries and plots (layer 6; matplotlib only when plotting)."""

from qkdnet.report.network import (
    PIPELINE_MIN_PAIRS,
    REQUEST_FIELDS,
    RUN_FIELDS,
    plot_run,
    request_summary,
    run_summary,
)

__all__ = ["PIPELINE_MIN_PAIRS", "REQUEST_FIELDS", "RUN_FIELDS", "plot_run", "request_summary", "run_summary"]
