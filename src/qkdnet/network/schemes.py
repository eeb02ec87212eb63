"""Heralded entanglement at a middle station: two-photon interference, and single-click heralding.

:class:`TwoPhotonLink` (Hofmann et al., Science 337, 72 (2012); van Leent et al., Nature 607, 69 (2022)):
both atoms emit a photon polarization-entangled with them; the photons travel (optionally after frequency
conversion) to a linear-optics Bell-state measurement (:class:`~qkdnet.hardware.BellStateMeasurement`);
two clicks in a resolved pattern herald the atoms in Ψ±, corrected to Φ+. With p_a, p_b the probabilities
that each photon is detected and p_n a noise click per detector and window, the true herald probability
is R/4 · p_a p_b (1 − p_n)² (R resolved Bell states); noise completing a pattern gives false heralds
(taken maximally mixed). The true pair is Φ+ after both atom-photon depolarizations, conversion, the
fibers' polarization noise and the interference's dephasing λ = (M, M, 1).

:class:`SingleClickLink` (Cabrillo et al., PRA 59, 1025 (1999); Hermans et al., Nature 605, 663 (2022)):
each atom is prepared in √(1 − α)|↓> + √α|↑>, and |↑> emits a photon; one click behind a beam splitter
heralds (|↑↓> ± |↓↑>)/√2. Heralds per attempt ≈ 2αη, but with probability ≈ α both atoms were bright,
so the fidelity is ≈ (1 − α)(1 + V)/2: the rate–fidelity trade-off. Herald classes (one click, the
other detector silent), in the frame after the X correction that maps Ψ± to Φ±:

- one atom bright, its photon detected: α(1 − α)(p_a + p_b)(1 − p_n) → Φ+ with coherence
  V · 2√(p_a p_b)/(p_a + p_b) (V: first-order interference visibility);
- both bright, ≥ 1 photon detected (they bunch into one detector): α²(1 − (1 − p_a)(1 − p_b))(1 − p_n) → |↑↓>;
- a noise click alone, 2p_n(1 − p_n), times: one bright but lost (→ |↑↑>), both bright and lost, none bright.

Both schemes time their attempts from the emission of the node farther from the station: the herald
clicks after τ_max and reaches both nodes by 2τ_max; each atom waits from its emission until then.

>>> import numpy as np
>>> from qkdnet.hardware import AtomCavityNode, BellStateMeasurement, Detector, Fiber
>>> node = AtomCavityNode("A", photon_generation_efficiency=0.1, atom_photon_fidelity=1.0, t2_s=1.0)
>>> link = SingleClickLink(node, node, Fiber(1, 0.2), Fiber(1, 0.2), BellStateMeasurement(Detector(1.0)),
...                        attempt_rate_hz=1e5, bright_population=0.05)
>>> round(link.expected_fidelity, 3)  # ≈ 1 − α, plus a little from both photons being lost
0.952
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import AtomCavityNode, BellStateMeasurement, Fiber, FrequencyConverter, Preset, get_preset, noise
from qkdnet.network._sampling import HeraldClass, Timing, check_delay, check_modes, check_rate
from qkdnet.network.base import HeraldedLink
from qkdnet.network.link import _MIXED, StateTransferLink, TwoNodeLink, _check_types, _period_ps
from qkdnet.units import PS_PER_S

_SAME = np.array([0.5, 0.5, 0.0, 0.0])  # |↑↑> or |↓↓> after the correction: right in Z, random in X
_FLIPPED = np.array([0.0, 0.0, 0.5, 0.5])  # |↑↓> or |↓↑> after the correction: wrong in Z
for _w in (_SAME, _FLIPPED):
    _w.setflags(write=False)


@dataclass(frozen=True, slots=True)
class TwoPhotonLink(HeraldedLink):
    """Node A → ``fiber_a`` → Bell-state measurement ← ``fiber_b`` ← node B (see the module docstring)."""

    node_a: AtomCavityNode
    node_b: AtomCavityNode
    fiber_a: Fiber
    fiber_b: Fiber
    station: BellStateMeasurement
    attempt_rate_hz: float
    measurement_delay_s: float = 0.0
    converter: FrequencyConverter | None = None
    """Frequency conversion applied to both photons before their fibers (None: none)."""
    preset: Preset | None = field(default=None, compare=False, repr=False)
    modes: int = 1
    """Independent modes per attempt round (multiplexing, see :mod:`qkdnet.network.base`); 1: none."""

    scheme = "two-photon"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _check_types(
            owner,
            {
                "node_a": (self.node_a, AtomCavityNode),
                "node_b": (self.node_b, AtomCavityNode),
                "fiber_a": (self.fiber_a, Fiber),
                "fiber_b": (self.fiber_b, Fiber),
                "station": (self.station, BellStateMeasurement),
            },
        )
        if self.converter is not None and not isinstance(self.converter, FrequencyConverter):
            raise InvalidParameter(f"{owner}.converter must be a FrequencyConverter or None")
        if self.preset is not None and not isinstance(self.preset, Preset):
            raise InvalidParameter(f"{owner}.preset must be a Preset or None")
        object.__setattr__(self, "attempt_rate_hz", check_rate(self.attempt_rate_hz, f"{owner}.attempt_rate_hz"))
        object.__setattr__(
            self, "measurement_delay_s", check_delay(self.measurement_delay_s, f"{owner}.measurement_delay_s")
        )
        object.__setattr__(self, "modes", check_modes(self.modes, f"{owner}.modes"))
        if (
            self.converter is not None
            and self.converter.noise_rate_hz > 0.0
            and math.isinf(self.station.detector.window_s)
        ):
            raise InvalidParameter(
                f"{owner}.station.detector.window_s must be finite when the converter adds noise photons"
            )

    @classmethod
    def from_preset(cls, preset: Preset, *, measurement_delay_s: float = 0.0, modes: int = 1) -> TwoPhotonLink:
        """The link of a two-photon preset (``modes`` per round): the station sits at ``preset.station_position``."""
        fiber_a, fiber_b = _split(preset.fiber, preset.station_position)
        return cls(
            node_a=preset.emitter,
            node_b=preset.receiver,
            fiber_a=fiber_a,
            fiber_b=fiber_b,
            station=BellStateMeasurement(
                preset.detector, preset.two_photon_overlap, resolved_bell_states=preset.resolved_bell_states
            ),
            attempt_rate_hz=preset.attempt_rate_hz,
            measurement_delay_s=measurement_delay_s,
            converter=preset.converter,
            preset=preset,
            modes=modes,
        )

    # ---- geometry ---------------------------------------------------------------------------------
    @property
    def fiber(self) -> Fiber:
        """Both arms as one fiber between the nodes (the type of arm A)."""
        return self.fiber_a.with_length(self.fiber_a.length_km + self.fiber_b.length_km)

    @property
    def station_position(self) -> float:
        """Fraction of the node-to-node fiber on A's side (1/2 when there is no fiber)."""
        total = self.fiber_a.length_km + self.fiber_b.length_km
        return 0.5 if total == 0.0 else self.fiber_a.length_km / total

    def with_length(self, length_km: float) -> TwoPhotonLink:
        """The same link over another total fiber length, the station kept at the same fraction."""
        fiber_a, fiber_b = _split(self.fiber.with_length(length_km), self.station_position)
        fiber_a = dataclasses.replace(self.fiber_a, length_km=fiber_a.length_km)
        fiber_b = dataclasses.replace(self.fiber_b, length_km=fiber_b.length_km)
        preset = None if self.preset is None else self.preset.with_length(length_km)
        return dataclasses.replace(self, fiber_a=fiber_a, fiber_b=fiber_b, preset=preset)

    def _nodes(self) -> tuple[AtomCavityNode, AtomCavityNode]:
        return self.node_a, self.node_b

    def _timing(self) -> Timing:
        tau_a, tau_b = self.fiber_a.delay_ps, self.fiber_b.delay_ps
        tau = max(tau_a, tau_b)
        return Timing(
            period_ps=_period_ps(self.attempt_rate_hz, 2 * tau),
            herald_ps=tau,
            ready_ps=2 * tau,
            wait_a_ps=tau + tau_a,
            wait_b_ps=tau + tau_b,
        )

    # ---- photons ----------------------------------------------------------------------------------
    def _photon_probabilities(self) -> tuple[float, float, float]:
        """(p_a, p_b, p_noise): each photon detected in its window; a noise click per detector and window."""
        det = self.station.detector
        conv = 1.0 if self.converter is None else self.converter.efficiency
        p_a = (
            self.node_a.photon_generation_efficiency
            * conv
            * self.fiber_a.transmission
            * det.detection_probability(self.node_a.photon_decay_time_s)
        )
        p_b = (
            self.node_b.photon_generation_efficiency
            * conv
            * self.fiber_b.transmission
            * det.detection_probability(self.node_b.photon_decay_time_s)
        )
        p_n = det.dark_count_probability
        if self.converter is not None and self.converter.noise_rate_hz > 0.0:
            # Noise photons from both converters cross their fibers and spread over the four detectors.
            arriving = self.fiber_a.transmission + self.fiber_b.transmission
            rate = self.converter.noise_rate_hz * arriving * det.efficiency / 4.0
            p_n = 1.0 - (1.0 - p_n) * math.exp(-rate * det.window_s)
        if det.dead_time_s > 0.0:
            clicks_per_attempt = (p_a + p_b) / 4.0 + p_n
            live = det.live_fraction(clicks_per_attempt * PS_PER_S / self._timing().period_ps)
            p_a, p_b, p_n = live * p_a, live * p_b, live * p_n
        return p_a, p_b, p_n

    def _source_lambdas(self) -> np.ndarray:
        conv = noise.IDENTITY if self.converter is None else self.converter.lambdas
        return noise.compose(
            noise.depolarizing(self.node_a.atom_photon_visibility),
            noise.depolarizing(self.node_b.atom_photon_visibility),
            conv,
            conv,
            self.fiber_a.noise_lambdas,
            self.fiber_b.noise_lambdas,
        )

    def _mode_classes(self) -> list[HeraldClass]:
        p_a, p_b, p_n = self._photon_probabilities()
        heralds = self.station.herald_probabilities(p_a, p_b, p_n)
        true_state = self.station.pair_state(self._source_lambdas())
        return [
            HeraldClass(heralds.true, true_state.weights, true=True),
            HeraldClass(heralds.false, _MIXED, true=False),
        ]

    @property
    def teleportation_fidelity(self) -> float:
        """Average fidelity of teleporting a qubit over one heralded pair: (2F + 1)/3."""
        return (2.0 * self.expected_fidelity + 1.0) / 3.0


