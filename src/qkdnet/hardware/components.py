"""Physical components of a link: optical fiber, single-photon detector, atom-cavity node.

Each is a frozen, validated dataclass that turns its parameters into probabilities, delays and
noise strengths; none of them samples anything. Names carry their units (``_km``, ``_s``,
``_db_per_km``); efficiencies and fidelities are plain probabilities.

>>> fiber = Fiber(length_km=0.06, attenuation_db_per_km=3.5)
>>> round(fiber.transmission, 4), fiber.delay_ps
(0.9528, 293803)
>>> node = AtomCavityNode("A", photon_generation_efficiency=0.5, atom_photon_fidelity=0.925, t2_s=100e-6)
>>> round(node.atom_photon_visibility, 3)
0.9
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkdnet.checks import as_float, finite_non_negative, positive, probability, werner_fidelity
from qkdnet.errors import InvalidParameter
from qkdnet.hardware import noise
from qkdnet.hardware.cavity import CavityQED
from qkdnet.hardware.memory import Decay, DynamicalDecoupling, QuantumMemory
from qkdnet.units import SPEED_OF_LIGHT_M_PER_S, db_to_transmission, seconds_to_ps

#: Group index of standard single-mode fiber (≈ 4.90 µs/km); SMF-28 datasheet value [U], see REFERENCES.md.
DEFAULT_GROUP_INDEX = 1.468


#: Typical attenuation of single-mode fiber (dB/km) at the wavelengths this project meets, each with its source.
FIBER_ATTENUATION_DB_PER_KM: dict[float, tuple[float, str]] = {
    780.0: (3.5, "≈ 3–4 dB/km for 780 nm single-mode fiber (Jeong et al. 2014 use 3 dB/km [V2]; REFERENCES.md)"),
    1310.0: (0.33, "SMF-28 O-band ≈ 0.32–0.35 dB/km, datasheet [U]"),
    1550.0: (0.2, "0.2 dB/km at 1550 nm, Sangouard et al., RMP 83, 33 (2011) [V]"),
}


def fiber_attenuation_db_per_km(wavelength_nm: float) -> float:
    """Attenuation at ``wavelength_nm`` in [780, 1625] nm: power-law interpolation of the table above.

    Between 780 and 1310 nm the loss falls roughly as Rayleigh scattering does; from 1310 nm on the
    C-band value holds up to the L band. 1522 nm (van Leent et al. 2022's telecom photons) gives ≈ 0.21.

    >>> fiber_attenuation_db_per_km(1550.0), round(fiber_attenuation_db_per_km(1522.0), 3)
    (0.2, 0.211)
    """
    lam = positive(wavelength_nm, "wavelength_nm")
    if not 780.0 <= lam <= 1625.0:
        raise InvalidParameter(f"wavelength_nm must be in [780, 1625] nm (the tabulated range), got {wavelength_nm!r}")
    if lam >= 1550.0:
        return FIBER_ATTENUATION_DB_PER_KM[1550.0][0]
    points = sorted(FIBER_ATTENUATION_DB_PER_KM)
    hi = next(p for p in points if p >= lam)
    lo = max(p for p in points if p <= lam)
    if hi == lo:
        return FIBER_ATTENUATION_DB_PER_KM[lo][0]
    a_lo, a_hi = FIBER_ATTENUATION_DB_PER_KM[lo][0], FIBER_ATTENUATION_DB_PER_KM[hi][0]
    exponent = math.log(a_hi / a_lo) / math.log(hi / lo)
    return float(a_lo * (lam / lo) ** exponent)


def werner_visibility(fidelity: float) -> float:
    """Visibility V of the Werner state V|Φ+><Φ+| + (1 − V) I/4 whose fidelity is F: V = (4F − 1)/3.

    >>> werner_visibility(1.0), werner_visibility(0.25)
    (1.0, 0.0)
    """
    return (4.0 * werner_fidelity(fidelity, "fidelity") - 1.0) / 3.0


@dataclass(frozen=True, slots=True)
class Fiber:
    """A fiber of ``length_km`` with loss ``attenuation_db_per_km`` and group index ``group_index``.

    Transmission 10^(−αL/10); one-way delay L·n_g/c. Polarization (or phase) noise of the photonic qubit:
    ``depolarization_per_km`` p_d and ``dephasing_per_km`` p_φ per km compose to the Pauli shrink factors
    λ = (1 − p_d)^L on all three axes and (1 − 2p_φ)^L on the two transverse ones.

    >>> Fiber(1.0, 0.2).transmission == 10 ** (-0.02)
    True
    """

    length_km: float
    attenuation_db_per_km: float
    group_index: float = DEFAULT_GROUP_INDEX
    depolarization_per_km: float = 0.0
    dephasing_per_km: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "length_km", finite_non_negative(self.length_km, "Fiber.length_km"))
        for name in ("depolarization_per_km", "dephasing_per_km"):
            object.__setattr__(self, name, probability(getattr(self, name), f"Fiber.{name}"))
        if self.dephasing_per_km > 0.5:
            raise InvalidParameter(f"Fiber.dephasing_per_km must be at most 0.5, got {self.dephasing_per_km!r}")
        object.__setattr__(
            self,
            "attenuation_db_per_km",
            finite_non_negative(self.attenuation_db_per_km, "Fiber.attenuation_db_per_km"),
        )
        n = positive(self.group_index, "Fiber.group_index")
        if n < 1.0:
            raise InvalidParameter(f"Fiber.group_index must be at least 1, got {self.group_index!r}")
        object.__setattr__(self, "group_index", n)

    @property
    def loss_db(self) -> float:
        """Total loss in dB: α·L."""
        return self.attenuation_db_per_km * self.length_km

    @property
    def transmission(self) -> float:
        """Probability that a photon entering the fiber leaves it: 10^(−αL/10)."""
        return db_to_transmission(self.loss_db)

    @property
    def delay_s(self) -> float:
        """One-way propagation time in seconds: L·n_g/c."""
        return self.length_km * 1e3 * self.group_index / SPEED_OF_LIGHT_M_PER_S

    @property
    def delay_ps(self) -> int:
        """One-way propagation time in integer picoseconds (rounded)."""
        return seconds_to_ps(self.delay_s)

    @property
    def noise_lambdas(self) -> NDArray[np.float64]:
        """Pauli shrink factors (λx, λy, λz) of the fiber's polarization noise over its length."""
        depol = (1.0 - self.depolarization_per_km) ** self.length_km
        phase = (1.0 - 2.0 * self.dephasing_per_km) ** self.length_km
        return noise.compose(noise.depolarizing(depol), noise.dephasing(phase))

    def with_length(self, length_km: float) -> Fiber:
        """The same fiber type at another length."""
        return replace(self, length_km=length_km)

    @classmethod
    def at_wavelength(cls, length_km: float, wavelength_nm: float, **kwargs: float) -> Fiber:
        """Standard fiber at a wavelength, its attenuation from :func:`fiber_attenuation_db_per_km`.

        >>> round(Fiber.at_wavelength(1.0, 780.0).attenuation_db_per_km, 2)
        3.5
        """
        return cls(length_km, fiber_attenuation_db_per_km(wavelength_nm), **kwargs)


@dataclass(frozen=True, slots=True)
class Detector:
    """A single-photon detector.

    - ``efficiency``: probability that a photon inside the detection window clicks;
    - ``dark_count_probability``: probability of a dark click in one detection window;
    - ``window_s`` (``math.inf``: no gate) opening ``window_open_s`` after the photon's nominal arrival
      (negative: before it); ``jitter_fwhm_s``: Gaussian timing jitter. A photon of exponential shape
      (1/e time τ) is then registered in the window with the probability of an exponentially modified
      Gaussian falling in it (:meth:`window_acceptance`);
    - ``dead_time_s``: after a click the detector is blind; a non-paralyzable detector facing clicks at
      rate n registers n/(1 + nτ_d) (saturation, :meth:`registered_rate_hz`).

    >>> d = Detector(efficiency=0.5, dark_count_probability=0.01)
    >>> round(d.click_probability(1.0), 4)
    0.505
    """

    efficiency: float
    dark_count_probability: float = 0.0
    dead_time_s: float = 0.0
    jitter_fwhm_s: float = 0.0
    window_s: float = math.inf
    window_open_s: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "efficiency", probability(self.efficiency, "Detector.efficiency"))
        object.__setattr__(
            self,
            "dark_count_probability",
            probability(self.dark_count_probability, "Detector.dark_count_probability"),
        )
        for name in ("dead_time_s", "jitter_fwhm_s"):
            object.__setattr__(self, name, finite_non_negative(getattr(self, name), f"Detector.{name}"))
        object.__setattr__(self, "window_s", positive(self.window_s, "Detector.window_s", allow_inf=True))
        opening = as_float(self.window_open_s, "Detector.window_open_s")
        if not math.isfinite(opening):
            raise InvalidParameter(f"Detector.window_open_s must be finite, got {self.window_open_s!r}")
        object.__setattr__(self, "window_open_s", opening)

    @classmethod
    def from_dark_count_rate(
        cls, efficiency: float, *, dark_count_rate_hz: float, window_s: float, **kwargs: float
    ) -> Detector:
        """A detector whose dark counts arrive as a Poisson process: p_dark = 1 − exp(−rate·window).

        >>> d = Detector.from_dark_count_rate(0.6, dark_count_rate_hz=1e3, window_s=1e-3)
        >>> round(d.dark_count_probability, 6), d.window_s
        (0.632121, 0.001)
        """
        rate = finite_non_negative(dark_count_rate_hz, "dark_count_rate_hz")
        window = positive(window_s, "window_s")
        return cls(efficiency=efficiency, dark_count_probability=-math.expm1(-rate * window), window_s=window, **kwargs)

    @property
    def jitter_sigma_s(self) -> float:
        """Standard deviation of the Gaussian jitter: FWHM / (2√(2 ln 2))."""
        return self.jitter_fwhm_s / (2.0 * math.sqrt(2.0 * math.log(2.0)))

    def window_acceptance(self, photon_decay_time_s: float = 0.0) -> float:
        """Probability that a photon's registered time E + J falls in the window.

        E ~ Exp(τ) is the photon's emission profile (τ = 0: a sharp photon), J ~ N(0, σ) the jitter; the
        window is [t_open, t_open + W]. With F the CDF of E + J (exponentially modified Gaussian), the
        acceptance is F(t_open + W) − F(t_open).
        """
        tau = finite_non_negative(photon_decay_time_s, "photon_decay_time_s")
        lo = self.window_open_s
        hi = lo + self.window_s
        return max(0.0, _emg_cdf(hi, tau, self.jitter_sigma_s) - _emg_cdf(lo, tau, self.jitter_sigma_s))

    def detection_probability(self, photon_decay_time_s: float = 0.0) -> float:
        """Probability that an arriving photon clicks inside the window: efficiency × window acceptance."""
        return self.efficiency * self.window_acceptance(photon_decay_time_s)

    def live_fraction(self, click_rate_hz: float) -> float:
        """Live fraction of a non-paralyzable detector that would click at ``click_rate_hz``: 1/(1 + nτ_d)."""
        n = finite_non_negative(click_rate_hz, "click_rate_hz")
        return 1.0 / (1.0 + n * self.dead_time_s)

    def registered_rate_hz(self, click_rate_hz: float) -> float:
        """Clicks actually registered, n/(1 + nτ_d): saturates at 1/τ_d."""
        return click_rate_hz * self.live_fraction(click_rate_hz)

    def click_probability(self, photon_probability: float) -> float:
        """Probability of a click in one window when a photon arrives with ``photon_probability``."""
        p = probability(photon_probability, "photon_probability")
        return 1.0 - (1.0 - self.efficiency * p) * (1.0 - self.dark_count_probability)


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _emg_cdf(x: float, tau: float, sigma: float) -> float:
    """P(E + J < x), E ~ Exp(mean τ), J ~ N(0, σ²); limits τ → 0 and σ → 0 handled exactly."""
    if math.isinf(x):
        return 1.0 if x > 0 else 0.0
    if tau == 0.0:
        return (1.0 if x > 0.0 else 0.0) if sigma == 0.0 else _normal_cdf(x / sigma)
    if sigma == 0.0:
        return -math.expm1(-x / tau) if x > 0.0 else 0.0
    # Φ(x/σ) − exp(−x/τ + σ²/(2τ²)) Φ(x/σ − σ/τ); the second term through log-space to avoid overflow.
    u = x / sigma - sigma / tau
    tail = 0.5 * math.erfc(-u / math.sqrt(2.0))
    if tail == 0.0:
        return _normal_cdf(x / sigma)
    log_term = -x / tau + sigma * sigma / (2.0 * tau * tau) + math.log(tail)
    return min(1.0, max(0.0, _normal_cdf(x / sigma) - math.exp(min(log_term, 700.0))))


