"""Final key lengths: from the leakage ledger, and the TLGR finite-key bound.

:func:`secret_key_length` is the leftover-hash-lemma budget of privacy amplification: what Eve may
know about the key (given by the security analysis), minus every charged bit in the ledger, minus
``2·log2(1/ε_pa)``. :func:`finite_key_length` is the finite-key bound of Tomamichel, Lim, Gisin &
Renner, Nat. Commun. 3, 634 (2012), for symmetric BB84/BBM92 with ``n`` key and ``k`` test bits;
:func:`finite_key_length_from_ledger` feeds it from the ledger alone (k, leak_EC and the
verification tag are read there, never passed in). The two rules, :class:`AsymptoticKeyLength` and
:class:`FiniteKeyLength`, give both parties the same length from their own ledgers.

>>> from qkdnet.postprocess.ledger import LeakageLedger
>>> ledger = LeakageLedger()
>>> ledger.record("cascade_parity", 1200)
>>> secret_key_length(key_bits=10_000, eve_information_bits=2000.5, ledger=ledger, eps_pa=2.0**-50)
6699
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from qkdnet.checks import check_int, check_nonnegative_real, check_probability
from qkdnet.errors import InvalidParameter, QberAboveThreshold
from qkdnet.postprocess.ledger import ESTIMATION_SAMPLE, VERIFICATION_HASH, LeakageLedger
from qkdnet.units import binary_entropy

DEFAULT_EPS_PA = 1e-10
DEFAULT_EPS_SEC = 1e-10
QBER_TOLERANCE_GRID: tuple[float, ...] = tuple(i / 1000 for i in range(1, 126))
"""Public error tolerances 0.1 %, 0.2 %, …, 12.5 %: an adaptive run takes the smallest one at or above
its estimate. Beyond 12.5 % no BB84-type key survives (1 − 2h(Q) < 0 from 11 %)."""


def secret_key_length(
    *, key_bits: int, eve_information_bits: float, ledger: LeakageLedger, eps_pa: float = DEFAULT_EPS_PA
) -> int:
    """``⌊key_bits − eve_information_bits − ledger.charged_bits − 2·log2(1/ε_pa)⌋``, clipped at 0.

    ``eve_information_bits`` is Eve's information from the quantum phase (e.g. ``n·h(e_phase)``);
    everything disclosed on the classical channel comes from ``ledger``.
    """
    n = check_int(key_bits, name="key_bits")
    eve = check_nonnegative_real(eve_information_bits, name="eve_information_bits")
    if not isinstance(ledger, LeakageLedger):
        raise InvalidParameter("ledger must be a LeakageLedger")
    eps = check_probability(eps_pa, name="eps_pa")
    length = n - eve - ledger.charged_bits - 2.0 * math.log2(1.0 / eps)
    return max(0, math.floor(length))


def finite_key_mu(n: int, k: int, eps_sec: float) -> float:
    """Statistical margin ``μ = √((n+k)/(nk) · (k+1)/k · ln(2/ε_sec))`` of the TLGR bound."""
    n_ = check_int(n, name="n", minimum=1)
    k_ = check_int(k, name="k", minimum=1)
    eps = check_probability(eps_sec, name="eps_sec")
    return math.sqrt((n_ + k_) / (n_ * k_) * (k_ + 1) / k_ * math.log(2.0 / eps))


def finite_key_length(
    n: int, k: int, qber_tolerance: float, leak_ec_bits: float, eps_sec: float, eps_cor: float
) -> int:
    """Finite-key length of Tomamichel, Lim, Gisin & Renner, Nat. Commun. 3, 634 (2012), Eq. (2).

    ``ℓ = ⌊n·[1 − h(Q_tol + μ)] − leak_EC − log2(2/(ε_sec²·ε_cor))⌋``, clipped at 0, with
    ``μ = √((n+k)/(nk) · (k+1)/k · ln(2/ε_sec))``; ``n`` key bits, ``k`` test bits, and the protocol
    aborts when the test QBER exceeds ``qber_tolerance``. The key is ``(ε_sec + ε_cor)``-secure. When
    ``Q_tol + μ ≥ 1/2`` Eve may know everything and the length is 0.
    """
    eps_c = check_probability(eps_cor, name="eps_cor")
    return _tlgr_length(n, k, qber_tolerance, leak_ec_bits, eps_sec, -math.log2(eps_c))


def _tlgr_length(
    n: int, k: int, qber_tolerance: float, leak_ec_bits: float, eps_sec: float, log2_inv_eps_cor: float
) -> int:
    """The TLGR length with ``log2(1/ε_cor)`` given directly (a long tag's 2⁻ᵗ underflows a float)."""
    mu = finite_key_mu(n, k, eps_sec)
    q_tol = check_probability(qber_tolerance, name="qber_tolerance", open_low=False, open_high=False)
    leak = check_nonnegative_real(leak_ec_bits, name="leak_ec_bits")
    eps_s = check_probability(eps_sec, name="eps_sec")
    q = q_tol + mu
    if q >= 0.5:
        return 0
    length = n * (1.0 - binary_entropy(q)) - leak - 1.0 - 2.0 * math.log2(1.0 / eps_s) - log2_inv_eps_cor
    return max(0, math.floor(length))


def finite_key_length_from_ledger(
    ledger: LeakageLedger, *, key_bits: int, qber_tolerance: float, eps_sec: float = DEFAULT_EPS_SEC
) -> int:
    """TLGR length of a key of ``key_bits`` bits, with everything else read from ``ledger``.

    ``k`` is the ledger's estimation sample; the verification tags' ``t`` bits (of every frame) stand for
    the ``log2(1/ε_cor)`` of the bound, the bits the tags disclosed (a key verified in F frames of ``t/F``
    bits each is F·2^(−t/F)-correct, which the tag length was chosen for); every other charged bit
    (parities, syndromes, anything else disclosed) is ``leak_EC``. So the result is
    ``⌊n·[1 − h(Q_tol + μ)] − charged_bits − 1 − 2·log2(1/ε_sec)⌋``.

    >>> ledger = LeakageLedger()
    >>> ledger.record("estimation_sample", 10**5, charged=False)
    >>> ledger.record("cascade_parity", 170_000)
    >>> ledger.record("verification_hash", 40)
    >>> finite_key_length_from_ledger(ledger, key_bits=10**6, qber_tolerance=0.02, eps_sec=1e-10)
    605526
    """
    if not isinstance(ledger, LeakageLedger):
        raise InvalidParameter("ledger must be a LeakageLedger")
    kinds = ledger.by_kind()
    k = kinds.get(ESTIMATION_SAMPLE, 0)
    tag_bits = kinds.get(VERIFICATION_HASH, 0)
    if k < 1:
        raise InvalidParameter("the ledger records no estimation sample: the finite-key bound needs k ≥ 1 test bits")
    if tag_bits < 1:
        raise InvalidParameter("the ledger records no verification hash: the key is not ε_cor-correct")
    leak = ledger.charged_bits - tag_bits
    return _tlgr_length(key_bits, k, qber_tolerance, leak, eps_sec, float(tag_bits))


@runtime_checkable
class KeyLengthRule(Protocol):
    """How long the final key may be, given the reconciled key's length and what the ledger records."""

    def final_length(self, key_bits: int, ledger: LeakageLedger) -> int:
        """The privacy-amplification output length (0: no key)."""
        ...


@dataclass(frozen=True, slots=True)
class AsymptoticKeyLength:
    """:func:`secret_key_length`: Eve's information from the asymptotic bound, plus the ledger."""

    eve_information_bits: float
    eps_pa: float = DEFAULT_EPS_PA

    def __post_init__(self) -> None:
        secret_key_length(
            key_bits=0, eve_information_bits=self.eve_information_bits, ledger=LeakageLedger(), eps_pa=self.eps_pa
        )

    def final_length(self, key_bits: int, ledger: LeakageLedger) -> int:
        """``secret_key_length(key_bits, eve_information_bits, ledger, eps_pa)``."""
        return secret_key_length(
            key_bits=key_bits, eve_information_bits=self.eve_information_bits, ledger=ledger, eps_pa=self.eps_pa
        )


@dataclass(frozen=True, slots=True)
class FiniteKeyLength:
    """:func:`finite_key_length_from_ledger` for a tolerance chosen among ``tolerance_choices`` public values.

    A protocol that fixes ``Q_tol`` in advance has ``tolerance_choices = 1``. One that picks it after
    the estimate, from a public grid of m values (:meth:`adaptive`), is a family of m fixed
    protocols, one run on each estimate; the secrecy errors add up (the union bound), so each is run
    at ``ε_sec / m`` and the whole is ε_sec-secret.
    """

    qber_tolerance: float
    eps_sec: float = DEFAULT_EPS_SEC
    tolerance_choices: int = 1

    def __post_init__(self) -> None:
        check_probability(self.qber_tolerance, name="qber_tolerance", open_low=False, open_high=False)
        check_probability(self.eps_sec, name="eps_sec")
        check_int(self.tolerance_choices, name="tolerance_choices", minimum=1)

    @classmethod
    def adaptive(
        cls, estimate: float, *, eps_sec: float = DEFAULT_EPS_SEC, grid: Sequence[float] = QBER_TOLERANCE_GRID
    ) -> FiniteKeyLength:
        """The smallest tolerance of ``grid`` at or above ``estimate``; QberAboveThreshold if none is.

        >>> FiniteKeyLength.adaptive(0.0412)
        FiniteKeyLength(qber_tolerance=0.042, eps_sec=1e-10, tolerance_choices=125)
        """
        value = check_probability(estimate, name="estimate", open_low=False, open_high=False)
        if not grid:
            raise InvalidParameter("the tolerance grid is empty")
        above = [q for q in grid if q >= value]
        if not above:
            raise QberAboveThreshold(f"error rate {value:.4f} is above every tolerance (largest {max(grid):.4f})")
        return cls(min(above), eps_sec, len(grid))

    @property
    def eps_sec_per_choice(self) -> float:
        """The secrecy parameter each of the fixed-tolerance protocols runs at."""
        return self.eps_sec / self.tolerance_choices

    def final_length(self, key_bits: int, ledger: LeakageLedger) -> int:
        """The TLGR length from the ledger at this tolerance."""
        return finite_key_length_from_ledger(
            ledger, key_bits=key_bits, qber_tolerance=self.qber_tolerance, eps_sec=self.eps_sec_per_choice
        )


__all__ = [
    "DEFAULT_EPS_PA",
    "DEFAULT_EPS_SEC",
    "QBER_TOLERANCE_GRID",
    "AsymptoticKeyLength",
    "FiniteKeyLength",
    "KeyLengthRule",
    "finite_key_length",
    "finite_key_length_from_ledger",
    "finite_key_mu",
    "secret_key_length",
]
