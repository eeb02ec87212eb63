"""The leakage ledger: every bit disclosed on the public channel, by kind.

The final key length is computed from this ledger, so a disclosure that is not written here is a
security bug. Bits that are disclosed and then discarded from the key (the parameter-estimation
sample) are recorded with ``charged=False``: shown, but not subtracted.

>>> ledger = LeakageLedger()
>>> ledger.record(ESTIMATION_SAMPLE, 1000, charged=False)
>>> ledger.record(CASCADE_PARITY, 640)
>>> ledger.record(VERIFICATION_HASH, 40)
>>> ledger.charged_bits, ledger.disclosed_bits
(680, 1680)
>>> ledger.by_kind()
{'estimation_sample': 1000, 'cascade_parity': 640, 'verification_hash': 40}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from qkdnet.checks import check_int
from qkdnet.errors import InvalidParameter

ESTIMATION_SAMPLE = "estimation_sample"
"""Key bits revealed to estimate the error rate, then removed from the key (uncharged)."""
CASCADE_PARITY = "cascade_parity"
"""One bit per parity that Alice answers during Cascade."""
VERIFICATION_HASH = "verification_hash"
"""The verification tag, one bit per tag bit."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One disclosure: ``bits`` bits of kind ``kind``; ``charged`` says if they come off the key."""

    kind: str
    bits: int
    charged: bool


class LeakageLedger:
    """Append-only record of disclosed bits; each party keeps its own, and the two must agree."""

    def __init__(self, entries: Iterable[LedgerEntry] = ()) -> None:
        self._entries: list[LedgerEntry] = []
        self._charged_flag: dict[str, bool] = {}
        for entry in entries:
            if not isinstance(entry, LedgerEntry):
                raise InvalidParameter(f"ledger entries must be LedgerEntry, got {entry!r}")
            self.record(entry.kind, entry.bits, charged=entry.charged)

    def record(self, kind: str, bits: int, *, charged: bool = True) -> None:
        """Write ``bits`` disclosed bits of ``kind``; ``charged=False`` for bits removed from the key.

        A kind is either always charged or never: mixing the two is refused, since it is a bug.
        """
        if not isinstance(kind, str) or not kind:
            raise InvalidParameter(f"kind must be a non-empty string, got {kind!r}")
        count = check_int(bits, name="bits")
        if not isinstance(charged, bool):
            raise InvalidParameter(f"charged must be a bool, got {charged!r}")
        previous = self._charged_flag.get(kind)
        if previous is not None and previous != charged:
            raise InvalidParameter(f"kind {kind!r} was recorded with charged={previous}, now {charged}")
        self._charged_flag[kind] = charged
        self._entries.append(LedgerEntry(kind, count, charged))

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        """All entries, in the order they were recorded."""
        return tuple(self._entries)

    @property
    def charged_bits(self) -> int:
        """Bits to subtract from the key length (every charged disclosure)."""
        return sum(e.bits for e in self._entries if e.charged)

    @property
    def disclosed_bits(self) -> int:
        """Every disclosed bit, charged or not."""
        return sum(e.bits for e in self._entries)

    def by_kind(self) -> dict[str, int]:
        """Total disclosed bits per kind, in order of first appearance."""
        totals: dict[str, int] = {}
        for e in self._entries:
            totals[e.kind] = totals.get(e.kind, 0) + e.bits
        return totals

    def charged_by_kind(self) -> dict[str, int]:
        """Total charged bits per kind (uncharged kinds are left out)."""
        return {k: v for k, v in self.by_kind().items() if self._charged_flag[k]}

    def copy(self) -> LeakageLedger:
        """An independent ledger with the same entries (for the other party of a protocol)."""
        return LeakageLedger(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LeakageLedger):
            return NotImplemented
        return self._entries == other._entries

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"LeakageLedger(charged_bits={self.charged_bits}, by_kind={self.by_kind()})"


__all__ = [
    "CASCADE_PARITY",
    "ESTIMATION_SAMPLE",
    "VERIFICATION_HASH",
    "LeakageLedger",
    "LedgerEntry",
]
