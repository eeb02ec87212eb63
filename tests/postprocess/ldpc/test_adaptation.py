"""Rate adaptation: the plan meets its efficiency targets within the code's limits; the layout is sound."""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess.ldpc import ELKOUSS_2009, DegreeDistribution, frame_layout, ldpc_code, plan_reconciliation
from qkdnet.postprocess.ldpc.adaptation import reveal_schedule

N = 4_000
"""Code length of these tests: long enough for the whole ladder, short enough to build in a blink."""


def _h(p: float) -> float:
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def _model(dist: DegreeDistribution, q: float, width: int) -> tuple[float, float]:
    """The decoding model of the adaptation module's docstring, written out again."""
    assert dist.threshold is not None
    f_star = (1 - dist.design_rate) / _h(dist.threshold)
    mu = f_star * (1 + 6.0 / math.sqrt(width))
    return mu, 1.15 * mu * math.log2((1 - q) / q) * math.sqrt(q * (1 - q) / width) / _h(q)


@pytest.mark.parametrize("q", [0.01, 0.02, 0.03, 0.05, 0.08, 0.10])
def test_plan_puts_first_and_last_attempt_where_the_model_says(q: float) -> None:
    plan = plan_reconciliation(80_000, q, n=N, efficiency_start=1.05, efficiency_end=1.15, max_rounds=5)
    code = plan.code
    k = plan.frame_key_bits
    assert plan.shortened_min >= 0 and plan.punctured <= code.puncture_order.size and plan.punctured <= code.m
    assert plan.frames * k >= 80_000 > plan.frames * (k - 1) - plan.frames  # every key bit has a place
    first = (code.m - plan.punctured) / (k * _h(q))
    last = code.m / (k * _h(q))
    mu, sigma = _model(code.distribution, q, k)
    # first attempt at μ − σ/2 or the floor 1.05, to within one bit (p is rounded) — higher only if the
    # code cannot puncture that many...
    expected = max(1.05, mu - 0.5 * sigma)
    if plan.punctured < code.puncture_order.size:
        assert first == pytest.approx(expected, abs=1.5 / (k * _h(q)))
    else:
        assert first > expected
    # ...the last where 10⁻³ of the frames would fail, or the floor 1.15; a little above, the frames
    # being filled evenly (each holds at most one frame's worth less than planned)
    target = max(1.15, mu + NormalDist().inv_cdf(1 - 1e-3) * sigma)
    assert last <= target * 1.05
    if plan.rate < max(ELKOUSS_2009) or plan.shortened_min > plan.frames:  # else the code is as short as it gets
        assert target - 0.01 <= last
    # the reveal schedule starts at nothing, grows, and ends with every punctured bit revealed
    schedule = [plan.revealed_before(a) for a in range(1, plan.max_rounds + 1)]
    assert plan.max_rounds == 5 and schedule[0] == 0 and schedule[-1] == plan.punctured
    assert all(b > a for a, b in itertools.pairwise(schedule))


def test_reveal_schedule_minimises_the_expected_leakage() -> None:
    """The dynamic programme against brute force over every schedule of 4 attempts with 14 bits."""
    dist = ELKOUSS_2009[0.7]
    q, width, first, p = 0.05, 300, 1.0, 14
    mu, sigma = _model(dist, q, width)
    law = NormalDist(mu, sigma)

    def leakage(reveals: tuple[int, ...]) -> float:
        f = [first + r / (_h(q) * width) for r in reveals]
        done = [law.cdf(x) for x in f]
        return sum(fk * (dk - dp) for fk, dk, dp in zip(f, done, [0.0, *done[:-1]], strict=True)) + f[-1] * (
            1 - done[-1]
        )

    candidates = [(0, a, b, p) for a, b in itertools.combinations(range(1, p), 2)]
    best = min(candidates, key=leakage)
    chosen = reveal_schedule(dist, q, width, first, p, 4)
    assert chosen[0] == 0 and chosen[-1] == p and len(chosen) == 4
    assert leakage(chosen) == pytest.approx(leakage(best), rel=1e-12)
    assert reveal_schedule(dist, q, width, first, 2, 8) == (0, 1, 2)  # no more attempts than bits + 1
    assert reveal_schedule(dist, q, width, first, 0, 8) == (0,)


@pytest.mark.parametrize("q", [0.02, 0.05, 0.08])
def test_lowest_rate_code_that_fits_is_chosen(q: float) -> None:
    # the frame's key bits plus its punctured bits must fit in n; the next lower rate, with more checks,
    # would carry more key bits per frame than it has room for
    plan = plan_reconciliation(100_000, q, n=N)
    rates = sorted(ELKOUSS_2009)
    lower = ldpc_code("elkouss2009", rates[rates.index(plan.rate) - 1], N)
    width = N
    for _ in range(3):
        mu, sigma = _model(lower.distribution, q, width)
        last = mu + NormalDist().inv_cdf(1 - 1e-3) * sigma
        width = math.floor(lower.m / (last * _h(q)))
    punctured = (last - max(1.0, mu - 0.5 * sigma)) * _h(q) * width
    assert width + punctured > N


def test_tiny_qber_uses_the_highest_rate_unshortened() -> None:
    plan = plan_reconciliation(50_000, 0.001, n=N)
    code = plan.code
    assert plan.rate == 0.9 and plan.punctured == code.puncture_order.size  # punctured all it can
    assert (code.m - plan.punctured) / (plan.frame_key_bits * _h(0.001)) > 1.02  # and still above f_start
    assert plan_reconciliation(50_000, 0.0, n=N) == plan  # Q = 0 is planned as Q = 0.1 %


def test_single_round_when_blind_rounds_are_not_wanted() -> None:
    plan = plan_reconciliation(50_000, 0.05, n=N, max_rounds=1)
    assert plan.max_rounds == 1 and plan.revealed_before(1) == 0
    with pytest.raises(InvalidParameter):
        plan.revealed_before(2)


def test_layout_is_a_partition_and_public() -> None:
    plan = plan_reconciliation(30_001, 0.04, n=5_000)
    layout = frame_layout(plan)
    code = plan.code
    punctured = set(layout.punctured.tolist())
    big = set(layout.key_positions_big.tolist())
    small = set(layout.key_positions_small.tolist())
    assert small < big and not (punctured & big)
    assert len(big) == plan.frame_key_bits and len(small) == plan.frame_key_bits - 1
    # punctured in reverse untainted order: the last one punctured is the first one revealed
    np.testing.assert_array_equal(layout.punctured, code.puncture_order[: plan.punctured][::-1])
    widths = [s.stop - s.start for s in layout.frame_key_slices()]
    assert sum(widths) == 30_001 and set(widths) <= {len(big), len(small)}
    again = frame_layout(plan)
    np.testing.assert_array_equal(again.key_positions_big, layout.key_positions_big)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"qber_estimate": 0.5},
        {"qber_estimate": -0.1},
        {"qber_estimate": float("nan")},
        {"qber_estimate": "0.1"},
        {"qber_estimate": 0.05, "efficiency_start": 0.9},
        {"qber_estimate": 0.05, "efficiency_start": 1.3, "efficiency_end": 1.2},
        {"qber_estimate": 0.05, "max_rounds": 0},
        {"qber_estimate": 0.05, "family": "gallager"},
    ],
)
def test_bad_plans_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidParameter):
        plan_reconciliation(10_000, n=10_000, **kwargs)  # type: ignore[arg-type]
