"""Cascade variants as data: each pass's block-size rule and the stopping rule, named after their papers.

A variant is a frozen :class:`CascadeVariant`; :data:`CASCADE_VARIANTS` holds the published ones by name
and :func:`cascade_variant` looks one up. The block size of pass ``i`` in a frame of ``n`` bits follows
from the QBER estimate ``Q`` by the variant's :class:`BlockRule` for that pass (the last rule repeats).

Sources: G. Brassard & L. Salvail, "Secret-key reconciliation by public discussion", EUROCRYPT '93,
LNCS 765, 410 (1994) (the original); J. Martinez-Mateo, C. Pacher, M. Peev, A. Ciurana & V. Martin,
"Demystifying the information reconciliation protocol Cascade", Quantum Inf. Comput. 15, 453 (2015),
arXiv:1407.3257, whose names ("Cascade mod. (1)", "Cascade opt. (2)" … "(8)") each docstring quotes.

>>> cascade_variant("option7").block_sizes(10_000, 0.02)[:4]
(64, 256, 5000, 5000)
>>> cascade_variant("option8").block_sizes(16_384, 0.02)[:4]
(64, 512, 4096, 8192)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from qkdnet.checks import check_int
from qkdnet.errors import InvalidParameter

MIN_QBER_BLOCK = 4
"""Smallest block a QBER-derived rule gives (the original Cascade's floor at very high Q)."""
_POW2_SLACK = 1e-9  # 2^⌈log2 x⌉ must not jump a power of two on float noise when x is one


def check_qber_estimate(qber_estimate: object) -> float:
    """Return the QBER estimate as a float in [0, 0.5] (0: no error expected)."""
    if isinstance(qber_estimate, bool) or not isinstance(qber_estimate, (int, float)):
        raise InvalidParameter(f"qber_estimate must be a number, got {qber_estimate!r}")
    q = float(qber_estimate)
    if not 0.0 <= q <= 0.5:
        raise InvalidParameter(f"qber_estimate must lie in [0, 0.5], got {qber_estimate!r}")
    return q


@dataclass(frozen=True, slots=True)
class BlockRule:
    """How one pass's block size follows from the QBER estimate Q, the frame length n and the previous size.

    ``kind="qber"``: ``k = scale / Q**exponent``, rounded up (to a power of two if ``power_of_two``), at
    least :data:`MIN_QBER_BLOCK`; with ``exponent=0`` it is a fixed size. ``kind="previous"``:
    ``k = scale · k_previous``. ``kind="half_frame"``: ``k = ⌈n/2⌉``. Every size is capped at n.
    """

    kind: Literal["qber", "previous", "half_frame"]
    scale: float = 1.0
    exponent: float = 1.0
    power_of_two: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("qber", "previous", "half_frame"):
            raise InvalidParameter(f"unknown block rule kind {self.kind!r}")
        if not (math.isfinite(self.scale) and self.scale > 0) or not math.isfinite(self.exponent):
            raise InvalidParameter("block rule scale must be finite and > 0, exponent finite")
        if self.kind == "previous" and (self.scale != int(self.scale) or self.scale < 1):
            raise InvalidParameter("a 'previous' rule multiplies by a whole number >= 1")

    def size(self, n: int, q: float, previous: int) -> int:
        """Block size for a frame of ``n`` bits at QBER estimate ``q`` after a pass of ``previous`` bits."""
        if self.kind == "half_frame":
            return max(1, math.ceil(n / 2))
        if self.kind == "previous":
            return min(n, previous * int(self.scale))
        if q == 0.0 and self.exponent > 0:
            return n  # no error expected: the whole frame in one block
        target = self.scale / q**self.exponent
        if target >= n:
            return n
        k = 1 << max(0, math.ceil(math.log2(target) - _POW2_SLACK)) if self.power_of_two else math.ceil(target)
        return min(n, max(MIN_QBER_BLOCK, k))


def _qber(scale: float, *, exponent: float = 1.0, power_of_two: bool = False) -> BlockRule:
    return BlockRule("qber", scale, exponent, power_of_two)


def _previous(factor: int) -> BlockRule:
    return BlockRule("previous", float(factor))


_HALF = BlockRule("half_frame")


@dataclass(frozen=True, slots=True)
class CascadeVariant:
    """One Cascade variant: ``passes`` normal passes sized by ``rules``, then optional BICONF rounds.

    ``rules[i]`` sizes pass ``i`` (the last rule repeats for later passes). If ``biconf_streak > 0``, each
    frame then runs BICONF passes (the parity of a public random half of the frame, BINARY on it if it
    differs, cascading back into every earlier pass) until ``biconf_streak`` of them in a row correct
    nothing. ``reference`` cites the paper and the variant's name there.
    """

    name: str
    reference: str
    rules: tuple[BlockRule, ...]
    passes: int
    biconf_streak: int = 0

    def __post_init__(self) -> None:
        if not self.name or not self.name.isascii():
            raise InvalidParameter("a Cascade variant needs a non-empty ASCII name")
        if not self.rules or not all(isinstance(r, BlockRule) for r in self.rules):
            raise InvalidParameter("a Cascade variant needs at least one BlockRule")
        if self.rules[0].kind == "previous":
            raise InvalidParameter("the first pass cannot be sized from a previous pass")
        check_int(self.passes, name="passes", minimum=1)
        check_int(self.biconf_streak, name="biconf_streak")

    def block_sizes(self, n: int, qber_estimate: float, *, passes: int | None = None) -> tuple[int, ...]:
        """Block size of each normal pass for a frame of ``n`` bits (``passes`` overrides the count).

        A pass after the first whose block would be the whole frame is left out: the frame's parity is
        already known from the first pass, so it could never show a difference.
        """
        size = check_int(n, name="n", minimum=1)
        return tuple(k for i, k in enumerate(self.rule_sizes(size, qber_estimate, passes=passes)) if i == 0 or k < size)

    def rule_sizes(self, n: int, qber_estimate: float, *, passes: int | None = None) -> tuple[int, ...]:
        """What each pass's rule gives for a frame of ``n`` bits, whole-frame passes included."""
        size = check_int(n, name="n", minimum=1)
        count = self.passes if passes is None else check_int(passes, name="passes", minimum=1)
        q = check_qber_estimate(qber_estimate)
        sizes: list[int] = []
        previous = size
        for i in range(count):
            previous = self.rules[min(i, len(self.rules) - 1)].size(size, q, previous)
            sizes.append(previous)
        return tuple(sizes)


ORIGINAL = CascadeVariant(
    name="original",
    reference=(
        "Brassard & Salvail, EUROCRYPT '93, LNCS 765, 410 (1994): k1 = ⌈0.73/Q⌉, doubling, 4 passes "
        "('Cascade orig.' in Martinez-Mateo et al., QIC 15, 453 (2015))"
    ),
    rules=(_qber(0.73), _previous(2)),
    passes=4,
)
"""The original Cascade: k1 = ⌈0.73/Q⌉ (at least 4), k_i = 2·k_(i−1), four passes."""

BICONF = CascadeVariant(
    name="biconf",
    reference=(
        "'Cascade mod. (1)' of Martinez-Mateo et al., QIC 15, 453 (2015), arXiv:1407.3257: two passes with "
        "k1 = ⌈0.92/Q⌉, k2 = 3·k1, then BICONF until 10 consecutive rounds find no error"
    ),
    rules=(_qber(0.92), _previous(3)),
    passes=2,
    biconf_streak=10,
)
"""BICONF-style Cascade: two passes (k1 = ⌈0.92/Q⌉, k2 = 3·k1), then BICONF on random halves until ten
in a row find nothing ('Cascade mod. (1)', Martinez-Mateo et al. 2015)."""

YANETAL = CascadeVariant(
    name="yanetal",
    reference=(
        "'Cascade opt. (2)' of Martinez-Mateo et al., QIC 15, 453 (2015), after H. Yan et al., ICNC 2008: "
        "k1 = ⌈0.8/Q⌉, k2 = 5·k1, k_i = ⌈n/2⌉ for i ≥ 3, 10 passes"
    ),
    rules=(_qber(0.80), _previous(5), _HALF),
    passes=10,
)
"""Yan et al.'s Cascade: k1 = ⌈0.8/Q⌉, k2 = 5·k1, then eight passes of two half-frame blocks
('Cascade opt. (2)', Martinez-Mateo et al. 2015)."""

OPTION7 = CascadeVariant(
    name="option7",
    reference=(
        "'Cascade opt. (7)' of Martinez-Mateo et al., QIC 15, 453 (2015), arXiv:1407.3257: "
        "k1 = 2^⌈log2(1/Q)⌉, k2 = 4·k1, k_i = n/2 for i ≥ 3, 14 passes"
    ),
    rules=(_qber(1.0, power_of_two=True), _previous(4), _HALF),
    passes=14,
)
"""Power-of-two blocks: k1 = 2^⌈log2(1/Q)⌉, k2 = 4·k1, then twelve half-frame passes
('Cascade opt. (7)', Martinez-Mateo et al. 2015)."""

OPTION8 = CascadeVariant(
    name="option8",
    reference=(
        "'Cascade opt. (8)' of Martinez-Mateo et al., QIC 15, 453 (2015), arXiv:1407.3257: with "
        "α = log2(1/Q) − 1/2, k1 = 2^⌈α⌉, k2 = 2^⌈(α + 12)/2⌉, k3 = 4096, k_i = n/2 for i ≥ 4, 14 passes"
    ),
    # 2^⌈α⌉ = 2^⌈log2(2^(−1/2)/Q)⌉ and 2^⌈(α+12)/2⌉ = 2^⌈log2(2^6 · 2^(−1/4) · Q^(−1/2))⌉.
    rules=(
        _qber(2**-0.5, power_of_two=True),
        _qber(64 * 2**-0.25, exponent=0.5, power_of_two=True),
        _qber(4096.0, exponent=0.0),
        _HALF,
    ),
    passes=14,
)
"""The paper's best schedule: k1 = 2^⌈α⌉, k2 = 2^⌈(α+12)/2⌉, k3 = 4096, then half-frame passes, with
α = log2(1/Q) − 1/2 ('Cascade opt. (8)', Martinez-Mateo et al. 2015)."""

CASCADE_VARIANTS: Mapping[str, CascadeVariant] = MappingProxyType(
    {v.name: v for v in (ORIGINAL, BICONF, YANETAL, OPTION7, OPTION8)}
)
"""The published Cascade variants by name."""


def cascade_variant(name: str | CascadeVariant) -> CascadeVariant:
    """The variant called ``name`` (a :class:`CascadeVariant` is returned as is)."""
    if isinstance(name, CascadeVariant):
        return name
    variant = CASCADE_VARIANTS.get(name) if isinstance(name, str) else None
    if variant is None:
        raise InvalidParameter(f"unknown Cascade variant {name!r}; valid names: {', '.join(sorted(CASCADE_VARIANTS))}")
    return variant


__all__ = [
    "BICONF",
    "CASCADE_VARIANTS",
    "MIN_QBER_BLOCK",
    "OPTION7",
    "OPTION8",
    "ORIGINAL",
    "YANETAL",
    "BlockRule",
    "CascadeVariant",
    "cascade_variant",
    "check_qber_estimate",
]
