"""The interval set behind the ledger, against a plain set of integers."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from qkdnet.otp._spans import SpanSet

LIMIT = 64
spans = st.tuples(st.integers(0, LIMIT), st.integers(0, 12)).map(lambda t: (t[0], t[0] + t[1]))


@given(st.lists(spans, max_size=30), spans, st.integers(1, 12), st.integers(0, LIMIT))
def test_matches_a_set_model(adds: list[tuple[int, int]], probe: tuple[int, int], length: int, at_least: int) -> None:
    model: set[int] = set()
    spanset = SpanSet()
    for start, end in adds:
        assert spanset.overlaps(start, end) == bool(model & set(range(start, end)))
        if not spanset.overlaps(start, end):
            spanset.add(start, end)
            model |= set(range(start, end))
    assert spanset.total == len(model)
    flattened = {i for s, e in spanset.spans() for i in range(s, e)}
    assert flattened == model
    pairs = spanset.spans()
    assert all(e1 < s2 for (_, e1), (s2, _) in itertools.pairwise(pairs))  # disjoint and merged
    assert all(s < e for s, e in pairs)
    assert spanset.overlaps(*probe) == bool(model & set(range(*probe)))

    limit = LIMIT + 12
    expected = next((s for s in range(at_least, limit - length + 1) if not model & set(range(s, s + length))), None)
    assert spanset.first_gap(length, at_least=at_least, limit=limit) == expected

    longest = run = 0
    for i in range(at_least, limit):
        run = 0 if i in model else run + 1
        longest = max(longest, run)
    assert spanset.largest_gap(at_least=at_least, limit=limit) == longest
