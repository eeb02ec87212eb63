"""The finite-size device-independent bound (entropy accumulation) against independent oracles.

Oracles: the asymptotic Acín/Pironio fraction of :mod:`qkdnet.qkd.security` (its own code path), a numerical
derivative, the n^(-1/4) law that the bound's structure implies once γ is optimised, and the published
figures of the two 2022 DIQKD experiments. None of the expected values comes from the code under test.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.postprocess import LeakageLedger
from qkdnet.qkd import E91, KeyRunConfig, run_key_exchange
from qkdnet.qkd.di_finite import (
    OMEGA_TSIRELSON,
    DeviceIndependentFiniteKeyLength,
    DeviceRounds,
    chsh_entropy_rate,
    chsh_entropy_slope,
    chsh_win_probability,
    di_finite_key_length,
    optimal_test_probability,
    rounds_for_positive_key,
)
from qkdnet.qkd.security import device_independent_key_fraction, eve_information_from_chsh

from .conftest import WernerPairs

NADLINGER = (2.677, 0.0144)  # S, Q of Nadlinger et al., Nature 607, 682 (2022), as given in issue 16
ZHANG = (2.578, 0.078)  # S = 2.578(75), QBER 0.078(9): Zhang et al., Nature 607, 687 (2022), abstract [V]


def _rate(n: float, s: float, q: float) -> float:
    _, length = optimal_test_probability(n, q, s)
    return max(length, 0.0) / n


def test_the_entropy_rate_is_one_minus_the_holevo_bound_of_security_py() -> None:
    s = np.array([2.0, 2.1, 2.4, 2.6, 2.7, 2.8, 2.82])
    expected = [1.0 - eve_information_from_chsh(float(x)) for x in s]
    assert chsh_entropy_rate(chsh_win_probability(s)) == pytest.approx(expected, abs=1e-12)
    assert float(chsh_entropy_rate(OMEGA_TSIRELSON)) == pytest.approx(1.0, abs=1e-9)


def test_the_slope_is_the_derivative_of_the_rate() -> None:
    omega = np.array([0.76, 0.78, 0.80, 0.82, 0.84, 0.85])
    step = 1e-6
    numeric = (chsh_entropy_rate(omega + step) - chsh_entropy_rate(omega - step)) / (2 * step)
    # central difference: error O(step² g‴) ≲ 1e-6 away from Tsirelson's edge
    assert chsh_entropy_slope(omega) == pytest.approx(numeric, rel=1e-5)
    assert float(chsh_entropy_slope(0.75 + 1e-12)) == pytest.approx(4.0 / math.log(2.0), rel=1e-6)


def test_the_finite_rate_approaches_the_asymptotic_one() -> None:
    """(a) At n = 10¹² the finite rate is within 10 % of the asymptotic one for Nadlinger's S and Q, never above it.

    Tolerance: with γ optimised the first-order EAT's deficit falls as n^(-1/4) (a ν/(γ√n) term against a γ
    term), so it shrinks by 100^(1/4) ≈ 3.16 per factor 100 in n; we check that law to 15 % and that at
    n = 10¹⁶ the rate is within 1 % of the limit.
    """
    s, q = NADLINGER
    asymptotic = device_independent_key_fraction(q, s)
    r10, r12, r16 = (_rate(n, s, q) for n in (1e10, 1e12, 1e16))
    assert 0.90 * asymptotic < r12 < asymptotic
    assert 0.99 * asymptotic < r16 < asymptotic
    assert (asymptotic - r10) / (asymptotic - r12) == pytest.approx(100**0.25, rel=0.15)


def test_no_key_below_a_round_count_and_some_above() -> None:
    """(b) The length is 0 below the threshold round count and positive above it; 0 without violation."""
    s, q = NADLINGER
    n_min = rounds_for_positive_key(q, s)
    assert math.isfinite(n_min)
    assert int(di_finite_key_length(n_min / 1.1, q, s)) == 0
    assert int(di_finite_key_length(n_min * 1.1, q, s)) > 0
    assert int(di_finite_key_length(1e14, 0.0, 2.0)) == 0  # S = 2 certifies nothing
    # Werner pairs at Q = 8 %: S = 2√2·0.84 = 2.376, asymptotic fraction < 0, so no n helps
    assert device_independent_key_fraction(0.08, 2 * math.sqrt(2) * 0.84) < 0
    assert int(di_finite_key_length(1e14, 0.08, 2 * math.sqrt(2) * 0.84)) == 0


def test_nadlinger_2022_got_key_from_fewer_rounds_than_our_first_order_bound_needs() -> None:
    """(c) Nadlinger et al. distilled ≈ 9.6·10⁴ secret bits from ≈ 1.5·10⁶ rounds (95,628 in the shared
    reference sheet, 95,884 in issue 16: the test uses the smaller) with a tighter EAT analysis than ours.

    Our first-order EAT (tangent min-tradeoff, ν ∝ 1/γ, Bob's test bits charged in full) certifies nothing
    at 1.5·10⁶ rounds and needs ≈ 2.6·10⁷, ≈ 17× more. The honest relation asserted: we are looser (0 key
    where they got key), and within a factor 30 of their round count.
    """
    s, q = NADLINGER
    rounds, their_bits = 1.5e6, 95_628
    assert int(di_finite_key_length(rounds, q, s)) < their_bits
    n_min = rounds_for_positive_key(q, s)
    assert rounds < n_min < 30 * rounds


def test_zhang_2022_reported_no_finite_key_and_our_bound_agrees() -> None:
    """(c) Zhang et al. report an asymptotic key only (0.07 bit per event, random-key-basis protocol) from
    their ≈ 10³–10⁴ events; issue 16 says ≈ 10⁸ rounds would be needed for a finite key against collective
    attacks [unconfirmed]. A general-attack first-order EAT cannot need fewer, so we assert ≥ 10⁸ (we need
    ≈ 2.8·10⁹) and no key at 10⁶ rounds.
    """
    s, q = ZHANG
    assert device_independent_key_fraction(q, s) > 0.07  # the standard CHSH bound is positive at their S, Q
    assert int(di_finite_key_length(1e6, q, s)) == 0
    n_min = rounds_for_positive_key(q, s)
    assert 1e8 < n_min < 1e11


@settings(max_examples=25, deadline=None)
@given(
    q=st.floats(0.0, 0.1),
    dq=st.floats(0.0, 0.05),
    s=st.floats(2.3, 2.82),
    ds=st.floats(0.0, 0.3),
)
def test_the_length_falls_with_q_and_with_one_over_s_and_is_never_negative(
    q: float, dq: float, s: float, ds: float
) -> None:
    """(d) At fixed n and γ (so no optimiser noise), more error or less violation never gives more key."""
    kw = {"test_probability": 0.02}
    n = 1e10
    base = int(di_finite_key_length(n, q, s, **kw))
    noisier = int(di_finite_key_length(n, q + dq, s, **kw))
    weaker = int(di_finite_key_length(n, q, max(s - ds, 2.0), **kw))
    assert 0 <= noisier <= base
    assert 0 <= weaker <= base


def _device(rounds: int, gamma: float, s: float) -> DeviceRounds:
    tests = round(rounds * gamma)
    return DeviceRounds(rounds, tests, tests * float(chsh_win_probability(s)), gamma, 2 * tests)


def test_the_rule_removes_every_ledger_bit_and_stays_below_the_asymptotic_key() -> None:
    device = _device(10**10, 0.01, 2.7)
    rule = DeviceIndependentFiniteKeyLength.adaptive(device)
    small, large = LeakageLedger(), LeakageLedger()
    small.record("verification_hash", 64)
    large.record("verification_hash", 64)
    large.record("cascade_parity", 10_000)
    key_bits = 10**10
    a, b = rule.final_length(key_bits, small), rule.final_length(key_bits, large)
    assert a > 0 and a - b == 10_000
    assert a < device.rounds * device_independent_key_fraction(0.0, 2.7)


def test_an_e91_run_may_ask_for_a_finite_device_independent_key_and_says_why_there_is_none() -> None:
    """E91's uniform settings make 2/3 of the device rounds tests, and both parties disclose them: 4/3 disclosed
    bits per round, more than any round's entropy, so no finite DI key can survive; the reason is one line."""
    cfg = KeyRunConfig(security="device-independent", key_length="finite")
    r = run_key_exchange(WernerPairs(0.99), E91, 100_000, seed=3, config=cfg)
    assert not r.secure and r.final_key_bits == 0 and r.key_length_method == "finite"
    assert r.abort_reason is not None and "\n" not in r.abort_reason
    assert "entropy accumulation" in r.abort_reason


def test_the_cli_accepts_finite_device_independent_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from qkdnet.cli.main import main

    args = ["e91", "--device-independent", "--key-length", "finite", "--visibility", "0.99", "--pairs", "50000"]
    main([*args, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["key_length"] == "finite" and out["security"] == "device-independent"