@dataclass(frozen=True, slots=True)
class SingleClickLink(TwoPhotonLink):
    """Single-click heralding with bright-state population ``bright_population`` α (see the module docstring).

    The station's detectors and ``two_photon_overlap`` (read here as the first-order interference
    visibility V, including the optical phase stability) are used; its Bell-state resolution is not.
    """

    bright_population: float = 0.5

    scheme = "single-click"

    def __post_init__(self) -> None:
        TwoPhotonLink.__post_init__(self)
        alpha = check_rate(self.bright_population, f"{type(self).__name__}.bright_population")
        if alpha > 1.0:
            raise InvalidParameter(f"SingleClickLink.bright_population must be in (0, 1], got {alpha!r}")
        object.__setattr__(self, "bright_population", alpha)

    @classmethod
    def from_preset(cls, preset: Preset, *, measurement_delay_s: float = 0.0, modes: int = 1) -> SingleClickLink:
        """The single-click link of a preset (its ``bright_population``), ``modes`` per round."""
        base = TwoPhotonLink.from_preset(preset, measurement_delay_s=measurement_delay_s, modes=modes)
        fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
        return cls(**fields, bright_population=preset.bright_population)

    def _mode_classes(self) -> list[HeraldClass]:
        p_a, p_b, p_n = self._photon_probabilities()
        a = self.bright_population
        silent = 1.0 - p_n
        noise_only = 2.0 * p_n * silent
        lam = noise.compose(self.fiber_a.noise_lambdas, self.fiber_b.noise_lambdas)
        balance = 0.0 if p_a + p_b == 0.0 else 2.0 * math.sqrt(p_a * p_b) / (p_a + p_b)
        v = self.station.two_photon_overlap * balance * float(lam[0])
        one = np.array([(1.0 + v) / 2.0, (1.0 - v) / 2.0, 0.0, 0.0])
        one = noise.apply_to_weights(one, self._memoryless_lambdas())
        return [
            HeraldClass(a * (1 - a) * (p_a + p_b) * silent, one, true=True),
            HeraldClass(a * a * (1.0 - (1.0 - p_a) * (1.0 - p_b)) * silent, _FLIPPED, true=False),
            HeraldClass(a * (1 - a) * ((1.0 - p_a) + (1.0 - p_b)) * noise_only, _SAME, true=False),
            HeraldClass(a * a * (1.0 - p_a) * (1.0 - p_b) * noise_only, _FLIPPED, true=False),
            HeraldClass((1 - a) ** 2 * noise_only, _FLIPPED, true=False),
        ]

    def _memoryless_lambdas(self) -> np.ndarray:
        """Spin-state errors at emission (the atom-photon fidelities, as depolarizing)."""
        return noise.compose(
            noise.depolarizing(self.node_a.atom_photon_visibility),
            noise.depolarizing(self.node_b.atom_photon_visibility),
        )


