"""Input validators shared by every layer: each failure is an InvalidParameter naming the offending field.

Layer 0, beside :mod:`qkdnet.errors`, so that the physics, the hardware models and post-processing check
their arguments with the same functions (and the same messages).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from qkdnet.errors import InvalidParameter


def as_float(value: object, name: str) -> float:
    """``value`` as a float, or InvalidParameter naming ``name`` (booleans and non-numbers refused)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidParameter(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if math.isnan(v):
        raise InvalidParameter(f"{name} must be a number, got NaN")
    return v


def finite_non_negative(value: object, name: str) -> float:
    """A finite number ≥ 0."""
    v = as_float(value, name)
    if not math.isfinite(v) or v < 0.0:
        raise InvalidParameter(f"{name} must be finite and non-negative, got {value!r}")
    return v


def positive(value: object, name: str, *, allow_inf: bool = False) -> float:
    """A number > 0, finite unless ``allow_inf``."""
    v = as_float(value, name)
    if v <= 0.0 or (math.isinf(v) and not allow_inf):
        kind = "positive (math.inf allowed)" if allow_inf else "finite and positive"
        raise InvalidParameter(f"{name} must be {kind}, got {value!r}")
    return v


def probability(value: object, name: str) -> float:
    """A probability in [0, 1]."""
    v = as_float(value, name)
    if not 0.0 <= v <= 1.0:
        raise InvalidParameter(f"{name} must be a probability in [0, 1], got {value!r}")
    return v


def werner_fidelity(value: object, name: str) -> float:
    """A fidelity with a Bell state reachable by depolarizing it: [1/4, 1]."""
    v = as_float(value, name)
    if not 0.25 <= v <= 1.0:
        raise InvalidParameter(f"{name} must be a Werner fidelity in [0.25, 1], got {value!r}")
    return v


def check_int(value: object, *, name: str, minimum: int = 0) -> int:
    """Return ``value`` as an int if it is an integer (not a bool) at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameter(f"{name} must be an integer, got {value!r}")
    result = int(value)
    if result < minimum:
        raise InvalidParameter(f"{name} must be >= {minimum}, got {result}")
    return result


def check_probability(value: object, *, name: str, open_low: bool = True, open_high: bool = True) -> float:
    """Return ``value`` as a float in (0, 1) (ends included where asked); reject NaN and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameter(f"{name} must be a real number, got {value!r}")
    result = float(value)
    low_ok = result > 0.0 if open_low else result >= 0.0
    high_ok = result < 1.0 if open_high else result <= 1.0
    if math.isnan(result) or not (low_ok and high_ok):
        lo = "(" if open_low else "["
        hi = ")" if open_high else "]"
        raise InvalidParameter(f"{name} must lie in {lo}0, 1{hi}, got {value!r}")
    return result


def check_nonnegative_real(value: object, *, name: str) -> float:
    """Return ``value`` as a finite float >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameter(f"{name} must be a real number, got {value!r}")
    result = float(value)
    if not math.isfinite(result) or result < 0.0:
        raise InvalidParameter(f"{name} must be finite and >= 0, got {value!r}")
    return result


__all__ = [
    "as_float",
    "check_int",
    "check_nonnegative_real",
    "check_probability",
    "finite_non_negative",
    "positive",
    "probability",
    "werner_fidelity",
]
