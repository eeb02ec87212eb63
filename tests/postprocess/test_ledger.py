"""The leakage ledger: arithmetic, kinds, validation."""

from __future__ import annotations

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess import (
    CASCADE_PARITY,
    ESTIMATION_SAMPLE,
    VERIFICATION_HASH,
    LeakageLedger,
    LedgerEntry,
)


def test_charged_and_uncharged_bits_add_up() -> None:
    ledger = LeakageLedger()
    ledger.record(ESTIMATION_SAMPLE, 5000, charged=False)
    ledger.record(CASCADE_PARITY, 700)
    ledger.record(CASCADE_PARITY, 312)
    ledger.record(VERIFICATION_HASH, 40)
    assert ledger.charged_bits == 700 + 312 + 40
    assert ledger.disclosed_bits == 5000 + 700 + 312 + 40
    assert ledger.by_kind() == {ESTIMATION_SAMPLE: 5000, CASCADE_PARITY: 1012, VERIFICATION_HASH: 40}
    assert ledger.charged_by_kind() == {CASCADE_PARITY: 1012, VERIFICATION_HASH: 40}
    assert len(ledger) == 4
    assert ledger.entries[0] == LedgerEntry(ESTIMATION_SAMPLE, 5000, False)


def test_empty_ledger_charges_nothing() -> None:
    ledger = LeakageLedger()
    assert (ledger.charged_bits, ledger.disclosed_bits, ledger.by_kind()) == (0, 0, {})


def test_zero_bits_and_numpy_integers_are_accepted() -> None:
    ledger = LeakageLedger()
    ledger.record("cascade_parity", 0)
    ledger.record("cascade_parity", np.int64(9))  # type: ignore[arg-type]
    assert ledger.charged_bits == 9
    assert isinstance(ledger.entries[1].bits, int)


@pytest.mark.parametrize("bits", [-1, 1.5, 2.0, True, "3", None])
def test_bad_bit_counts_are_refused(bits: object) -> None:
    with pytest.raises(InvalidParameter):
        LeakageLedger().record("cascade_parity", bits)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["", 3, None])
def test_bad_kinds_are_refused(kind: object) -> None:
    with pytest.raises(InvalidParameter):
        LeakageLedger().record(kind, 1)  # type: ignore[arg-type]


def test_charged_must_be_a_bool_and_consistent_per_kind() -> None:
    ledger = LeakageLedger()
    with pytest.raises(InvalidParameter):
        ledger.record("x", 1, charged=1)  # type: ignore[arg-type]
    ledger.record(ESTIMATION_SAMPLE, 10, charged=False)
    with pytest.raises(InvalidParameter):
        ledger.record(ESTIMATION_SAMPLE, 10)
    assert ledger.disclosed_bits == 10


def test_copy_is_independent_and_compares_equal() -> None:
    ledger = LeakageLedger()
    ledger.record(CASCADE_PARITY, 3)
    twin = ledger.copy()
    assert twin == ledger
    twin.record(CASCADE_PARITY, 1)
    assert twin != ledger
    assert ledger.charged_bits == 3
    assert LeakageLedger(ledger.entries) == ledger
    assert "charged_bits=3" in repr(ledger)
