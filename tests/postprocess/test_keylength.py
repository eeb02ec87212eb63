"""Key lengths: the ledger budget and the TLGR finite-key bound, against hand-computed and published values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from qkdnet.errors import InvalidParameter, QberAboveThreshold
from qkdnet.postprocess import (
    CASCADE_PARITY,
    ESTIMATION_SAMPLE,
    QBER_TOLERANCE_GRID,
    VERIFICATION_HASH,
    AsymptoticKeyLength,
    FiniteKeyLength,
    KeyLengthRule,
    LeakageLedger,
    finite_key_length,
    finite_key_length_from_ledger,
    finite_key_mu,
    secret_key_length,
)

from .helpers import h2


def _ledger(charged: int, uncharged: int = 0) -> LeakageLedger:
    ledger = LeakageLedger()
    ledger.record("estimation_sample", uncharged, charged=False)
    ledger.record("cascade_parity", charged)
    return ledger


def test_secret_key_length_by_hand() -> None:
    # 10000 - 2000.5 - 1200 - 2*50 = 6699.5 -> 6699; the 5000 estimation bits are not charged.
    ledger = _ledger(1200, uncharged=5000)
    assert secret_key_length(key_bits=10_000, eve_information_bits=2000.5, ledger=ledger, eps_pa=2**-50) == 6699
    # default eps_pa = 1e-10: 2*log2(1e10) = 66.43856...; 1000 - 100 - 200 - 66.44 = 633.56 -> 633
    assert secret_key_length(key_bits=1000, eve_information_bits=100, ledger=_ledger(200)) == 633


def test_secret_key_length_clips_at_zero() -> None:
    assert secret_key_length(key_bits=100, eve_information_bits=90, ledger=_ledger(50)) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key_bits": -1},
        {"key_bits": 1.5},
        {"eve_information_bits": -1.0},
        {"eve_information_bits": math.inf},
        {"eps_pa": 0.0},
        {"eps_pa": 1.0},
        {"ledger": {"cascade_parity": 3}},
    ],
)
def test_secret_key_length_validates(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"key_bits": 100, "eve_information_bits": 1.0, "ledger": LeakageLedger()}
    args.update(kwargs)
    with pytest.raises(InvalidParameter):
        secret_key_length(**args)  # type: ignore[arg-type]


def test_finite_key_length_matches_the_formula_by_hand() -> None:
    n, k, q_tol, leak, eps_sec, eps_cor = 10**6, 10**5, 0.02, 170_000, 1e-10, 1e-15
    # mu = sqrt(1.1e-5 * 1.00001 * ln(2e10)) = sqrt(2.60911e-4) = 0.0161528
    mu = math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(2 / eps_sec))
    assert mu == pytest.approx(0.016152758, rel=1e-7)
    assert finite_key_mu(n, k, eps_sec) == pytest.approx(mu, rel=1e-12)
    # log2(2 / (eps_sec^2 eps_cor)) = 1 + 35 log2(10) = 117.2675
    expected = n * (1 - h2(q_tol + mu)) - leak - (1 + 35 * math.log2(10))
    assert math.floor(expected) == 605_517
    assert finite_key_length(n, k, q_tol, leak, eps_sec, eps_cor) == 605_517


def test_finite_key_length_edges() -> None:
    # margin pushes the tolerated QBER past 1/2: nothing is secret.
    assert finite_key_length(100, 10, 0.4, 0, 1e-10, 1e-15) == 0
    assert finite_key_length(10**6, 10**5, 0.02, 10**6, 1e-10, 1e-15) == 0
    # zero error rate, huge sample: close to n - log2(2/(eps_sec^2 eps_cor)) minus the entropy of mu
    big = finite_key_length(10**9, 10**9, 0.0, 0, 1e-10, 1e-15)
    assert 0.99 * 10**9 < big < 10**9
    # more test bits shrink the statistical margin and lengthen the key
    assert finite_key_length(10**6, 10**4, 0.02, 0, 1e-10, 1e-15) < finite_key_length(
        10**6, 10**5, 0.02, 0, 1e-10, 1e-15
    )


@pytest.mark.parametrize(
    "args",
    [
        (0, 10, 0.02, 0, 1e-10, 1e-15),
        (10, 0, 0.02, 0, 1e-10, 1e-15),
        (10, 10, -0.1, 0, 1e-10, 1e-15),
        (10, 10, 0.02, -1, 1e-10, 1e-15),
        (10, 10, 0.02, 0, 0.0, 1e-15),
        (10, 10, 0.02, 0, 1e-10, 1.0),
    ],
)
def test_finite_key_length_validates(args: tuple[float, ...]) -> None:
    with pytest.raises(InvalidParameter):
        finite_key_length(*args)  # type: ignore[arg-type]


def _full_ledger(sample: int, parities: int, tag: int, other: int = 0) -> LeakageLedger:
    ledger = LeakageLedger()
    ledger.record(ESTIMATION_SAMPLE, sample, charged=False)
    ledger.record(CASCADE_PARITY, parities)
    ledger.record(VERIFICATION_HASH, tag)
    if other:
        ledger.record("syndrome", other)
    return ledger


def test_length_from_the_ledger_by_hand() -> None:
    n, k, leak, tag, q_tol, eps_sec = 10**6, 10**5, 170_000, 40, 0.02, 1e-10
    mu = math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(2 / eps_sec))
    # log2(2 / (eps_sec^2 2^-tag)) = 1 + 2 log2(1e10) + tag: the tag bits are the log2(1/eps_cor) of TLGR
    expected = math.floor(n * (1 - h2(q_tol + mu)) - leak - 1 - 20 * math.log2(10) - tag)
    ledger = _full_ledger(k, leak, tag)
    assert finite_key_length_from_ledger(ledger, key_bits=n, qber_tolerance=q_tol, eps_sec=eps_sec) == expected
    assert expected == finite_key_length(n, k, q_tol, leak, eps_sec, 2.0**-tag)
    # every other charged kind is leak_EC too; the uncharged sample only sets k
    assert (
        finite_key_length_from_ledger(
            _full_ledger(k, leak - 1000, tag, other=1000), key_bits=n, qber_tolerance=q_tol, eps_sec=eps_sec
        )
        == expected
    )


def test_length_from_the_ledger_needs_a_sample_and_a_verification() -> None:
    no_sample = LeakageLedger()
    no_sample.record(VERIFICATION_HASH, 40)
    no_tag = LeakageLedger()
    no_tag.record(ESTIMATION_SAMPLE, 100, charged=False)
    for ledger in (no_sample, no_tag):
        with pytest.raises(InvalidParameter):
            finite_key_length_from_ledger(ledger, key_bits=1000, qber_tolerance=0.01)
    with pytest.raises(InvalidParameter):
        finite_key_length_from_ledger({"estimation_sample": 3}, key_bits=1000, qber_tolerance=0.01)  # type: ignore[arg-type]


def test_rules_give_the_same_length_as_the_functions() -> None:
    ledger = _full_ledger(20_000, 30_000, 40)
    finite = FiniteKeyLength(0.031, eps_sec=1e-9)
    asymptotic = AsymptoticKeyLength(12_345.6, eps_pa=1e-9)
    assert isinstance(finite, KeyLengthRule) and isinstance(asymptotic, KeyLengthRule)
    assert finite.final_length(200_000, ledger) == finite_key_length_from_ledger(
        ledger, key_bits=200_000, qber_tolerance=0.031, eps_sec=1e-9
    )
    assert asymptotic.final_length(200_000, ledger) == secret_key_length(
        key_bits=200_000, eve_information_bits=12_345.6, ledger=ledger, eps_pa=1e-9
    )


def test_an_adaptive_tolerance_is_the_next_grid_value_and_splits_eps_sec() -> None:
    rule = FiniteKeyLength.adaptive(0.0412, eps_sec=1e-10)
    assert rule.qber_tolerance == 0.042 and rule.tolerance_choices == len(QBER_TOLERANCE_GRID) == 125
    assert rule.eps_sec_per_choice == pytest.approx(1e-10 / 125)
    ledger = _full_ledger(20_000, 30_000, 40)
    fixed = FiniteKeyLength(0.042, eps_sec=1e-10 / 125)
    assert rule.final_length(200_000, ledger) == fixed.final_length(200_000, ledger)
    assert rule.final_length(200_000, ledger) < FiniteKeyLength(0.042, eps_sec=1e-10).final_length(200_000, ledger)
    assert FiniteKeyLength.adaptive(0.0).qber_tolerance == 0.001
    assert FiniteKeyLength.adaptive(0.125).qber_tolerance == 0.125
    with pytest.raises(QberAboveThreshold):
        FiniteKeyLength.adaptive(0.1251)
    with pytest.raises(InvalidParameter):
        FiniteKeyLength.adaptive(0.01, grid=())
    with pytest.raises(InvalidParameter):
        FiniteKeyLength(0.01, tolerance_choices=0)


def test_tlgr_rate_reaches_the_asymptotic_one_minus_2h() -> None:
    """TLGR, Discussion: with leak_EC = n h(Q) and k growing slower than n, ℓ/n → 1 − 2h(Q) for any ε."""
    q, n = 0.05, 10**12
    rate = finite_key_length(n, 10**9, q, n * h2(q), 1e-10, 1e-12) / n
    assert rate == pytest.approx(1 - 2 * h2(q), abs=1e-3)


def _tlgr_optimal_rate(n: int, q: float, p_grid: np.ndarray, q_tol_grid: np.ndarray) -> tuple[float, float]:
    """TLGR's expected key rate r = (1 − ε_rob) ℓ / M, maximised over the test-basis probability and Q_tol.

    Their Discussion: leak_EC = 1.1 n h(Q_tol), security rate ε/ℓ = 10⁻¹⁴ (here ε_sec = ε_cor = ε/2), the
    test basis chosen with probability p so that k = n (p / (1 − p))² and M = (√n + √k)² signals are sent,
    and ε_rob the chance that the test error rate exceeds Q_tol (exact binomial tail here).
    """
    best = (0.0, 0.0)
    for p in p_grid:
        k = round(n * (p / (1 - p)) ** 2)
        signals = (math.sqrt(n) + math.sqrt(k)) ** 2
        for q_tol in q_tol_grid:
            length = n / 2
            for _ in range(3):  # ε = 10⁻¹⁴ ℓ: a short fixed-point iteration
                eps = 1e-14 * max(length, 1.0)
                length = finite_key_length(n, k, float(q_tol), 1.1 * n * h2(float(q_tol)), eps / 2, eps / 2)
            robustness = float(binom.sf(math.floor(q_tol * k), k, q))
            rate = (1 - robustness) * length / signals
            if rate > best[0]:
                best = (rate, float(p))
    return best


@pytest.mark.parametrize(
    ("n", "q", "paper_rate", "paper_p", "rate_tol", "p_tol"),
    [
        (10**6, 0.010, 0.478, 0.125, 0.03, 0.010),
        (10**6, 0.025, 0.357, 0.137, 0.03, 0.010),
        (10**5, 0.010, 0.304, 0.220, 0.07, 0.015),
        (10**5, 0.025, 0.215, 0.233, 0.07, 0.015),
    ],
)
def test_optimised_rates_match_tlgr_table_ii(
    n: int, q: float, paper_rate: float, paper_p: float, rate_tol: float, p_tol: float
) -> None:
    """Tomamichel, Lim, Gisin & Renner, Nat. Commun. 3, 634 (2012), Table II (ε/ℓ = 10⁻¹⁴).

    Provenance: the table's rows n ∈ {10⁵, 10⁶}, Q ∈ {1 %, 2.5 %}: expected rates r = 30.4, 21.5, 47.8, 35.7 %
    and the basis probability column 22.0, 23.3, 12.5, 13.7 % (it matches the probability of the *test*
    basis, k = n (p/(1 − p))²). Re-optimising their protocol with our finite_key_length reproduces both.
    Their Q_tol and ε_rob columns are not reproduced: the paper does not state the robustness bound it
    used, and a looser one pushes Q_tol up; that is also why our rates come out a few percent higher at
    n = 10⁵ (and ~25 % higher at n = 10⁴, not tested), where robustness weighs more.
    """
    p_grid = np.arange(paper_p - 0.04, paper_p + 0.04, 0.0025)
    q_tol_grid = q + np.arange(0.0, 0.008, 0.0002)
    rate, p = _tlgr_optimal_rate(n, q, p_grid, q_tol_grid)
    assert paper_rate <= rate <= paper_rate * (1 + rate_tol)
    assert abs(p - paper_p) <= p_tol
