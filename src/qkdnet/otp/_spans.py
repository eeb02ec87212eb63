"""A set of disjoint half-open integer intervals ``[start, end)``: the pad bytes already used."""

from __future__ import annotations

import bisect


class SpanSet:
    """Disjoint, sorted, merged half-open intervals of non-negative integers.

    Adjacent or overlapping additions are merged, so a ledger read front to back stays one interval.
    """

    __slots__ = ("_ends", "_starts", "_total")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._total = 0

    @property
    def total(self) -> int:
        """How many integers the set covers."""
        return self._total

    def spans(self) -> tuple[tuple[int, int], ...]:
        """The intervals, sorted, as ``(start, end)`` pairs."""
        return tuple(zip(self._starts, self._ends, strict=True))

    def overlaps(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` shares at least one integer with the set (empty spans share none)."""
        if start >= end:
            return False
        # The last interval starting before `end` is the only one that can reach into [start, end).
        i = bisect.bisect_left(self._starts, end) - 1
        return i >= 0 and self._ends[i] > start

    def add(self, start: int, end: int) -> None:
        """Add ``[start, end)``, which must not overlap the set (callers check first)."""
        if start >= end:
            return
        if self.overlaps(start, end):
            raise AssertionError(f"span [{start}, {end}) overlaps the set")  # a bug, not an input error
        i = bisect.bisect_left(self._starts, start)
        merge_left = i > 0 and self._ends[i - 1] == start
        merge_right = i < len(self._starts) and self._starts[i] == end
        if merge_left and merge_right:
            self._ends[i - 1] = self._ends[i]
            del self._starts[i], self._ends[i]
        elif merge_left:
            self._ends[i - 1] = end
        elif merge_right:
            self._starts[i] = start
        else:
            self._starts.insert(i, start)
            self._ends.insert(i, end)
        self._total += end - start

    def first_gap(self, length: int, *, at_least: int, limit: int) -> int | None:
        """The lowest ``s >= at_least`` with ``[s, s + length)`` free and ``s + length <= limit``."""
        candidate = at_least
        i = bisect.bisect_right(self._starts, candidate) - 1
        if i >= 0 and self._ends[i] > candidate:
            candidate = self._ends[i]
        i += 1
        while candidate + length <= limit:
            if i >= len(self._starts) or self._starts[i] >= candidate + length:
                return candidate
            candidate = max(candidate, self._ends[i])
            i += 1
        return None

    def largest_gap(self, *, at_least: int, limit: int) -> int:
        """The length of the longest free run inside ``[at_least, limit)``."""
        best = 0
        cursor = at_least
        for s, e in zip(self._starts, self._ends, strict=True):
            if e <= cursor:
                continue
            if s >= limit:
                break
            best = max(best, min(s, limit) - cursor)
            cursor = max(cursor, e)
        return max(best, limit - cursor)
