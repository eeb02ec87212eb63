"""Published degree distributions of irregular LDPC codes for the binary symmetric channel, as data.

A distribution is given from the edge perspective, as in the papers: ``lambda_[i]`` (``rho[i]``) is
the fraction of edges attached to variable (check) nodes of degree ``i``, i.e. the coefficient of
``x^(i-1)`` in λ(x) (ρ(x)). :meth:`DegreeDistribution.variable_degrees` and
:meth:`DegreeDistribution.check_degrees` turn it into the node degree sequences of a code of a given
length, which the progressive-edge-growth construction then realises exactly.

Two families are tabulated, each named after its paper:

* ``ELKOUSS_2009``: Elkouss, Leverrier, Alléaume & Boutros, "Efficient reconciliation protocol for
  discrete-variable quantum key distribution", ISIT 2009, arXiv:0901.2140, Table I — rates 0.50 to
  0.90 in steps of 0.05, optimised by differential evolution with discretised density evolution.
* ``MARTINEZ_MATEO_2012``: Martinez-Mateo, Elkouss & Martin, "Blind reconciliation", QIC 12, 791
  (2012), Appendix B — rates 0.5 to 0.8 with at most 6.06 edges per bit (cheaper to decode).

>>> d = ELKOUSS_2009[0.9]
>>> round(d.design_rate, 3), d.threshold
(0.9, 0.0109)
>>> degrees = d.variable_degrees(1000)
>>> len(degrees), sorted(set(degrees.tolist()))
(1000, [2, 3, 5, 9, 12, 21])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from qkdnet.checks import check_int
from qkdnet.errors import InvalidParameter

IntArray = npt.NDArray[np.int64]

_SUM_TOLERANCE = 2e-3
"""The published coefficients are rounded to ~5 digits; their sums stray from 1 by up to ~1e-3."""


def _normalised(coefficients: Mapping[int, float], name: str) -> Mapping[int, float]:
    if not coefficients:
        raise InvalidParameter(f"{name} must have at least one degree")
    for degree, weight in coefficients.items():
        if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
            raise InvalidParameter(f"{name}: degrees must be integers >= 1, got {degree!r}")
        if not (isinstance(weight, (int, float)) and math.isfinite(weight) and weight > 0.0):
            raise InvalidParameter(f"{name}: edge fractions must be positive, got {weight!r} at degree {degree}")
    total = float(sum(coefficients.values()))
    if abs(total - 1.0) > _SUM_TOLERANCE:
        raise InvalidParameter(f"{name}: edge fractions must sum to 1, got {total:.5f}")
    return MappingProxyType({d: float(coefficients[d]) / total for d in sorted(coefficients)})


def _apportion(total: int, weights: npt.NDArray[np.float64]) -> IntArray:
    """Integers proportional to ``weights`` that add up to ``total`` (largest remainders)."""
    exact = weights / weights.sum() * total
    counts: IntArray = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    if short:
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:short]] += 1
    return counts


@dataclass(frozen=True, slots=True)
class DegreeDistribution:
    """An LDPC ensemble (λ, ρ) from the edge perspective, with its nominal rate and where it comes from.

    ``rate`` is the nominal rate the paper lists; a code of length n gets ``round(n·(1 − R))``
    checks with ``R`` the design rate of the coefficients as printed (which differs from the
    nominal one in the third decimal), so that both λ and ρ are met. ``threshold`` is the paper's
    BP threshold (crossover probability of the BSC), if given.
    """

    rate: float
    lambda_: Mapping[int, float]
    rho: Mapping[int, float]
    source: str
    threshold: float | None = None
    _lambda_sorted: tuple[tuple[int, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.rate, float) and 0.0 < self.rate < 1.0):
            raise InvalidParameter(f"rate must be a float in (0, 1), got {self.rate!r}")
        object.__setattr__(self, "lambda_", _normalised(self.lambda_, "lambda_"))
        object.__setattr__(self, "rho", _normalised(self.rho, "rho"))
        object.__setattr__(self, "_lambda_sorted", tuple(self.lambda_.items()))
        if abs(self.design_rate - self.rate) > 0.01:
            raise InvalidParameter(f"λ and ρ give rate {self.design_rate:.4f}, not the nominal {self.rate}")

    @property
    def edges_per_variable(self) -> float:
        """Mean variable degree 1/∫λ = 1/Σ λ_i/i (edges per code bit)."""
        return 1.0 / sum(w / d for d, w in self.lambda_.items())

    @property
    def edges_per_check(self) -> float:
        """Mean check degree 1/Σ ρ_i/i."""
        return 1.0 / sum(w / d for d, w in self.rho.items())

    @property
    def design_rate(self) -> float:
        """Rate 1 − ∫ρ/∫λ (Eq. (5) of Elkouss et al. 2009)."""
        return 1.0 - self.edges_per_variable / self.edges_per_check

    def check_count(self, n: int) -> int:
        """Number of parity checks of a length-``n`` code of this ensemble: round(n·(1 − design rate))."""
        size = check_int(n, name="n", minimum=2)
        return max(1, round(size * (1.0 - self.design_rate)))

    def variable_degrees(self, n: int) -> IntArray:
        """Degree of each of ``n`` variable nodes, non-decreasing (node fractions λ_i/i, apportioned)."""
        size = check_int(n, name="n", minimum=2)
        degrees = np.array(list(self.lambda_), dtype=np.int64)
        weights = np.array([w / d for d, w in self.lambda_.items()])
        return np.repeat(degrees, _apportion(size, weights))

    def check_degrees(self, m: int, edges: int) -> IntArray:
        """Degree of each of ``m`` checks, adding up to ``edges``, as close to ρ as integers allow.

        Node counts come from the node fractions ρ_i/i; the few units by which their edge total
        misses ``edges`` are then made up by moving checks one degree up (or down), preferably
        between two degrees of ρ (50 → 51) and from the most populated degree, else to the
        neighbouring integer.
        """
        count = check_int(m, name="m", minimum=1)
        total = check_int(edges, name="edges", minimum=count)
        support = set(self.rho)
        degrees = np.array(list(self.rho), dtype=np.int64)
        weights = np.array([w / d for d, w in self.rho.items()])
        seq = np.repeat(degrees, _apportion(count, weights))
        missing = total - int(seq.sum())
        while missing:
            step = 1 if missing > 0 else -1
            values, counts = np.unique(seq, return_counts=True)
            inside = [(c, v) for v, c in zip(values.tolist(), counts.tolist(), strict=True) if v + step in support]
            if inside:
                _, degree = max(inside)
            else:
                allowed = [(c, v) for v, c in zip(values.tolist(), counts.tolist(), strict=True) if v + step >= 1]
                if not allowed:
                    raise InvalidParameter(f"cannot give {count} checks {total} edges")
                _, degree = max(allowed)
            where = np.flatnonzero(seq == degree)[: abs(missing)]
            seq[where] += step
            missing -= step * where.size
        return np.sort(seq)


def _family(
    source: str, rows: Mapping[float, tuple[float, Mapping[int, float], Mapping[int, float]]]
) -> Mapping[float, DegreeDistribution]:
    return MappingProxyType(
        {rate: DegreeDistribution(rate, lam, rho, source, threshold) for rate, (threshold, lam, rho) in rows.items()}
    )


# Coefficient of x^(i-1) is stored at degree i, exactly as printed in the papers.
ELKOUSS_2009: Mapping[float, DegreeDistribution] = _family(
    "Elkouss, Leverrier, Alléaume & Boutros, ISIT 2009, arXiv:0901.2140, Table I",
    {
        0.90: (
            0.0109,
            {2: 0.07689, 3: 0.28096, 5: 0.08933, 9: 0.19620, 12: 0.30631, 21: 0.05031},
            {50: 0.95025, 51: 0.04975},
        ),
        0.85: (
            0.0199,
            # The arXiv text prints 0.094274 at x^4, which makes λ sum to 1.0515; 0.04274 gives both
            # sum 1 and rate 0.849, so the 9 is taken for a typo.
            {2: 0.04528, 3: 0.20537, 4: 0.05878, 5: 0.04274, 6: 0.08454, 7: 0.01176, 9: 0.05137, 21: 0.50015},
            {41: 0.54204, 42: 0.45795},
        ),
        0.80: (
            0.0298,
            {2: 0.09420, 3: 0.18088, 6: 0.11972, 7: 0.08550, 8: 0.09816, 17: 0.07194, 26: 0.34960},
            {29: 0.58807, 30: 0.41193},
        ),
        0.75: (
            0.0392,
            {2: 0.10805, 3: 0.09511, 4: 0.01449, 5: 0.13764, 6: 0.10667, 7: 0.05288, 28: 0.01107, 31: 0.47408},
            {25: 0.74161, 26: 0.25839},
        ),
        0.70: (
            0.0504,
            {
                2: 0.05343,
                3: 0.29406,
                6: 0.00896,
                9: 0.15571,
                12: 0.12189,
                25: 0.19872,
                46: 0.09572,
                62: 0.02741,
                65: 0.04056,
                73: 0.00354,
            },
            {20: 0.76922, 21: 0.23077},
        ),
        0.65: (
            0.0633,
            {
                2: 0.10451,
                3: 0.15652,
                4: 0.08057,
                5: 0.00056,
                9: 0.12151,
                13: 0.10485,
                15: 0.10719,
                21: 0.00771,
                51: 0.31656,
            },
            {2: 0.000578, 15: 0.06089, 16: 0.47001, 21: 0.46852},
        ),
        0.60: (
            0.0766,
            {2: 0.11040, 3: 0.20804, 8: 0.14163, 9: 0.14858, 26: 0.14438, 27: 0.08909, 46: 0.00748, 71: 0.15038},
            {2: 0.00036, 10: 0.13063, 13: 0.31068, 18: 0.49341, 19: 0.064915},
        ),
        0.55: (
            0.0904,
            {2: 0.16880, 3: 0.20994, 6: 0.18095, 15: 0.03846, 16: 0.02635, 18: 0.23454, 19: 0.05815, 31: 0.08280},
            {10: 0.27631, 11: 0.72369},
        ),
        0.50: (
            0.1071,
            {
                2: 0.14438,
                3: 0.19026,
                4: 0.01836,
                5: 0.00233,
                6: 0.04697,
                8: 0.053943,
                9: 0.05590,
                10: 0.01290,
                11: 0.00162,
                14: 0.06159,
                15: 0.13115,
                17: 0.01481,
                47: 0.00879,
                49: 0.00650,
                55: 0.00210,
                56: 0.00099,
                57: 0.11178,
                58: 0.06238,
                59: 0.05094,
                66: 0.02230,
            },
            {10: 0.47575, 12: 0.46847, 13: 0.02952, 14: 0.02626},
        ),
    },
)
"""Table I of Elkouss et al. (ISIT 2009), keyed by nominal rate."""

MARTINEZ_MATEO_2012: Mapping[float, DegreeDistribution] = _family(
    "Martinez-Mateo, Elkouss & Martin, Blind reconciliation, QIC 12, 791 (2012), Appendix B",
    {
        0.5: (
            0.102592,
            {2: 0.159673, 3: 0.121875, 4: 0.11261, 5: 0.190871, 10: 0.0770616, 25: 0.337909},
            {9: 0.360479, 10: 0.639521},
        ),
        0.6: (
            0.0745261,
            {
                2: 0.11653,
                3: 0.125646,
                4: 0.108507,
                5: 0.0534223,
                7: 0.0727228,
                8: 0.0347964,
                9: 0.0729986,
                18: 0.0752607,
                32: 0.117103,
                45: 0.223013,
            },
            {14: 0.582731, 15: 0.417269},
        ),
        0.7: (
            0.0501875,
            {2: 0.091699, 3: 0.171401, 4: 0.0683878, 5: 0.120523, 11: 0.187471, 28: 0.208278, 30: 0.152239},
            {19: 0.806453, 20: 0.193547},
        ),
        0.8: (
            0.0289413,
            {
                2: 0.0667948,
                3: 0.194832,
                4: 0.0570523,
                5: 0.0645024,
                9: 0.204606,
                15: 0.0964409,
                29: 0.23872,
                35: 0.0770523,
            },
            {30: 0.708874, 31: 0.291126},
        ),
    },
)
"""Appendix B of Martinez-Mateo, Elkouss & Martin (QIC 2012), keyed by nominal rate."""

FAMILIES: Mapping[str, Mapping[float, DegreeDistribution]] = MappingProxyType(
    {"elkouss2009": ELKOUSS_2009, "martinez_mateo2012": MARTINEZ_MATEO_2012}
)
"""Degree-distribution tables by family name."""

DEFAULT_FAMILY = "elkouss2009"
"""The ladder used unless told otherwise: Table I of Elkouss et al. 2009, rates 0.50–0.90."""

DEFAULT_FRAME_BITS = 10_000
"""Code length n: efficiency grows with n, decoding time and PEG build time too."""

__all__ = [
    "DEFAULT_FAMILY",
    "DEFAULT_FRAME_BITS",
    "ELKOUSS_2009",
    "FAMILIES",
    "MARTINEZ_MATEO_2012",
    "DegreeDistribution",
]