@dataclass(frozen=True, slots=True)
class AtomCavityNode:
    """One trapped atom (in an optical cavity, or with free-space collection): what the node adds to a link.

    - ``photon_generation_efficiency``: probability that an attempt puts a photon, entangled with the
      atom, into the fiber (generation and collection together; :meth:`from_cavity` derives it from the
      cavity QED);
    - ``atom_photon_fidelity``: fidelity of that atom-photon state with the ideal Bell state, modeled as
      a depolarizing channel: a Werner state of visibility V = (4F − 1)/3;
    - ``photon_absorption_efficiency`` and ``photon_absorption_fidelity``: the same two numbers for the
      receiving role, when the node absorbs and stores an incoming photon (Ritter et al. 2012's scheme);
    - the memory (:class:`~qkdnet.hardware.memory.QuantumMemory`): ``t2_s`` with ``coherence_decay``
      "exponential" (e^(−t/T2)) or "gaussian" (e^(−(t/T2*)²)), ``t1_s``, optional ``dynamical_decoupling``,
      and ``readout_fidelity`` of the atomic state detection;
    - ``photon_decay_time_s``: 1/e duration of the photon's (exponential) temporal shape, for detection windows;
    - ``cavity``: the cavity QED behind the numbers, if the node has one (documentation and derivation).
    """

    name: str
    photon_generation_efficiency: float
    atom_photon_fidelity: float
    t2_s: float
    photon_absorption_efficiency: float = 1.0
    photon_absorption_fidelity: float = 1.0
    t1_s: float = math.inf
    coherence_decay: Decay = "exponential"
    dynamical_decoupling: DynamicalDecoupling | None = None
    readout_fidelity: float = 1.0
    photon_decay_time_s: float = 0.0
    cavity: CavityQED | None = None
    memory: QuantumMemory = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidParameter(f"AtomCavityNode.name must be a non-empty string, got {self.name!r}")
        for name in ("photon_generation_efficiency", "photon_absorption_efficiency"):
            object.__setattr__(self, name, probability(getattr(self, name), f"AtomCavityNode.{name}"))
        for name in ("atom_photon_fidelity", "photon_absorption_fidelity"):
            object.__setattr__(self, name, werner_fidelity(getattr(self, name), f"AtomCavityNode.{name}"))
        object.__setattr__(
            self,
            "photon_decay_time_s",
            finite_non_negative(self.photon_decay_time_s, "AtomCavityNode.photon_decay_time_s"),
        )
        if self.cavity is not None and not isinstance(self.cavity, CavityQED):
            raise InvalidParameter("AtomCavityNode.cavity must be a CavityQED or None")
        try:
            memory = QuantumMemory(
                t2_s=self.t2_s,
                t1_s=self.t1_s,
                decay=self.coherence_decay,
                dynamical_decoupling=self.dynamical_decoupling,
                readout_fidelity=self.readout_fidelity,
            )
        except InvalidParameter as exc:
            raise InvalidParameter(str(exc).replace("QuantumMemory.", "AtomCavityNode.")) from None
        object.__setattr__(self, "t2_s", memory.t2_s)
        object.__setattr__(self, "t1_s", memory.t1_s)
        object.__setattr__(self, "readout_fidelity", memory.readout_fidelity)
        object.__setattr__(self, "memory", memory)

    @classmethod
    def perfect(cls, name: str) -> AtomCavityNode:
        """A node with unit efficiencies and fidelities and a memory that never dephases."""
        return cls(name, photon_generation_efficiency=1.0, atom_photon_fidelity=1.0, t2_s=math.inf)

    @classmethod
    def from_cavity(
        cls,
        name: str,
        cavity: CavityQED,
        *,
        extraction_efficiency: float,
        atom_photon_fidelity: float,
        t2_s: float,
        mode_matching: float = 1.0,
        **kwargs: object,
    ) -> AtomCavityNode:
        """A cavity node: η_gen = P_cavity · η_extraction (optics and fiber coupling after the mirror), and
        η_abs = P_cavity · mode matching (time-reversed emission of an impedance-matched photon).

        >>> cav = CavityQED(g_mhz=5.0, kappa_mhz=3.0, gamma_mhz=3.0)
        >>> node = AtomCavityNode.from_cavity("A", cav, extraction_efficiency=0.5, atom_photon_fidelity=0.9, t2_s=1e-4)
        >>> round(node.photon_generation_efficiency, 4) == round(cav.emission_efficiency * 0.5, 4)
        True
        """
        eta = probability(extraction_efficiency, "extraction_efficiency")
        match = probability(mode_matching, "mode_matching")
        return cls(
            name,
            photon_generation_efficiency=cavity.emission_efficiency * eta,
            atom_photon_fidelity=atom_photon_fidelity,
            t2_s=t2_s,
            photon_absorption_efficiency=cavity.absorption_efficiency * match,
            cavity=cavity,
            **kwargs,  # type: ignore[arg-type]
        )

    @property
    def atom_photon_visibility(self) -> float:
        """Werner visibility of the emitted atom-photon pair."""
        return werner_visibility(self.atom_photon_fidelity)

    @property
    def photon_absorption_visibility(self) -> float:
        """Werner visibility kept by the photon → atom mapping when the node absorbs a photon."""
        return werner_visibility(self.photon_absorption_fidelity)

    def coherence(self, wait_s: ArrayLike) -> NDArray[np.float64]:
        """Remaining coherence after waiting ``wait_s`` (scalar or per-pair array): e^(−t/T2) by default."""
        return self.memory.coherence(wait_s)

    def dephasing_probability(self, wait_s: ArrayLike) -> NDArray[np.float64]:
        """Probability p of a Z error after waiting: ρ → (1 − p)ρ + pZρZ with 1 − 2p = coherence."""
        return np.asarray((1.0 - self.coherence(wait_s)) / 2.0, dtype=np.float64)

    def memory_lambdas(self, wait_s: ArrayLike) -> NDArray[np.float64]:
        """Pauli shrink factors (…, 3) of the memory after ``wait_s``."""
        return self.memory.lambdas(wait_s)


__all__ = [
    "DEFAULT_GROUP_INDEX",
    "FIBER_ATTENUATION_DB_PER_KM",
    "AtomCavityNode",
    "Detector",
    "Fiber",
    "fiber_attenuation_db_per_km",
    "werner_visibility",
]
