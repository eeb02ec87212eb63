"""The choices of one key run (:class:`KeyRunConfig`): the bottom of :mod:`qkdnet.qkd`, read by every stage.

Each stage of the road (records, announcements, sifting, estimation, distillation) takes the config; none of
them defines it, so no stage imports another to learn its options.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess import ClassicalChannel, FiniteKeyLength, get_reconciler

Security = Literal["trusted", "device-independent"]
KeyLength = Literal["finite", "asymptotic"]


@dataclass(frozen=True, slots=True)
class KeyRunConfig:
    """Choices of one key run; the defaults are the trusted-device E91/BBM92 of the walking skeleton.

    ``key_length`` is ``"finite"`` (TLGR from the ledger for trusted devices; for device-independent
    security the entropy accumulation bound of :mod:`qkdnet.qkd.di_finite`, also with the ledger) or
    ``"asymptotic"`` (the asymptotic bound on the phase error, or on S, moved ``statistical_margin_sigmas``
    σ, then the ledger); ``None`` means finite for trusted devices and asymptotic for device-independent
    security (the first-order entropy accumulation bound needs ≳ 10⁷ rounds even at Nadlinger et al.'s
    S and Q, so finite DI keys are asked for, not assumed). A device-independent run with the finite bound,
    or with ``test_probability`` set, uses the protocol's spot-checking form
    (:meth:`~qkdnet.qkd.protocols.ProtocolSpec.spot_checking`): each round is a CHSH test with probability
    ``test_probability`` = γ, otherwise a key round; ``None`` picks the γ that maximises the bound's key
    for the run's round count at the source's expected S and Q
    (:func:`~qkdnet.qkd.di_finite.optimal_announced_test_probability`). ``qber_tolerance`` fixes the TLGR tolerance on
    the phase error (the run aborts above it);
    ``None`` picks it from :data:`~qkdnet.postprocess.QBER_TOLERANCE_GRID` after the estimate, with
    ``eps_sec`` split over the grid. With ``authenticate`` every message is tagged, starting from a
    pre-shared key of ``bootstrap_key_bits``. ``classical_channel`` defaults to the link's fiber delay.
    """

    security: Security = "trusted"
    sample_fraction: float = 0.1
    statistical_margin_sigmas: float = 3.0
    """Phase error (or S) used for privacy amplification is the estimate moved this many σ the safe way."""
    eps_cor: float = 1e-12
    eps_pa: float = 1e-10
    key_length: KeyLength | None = None
    eps_sec: float = 1e-10
    qber_tolerance: float | None = None
    reconciler: str = "cascade"
    authenticate: bool = True
    bootstrap_key_bits: int = 1 << 17
    classical_channel: ClassicalChannel | None = None
    test_probability: float | None = None

    def __post_init__(self) -> None:
        if self.security not in ("trusted", "device-independent"):
            raise InvalidParameter(f"security must be 'trusted' or 'device-independent', got {self.security!r}")
        if not 0.0 < self.sample_fraction < 1.0:
            raise InvalidParameter(f"sample fraction must be in (0, 1), got {self.sample_fraction!r}")
        if not math.isfinite(self.statistical_margin_sigmas) or self.statistical_margin_sigmas < 0:
            raise InvalidParameter("statistical margin must be a finite number of standard deviations >= 0")
        if self.key_length not in (None, "finite", "asymptotic"):
            raise InvalidParameter(f"key_length must be 'finite' or 'asymptotic', got {self.key_length!r}")
        for name in ("eps_cor", "eps_pa", "eps_sec"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise InvalidParameter(f"{name} must be in (0, 1), got {value!r}")
        if self.test_probability is not None:
            gamma = self.test_probability
            if isinstance(gamma, bool) or not isinstance(gamma, float | int) or not 0.0 < gamma < 1.0:
                raise InvalidParameter(f"test probability must be in (0, 1), got {gamma!r}")
            if self.security != "device-independent":
                raise InvalidParameter("a test probability is for device-independent runs (spot-checking CHSH)")
        if self.qber_tolerance is not None:
            FiniteKeyLength(self.qber_tolerance, self.eps_sec)
        get_reconciler(self.reconciler)
        bits = self.bootstrap_key_bits
        if isinstance(bits, bool) or not isinstance(bits, int) or bits < 256 or bits % 256:
            raise InvalidParameter(f"bootstrap_key_bits must be a positive multiple of 256, got {bits!r}")
        if self.classical_channel is not None and not isinstance(self.classical_channel, ClassicalChannel):
            raise InvalidParameter("classical_channel must be a ClassicalChannel")

    @property
    def key_length_method(self) -> KeyLength:
        """The bound actually used: ``key_length``, or its default for the security model."""
        if self.key_length is not None:
            return self.key_length
        return "asymptotic" if self.security == "device-independent" else "finite"

    @property
    def spot_checking(self) -> bool:
        """Whether the run tests a random fraction of its rounds instead of drawing settings uniformly."""
        return self.security == "device-independent" and (
            self.key_length_method == "finite" or self.test_probability is not None
        )


__all__ = ["KeyLength", "KeyRunConfig", "Security"]
