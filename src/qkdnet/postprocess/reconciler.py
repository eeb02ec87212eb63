"""Reconcilers by name: how the recipe makes each party of an error-correction protocol.

A :class:`Reconciler` makes Alice's party (she keeps her key and answers or sends what the protocol
discloses) and Bob's (he corrects his key towards hers). Bob's party exposes a
:class:`ReconciliationResult` once done. :data:`RECONCILERS` maps the names a key run may choose
(``KeyRunConfig.reconciler``) to reconcilers; Cascade variants and LDPC codes join it by name.

>>> sorted(RECONCILERS)
['cascade', 'cascade-biconf', 'cascade-option7', 'cascade-option8', 'cascade-original', 'cascade-yanetal', 'ldpc']
>>> get_reconciler("cascade-option8")
CascadeReconciler(variant='option8', frame_bits=100000, passes=None)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from qkdnet.checks import check_int
from qkdnet.errors import InvalidParameter
from qkdnet.postprocess._bits import Bits, IntArray
from qkdnet.postprocess.cascade import CascadeAlice, CascadeBob
from qkdnet.postprocess.cascade_variants import CASCADE_VARIANTS, cascade_variant
from qkdnet.postprocess.ldpc.distributions import DEFAULT_FAMILY as LDPC_FAMILY
from qkdnet.postprocess.ldpc.distributions import DEFAULT_FRAME_BITS as LDPC_FRAME_BITS
from qkdnet.postprocess.ldpc.distributions import FAMILIES as LDPC_FAMILIES
from qkdnet.postprocess.ledger import LeakageLedger
from qkdnet.postprocess.protocol import Party

DEFAULT_FRAME_BITS = 100_000
"""Cascade frame length of the named reconcilers: long enough for f ≈ 1.04–1.06, short enough for memory."""


@runtime_checkable
class ReconciliationResult(Protocol):
    """Bob's outcome: his corrected key and what it cost."""

    @property
    def key(self) -> Bits:
        """Bob's corrected key (equal to Alice's unless reconciliation left errors)."""
        ...

    @property
    def disclosed_bits(self) -> int:
        """Bits disclosed on the public channel (all of them in the ledger too)."""
        ...

    @property
    def rounds(self) -> int:
        """Question-and-answer rounds (0 for a one-way protocol)."""
        ...

    @property
    def corrected_bits(self) -> int:
        """Bits Bob flipped."""
        ...

    @property
    def frame_lengths(self) -> IntArray:
        """Bits of each frame, in key order."""
        ...

    @property
    def failed_frames(self) -> npt.NDArray[np.bool_]:
        """The frames Bob knows he could not reconcile (verification drops them whatever their tags)."""
        ...


@runtime_checkable
class ReconcilingBob(Party, Protocol):
    """Bob's party: a Party whose :attr:`result` raises ReconciliationFailed if it failed."""

    @property
    def result(self) -> ReconciliationResult:
        """The outcome, once done."""
        ...


@runtime_checkable
class ReconcilingAlice(Party, Protocol):
    """Alice's party: a Party that knows, once Bob has set the protocol up, how the key is cut into frames."""

    @property
    def frame_lengths(self) -> IntArray:
        """Bits of each frame, in key order (verification checks the same frames one by one)."""
        ...


@runtime_checkable
class Reconciler(Protocol):
    """Makes the two parties of one reconciliation protocol; each records its disclosures in its ledger."""

    def make_alice(self, key: Bits, *, ledger: LeakageLedger, rng: np.random.Generator) -> ReconcilingAlice:
        """Alice's party for her ``key`` (which it never changes)."""
        ...

    def make_bob(
        self, key: Bits, *, qber_estimate: float, ledger: LeakageLedger, rng: np.random.Generator
    ) -> ReconcilingBob:
        """Bob's party for his noisy ``key``, tuned to the estimated error rate."""
        ...


