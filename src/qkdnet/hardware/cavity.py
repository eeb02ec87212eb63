"""Cavity QED of one atom in an optical cavity: cooperativity, photon efficiency and the photon's shape.

Rates are half-widths given as ordinary frequencies in MHz (the physical rate is 2π × 10⁶ × value per
second): atom-cavity coupling g, cavity field decay κ, atomic dipole decay γ; ``output_coupling`` is the
fraction κ_out/κ of the cavity loss that leaves through the output mirror.

- Cooperativity C = g²/(2κγ).
- A photon made by an adiabatic Raman process (vSTIRAP) leaves the cavity with probability
  P = 2C/(2C + 1) · κ_out/κ, whatever the pump's shape (the cavity-dominated model; Kuhn, "Cavity induced
  interfacing of atoms and light" (2015); Vasilev, Ljunggren & Kuhn, NJP 12, 063024 (2010)). By time
  reversal a node stores an impedance-matched incoming photon with the same probability.
- With a weak pump of Rabi frequency Ω (H = ħΩ/2 (|e><u| + h.c.)) and a fast cavity, the emitting level
  empties at the Raman rate R = Ω²/(2(γ + g²/κ)), and the photon's flux is P·R(t)·exp(−∫R): for a constant
  pump a one-sided exponential of duration 1/R.
- An atom put in its excited state with no pump emits into the cavity with the exact probability
  g²κ/((κ + γ)(g² + κγ)) · κ_out/κ and a flux 2κ|c_a(t)|² from the two coupled amplitudes
  ċ_e = −γc_e − igc_a, ċ_a = −κc_a − igc_e (one excitation, exact for any g, κ, γ).

>>> ritter = CavityQED(g_mhz=5.0, kappa_mhz=3.0, gamma_mhz=3.0, output_coupling=0.9)
>>> round(ritter.cooperativity, 3), round(ritter.emission_efficiency, 3)
(1.389, 0.662)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkdnet.checks import finite_non_negative, positive, probability
from qkdnet.errors import InvalidParameter

FloatArray = NDArray[np.float64]
_ANGULAR_PER_MHZ = 2.0 * math.pi * 1e6


@dataclass(frozen=True, slots=True)
class CavityQED:
    """Cavity-QED parameters (g, κ, γ)/2π in MHz and the output coupling κ_out/κ."""

    g_mhz: float
    kappa_mhz: float
    gamma_mhz: float
    output_coupling: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "g_mhz", finite_non_negative(self.g_mhz, "CavityQED.g_mhz"))
        object.__setattr__(self, "kappa_mhz", positive(self.kappa_mhz, "CavityQED.kappa_mhz"))
        object.__setattr__(self, "gamma_mhz", positive(self.gamma_mhz, "CavityQED.gamma_mhz"))
        object.__setattr__(self, "output_coupling", probability(self.output_coupling, "CavityQED.output_coupling"))

    # ---- rates in 1/s -----------------------------------------------------------------------------
    @property
    def g_per_s(self) -> float:
        """g in rad/s."""
        return self.g_mhz * _ANGULAR_PER_MHZ

    @property
    def kappa_per_s(self) -> float:
        """κ in 1/s (field decay; the intracavity photon number decays at 2κ)."""
        return self.kappa_mhz * _ANGULAR_PER_MHZ

    @property
    def gamma_per_s(self) -> float:
        """γ in 1/s (dipole decay; the excited-state population decays at 2γ in free space)."""
        return self.gamma_mhz * _ANGULAR_PER_MHZ

    # ---- efficiencies -----------------------------------------------------------------------------
    @property
    def cooperativity(self) -> float:
        """C = g²/(2κγ)."""
        return self.g_mhz**2 / (2.0 * self.kappa_mhz * self.gamma_mhz)

    @property
    def intracavity_efficiency(self) -> float:
        """Probability that an adiabatic Raman process puts its photon into the cavity mode: 2C/(2C + 1)."""
        c2 = 2.0 * self.cooperativity
        return c2 / (c2 + 1.0)

    @property
    def emission_efficiency(self) -> float:
        """Probability that the photon leaves through the output mirror: 2C/(2C + 1) · κ_out/κ."""
        return self.intracavity_efficiency * self.output_coupling

    @property
    def absorption_efficiency(self) -> float:
        """Storage probability of an impedance-matched incoming photon (the time reverse of emission)."""
        return self.emission_efficiency

    @property
    def excited_state_emission_efficiency(self) -> float:
        """Exact output probability for an atom starting excited, no pump: g²κ/((κ + γ)(g² + κγ)) · κ_out/κ."""
        g2, k, y = self.g_mhz**2, self.kappa_mhz, self.gamma_mhz
        return g2 * k / ((k + y) * (g2 + k * y)) * self.output_coupling

    # ---- photon shape ------------------------------------------------------------------------------
    def raman_rate_per_s(self, pump_rabi_mhz: ArrayLike) -> FloatArray:
        """Rate R = Ω²/(2(γ + g²/κ)) at which a weak pump empties the emitting level (1/s)."""
        omega = np.asarray(pump_rabi_mhz, dtype=np.float64)
        if not np.all(np.isfinite(omega)) or np.any(omega < 0.0):
            raise InvalidParameter("pump_rabi_mhz must be finite and non-negative")
        omega = omega * _ANGULAR_PER_MHZ
        damping = self.gamma_per_s + self.g_per_s**2 / self.kappa_per_s
        return np.asarray(omega**2 / (2.0 * damping), dtype=np.float64)

    def photon_duration_s(self, pump_rabi_mhz: float) -> float:
        """1/e duration 1/R of the photon made by a constant pump."""
        rate = float(self.raman_rate_per_s(pump_rabi_mhz))
        if rate == 0.0:
            raise InvalidParameter("pump_rabi_mhz must be positive to make a photon")
        return 1.0 / rate

    def photon_flux(self, t_s: ArrayLike, pump_rabi_mhz: ArrayLike) -> FloatArray:
        """Output photon flux (1/s) at times ``t_s`` ≥ 0 for a pump switched on at t = 0.

        ``pump_rabi_mhz`` is a constant, or the pump's Rabi frequency at each of the (sorted) ``t_s``, in
        which case ∫R is integrated by the trapezoid rule on that grid (so the grid should start at 0).
        """
        t = np.asarray(t_s, dtype=np.float64)
        if not np.all(np.isfinite(t)) or np.any(t < 0.0):
            raise InvalidParameter("t_s must be finite and non-negative")
        rate = self.raman_rate_per_s(pump_rabi_mhz)
        if rate.ndim == 0:
            integral = rate * t
        else:
            if rate.shape != t.shape or t.ndim != 1 or np.any(np.diff(t) < 0.0):
                raise InvalidParameter("a time-dependent pump needs one value per time of a sorted 1-D t_s")
            integral = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(t))])
        return np.asarray(self.emission_efficiency * rate * np.exp(-integral), dtype=np.float64)

    def excited_state_flux(self, t_s: ArrayLike) -> FloatArray:
        """Exact output flux 2κ_out|c_a(t)|² (1/s) of an atom that starts excited with an empty cavity."""
        t = np.asarray(t_s, dtype=np.float64)
        if not np.all(np.isfinite(t)) or np.any(t < 0.0):
            raise InvalidParameter("t_s must be finite and non-negative")
        g, k, y = self.g_per_s, self.kappa_per_s, self.gamma_per_s
        # Eigenvalues of [[−γ, −ig], [−ig, −κ]]: −(κ + γ)/2 ± √(((κ − γ)/2)² − g²); c_a(0) = 0, c_e(0) = 1.
        root = np.sqrt(complex(((k - y) / 2.0) ** 2 - g * g))
        mean = -(k + y) / 2.0
        if abs(root) < 1e-12 * max(k, y, g, 1.0):  # critical damping: c_a = −ig t e^{mean t}
            c_a = -1j * g * t * np.exp(mean * t)
        else:
            c_a = -1j * g * (np.exp((mean + root) * t) - np.exp((mean - root) * t)) / (2.0 * root)
        return np.asarray(2.0 * k * self.output_coupling * np.abs(c_a) ** 2, dtype=np.float64)


__all__ = ["CavityQED"]
