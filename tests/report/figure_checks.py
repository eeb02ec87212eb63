"""What every qkdnet figure must pass: each drawn line named in a legend, no two lines drawn over each other."""

from __future__ import annotations

from typing import Any

import numpy as np


def unnamed_lines(fig: Any) -> list[str]:
    """Drawn lines (two or more points) that no legend of the figure names (an error bar's line is named by
    its container's label)."""
    named = {t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()}
    out = []
    for ax in fig.axes:
        in_named_container = {
            id(child) for c in ax.containers if c.get_label() in named for child in c.get_children() if child
        }
        out += [
            f"{ax.get_ylabel()!r}: {line.get_label()!r}"
            for line in ax.get_lines()
            if len(line.get_xdata()) >= 2 and line.get_label() not in named and id(line) not in in_named_container
        ]
    return out


def lines_drawn_over_each_other(fig: Any) -> list[str]:
    """Pairs of drawn strokes on one axes with the same points: the colour seen is neither's, the legend lies."""
    out = []
    for ax in fig.axes:
        # Marks on a curve (an aborted run's cross) are meant to sit on it: only drawn strokes are compared.
        lines = [line for line in ax.get_lines() if len(line.get_xdata()) >= 2 and line.get_linestyle() != "None"]
        for i, a in enumerate(lines):
            for b in lines[i + 1 :]:
                xa, ya = np.asarray(a.get_xdata(), float), np.asarray(a.get_ydata(), float)
                xb, yb = np.asarray(b.get_xdata(), float), np.asarray(b.get_ydata(), float)
                if xa.shape == xb.shape and np.allclose(xa, xb, equal_nan=True) and np.allclose(ya, yb, equal_nan=True):
                    out.append(f"{a.get_label()!r} and {b.get_label()!r}")
    return out
