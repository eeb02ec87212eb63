"""Conversions between keys as 0/1 bit arrays (what QKD produces) and bytes (what a pad is)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from qkdnet.errors import InvalidParameter

#: What a key may be handed in as: packed bytes, or a 1-D numpy array of 0/1 bits (MSB first).
KeyMaterial = bytes | bytearray | memoryview | npt.NDArray[Any]


def _checked_bits(bits: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    array = np.asarray(bits)
    if array.ndim != 1:
        raise InvalidParameter(f"bits must be a 1-D array, got shape {array.shape}")
    if array.dtype.kind not in "biu":
        raise InvalidParameter(f"bits must have an integer or bool dtype, got {array.dtype}")
    if array.size and not bool(np.all((array == 0) | (array == 1))):
        raise InvalidParameter(
            "bits must hold only 0 and 1 (a key of packed bytes should be passed as bytes, not an array)"
        )
    return array.astype(np.uint8, copy=False)


def _pack_bits(bits: npt.ArrayLike, *, drop_tail: bool) -> npt.NDArray[np.uint8]:
    array = _checked_bits(bits)
    tail = array.size % 8
    if tail and not drop_tail:
        raise InvalidParameter(
            f"{array.size} bits is not a whole number of bytes ({tail} bits left over); "
            "pass drop_tail=True to drop the last bits"
        )
    return np.packbits(array[: array.size - tail], bitorder="big")


def bits_to_bytes(bits: npt.ArrayLike, *, drop_tail: bool = False) -> bytes:
    """Pack a 1-D array of 0/1 bits into bytes, most significant bit first.

    The length must be a multiple of 8, unless ``drop_tail=True``, which drops the last ``len % 8``
    bits (safe for a pad: both parties drop the same bits of their identical keys).

    >>> bits_to_bytes(np.array([0, 1, 0, 0, 0, 0, 0, 1], dtype=np.uint8))
    b'A'
    """
    packed = _pack_bits(bits, drop_tail=drop_tail)
    return packed.tobytes()


def bytes_to_bits(data: bytes | bytearray | memoryview) -> npt.NDArray[np.uint8]:
    """Unpack bytes into a 1-D uint8 array of 0/1 bits, most significant bit first."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidParameter(f"data must be bytes-like, got {type(data).__name__}")
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="big")


def key_to_bytearray(key: KeyMaterial) -> bytearray:
    """A private, mutable copy of ``key`` (bytes-like, or a 0/1 bit array with the tail bits dropped)."""
    if isinstance(key, bytes | bytearray | memoryview):
        return bytearray(key)
    if isinstance(key, np.ndarray):
        packed = _pack_bits(key, drop_tail=True)
        try:
            return bytearray(packed.data)
        finally:
            packed.fill(0)  # the intermediate packed copy is ours: zero it
    raise InvalidParameter(f"a key must be bytes or a numpy array of 0/1 bits, got {type(key).__name__}")
