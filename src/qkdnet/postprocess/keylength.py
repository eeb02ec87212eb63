"""Final key lengths: from the leakage ledger, and the TLGR finite-key bound.

:func:`secret_key_length` is the leftover-hash-lemma budget of privacy amplification: what Eve may
know about the key (given by the security analysis), minus every charged bit in the ledger, minus
``2·log2(1/ε_pa)``. :func:`finite_key_length` is the finite-key bound of Tomamichel, Lim, Gisin &
Renner, Nat. Commun. 3, 634 (2012), for symmetric BB84/BBM92 with ``n`` key and ``k`` test bits.

>>> from qkdnet.postprocess.ledger import LeakageLedger
>>> ledger = LeakageLedger()
>>> ledger.record("cascade_parity", 1200)
>>> secret_key_length(key_bits=10_000, eve_information_bits=2000.5, ledger=ledger, eps_pa=2.0**-50)
6699
"""

from __future__ import annotations

import math

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess._bits import check_int, check_nonnegative_real, check_probability
from qkdnet.postprocess.ledger import LeakageLedger
from qkdnet.units import binary_entropy

DEFAULT_EPS_PA = 1e-10


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
    mu = finite_key_mu(n, k, eps_sec)
    q_tol = check_probability(qber_tolerance, name="qber_tolerance", open_low=False, open_high=False)
    leak = check_nonnegative_real(leak_ec_bits, name="leak_ec_bits")
    eps_s = check_probability(eps_sec, name="eps_sec")
    eps_c = check_probability(eps_cor, name="eps_cor")
    q = q_tol + mu
    if q >= 0.5:
        return 0
    length = n * (1.0 - binary_entropy(q)) - leak - math.log2(2.0 / (eps_s**2 * eps_c))
    return max(0, math.floor(length))


__all__ = ["DEFAULT_EPS_PA", "finite_key_length", "finite_key_mu", "secret_key_length"]
