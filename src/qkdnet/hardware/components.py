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
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkdnet.errors import InvalidParameter
from qkdnet.hardware._checks import finite_non_negative, positive, probability, werner_fidelity
from qkdnet.units import SPEED_OF_LIGHT_M_PER_S, db_to_transmission, seconds_to_ps

#: Group index of standard single-mode fiber (≈ 4.90 µs/km); SMF-28 datasheet value [U], see REFERENCES.md.
DEFAULT_GROUP_INDEX = 1.468


def werner_visibility(fidelity: float) -> float:
    """Visibility V of the Werner state V|Φ+><Φ+| + (1 − V) I/4 whose fidelity is F: V = (4F − 1)/3.

    >>> werner_visibility(1.0), werner_visibility(0.25)
    (1.0, 0.0)
    """
    return (4.0 * werner_fidelity(fidelity, "fidelity") - 1.0) / 3.0


@dataclass(frozen=True, slots=True)
class Fiber:
    """A fiber of ``length_km`` with loss ``attenuation_db_per_km`` and group index ``group_index``.

    Transmission 10^(−αL/10); one-way delay L·n_g/c.

    >>> Fiber(1.0, 0.2).transmission == 10 ** (-0.02)
    True
    """

    length_km: float
    attenuation_db_per_km: float
    group_index: float = DEFAULT_GROUP_INDEX

    def __post_init__(self) -> None:
        object.__setattr__(self, "length_km", finite_non_negative(self.length_km, "Fiber.length_km"))
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

    def with_length(self, length_km: float) -> Fiber:
        """The same fiber type at another length."""
        return replace(self, length_km=length_km)


@dataclass(frozen=True, slots=True)
class Detector:
    """A single-photon detector: detection ``efficiency`` and ``dark_count_probability`` per window.

    >>> d = Detector(efficiency=0.5, dark_count_probability=0.01)
    >>> round(d.click_probability(1.0), 4)
    0.505
    """

    efficiency: float
    dark_count_probability: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "efficiency", probability(self.efficiency, "Detector.efficiency"))
        object.__setattr__(
            self,
            "dark_count_probability",
            probability(self.dark_count_probability, "Detector.dark_count_probability"),
        )

    @classmethod
    def from_dark_count_rate(cls, efficiency: float, *, dark_count_rate_hz: float, window_s: float) -> Detector:
        """A detector whose dark counts arrive as a Poisson process: p_dark = 1 − exp(−rate·window).

        >>> d = Detector.from_dark_count_rate(0.6, dark_count_rate_hz=1e3, window_s=1e-3)
        >>> round(d.dark_count_probability, 6)
        0.632121
        """
        rate = finite_non_negative(dark_count_rate_hz, "dark_count_rate_hz")
        window = finite_non_negative(window_s, "window_s")
        return cls(efficiency=efficiency, dark_count_probability=-math.expm1(-rate * window))

    def click_probability(self, photon_probability: float) -> float:
        """Probability of a click in one window when a photon arrives with ``photon_probability``."""
        p = probability(photon_probability, "photon_probability")
        return 1.0 - (1.0 - self.efficiency * p) * (1.0 - self.dark_count_probability)


@dataclass(frozen=True, slots=True)
class AtomCavityNode:
    """One trapped atom in an optical cavity: what the node adds to a link.

    - ``photon_generation_efficiency``: probability that an attempt puts a photon, entangled with the
      atom, into the fiber (generation and collection together).
    - ``atom_photon_fidelity``: fidelity of that atom-photon state with the ideal Bell state, modeled as
      a depolarizing channel: a Werner state of visibility V = (4F − 1)/3.
    - ``t2_s``: memory coherence time; coherences decay as e^(−t/T2) (pure dephasing). ``math.inf``
      means a perfect memory.
    - ``photon_absorption_efficiency`` and ``photon_absorption_fidelity``: the same two numbers for the
      receiving role, when the node absorbs and stores an incoming photon (Ritter et al. 2012's scheme);
      the mapping photon → atom is again a depolarizing channel of fidelity F.
    """

    name: str
    photon_generation_efficiency: float
    atom_photon_fidelity: float
    t2_s: float
    photon_absorption_efficiency: float = 1.0
    photon_absorption_fidelity: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidParameter(f"AtomCavityNode.name must be a non-empty string, got {self.name!r}")
        for field in ("photon_generation_efficiency", "photon_absorption_efficiency"):
            object.__setattr__(self, field, probability(getattr(self, field), f"AtomCavityNode.{field}"))
        for field in ("atom_photon_fidelity", "photon_absorption_fidelity"):
            object.__setattr__(self, field, werner_fidelity(getattr(self, field), f"AtomCavityNode.{field}"))
        object.__setattr__(self, "t2_s", positive(self.t2_s, "AtomCavityNode.t2_s", allow_inf=True))

    @classmethod
    def perfect(cls, name: str) -> AtomCavityNode:
        """A node with unit efficiencies and fidelities and a memory that never dephases."""
        return cls(name, photon_generation_efficiency=1.0, atom_photon_fidelity=1.0, t2_s=math.inf)

    @property
    def atom_photon_visibility(self) -> float:
        """Werner visibility of the emitted atom-photon pair."""
        return werner_visibility(self.atom_photon_fidelity)

    @property
    def photon_absorption_visibility(self) -> float:
        """Werner visibility kept by the photon → atom mapping when the node absorbs a photon."""
        return werner_visibility(self.photon_absorption_fidelity)

    def coherence(self, wait_s: ArrayLike) -> NDArray[np.float64]:
        """Remaining coherence e^(−t/T2) after waiting ``wait_s`` (scalar or per-pair array)."""
        t = np.asarray(wait_s, dtype=np.float64)
        if not np.all(np.isfinite(t)) or np.any(t < 0.0):
            raise InvalidParameter("waiting times must be finite and non-negative")
        return np.asarray(np.exp(-t / self.t2_s), dtype=np.float64)

    def dephasing_probability(self, wait_s: ArrayLike) -> NDArray[np.float64]:
        """Probability p of a Z error after waiting: ρ → (1 − p)ρ + pZρZ with 1 − 2p = e^(−t/T2)."""
        return np.asarray((1.0 - self.coherence(wait_s)) / 2.0, dtype=np.float64)


__all__ = ["DEFAULT_GROUP_INDEX", "AtomCavityNode", "Detector", "Fiber", "werner_visibility"]
