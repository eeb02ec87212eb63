"""Published degree distributions: read correctly, and turned into node degrees faithfully."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess.ldpc import ELKOUSS_2009, MARTINEZ_MATEO_2012, DegreeDistribution

ALL = [(name, rate, d) for name, fam in (("E", ELKOUSS_2009), ("M", MARTINEZ_MATEO_2012)) for rate, d in fam.items()]


def _h(p: float) -> float:
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def test_tables_hold_the_rates_the_papers_list() -> None:
    assert sorted(ELKOUSS_2009) == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]
    assert sorted(MARTINEZ_MATEO_2012) == [0.5, 0.6, 0.7, 0.8]


@pytest.mark.parametrize(("family", "rate", "dist"), ALL, ids=lambda v: str(v)[:12])
def test_design_rate_and_threshold_are_consistent(family: str, rate: float, dist: DegreeDistribution) -> None:
    # Eq. (5) of Elkouss et al.: the coefficients as printed give the nominal rate (to their 5 digits).
    assert dist.design_rate == pytest.approx(rate, abs=2e-3)
    # A BP threshold can approach, never pass, the Shannon limit 1 - R = h(p*).
    assert dist.threshold is not None
    assert _h(dist.threshold) < 1 - rate
    assert _h(dist.threshold) > 0.85 * (1 - rate)  # published thresholds sit close to capacity


def test_a_coefficient_as_printed() -> None:
    # Table I, rate 0.9: λ(x) = 0.07689x + 0.28096x² + 0.08933x⁴ + 0.19620x⁸ + 0.30631x¹¹ + 0.05031x²⁰
    d = ELKOUSS_2009[0.9]
    assert d.lambda_ == pytest.approx({2: 0.07689, 3: 0.28096, 5: 0.08933, 9: 0.19620, 12: 0.30631, 21: 0.05031})
    assert d.rho == pytest.approx({50: 0.95025, 51: 0.04975})


@pytest.mark.parametrize(("family", "rate", "dist"), ALL, ids=lambda v: str(v)[:12])
def test_node_degrees_reproduce_the_edge_fractions(family: str, rate: float, dist: DegreeDistribution) -> None:
    n = 10_000
    v = dist.variable_degrees(n)
    assert v.size == n and np.all(np.diff(v) >= 0)
    edges = int(v.sum())
    node_weight = {d: f / d for d, f in dist.lambda_.items()}  # node fractions L_i ∝ λ_i / i
    total = sum(node_weight.values())
    for degree, weight in node_weight.items():
        assert abs(np.count_nonzero(v == degree) - n * weight / total) < 1.0  # rounded, never further
    assert set(np.unique(v).tolist()) <= set(dist.lambda_)
    m = dist.check_count(n)
    assert m == round(n * (1 - dist.design_rate))
    c = dist.check_degrees(m, edges)
    assert c.size == m and int(c.sum()) == edges
    assert set(np.unique(c).tolist()) <= set(range(min(dist.rho), max(dist.rho) + 1))
    # Node counts follow ρ's node fractions, up to the few checks moved by one degree to absorb the
    # difference between the λ side's edge count and m times ρ's mean degree.
    check_weight = {d: f / d for d, f in dist.rho.items()}
    total = sum(check_weight.values())
    moved = abs(edges - m * dist.edges_per_check) + 3  # + rounding of each count
    for degree, weight in check_weight.items():
        assert abs(np.count_nonzero(c == degree) - m * weight / total) <= moved


def test_mean_degrees() -> None:
    # Appendix B of Blind reconciliation: at most 6.06 edges per bit.
    for d in MARTINEZ_MATEO_2012.values():
        assert d.edges_per_variable <= 6.06 + 1e-3
    d = ELKOUSS_2009[0.5]
    assert d.edges_per_check == pytest.approx(1 / (0.47575 / 10 + 0.46847 / 12 + 0.02952 / 13 + 0.02626 / 14), rel=1e-4)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 0.5, "lambda_": {2: 0.5, 3: 0.4}, "rho": {6: 1.0}},  # λ does not sum to 1
        {"rate": 0.5, "lambda_": {0: 1.0}, "rho": {6: 1.0}},
        {"rate": 0.5, "lambda_": {3: 1.0}, "rho": {6: -1.0}},
        {"rate": 1.5, "lambda_": {3: 1.0}, "rho": {6: 1.0}},
        {"rate": 0.9, "lambda_": {3: 1.0}, "rho": {6: 1.0}},  # (3,6) is rate 0.5, not 0.9
    ],
)
def test_bad_distributions_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidParameter):
        DegreeDistribution(source="test", **kwargs)  # type: ignore[arg-type]
