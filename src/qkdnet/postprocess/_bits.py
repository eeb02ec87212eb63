"""Validation of key arrays (one-dimensional numpy arrays of 0/1 values, stored as uint8), and their frames."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qkdnet.checks import check_int
from qkdnet.errors import InvalidParameter

Bits = npt.NDArray[np.uint8]
"""A key or seed: a one-dimensional uint8 array whose values are 0 or 1."""
IntArray = npt.NDArray[np.int64]


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


def uniform_frames(key_bits: int, frame_bits: int | None) -> IntArray:
    """Lengths of ``frame_bits``-bit frames (the last may be shorter) of a ``key_bits``-bit key; None: one frame."""
    n = check_int(key_bits, name="key_bits", minimum=1)
    if frame_bits is None or check_int(frame_bits, name="frame_bits", minimum=1) >= n:
        return np.array([n], dtype=np.int64)
    lengths = np.full(-(-n // frame_bits), frame_bits, dtype=np.int64)
    lengths[-1] = n - frame_bits * (lengths.size - 1)
    return lengths
