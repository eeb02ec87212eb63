"""Security bounds against their published zero crossings and closed forms."""

from __future__ import annotations

import math

import pytest
from scipy.optimize import brentq

from qkdnet.errors import InvalidParameter
from qkdnet.qkd import (
    TSIRELSON,
    device_independent_key_fraction,
    eve_information_from_chsh,
    trusted_key_fraction,
)


def h(p: float) -> float:
    return 0.0 if p in (0.0, 1.0) else -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def test_shor_preskill_zero_at_eleven_percent() -> None:
    """REFERENCES.md: 1 − 2h(Q) is zero at Q = 11.0028 % (Shor & Preskill 2000)."""
    q0 = brentq(lambda q: trusted_key_fraction(q, q), 0.01, 0.2)
    assert q0 == pytest.approx(0.110028, abs=2e-6)


def test_trusted_fraction_is_one_minus_two_entropies() -> None:
    assert trusted_key_fraction(0.03, 0.07) == pytest.approx(1 - h(0.03) - h(0.07))
    assert trusted_key_fraction(0.0, 0.0) == 1.0


def test_device_independent_zero_on_werner_line() -> None:
    """Acín et al. 2007 on the Werner line S = 2√2(1 − 2Q): zero at Q ≈ 7.149 %, S ≈ 2.424."""
    q0 = brentq(lambda q: device_independent_key_fraction(q, TSIRELSON * (1 - 2 * q)), 0.01, 0.1)
    assert q0 == pytest.approx(0.07149, abs=5e-5)
    assert TSIRELSON * (1 - 2 * q0) == pytest.approx(2.424, abs=1e-3)


def test_device_independent_edges() -> None:
    assert eve_information_from_chsh(2.0) == 1.0
    assert eve_information_from_chsh(1.5) == 1.0
    assert eve_information_from_chsh(TSIRELSON) == pytest.approx(0.0, abs=1e-12)
    assert device_independent_key_fraction(0.05, 2.6) == pytest.approx(1 - h(0.05) - h((1 + math.sqrt(1.3**2 - 1)) / 2))


@pytest.mark.parametrize("bad", [-0.01, 1.01, float("nan")])
def test_bounds_reject_bad_rates(bad: float) -> None:
    with pytest.raises(InvalidParameter):
        trusted_key_fraction(bad, 0.0)
    with pytest.raises(InvalidParameter):
        device_independent_key_fraction(bad, 2.5)
