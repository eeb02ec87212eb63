"""Herald draws of one link, sampled in blocks: attempts to the next herald and the herald's class.

The engine never sees a failed attempt: each restart of a link takes the next draw, a geometric number
of attempts K (so K − 1 failures of one period each) and the herald class (a true pair, or a false herald),
drawn many at a time with NumPy and handed out as plain ints. One at a time, the failed attempts' time is
exact however long (Python's integers); in blocks, as int64, it is capped at 2⁶² ps (53 days), which the
bulk path only uses to find where its horizon ends.
"""

from __future__ import annotations

import numpy as np

from qkdnet.network._sampling import INT64_SAFE, HeraldClass

_FIRST_BLOCK = 32
_MAX_BLOCK = 1 << 14


class HeraldDraws:
    """An endless stream of (failed-attempt time in ps, class index) for one link and one random stream."""

    __slots__ = ("_block", "_classes", "_cumulative", "_failed", "_i", "_kind", "_p", "_period_ps", "_rng")

    def __init__(self, classes: list[HeraldClass], period_ps: int, rng: np.random.Generator) -> None:
        live = [c.probability for c in classes]
        self._p = min(sum(live), 1.0)
        self._cumulative = np.cumsum(live) / sum(live) if self._p > 0.0 else np.ones(1)
        self._classes = len(classes)
        self._period_ps = period_ps
        self._rng = rng
        self._block = _FIRST_BLOCK
        self._failed: list[int] = []
        self._kind: list[int] = []
        self._i = 0

    @property
    def success_probability(self) -> float:
        """Probability that one attempt heralds."""
        return self._p

    def _draw(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws: failed attempts (K − 1, int64) and class indices."""
        rng = self._rng
        failed = rng.geometric(self._p, size=n).astype(np.int64) - 1
        if self._classes == 1:
            kind = np.zeros(n, dtype=np.intp)
        else:
            kind = np.minimum(np.searchsorted(self._cumulative, rng.random(n), side="right"), self._classes - 1)
        return failed, kind

    def draw_block(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws at once as arrays (failed-attempt time in ps as int64, capped at 2⁶²; class index)."""
        failed, kind = self._draw(n)
        extra = np.minimum(failed.astype(np.float64) * self._period_ps, INT64_SAFE).astype(np.int64)
        return extra, kind

    def next(self) -> tuple[int, int]:
        """The next draw: the failed attempts' exact time in ps, and the class index."""
        i = self._i
        if i == len(self._failed):
            failed, kind = self._draw(self._block)
            self._failed, self._kind = failed.tolist(), kind.tolist()
            self._block = min(2 * self._block, _MAX_BLOCK)
            i = 0
        self._i = i + 1
        return self._failed[i] * self._period_ps, self._kind[i]


__all__ = ["HeraldDraws"]
