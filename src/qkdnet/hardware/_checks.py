"""Validation helpers shared by the hardware models: every failure names the offending field."""

from __future__ import annotations

import math

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
