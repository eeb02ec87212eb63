"""Key lengths: the ledger budget and the TLGR finite-key bound, against hand-computed values."""

from __future__ import annotations

import math

import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess import LeakageLedger, finite_key_length, finite_key_mu, secret_key_length

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
