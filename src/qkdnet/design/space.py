"""The hardware a design search may improve, and what an improvement factor k does to each number.

Improvement factors follow da Silva et al., "Optimizing entanglement generation and distribution using genetic
algorithms", Quantum Sci. Technol. 6, 035007 (2021), used by Avis et al., npj Quantum Inf. 9, 100 (2023):
k = 1 is the preset's hardware; a probability of no error p (an efficiency, a fidelity) becomes p^(1/k), so
every factor of k shrinks the *loss or error* the same way whatever its size; a time or a rate (memory T2,
attempt rate, modes) is multiplied by k. A design's total improvement is Σ log₁₀ kᵢ, in decades: scale-free,
so a 10× longer memory costs as much as a detector whose inefficiency p becomes p^(1/10).

>>> PARAMETERS["collection_efficiency"].improved(0.25, 2.0)
0.5
>>> PARAMETERS["memory_t2"].improved(0.01, 10.0)
0.1
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import AtomCavityNode, Preset

Kind = Literal["probability", "scale", "count"]


@dataclass(frozen=True, slots=True)
class Parameter:
    """One improvable number: its name, what it is, and how a factor k changes it (``kind``)."""

    name: str
    kind: Kind
    summary: str

    def improved(self, baseline: float, k: float) -> float:
        """The number after improvement by ``k`` ≥ 1: p^(1/k) for a probability, k·x for a scale, ⌈k·n⌉ for a
        count (modes stay whole)."""
        if not (math.isfinite(k) and k >= 1.0):
            raise InvalidParameter(f"{self.name}: an improvement factor must be finite and >= 1, got {k!r}")
        if self.kind == "probability":
            return float(baseline ** (1.0 / k))
        if self.kind == "count":
            return float(math.ceil(k * baseline - 1e-9))
        return float(k * baseline)


#: What a design may improve, by name (the keys of a study's ``[parameters]`` table).
PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter("memory_t2", "scale", "memory coherence time T2 of every node"),
        Parameter("collection_efficiency", "probability", "photon generation and collection into the fiber"),
        Parameter("conversion_efficiency", "probability", "frequency conversion to the telecom band"),
        Parameter("conversion_fidelity", "probability", "process fidelity of the frequency conversion"),
        Parameter("detector_efficiency", "probability", "herald detector efficiency"),
        Parameter("photon_fidelity", "probability", "atom-photon entanglement fidelity"),
        Parameter("readout_fidelity", "probability", "atomic state detection fidelity"),
        Parameter("gate_fidelity", "probability", "the repeaters' Bell measurement (swap) fidelity"),
        Parameter("attempt_rate", "scale", "attempts per second (still bounded by the herald's round trip)"),
        Parameter("modes", "count", "memory modes attempted in parallel per round (multiplexing)"),
    )
}


@dataclass(frozen=True, slots=True)
class Hardware:
    """A chain's hardware: the link preset (improved), the modes per round and the repeaters' swap fidelity."""

    preset: Preset
    modes: int
    gate_fidelity: float


#: The parameters each node carries, by the node's field: improved on the emitter and the receiver, each from
#: its own value.
_NODE_FIELD = {
    "memory_t2": "t2_s",
    "collection_efficiency": "photon_generation_efficiency",
    "photon_fidelity": "atom_photon_fidelity",
    "readout_fidelity": "readout_fidelity",
}


def _node(node: AtomCavityNode, factors: Mapping[str, float]) -> AtomCavityNode:
    """``node`` with its own numbers improved by ``factors``."""
    changes: dict[str, Any] = {
        field: PARAMETERS[name].improved(getattr(node, field), factors[name])
        for name, field in _NODE_FIELD.items()
        if name in factors
    }
    return dataclasses.replace(node, **changes)


def baseline_values(preset: Preset, *, modes: int, gate_fidelity: float) -> dict[str, float]:
    """Each parameter's value in ``preset`` (the emitter's, where emitter and receiver differ)."""
    values = {name: float(getattr(preset.emitter, field)) for name, field in _NODE_FIELD.items()}
    values |= {
        "detector_efficiency": preset.detector.efficiency,
        "gate_fidelity": gate_fidelity,
        "attempt_rate": preset.attempt_rate_hz,
        "modes": float(modes),
    }
    if preset.converter is not None:
        values["conversion_efficiency"] = preset.converter.efficiency
        values["conversion_fidelity"] = preset.converter.process_fidelity
    return values


def improve(preset: Preset, factors: Mapping[str, float], *, modes: int = 1, gate_fidelity: float = 1.0) -> Hardware:
    """``preset``'s hardware with each named parameter improved by its factor (both nodes alike)."""
    unknown = sorted(set(factors) - set(PARAMETERS))
    if unknown:
        raise InvalidParameter(f"unknown design parameter(s) {', '.join(unknown)}; expected: {', '.join(PARAMETERS)}")
    base = baseline_values(preset, modes=modes, gate_fidelity=gate_fidelity)
    for name in ("conversion_efficiency", "conversion_fidelity"):
        if name in factors and name not in base:
            raise InvalidParameter(f"{name}: preset {preset.name!r} has no frequency converter to improve")
    values = {name: PARAMETERS[name].improved(base[name], k) for name, k in factors.items()}
    improved = dataclasses.replace(
        preset,
        emitter=_node(preset.emitter, factors),
        receiver=_node(preset.receiver, factors),
        detector=dataclasses.replace(
            preset.detector, efficiency=values.get("detector_efficiency", base["detector_efficiency"])
        ),
        attempt_rate_hz=values.get("attempt_rate", preset.attempt_rate_hz),
    )
    if preset.converter is not None:
        converter = dataclasses.replace(
            preset.converter,
            efficiency=values.get("conversion_efficiency", preset.converter.efficiency),
            process_fidelity=values.get("conversion_fidelity", preset.converter.process_fidelity),
        )
        improved = dataclasses.replace(improved, converter=converter)
    return Hardware(improved, int(values.get("modes", modes)), values.get("gate_fidelity", gate_fidelity))


def total_improvement(factors: Mapping[str, float]) -> float:
    """Σ log₁₀ kᵢ: how far a design is from the preset, in decades of improvement."""
    return float(sum(math.log10(k) for k in factors.values()))


__all__ = ["PARAMETERS", "Hardware", "Parameter", "baseline_values", "improve", "total_improvement"]