def _split(fiber: Fiber, position: float) -> tuple[Fiber, Fiber]:
    """The two arms of ``fiber`` with a station at fraction ``position`` from A."""
    if not 0.0 <= position <= 1.0:
        raise InvalidParameter(f"station_position must be in [0, 1], got {position!r}")
    length_a = fiber.length_km * position
    return fiber.with_length(length_a), fiber.with_length(fiber.length_km - length_a)


def link_for_preset(preset: Preset, *, measurement_delay_s: float = 0.0, modes: int = 1) -> HeraldedLink:
    """The link a preset describes, by its scheme, with ``modes`` independent modes per attempt round."""
    builders: dict[str, type[TwoNodeLink] | type[TwoPhotonLink]] = {
        "emission-absorption": TwoNodeLink,
        "state-transfer": StateTransferLink,
        "two-photon": TwoPhotonLink,
        "single-click": SingleClickLink,
    }
    try:
        builder = builders[preset.scheme]
    except KeyError:
        raise InvalidParameter(f"preset {preset.name!r}: unknown scheme {preset.scheme!r}") from None
    return builder.from_preset(preset, measurement_delay_s=measurement_delay_s, modes=modes)


def link_from_preset(
    name: str, length_km: float | None = None, *, measurement_delay_s: float = 0.0, modes: int = 1
) -> HeraldedLink:
    """The link of hardware preset ``name`` (its own scheme), optionally over ``length_km`` of the same fiber,
    with ``modes`` independent modes per attempt round (multiplexing; 1: none).

    >>> link_from_preset("zhang2022", length_km=0.06).fiber.length_km
    0.06
    """
    preset = get_preset(name)
    if length_km is not None:
        preset = preset.with_length(length_km)
    return link_for_preset(preset, measurement_delay_s=measurement_delay_s, modes=modes)


__all__ = ["SingleClickLink", "TwoPhotonLink", "link_for_preset", "link_from_preset"]