@dataclass(frozen=True, slots=True)
class CascadeReconciler:
    """Cascade in one of its published variants (see :data:`CASCADE_VARIANTS`), frames reconciled side by side.

    ``frame_bits`` cuts the key into frames of that size (None: one frame); 10⁵-bit frames are where the
    optimised variants reach their best efficiency (Martinez-Mateo et al., QIC 15, 453 (2015)).
    """

    variant: str = "original"
    frame_bits: int | None = DEFAULT_FRAME_BITS
    passes: int | None = None

    def __post_init__(self) -> None:
        cascade_variant(self.variant)
        if self.frame_bits is not None:
            check_int(self.frame_bits, name="frame_bits", minimum=1)
        if self.passes is not None:
            check_int(self.passes, name="passes", minimum=1)

    def make_alice(self, key: Bits, *, ledger: LeakageLedger, rng: np.random.Generator) -> ReconcilingAlice:
        """:class:`CascadeAlice` (she draws nothing: ``rng`` is unused)."""
        return CascadeAlice(key, ledger=ledger)

    def make_bob(
        self, key: Bits, *, qber_estimate: float, ledger: LeakageLedger, rng: np.random.Generator
    ) -> ReconcilingBob:
        """:class:`CascadeBob`, which draws the public permutation seed from ``rng``."""
        frame_bits = None if self.frame_bits is None else min(self.frame_bits, int(key.size))
        return CascadeBob(
            key,
            qber_estimate=qber_estimate,
            ledger=ledger,
            rng=rng,
            passes=self.passes,
            variant=self.variant,
            frame_bits=frame_bits,
        )


@dataclass(frozen=True, slots=True)
class LdpcReconciler:
    """Blind rate-adaptive LDPC reconciliation (Martinez-Mateo, Elkouss & Martin, QIC 12, 791 (2012)).

    One syndrome message and a few reveal rounds per block, so it costs few authentication tags.
    """

    frame_bits: int = LDPC_FRAME_BITS
    family: str = LDPC_FAMILY

    def __post_init__(self) -> None:
        check_int(self.frame_bits, name="frame_bits", minimum=1)
        if self.family not in LDPC_FAMILIES:
            raise InvalidParameter(f"unknown LDPC family {self.family!r}; known: {', '.join(sorted(LDPC_FAMILIES))}")

    def make_alice(self, key: Bits, *, ledger: LeakageLedger, rng: np.random.Generator) -> ReconcilingAlice:
        """:class:`LdpcAlice`, who draws her secret punctured bits from ``rng``."""
        from qkdnet.postprocess.ldpc.parties import LdpcAlice  # here: the codes' scipy.sparse costs start-up

        return LdpcAlice(key, ledger=ledger, rng=rng)

    def make_bob(
        self, key: Bits, *, qber_estimate: float, ledger: LeakageLedger, rng: np.random.Generator
    ) -> ReconcilingBob:
        """:class:`LdpcBob`, which plans the code and the puncturing from ``qber_estimate``."""
        from qkdnet.postprocess.ldpc.parties import LdpcBob

        return LdpcBob(
            key,
            qber_estimate=qber_estimate,
            ledger=ledger,
            rng=rng,
            frame_bits=self.frame_bits,
            family=self.family,
            drop_undecoded=True,  # verification drops them alone: the rest of the block is kept
        )


_NAMED: dict[str, Reconciler] = {"cascade": CascadeReconciler(), "ldpc": LdpcReconciler()}
RECONCILERS: Mapping[str, Reconciler] = MappingProxyType(
    _NAMED | {f"cascade-{name}": CascadeReconciler(variant=name) for name in CASCADE_VARIANTS}
)
"""Reconcilers a key run can name."""


def get_reconciler(name: str) -> Reconciler:
    """The reconciler called ``name``; InvalidParameter naming the known ones otherwise."""
    try:
        return RECONCILERS[name]
    except (KeyError, TypeError):
        raise InvalidParameter(f"unknown reconciler {name!r}; known: {', '.join(sorted(RECONCILERS))}") from None


__all__ = [
    "DEFAULT_FRAME_BITS",
    "RECONCILERS",
    "CascadeReconciler",
    "LdpcReconciler",
    "Reconciler",
    "ReconciliationResult",
    "ReconcilingBob",
    "get_reconciler",
]
