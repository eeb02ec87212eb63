"""Units and physical constants. Simulated time is an integer number of picoseconds."""

from __future__ import annotations

import math

SPEED_OF_LIGHT_M_PER_S = 299_792_458.0
PS_PER_S = 10**12
PS_PER_US = 10**6
PS_PER_NS = 10**3


def seconds_to_ps(t_s: float) -> int:
    """Seconds to integer picoseconds (rounded to nearest)."""
    return round(t_s * PS_PER_S)


def ps_to_seconds(t_ps: int | float) -> float:
    """Picoseconds to seconds."""
    return float(t_ps) / PS_PER_S


def db_to_transmission(loss_db: float) -> float:
    """Power transmission of a loss given in dB: 10^(-dB/10)."""
    return float(10.0 ** (-loss_db / 10.0))


def transmission_to_db(transmission: float) -> float:
    """Loss in dB of a power transmission in (0, 1]."""
    return -10.0 * math.log10(transmission)


def binary_entropy(p: float) -> float:
    """h(p) = -p log2 p - (1-p) log2 (1-p), with h(0) = h(1) = 0; p is clipped to [0, 1].

    >>> binary_entropy(0.5)
    1.0
    >>> round(binary_entropy(0.11), 4)
    0.4999
    """
    p = min(max(p, 0.0), 1.0)
    if p in (0.0, 1.0):
        return 0.0
    return -p * math.log2(p) - (1.0 - p) * math.log2(1.0 - p)
