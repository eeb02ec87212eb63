"""Asymptotic security bounds: the secret fraction of each sifted key bit, for trusted or untrusted devices."""

from __future__ import annotations

import math

from qkdnet.errors import InvalidParameter
from qkdnet.units import binary_entropy

#: Tsirelson's bound, the largest CHSH value quantum mechanics allows.
TSIRELSON = 2.0 * math.sqrt(2.0)


def trusted_key_fraction(e_bit: float, e_phase: float) -> float:
    """1 − h(e_bit) − h(e_phase): the key fraction of one key basis with trusted qubit devices.

    With e_bit = e_phase = Q this is Shor & Preskill's 1 − 2h(Q) (PRL 85, 441 (2000)), zero at Q ≈ 11.0 %.

    >>> round(trusted_key_fraction(0.11002786, 0.11002786), 6)
    0.0
    """
    for name, value in (("bit error rate", e_bit), ("phase error rate", e_phase)):
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise InvalidParameter(f"{name} must be in [0, 1], got {value!r}")
    return 1.0 - binary_entropy(e_bit) - binary_entropy(e_phase)


def eve_information_from_chsh(s: float) -> float:
    """Eve's Holevo information per bit bound by the CHSH value: h((1 + √((S/2)² − 1))/2); 1 for S ≤ 2."""
    if not math.isfinite(s):
        raise InvalidParameter(f"CHSH value must be finite, got {s!r}")
    if s <= 2.0:
        return 1.0
    s = min(s, TSIRELSON)
    return binary_entropy((1.0 + math.sqrt((s / 2.0) ** 2 - 1.0)) / 2.0)


def device_independent_key_fraction(qber: float, s: float) -> float:
    """Acín et al., PRL 98, 230501 (2007): r ≥ 1 − h(Q) − h((1 + √((S/2)² − 1))/2) against collective attacks.

    On the Werner line (S = 2√2(1 − 2Q)) it is zero at Q ≈ 7.1 %.

    >>> round(device_independent_key_fraction(0.0, TSIRELSON), 9)
    1.0
    """
    if not math.isfinite(qber) or not 0.0 <= qber <= 1.0:
        raise InvalidParameter(f"QBER must be in [0, 1], got {qber!r}")
    return 1.0 - binary_entropy(qber) - eve_information_from_chsh(s)


def plob_bits_per_use(transmission: float) -> float:
    """Repeaterless capacity −log₂(1 − η) of a pure-loss channel per use: no key rate without a repeater
    exceeds it (Pirandola, Laurenza, Ottaviani & Banchi, Nat. Commun. 8, 15043 (2017)); infinite at η = 1."""
    return math.inf if transmission >= 1.0 else -math.log2(1.0 - transmission)
