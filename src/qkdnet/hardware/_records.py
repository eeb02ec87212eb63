"""The preset records: :class:`Sourced` numbers and the :class:`Preset` they describe (no catalogue here).

Below both the preset files' loader (:mod:`qkdnet.hardware._catalog`) and the public API
(:mod:`qkdnet.hardware.presets`), so neither imports the other in a circle.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

from qkdnet.checks import as_float, positive, probability
from qkdnet.errors import InvalidParameter
from qkdnet.hardware.components import AtomCavityNode, Detector, Fiber
from qkdnet.hardware.photonics import FrequencyConverter

#: How a link makes its pairs; the one vocabulary of presets, scenario files, link objects and the CLI.
Scheme = Literal["two-photon", "single-click", "emission-absorption", "state-transfer"]
SCHEMES: tuple[Scheme, ...] = get_args(Scheme)
#: The source of a number that is a modeling default rather than something a paper set.
MODEL_CHOICE = "qkdnet modeling choice"


@dataclass(frozen=True, slots=True)
class Sourced:
    """A number with its provenance. ``confirmed``: read in the cited source's own text."""

    value: float
    source: str
    confirmed: bool
    note: str = ""
    uncertainty: float | None = None
    unit: str = ""
    where: str = ""
    """Where in the source: figure, table, page or ``abstract``."""
    calibrated: bool = False
    """Fitted so the model reproduces a published result (the note says which); a kind of estimate."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", as_float(self.value, "Sourced.value"))
        if not isinstance(self.source, str) or not self.source.strip():
            raise InvalidParameter("Sourced.source must name where the number comes from")
        if self.calibrated and self.confirmed:
            raise InvalidParameter("Sourced: a calibrated number is not confirmed from its source's text")
        if self.uncertainty is not None:
            object.__setattr__(self, "uncertainty", as_float(self.uncertainty, "Sourced.uncertainty"))

    @property
    def status(self) -> str:
        """``"confirmed"`` or ``"estimate"`` (what a report prints next to the number)."""
        return "confirmed" if self.confirmed else "estimate"

    @property
    def kind(self) -> str:
        """``"confirmed"``, ``"calibrated"`` or ``"estimate"``: the ``status`` of a preset file."""
        return "calibrated" if self.calibrated else self.status


#: Link-level numbers of a preset, each used by the schemes listed.
_LINK_FIELDS: dict[str, tuple[Scheme, ...]] = {
    "attempt_rate_hz": SCHEMES,
    "measurement_delay_s": SCHEMES,
    "station_position": ("two-photon", "single-click"),
    "two_photon_overlap": ("two-photon", "single-click"),
    "resolved_bell_states": ("two-photon",),
    "bright_population": ("single-click",),
}
_COMPONENT_FIELDS = ("emitter", "receiver", "fiber", "detector", "converter")


def numbers_of(component: object, prefix: str) -> dict[str, float]:
    """Every number set in a component, recursively: ``{"emitter.cavity.g_mhz": 5.0, ...}``.

    Numbers are the float and int fields; nested components are walked, ``None`` and text skipped.
    """
    out: dict[str, float] = {}
    for f in dataclasses.fields(component):  # type: ignore[arg-type]
        if not f.init:
            continue
        value = getattr(component, f.name)
        key = f"{prefix}.{f.name}"
        if isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        if isinstance(value, int | float):
            out[key] = float(value)
        elif dataclasses.is_dataclass(value):
            out.update(numbers_of(value, key))
    return out


@dataclass(frozen=True, slots=True)
class Preset:
    """A published link: two nodes, the fiber between them, detectors, and how they make pairs (``scheme``).

    ``detector`` is the herald detector at the receiver (emission-absorption, state-transfer) or the type of the
    four detectors of the middle station (two-photon, single-click). ``converter`` converts both photons'
    frequency before their fibers; ``station_position`` is the fraction of the fiber on the emitter's side.
    """

    name: str
    title: str
    reference: str
    scheme: Scheme
    emitter: AtomCavityNode
    receiver: AtomCavityNode
    fiber: Fiber
    detector: Detector
    attempt_rate_hz: float
    provenance: Mapping[str, Sourced]
    headline: Mapping[str, Sourced]
    reproduces: tuple[str, ...] = ()
    published_length_km: float | None = None
    """Fiber length of the published link (kept when :meth:`with_length` moves the fiber)."""
    measurement_delay_s: float = 0.0
    converter: FrequencyConverter | None = None
    station_position: float = 0.5
    two_photon_overlap: float = 1.0
    resolved_bell_states: int = 2
    bright_population: float = 0.5

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise InvalidParameter(f"Preset.scheme must be one of {', '.join(SCHEMES)}, got {self.scheme!r}")
        object.__setattr__(self, "attempt_rate_hz", positive(self.attempt_rate_hz, "Preset.attempt_rate_hz"))
        for name in ("station_position", "two_photon_overlap", "bright_population"):
            object.__setattr__(self, name, probability(getattr(self, name), f"Preset.{name}"))
        delay = as_float(self.measurement_delay_s, "Preset.measurement_delay_s")
        if not math.isfinite(delay) or delay < 0.0:
            raise InvalidParameter(f"Preset.measurement_delay_s must be finite and ≥ 0, got {delay!r}")
        if self.published_length_km is None:
            object.__setattr__(self, "published_length_km", self.fiber.length_km)
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))
        object.__setattr__(self, "headline", MappingProxyType(dict(self.headline)))
        missing = [k for k in self.reproduces if k not in self.headline]
        if missing:
            raise InvalidParameter(f"Preset {self.name!r}: reproduces unknown headline numbers {missing}")

    def parameters(self) -> dict[str, float]:
        """Every number the preset sets, keyed like ``provenance`` (``"emitter.t2_s"``...)."""
        out: dict[str, float] = {}
        for prefix in _COMPONENT_FIELDS:
            component = getattr(self, prefix)
            if component is not None:
                out.update(numbers_of(component, prefix))
        for name, schemes in _LINK_FIELDS.items():
            if self.scheme in schemes:
                out[f"link.{name}"] = float(getattr(self, name))
        return out

    @property
    def estimates(self) -> tuple[str, ...]:
        """Keys of the parameters that are estimates (not confirmed from the cited text)."""
        return tuple(k for k, s in self.provenance.items() if not s.confirmed)

    def with_length(self, length_km: float) -> Preset:
        """The same hardware with a fiber of another length (the headline numbers stay the paper's)."""
        fiber = self.fiber.with_length(length_km)
        original = self.provenance["fiber.length_km"]
        provenance = dict(self.provenance)
        provenance["fiber.length_km"] = Sourced(
            fiber.length_km,
            "set by the caller",
            confirmed=False,
            note=f"the published link ({original.source}) used {original.value} km",
            unit=original.unit,
            where="the caller's choice",
        )
        return dataclasses.replace(self, fiber=fiber, provenance=provenance)

    def provenance_lines(self) -> list[str]:
        """Where the numbers come from, one short line each, every estimate marked ``(estimate)``.

        Numbers the two nodes share are printed once as ``nodes.<field>``; modeling defaults (source
        ``MODEL_CHOICE``) stay in ``provenance`` but are not printed.
        """
        lines = [f"source: {self.reference}"]
        for key, record in self.provenance.items():
            if record.source == MODEL_CHOICE:
                continue
            component, name = key.split(".", 1)
            if component in ("emitter", "receiver"):
                other = self.provenance.get(f"{'receiver' if component == 'emitter' else 'emitter'}.{name}")
                if other is not None and other.value == record.value and other.status == record.status:
                    if component == "receiver":
                        continue
                    key = f"nodes.{name}"
            lines.append(f"{key} = {record.value:g} ({record.status})")
        for name, record in self.headline.items():
            if name in self.reproduces:
                pm = "" if record.uncertainty is None else f" ± {record.uncertainty:g}"
                lines.append(f"published {name} = {record.value:g}{pm} ({record.status}), reproduced by the model")
        return lines


def check_provenance(preset: Preset) -> Preset:
    """The preset, if every number it sets has exactly one matching :class:`Sourced` record; else raise."""
    params = preset.parameters()
    missing = sorted(set(params) - set(preset.provenance))
    unknown = sorted(set(preset.provenance) - set(params))
    if missing or unknown:
        raise InvalidParameter(f"preset {preset.name!r}: missing {missing}, unknown {unknown}")
    wrong = [k for k, v in params.items() if not _same(preset.provenance[k].value, v)]
    if wrong:
        raise InvalidParameter(f"preset {preset.name!r}: provenance values differ from the preset's for {wrong}")
    return preset


def _same(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


__all__ = ["MODEL_CHOICE", "SCHEMES", "Preset", "Scheme", "Sourced", "check_provenance", "numbers_of"]
