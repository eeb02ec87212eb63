"""Bits <-> bytes conversions, and keys handed in as bit arrays."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkdnet.errors import InvalidParameter
from qkdnet.otp import PadLedger, bits_to_bytes, bytes_to_bits


def test_msb_first() -> None:
    bits = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert bits_to_bytes(np.array(bits, dtype=np.uint8)) == b"\x80\x01"
    assert bytes_to_bits(b"\x80\x01").tolist() == bits


@given(st.binary(max_size=64))
def test_round_trip(data: bytes) -> None:
    bits = bytes_to_bits(data)
    assert bits.dtype == np.uint8
    assert bits_to_bytes(bits) == data


@given(st.lists(st.integers(0, 1), max_size=100))
def test_drop_tail_matches_plain_python(bits: list[int]) -> None:
    whole = len(bits) - len(bits) % 8
    expected = bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, whole, 8))
    assert bits_to_bytes(np.array(bits, dtype=np.uint8), drop_tail=True) == expected
    assert bits_to_bytes(np.array(bits, dtype=bool), drop_tail=True) == expected


def test_tail_refused_by_default() -> None:
    with pytest.raises(InvalidParameter, match="3 bits left over"):
        bits_to_bytes(np.ones(11, dtype=np.uint8))


@pytest.mark.parametrize(
    "bad",
    [
        np.array([0, 1, 2, 0, 0, 0, 0, 0], dtype=np.uint8),
        np.zeros((2, 8), dtype=np.uint8),
        np.zeros(8, dtype=np.float64),
    ],
)
def test_bad_bit_arrays(bad: np.ndarray) -> None:
    with pytest.raises(InvalidParameter):
        bits_to_bytes(bad)
    with pytest.raises(InvalidParameter):
        PadLedger(bad)


def test_bytes_to_bits_refuses_non_bytes() -> None:
    with pytest.raises(InvalidParameter):
        bytes_to_bits("abc")  # type: ignore[arg-type]


def test_ledger_accepts_bits_or_bytes() -> None:
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2, size=8 * 50 + 5, dtype=np.uint8)  # a tail of 5 bits is dropped
    key = bits_to_bytes(bits, drop_tail=True)
    from_bits, from_bytes = PadLedger(bits), PadLedger(key)
    assert from_bits.size_bytes == from_bytes.size_bytes == 50
    assert from_bits.take(50).read() == from_bytes.take(50).read() == bytearray(key)
    assert bits.sum() > 0  # the caller's array is left alone


def test_ledger_refuses_other_key_types() -> None:
    with pytest.raises(InvalidParameter, match="bytes or a numpy array"):
        PadLedger([0, 1, 1, 0])  # type: ignore[arg-type]
