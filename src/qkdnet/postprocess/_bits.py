"""Validation of key arrays: one-dimensional numpy arrays of 0/1 values, stored as uint8."""

from __future__ import annotations

import math
import numbers

import numpy as np
import numpy.typing as npt

from qkdnet.errors import InvalidParameter

Bits = npt.NDArray[np.uint8]
"""A key or seed: a one-dimensional uint8 array whose values are 0 or 1."""


def as_bits(value: object, *, name: str = "key", copy: bool = True, min_len: int = 0) -> Bits:
    """Check that ``value`` is a 1-D array of 0/1 integers and return it as a contiguous uint8 array."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise InvalidParameter(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.integer):
        if arr.size == 0 and arr.dtype == np.float64:  # np.asarray([]) is float64
            arr = arr.astype(np.uint8)
        else:
            raise InvalidParameter(f"{name} must hold integers 0/1, got dtype {arr.dtype}")
    if arr.size < min_len:
        raise InvalidParameter(f"{name} must hold at least {min_len} bits, got {arr.size}")
    if arr.size and arr.dtype != np.bool_ and (int(arr.min()) < 0 or int(arr.max()) > 1):
        raise InvalidParameter(f"{name} must hold only the values 0 and 1")
    if arr.dtype == np.uint8 and not copy and arr.flags.c_contiguous:
        return arr
    return np.array(arr, dtype=np.uint8, copy=True, order="C")


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
