"""Key runs end to end: the published/analytic statistics appear, attacks are caught, keys match or abort."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.attacks import InterceptResend
from qkdnet.errors import InvalidParameter
from qkdnet.qkd import BBM92, E91, KeyRunConfig, run_key_exchange
from qkdnet.quantum import BellDiagonal

from .conftest import FixedStates, WernerPairs

ROOT2 = math.sqrt(2)


def within(value: float, expected: float, stderr: float, sigmas: float = 5.0) -> bool:
    return abs(value - expected) <= sigmas * stderr


@pytest.mark.parametrize("v", [1.0, 0.95, 0.8])
def test_werner_pairs_give_textbook_qber_and_chsh(v: float) -> None:
    r = run_key_exchange(WernerPairs(v), E91, 300_000, seed=11)
    assert within(r.qber, (1 - v) / 2, max(r.qber_stderr, 1e-4))
    assert r.chsh_s is not None and r.chsh_s_stderr is not None
    assert within(r.chsh_s, 2 * ROOT2 * v, r.chsh_s_stderr)
    assert r.sifted_bits == pytest.approx(300_000 * 2 / 9, rel=5 * math.sqrt(7 / 2 / 300_000))


def test_perfect_pairs_are_exact() -> None:
    r = run_key_exchange(WernerPairs(1.0), E91, 50_000, seed=1)
    assert r.qber == 0.0
    assert r.secure
    assert r.alice_key is not None and r.bob_key is not None
    assert np.array_equal(r.alice_key, r.bob_key)


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_intercept_resend_gives_q_p_over_4_and_s_degraded(p: float) -> None:
    """REFERENCES.md: Q = p/4, S = 2√2(1 − p/2); p = 1 gives Q = 25 %, S = √2."""
    r = run_key_exchange(WernerPairs(1.0), E91, 200_000, seed=5, attack=InterceptResend(p))
    assert r.chsh_s is not None and r.chsh_s_stderr is not None
    assert within(r.qber, p / 4, max(r.qber_stderr, 1e-4))
    assert within(r.chsh_s, 2 * ROOT2 * (1 - p / 2), r.chsh_s_stderr)
    if p == 1.0:
        assert not r.secure and r.final_key_bits == 0 and r.alice_key is None
        assert r.abort_reason is not None and "QBER" in r.abort_reason


def test_full_intercept_resend_is_caught_by_bbm92() -> None:
    r = run_key_exchange(WernerPairs(1.0), BBM92, 100_000, seed=9, attack=InterceptResend(1.0))
    assert within(r.qber, 0.25, r.qber_stderr)
    assert not r.secure and r.alice_key is None and r.bob_key is None


@pytest.mark.parametrize("protocol", [E91, BBM92], ids=["e91", "bbm92"])
@pytest.mark.parametrize("v", [0.98, 0.9])
def test_secure_runs_hand_out_identical_keys_of_the_ledger_length(protocol, v: float) -> None:
    r = run_key_exchange(WernerPairs(v), protocol, 1_000_000, seed=3)
    assert r.secure, r.abort_reason
    assert r.alice_key is not None and r.bob_key is not None
    assert np.array_equal(r.alice_key, r.bob_key)
    assert r.final_key_bits == r.alice_key.size > 0
    # the final length never exceeds the asymptotic bound for the key bits that were kept
    kept = r.sifted_bits - r.sample_bits
    assert r.final_key_bits <= kept * r.key_fraction_trusted
    assert r.leakage_by_kind["estimation_sample"] == r.sample_bits


def test_bbm92_trusted_bound_is_shor_preskill() -> None:
    v = 0.9  # Q = 5 %: 1 − 2h(0.05) = 0.427
    r = run_key_exchange(WernerPairs(v), BBM92, 400_000, seed=4)
    h = lambda q: -q * math.log2(q) - (1 - q) * math.log2(1 - q)  # noqa: E731
    # the bound uses estimated rates, so it matches 1 − 2h(Q) within the estimates' spread
    slope = 2 * math.log2((1 - 0.05) / 0.05)
    assert abs(r.key_fraction_trusted - (1 - 2 * h(0.05))) < 5 * slope * r.qber_stderr


def test_device_independent_decides_on_s_and_q() -> None:
    cfg = KeyRunConfig(security="device-independent")
    good = run_key_exchange(WernerPairs(0.98), E91, 400_000, seed=2, config=cfg)
    assert good.secure and good.security == "device-independent"
    assert good.key_fraction_bound == good.key_fraction_device_independent
    # V = 0.85 (Q = 7.5 %) is above the DI threshold of 7.1 % but well below the trusted one
    noisy = run_key_exchange(WernerPairs(0.85), E91, 400_000, seed=2, config=cfg)
    assert not noisy.secure and noisy.key_fraction_trusted > 0
    with pytest.raises(InvalidParameter):
        run_key_exchange(WernerPairs(0.9), BBM92, 1000, seed=1, config=cfg)


def test_separable_pairs_never_give_key() -> None:
    """A classically correlated source (no entanglement) cannot violate CHSH."""
    classical = BellDiagonal(np.array([0.5, 0.5, 0.0, 0.0]))  # (|HH><HH| + |VV><VV|)/2
    r = run_key_exchange(FixedStates(classical), E91, 200_000, seed=8)
    assert r.chsh_s is not None and r.chsh_s <= 2 + 5 * (r.chsh_s_stderr or 0)
    assert not r.secure


def test_same_seed_same_keys_bit_for_bit() -> None:
    a = run_key_exchange(WernerPairs(0.95), E91, 400_000, seed=77)
    b = run_key_exchange(WernerPairs(0.95), E91, 400_000, seed=77)
    c = run_key_exchange(WernerPairs(0.95), E91, 400_000, seed=78)
    assert a.alice_key is not None and b.alice_key is not None and c.alice_key is not None
    assert np.array_equal(a.alice_key, b.alice_key)
    assert not np.array_equal(a.alice_key[:64], c.alice_key[:64])


def test_estimates_never_use_undisclosed_bits() -> None:
    """The QBER estimate comes from the sample: it differs from the observer's full-key truth, within error."""
    r = run_key_exchange(WernerPairs(0.9), E91, 300_000, seed=12)
    assert r.qber != r.observer.true_qber
    assert within(r.qber, r.observer.true_qber, r.qber_stderr)


def test_bad_arguments_raise_typed_errors() -> None:
    with pytest.raises(InvalidParameter):
        run_key_exchange(WernerPairs(0.9), E91, 0, seed=1)
    with pytest.raises(InvalidParameter):
        KeyRunConfig(sample_fraction=1.5)
    with pytest.raises(InvalidParameter):
        InterceptResend(1.5)
