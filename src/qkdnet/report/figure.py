"""A drawn figure and its caption, saved the way a paper wants them: the image, and the caption beside it.

Figures are built on :class:`matplotlib.figure.Figure` directly, never through pyplot: no global backend is
switched (a notebook keeps its inline backend), nothing is left open to close, and threads do not share state.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def new_figure(nrows: int = 1, ncols: int = 1, **subplots: Any) -> tuple[Any, Any]:
    """A fresh figure and its axes (as ``pyplot.subplots`` returns them), laid out so nothing overlaps."""
    from matplotlib.figure import Figure as MplFigure

    figsize = subplots.pop("figsize", (7.5, 5))
    fig = MplFigure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, **subplots)


def caption_path(path: Path) -> Path:
    """Where the caption of the figure at ``path`` is written: ``FILE.caption.txt`` beside ``FILE.png``."""
    return path.with_suffix(".caption.txt")


@dataclass
class Figure:
    """A drawn figure (a matplotlib Figure) and the caption that explains it and cites its sources."""

    figure: Any
    caption: str
    kind: str

    def save(self, path: str | Path) -> Path:
        """Write PNG, SVG or PDF (by suffix) and the caption beside it in ``FILE.caption.txt``; returns the
        caption's path. The caption also goes into the file's metadata (PNG "Description", PDF "Subject",
        SVG "Title")."""
        path = Path(path)
        meta_key = {".svg": "Title", ".pdf": "Subject"}.get(path.suffix.lower(), "Description")
        self.figure.savefig(path, dpi=150, metadata={meta_key: self.caption})
        text = caption_path(path)
        text.write_text(self.caption + "\n", encoding="utf-8")
        return text

    def savefig(self, *args: Any, **kwargs: Any) -> None:
        """matplotlib's ``savefig`` on the figure (the image only; :meth:`save` writes the caption too)."""
        self.figure.savefig(*args, **kwargs)

    def png(self, dpi: int = 110) -> bytes:
        """The figure as PNG bytes, without the caption (a report prints it as text)."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        """Shown inline by Jupyter."""
        return self.png()

    def __repr__(self) -> str:
        return f"<{self.kind} figure: {self.caption[:60]}{'…' if len(self.caption) > 60 else ''}>"


__all__ = ["Figure", "caption_path", "new_figure"]
