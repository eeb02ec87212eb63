"""A single-atom quantum memory: relaxation (T1), dephasing (exponential or Gaussian), dynamical decoupling, readout.

The memory is a Pauli channel that depends on how long the qubit waited (see :mod:`qkdnet.hardware.noise`):

- population relaxation toward the fully mixed state, λz = e^(−t/T1), which also costs coherence e^(−t/(2T1));
- dephasing, coherence f(t) = e^(−t/T2) ("exponential") or e^(−(t/T2*)²) ("gaussian": the free-induction
  decay of a Zeeman qubit in fluctuating magnetic fields, Rosenfeld et al., PRL 101, 260403 (2008));
- with :class:`DynamicalDecoupling`, dephasing follows e^(−(t/T_DD)^n) instead, and each refocusing pulse
  depolarizes with a small probability;
- readout: the state is read correctly with probability F_ro in any basis, i.e. every Bloch component
  shrinks by 2F_ro − 1 (exact for the outcome statistics of projective measurements).

Relaxation is taken symmetric (no preferred ground state), which keeps the channel Pauli and the pair
states Bell-diagonal.

>>> m = QuantumMemory(t2_s=100e-6)
>>> round(float(m.coherence(100e-6)), 6) == round(float(np.exp(-1)), 6)
True
>>> round(float(QuantumMemory(t2_s=100e-6, decay="gaussian").coherence(100e-6)), 4)
0.3679
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkdnet.checks import positive, probability
from qkdnet.errors import InvalidParameter
from qkdnet.hardware import noise

Decay = Literal["exponential", "gaussian"]
FloatArray = NDArray[np.float64]


def _waits(wait_s: ArrayLike) -> FloatArray:
    t = np.asarray(wait_s, dtype=np.float64)
    if not np.all(np.isfinite(t)) or np.any(t < 0.0):
        raise InvalidParameter("waiting times must be finite and non-negative")
    return t


@dataclass(frozen=True, slots=True)
class DynamicalDecoupling:
    """Refocusing pulses during storage: coherence e^(−(t/T_DD)^n), and depolarization p per π pulse.

    ``coherence_time_s`` is the decoupled coherence time T_DD, ``stretch_exponent`` n its decay law; one
    pulse every ``pulse_interval_s`` (``math.inf``: pulse errors not modeled) with error ``pulse_error``.
    Körber et al., Nat. Photon. 12, 18 (2018) report > 100 ms for a decoupled single-atom memory.

    >>> dd = DynamicalDecoupling(coherence_time_s=10e-3, pulse_interval_s=1e-3, pulse_error=0.01)
    >>> int(dd.pulses(2.5e-3)), round(float(dd.pulse_shrink(2.5e-3)), 4)
    (2, 0.9801)
    """

    coherence_time_s: float
    stretch_exponent: float = 1.0
    pulse_interval_s: float = math.inf
    pulse_error: float = 0.0

    def __post_init__(self) -> None:
        name = "DynamicalDecoupling"
        object.__setattr__(
            self, "coherence_time_s", positive(self.coherence_time_s, f"{name}.coherence_time_s", allow_inf=True)
        )
        object.__setattr__(self, "stretch_exponent", positive(self.stretch_exponent, f"{name}.stretch_exponent"))
        object.__setattr__(
            self, "pulse_interval_s", positive(self.pulse_interval_s, f"{name}.pulse_interval_s", allow_inf=True)
        )
        object.__setattr__(self, "pulse_error", probability(self.pulse_error, f"{name}.pulse_error"))

    def coherence(self, wait_s: ArrayLike) -> FloatArray:
        """e^(−(t/T_DD)^n)."""
        t = _waits(wait_s)
        return np.asarray(np.exp(-((t / self.coherence_time_s) ** self.stretch_exponent)), dtype=np.float64)

    def pulses(self, wait_s: ArrayLike) -> FloatArray:
        """Number of π pulses applied during a wait: ⌊t / interval⌋."""
        return np.floor(_waits(wait_s) / self.pulse_interval_s)

    def pulse_shrink(self, wait_s: ArrayLike) -> FloatArray:
        """(1 − p)^pulses: what the pulse errors leave of every Bloch component."""
        return np.asarray((1.0 - self.pulse_error) ** self.pulses(wait_s), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class QuantumMemory:
    """Storage noise for a qubit that waits ``wait_s``; every time may be a per-pair array."""

    t2_s: float = math.inf
    t1_s: float = math.inf
    decay: Decay = "exponential"
    dynamical_decoupling: DynamicalDecoupling | None = None
    readout_fidelity: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "t2_s", positive(self.t2_s, "QuantumMemory.t2_s", allow_inf=True))
        object.__setattr__(self, "t1_s", positive(self.t1_s, "QuantumMemory.t1_s", allow_inf=True))
        if self.decay not in ("exponential", "gaussian"):
            raise InvalidParameter(f"QuantumMemory.decay must be 'exponential' or 'gaussian', got {self.decay!r}")
        if self.dynamical_decoupling is not None and not isinstance(self.dynamical_decoupling, DynamicalDecoupling):
            raise InvalidParameter("QuantumMemory.dynamical_decoupling must be a DynamicalDecoupling or None")
        f = probability(self.readout_fidelity, "QuantumMemory.readout_fidelity")
        if f < 0.5:
            raise InvalidParameter(f"QuantumMemory.readout_fidelity must be in [0.5, 1], got {self.readout_fidelity!r}")
        object.__setattr__(self, "readout_fidelity", f)

    def dephasing_coherence(self, wait_s: ArrayLike) -> FloatArray:
        """Coherence left by dephasing alone: free decay, or the decoupled law with DD."""
        t = _waits(wait_s)
        if self.dynamical_decoupling is not None:
            return self.dynamical_decoupling.coherence(t)
        x = t / self.t2_s
        return np.asarray(np.exp(-(x if self.decay == "exponential" else x * x)), dtype=np.float64)

    def population(self, wait_s: ArrayLike) -> FloatArray:
        """What relaxation leaves of the population difference: e^(−t/T1)."""
        return np.asarray(np.exp(-_waits(wait_s) / self.t1_s), dtype=np.float64)

    def coherence(self, wait_s: ArrayLike) -> FloatArray:
        """Remaining coherence |ρ01| / |ρ01(0)|: dephasing × e^(−t/(2 T1)) (× pulse errors with DD)."""
        t = _waits(wait_s)
        c = self.dephasing_coherence(t) * np.sqrt(self.population(t))
        if self.dynamical_decoupling is not None:
            c = c * self.dynamical_decoupling.pulse_shrink(t)
        return np.asarray(c, dtype=np.float64)

    def lambdas(self, wait_s: ArrayLike) -> FloatArray:
        """Pauli shrink factors (…, 3) of storage for ``wait_s``."""
        t = _waits(wait_s)
        population = self.population(t)
        if self.dynamical_decoupling is not None:
            population = population * self.dynamical_decoupling.pulse_shrink(t)
        return noise.relaxation(self.coherence(t), population)

    def lambdas_at(self, wait_s: float) -> tuple[float, float, float]:
        """:meth:`lambdas` for one wait, in plain floats: the network simulator calls it once per stored qubit.

        The same formulas as the array version (the tests hold the two together), without NumPy's
        per-call overhead.
        """
        t = float(wait_s)
        if not (math.isfinite(t) and t >= 0.0):
            raise InvalidParameter(f"waiting times must be finite and non-negative, got {wait_s!r}")
        population = math.exp(-t / self.t1_s)
        dd = self.dynamical_decoupling
        if dd is not None:
            dephasing = math.exp(-((t / dd.coherence_time_s) ** dd.stretch_exponent))
            shrink = (1.0 - dd.pulse_error) ** math.floor(t / dd.pulse_interval_s)
        else:
            x = t / self.t2_s
            dephasing = math.exp(-(x if self.decay == "exponential" else x * x))
            shrink = 1.0
        coherence = dephasing * math.sqrt(population) * shrink
        population *= shrink
        return coherence, coherence, population

    def lambdas_function(self) -> Callable[[float], tuple[float, float, float]]:
        """:meth:`lambdas_at` specialised to this memory (a perfect one returns ones at once): for hot loops."""
        if self.dynamical_decoupling is None and math.isinf(self.t1_s):
            if math.isinf(self.t2_s):
                return _no_decay
            rate = 1.0 / self.t2_s
            if self.decay == "exponential":

                def exponential(wait_s: float) -> tuple[float, float, float]:
                    c = math.exp(-wait_s * rate)
                    return c, c, 1.0

                return exponential

            def gaussian(wait_s: float) -> tuple[float, float, float]:
                x = wait_s * rate
                c = math.exp(-x * x)
                return c, c, 1.0

            return gaussian
        return self.lambdas_at

    @property
    def readout_lambdas(self) -> FloatArray:
        """Readout error as a depolarizing channel: every component shrinks by 2F_ro − 1."""
        return noise.depolarizing(2.0 * self.readout_fidelity - 1.0)


def _no_decay(wait_s: float) -> tuple[float, float, float]:
    return 1.0, 1.0, 1.0


__all__ = ["Decay", "DynamicalDecoupling", "QuantumMemory"]
