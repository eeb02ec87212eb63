"""Photonic components between the atoms: frequency conversion and the Bell-state-measurement station.

The :class:`BellStateMeasurement` is the usual linear-optics station: a 50:50 beam splitter, a polarizing
beam splitter in each output and four non-photon-number-resolving detectors. Two photons polarization-
entangled with their atoms give two clicks in orthogonal polarizations, in the same output for Ψ+ and
in different outputs for Ψ− (Φ± bunch into one detector and are lost), so at most 2 of the 4 Bell states
are identified: success probability ≤ 1/2 (Lütkenhaus, Calsamiglia & Suominen, PRA 59, 3295 (1999)).
Partly distinguishable photons (mode overlap M, the two-photon interference visibility of ideal single
photons) still give the same click patterns, but the heralded atom pair is (1 + M)/2 the announced Ψ±
and (1 − M)/2 the other one: a dephasing with λ = (M, M, 1).

>>> bsm = BellStateMeasurement(Detector(0.9), two_photon_overlap=0.9)
>>> bsm.max_success_probability, noise.bell_weights(bsm.interference_lambdas).round(3).tolist()
(0.5, [0.95, 0.05, 0.0, 0.0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qkdnet.checks import finite_non_negative, positive, probability, werner_fidelity
from qkdnet.errors import InvalidParameter
from qkdnet.hardware import noise
from qkdnet.hardware.components import Detector, werner_visibility
from qkdnet.quantum import BellDiagonal

__all__ = ["BellStateMeasurement", "FrequencyConverter", "HeraldProbabilities"]


@dataclass(frozen=True, slots=True)
class FrequencyConverter:
    """Quantum frequency conversion (e.g. Rb 780 nm → 1522 nm telecom), polarization-preserving.

    ``efficiency``: end-to-end device efficiency; ``noise_rate_hz``: noise photons per second it adds at its
    output inside the detection filter (Raman and spontaneous parametric noise of the pump);
    ``process_fidelity``: fidelity of the polarization qubit's passage (depolarizing).
    van Leent et al., PRL 124, 010510 (2020): 57 % external efficiency at 1522 nm.

    >>> qfc = FrequencyConverter(efficiency=0.57, noise_rate_hz=100.0)
    >>> round(qfc.noise_probability(1e-6), 6)
    0.0001
    """

    efficiency: float
    noise_rate_hz: float = 0.0
    process_fidelity: float = 1.0
    input_wavelength_nm: float = 780.0
    output_wavelength_nm: float = 1522.0

    def __post_init__(self) -> None:
        name = "FrequencyConverter"
        object.__setattr__(self, "efficiency", probability(self.efficiency, f"{name}.efficiency"))
        object.__setattr__(self, "noise_rate_hz", finite_non_negative(self.noise_rate_hz, f"{name}.noise_rate_hz"))
        object.__setattr__(self, "process_fidelity", werner_fidelity(self.process_fidelity, f"{name}.process_fidelity"))
        for field in ("input_wavelength_nm", "output_wavelength_nm"):
            object.__setattr__(self, field, positive(getattr(self, field), f"{name}.{field}"))

    def noise_probability(self, window_s: float) -> float:
        """Probability of at least one noise photon at the output in a window: 1 − e^(−rate·window)."""
        w = positive(window_s, "window_s", allow_inf=True)
        return 1.0 if math.isinf(w) and self.noise_rate_hz > 0 else -math.expm1(-self.noise_rate_hz * w)

    @property
    def lambdas(self) -> NDArray[np.float64]:
        """Pauli shrink factors of the conversion (depolarizing, V = (4F − 1)/3)."""
        return noise.depolarizing(werner_visibility(self.process_fidelity))


@dataclass(frozen=True, slots=True)
class HeraldProbabilities:
    """Per attempt: a herald with both photons in a valid pattern (true) or one completed by noise (false)."""

    true: float
    false: float

    @property
    def total(self) -> float:
        """Any herald."""
        return self.true + self.false

    @property
    def false_fraction(self) -> float:
        """Fraction of heralds that are false (0 when nothing heralds)."""
        return 0.0 if self.total == 0.0 else self.false / self.total


@dataclass(frozen=True, slots=True)
class BellStateMeasurement:
    """A linear-optics Bell-state measurement on two photons with four detectors of type ``detector``.

    ``resolved_bell_states``: 2 (Ψ+ and Ψ−) or 1 (Ψ− only); ``two_photon_overlap``: mode overlap M of the
    photons (HOM visibility for ideal single photons).
    """

    detector: Detector
    two_photon_overlap: float = 1.0
    resolved_bell_states: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.detector, Detector):
            raise InvalidParameter("BellStateMeasurement.detector must be a Detector")
        object.__setattr__(
            self, "two_photon_overlap", probability(self.two_photon_overlap, "BellStateMeasurement.two_photon_overlap")
        )
        if self.resolved_bell_states not in (1, 2) or isinstance(self.resolved_bell_states, bool):
            raise InvalidParameter(
                f"BellStateMeasurement.resolved_bell_states must be 1 or 2, got {self.resolved_bell_states!r}"
            )
        object.__setattr__(self, "resolved_bell_states", int(self.resolved_bell_states))

    @property
    def max_success_probability(self) -> float:
        """Success with two photons and perfect detectors: resolved states / 4 (≤ 1/2 for linear optics)."""
        return self.resolved_bell_states / 4.0

    @property
    def interference_lambdas(self) -> NDArray[np.float64]:
        """What imperfect two-photon interference does to the heralded pair: λ = (M, M, 1)."""
        return noise.dephasing(self.two_photon_overlap)

    def herald_probabilities(self, p_a: float, p_b: float, p_noise: float) -> HeraldProbabilities:
        """Herald probabilities per attempt.

        ``p_a``, ``p_b``: probability that each node's photon reaches the station and is detected;
        ``p_noise``: probability of a noise click (dark count, noise photon) in one detector per window.
        A herald is exactly two clicks forming a resolved pattern with the other detectors silent:

        - true: both photons in a resolved pattern, R/4 · p_a p_b · (1 − p_n)²;
        - false: the two photons bunched (1/2) or one photon, plus a noise click in one of its R valid
          partner detectors, R p_n (1 − p_n)²; or two noise clicks in one of the 2R valid pairs.
        """
        pa = probability(p_a, "p_a")
        pb = probability(p_b, "p_b")
        pn = probability(p_noise, "p_noise")
        r = self.resolved_bell_states
        silent2 = (1.0 - pn) ** 2
        true = r / 4.0 * pa * pb * silent2
        one_photon = pa * (1.0 - pb) + pb * (1.0 - pa) + 0.5 * pa * pb
        false = one_photon * r * pn * silent2 + (1.0 - pa) * (1.0 - pb) * 2 * r * pn * pn * silent2
        return HeraldProbabilities(true=true, false=false)

    def pair_state(self, source_lambdas: NDArray[np.float64]) -> BellDiagonal:
        """Heralded pair (after the Pauli correction) from photons whose own noise is ``source_lambdas``."""
        return BellDiagonal._unchecked(noise.bell_weights(noise.compose(source_lambdas, self.interference_lambdas)))
