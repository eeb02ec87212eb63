"""Rate adaptation: the plan meets its efficiency targets within the code's limits; the layout is sound."""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess.ldpc import frame_layout, ldpc_code, plan_reconciliation


def _h(p: float) -> float:
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


@pytest.mark.parametrize("q", [0.01, 0.02, 0.03, 0.05, 0.08, 0.10])
def test_plan_puts_first_and_last_attempt_at_the_requested_efficiencies(q: float) -> None:
    plan = plan_reconciliation(200_000, q, n=10_000, efficiency_start=1.05, efficiency_end=1.25, max_rounds=5)
    code = plan.code
    k = plan.frame_key_bits
    assert plan.shortened_min >= 0 and plan.punctured <= code.puncture_order.size and plan.punctured <= code.m
    assert plan.frames * k >= 200_000 > plan.frames * (k - 1) - plan.frames  # every key bit has a place
    first = (code.m - plan.punctured) / (k * _h(q))
    last = code.m / (k * _h(q))
    # p is rounded: the first attempt is at f_start to within one bit; the frames being filled evenly,
    # the last one lands at f_end or a little above — or where a 10⁻² frame error rate needs it, by the
    # Gaussian observed-channel estimate (Martinez-Mateo et al. 2012, App. A), written out again here
    dist = code.distribution
    assert dist.threshold is not None
    observed = q + NormalDist().inv_cdf(0.99) * math.sqrt(q * (1 - q) / 10_000)
    needed = (code.m / 10_000) / _h(dist.threshold) * _h(observed) / _h(q)
    assert first == pytest.approx(1.05, abs=1 / (k * _h(q)))
    assert max(1.25, needed) - 0.01 <= last <= max(1.25, needed) * 1.05
    # the reveal schedule starts at nothing, grows, and ends with every punctured bit revealed
    schedule = [plan.revealed_before(a) for a in range(1, plan.max_rounds + 1)]
    assert schedule[0] == 0 and schedule[-1] == plan.punctured
    assert all(b > a for a, b in itertools.pairwise(schedule))


def test_lowest_rate_code_that_fits_is_chosen() -> None:
    # at Q = 5 %: m must be at least f_end·h·ℓ; a lower-rate code would not fit, a higher one wastes frame
    plan = plan_reconciliation(100_000, 0.05, n=10_000)
    assert plan.rate == 0.7
    lower = ldpc_code("elkouss2009", 0.65, 10_000)
    assert lower.m / (1.30 * _h(0.05)) * (1 + 0.28 * _h(0.05)) > 10_000


def test_tiny_qber_uses_the_highest_rate_unshortened() -> None:
    plan = plan_reconciliation(50_000, 0.001, n=10_000)
    code = plan.code
    assert plan.rate == 0.9 and plan.punctured == code.puncture_order.size  # punctured all it can
    assert (code.m - plan.punctured) / (plan.frame_key_bits * _h(0.001)) > 1.02  # and still above f_start
    assert plan_reconciliation(50_000, 0.0, n=10_000) == plan  # Q = 0 is planned as Q = 0.1 %


def test_single_round_when_blind_rounds_are_not_wanted() -> None:
    plan = plan_reconciliation(50_000, 0.05, n=10_000, max_rounds=1)
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
