"""Preset files: the TOML schema of a published (or a user's own) link, and what builds its Preset from it.

A preset file (``src/qkdnet/hardware/presets/<name>.toml``, or a user's own) names the link (``name``, ``title``,
``reference``, ``scheme``, ``nodes``, ``coherence_decay``, ``reproduces``) and gives every number as a table
``[numbers."emitter.t2_s"]`` (or ``[headline.chsh]``) with ``value``, ``unit``, ``source``, ``where`` (figure,
table, page or abstract), ``status`` (``confirmed``, ``estimate`` or ``calibrated``: a calibrated number's
``note`` says what it was fitted to) and optionally ``note`` and ``uncertainty``. The schema is a pydantic model,
as scenario files are; :mod:`qkdnet.config.presets` reads a user's files and words the errors as the scenario
loader does (file, field, the closest valid name). Nothing here touches the file system but the package's data.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError, model_validator

from qkdnet.errors import InvalidParameter
from qkdnet.hardware._records import Preset, Scheme, Sourced, check_provenance
from qkdnet.hardware.cavity import CavityQED
from qkdnet.hardware.components import AtomCavityNode, Detector, Fiber
from qkdnet.hardware.memory import DynamicalDecoupling
from qkdnet.hardware.photonics import FrequencyConverter

_SUFFIX_UNITS: tuple[tuple[str, str], ...] = (("_db_per_km", "dB/km"), ("_per_km", "1/km"), ("_mhz", "MHz"))
_SUFFIX_UNITS += (("_hz", "Hz"), ("_km", "km"), ("_nm", "nm"), ("_s", "s"))
_NAMED_UNITS = {"key_bits": "bit", "secret_key_bits_per_event": "bit/event", "resolved_bell_states": "count"}
_LINK_NAMES: tuple[str, ...] = ("attempt_rate_hz", "measurement_delay_s", "station_position", "two_photon_overlap")
_LINK_NAMES += ("resolved_bell_states", "bright_population")
_NOT_NUMBERS = ("name", "coherence_decay", "cavity", "dynamical_decoupling")  # set by the file's other fields
_Text = Annotated[StrictStr, Field(min_length=1)]


def expected_unit(key: str) -> str:
    """The unit a number's name implies: ``t2_s`` → ``s``, ``g_mhz`` → ``MHz``; ``1`` for a plain ratio."""
    name = key.rsplit(".", 1)[-1]
    if name in _NAMED_UNITS:
        return _NAMED_UNITS[name]
    return next((unit for suffix, unit in _SUFFIX_UNITS if name.endswith(suffix)), "1")


class PresetNumber(BaseModel):
    """One number of a preset file, with its provenance."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: StrictFloat | StrictInt
    unit: _Text
    source: _Text
    where: _Text
    status: Literal["confirmed", "estimate", "calibrated"]
    note: StrictStr = ""
    uncertainty: StrictFloat | StrictInt | None = None

    @model_validator(mode="after")
    def _explained(self) -> PresetNumber:
        if self.status != "confirmed" and not self.note.strip():
            raise ValueError(f"an {self.status} number needs a note saying why (a calibrated one: fitted to what)")
        return self

    def record(self) -> Sourced:
        """The number as a :class:`Sourced` record."""
        return Sourced(
            float(self.value),
            self.source,
            confirmed=self.status == "confirmed",
            note=self.note,
            uncertainty=None if self.uncertainty is None else float(self.uncertainty),
            unit=self.unit,
            where=self.where,
            calibrated=self.status == "calibrated",
        )


class PresetFile(BaseModel):
    """The schema of a preset file (validated like a scenario file: unknown fields rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    title: _Text
    reference: _Text
    scheme: Scheme
    nodes: tuple[_Text, _Text]
    coherence_decay: Literal["exponential", "gaussian"] = "exponential"
    reproduces: tuple[StrictStr, ...] = ()
    numbers: dict[str, PresetNumber]
    headline: dict[str, PresetNumber] = {}


def _field_names(cls: type[Any]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def _valid_numbers() -> list[str]:
    """Every number a preset file may set, by its dotted name."""
    keys = [f"fiber.{n}" for n in _field_names(Fiber)] + [f"detector.{n}" for n in _field_names(Detector)]
    keys += [f"converter.{n}" for n in _field_names(FrequencyConverter)] + [f"link.{n}" for n in _LINK_NAMES]
    for node in ("emitter", "receiver"):
        keys += [f"{node}.{n}" for n in _field_names(AtomCavityNode) if n not in _NOT_NUMBERS]
        keys += [f"{node}.cavity.{n}" for n in _field_names(CavityQED)]
        keys += [f"{node}.dynamical_decoupling.{n}" for n in _field_names(DynamicalDecoupling)]
    return keys


def _fields(numbers: Mapping[str, Sourced], prefix: str) -> dict[str, float]:
    """The values directly under ``prefix`` (not those of nested components)."""
    n = len(prefix) + 1
    return {k[n:]: r.value for k, r in numbers.items() if k.startswith(prefix + ".") and "." not in k[n:]}


def _node(numbers: Mapping[str, Sourced], prefix: str, name: str, decay: str) -> AtomCavityNode:
    cavity_fields = _fields(numbers, f"{prefix}.cavity")
    dd_fields = _fields(numbers, f"{prefix}.dynamical_decoupling")
    return AtomCavityNode(
        name,
        **_fields(numbers, prefix),
        coherence_decay=decay,  # type: ignore[arg-type]
        cavity=CavityQED(**cavity_fields) if cavity_fields else None,
        dynamical_decoupling=DynamicalDecoupling(**dd_fields) if dd_fields else None,
    )


def preset_problems(spec: PresetFile) -> list[str]:
    """Number names a component does not have, units that do not match the name: one line each."""
    valid = _valid_numbers()
    lines = []
    for table, entries in (("numbers", spec.numbers), ("headline", spec.headline)):
        for key, number in entries.items():
            if table == "numbers" and key not in valid:
                close = difflib.get_close_matches(key, valid, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                lines.append(f'{table}."{key}": unknown number{hint}')
            elif number.unit != expected_unit(key):
                lines.append(f'{table}."{key}".unit: expected {expected_unit(key)!r}, got {number.unit!r}')
    return lines


def build_preset(spec: PresetFile) -> Preset:
    """The Preset a validated file describes; every number it sets must have exactly one record."""
    numbers = {k: n.record() for k, n in spec.numbers.items()}
    link, converter = _fields(numbers, "link"), _fields(numbers, "converter")
    if "attempt_rate_hz" not in link:
        raise InvalidParameter('numbers."link.attempt_rate_hz": required number is missing')
    preset = Preset(
        name=spec.name,
        title=spec.title,
        reference=spec.reference,
        scheme=spec.scheme,
        emitter=_node(numbers, "emitter", spec.nodes[0], spec.coherence_decay),
        receiver=_node(numbers, "receiver", spec.nodes[1], spec.coherence_decay),
        fiber=Fiber(**_fields(numbers, "fiber")),
        detector=Detector(**_fields(numbers, "detector")),
        converter=FrequencyConverter(**converter) if converter else None,
        provenance=numbers,
        headline={k: n.record() for k, n in spec.headline.items()},
        reproduces=spec.reproduces,
        attempt_rate_hz=link.pop("attempt_rate_hz"),
        resolved_bell_states=int(link.pop("resolved_bell_states", 2)),
        **link,
    )
    return check_provenance(preset)


def _packaged_texts() -> dict[str, str]:
    """The shipped preset files' text by file stem (package data, read like the package's own code)."""
    folder = resources.files("qkdnet.hardware") / "presets"
    return {
        f.name[: -len(".toml")]: f.read_text(encoding="utf-8") for f in folder.iterdir() if f.name.endswith(".toml")
    }


def preset_from_document(document: Mapping[str, Any], source: str) -> Preset:
    """The preset a parsed preset file describes (schema, names and units, then :func:`check_provenance`).

    Raises pydantic's ValidationError for a schema error (callers format it like a scenario error) and
    InvalidParameter, prefixed with ``source``, for everything else.
    """
    spec = PresetFile.model_validate(document)
    problems = preset_problems(spec)
    if problems:
        raise InvalidParameter("\n".join(f"{source}: {line}" for line in problems))
    try:
        return build_preset(spec)
    except (InvalidParameter, TypeError, ValueError) as exc:
        raise InvalidParameter(f"{source}: {exc}") from None


def packaged_presets() -> dict[str, Preset]:
    """The presets shipped with qkdnet, by name; each file is named after its preset."""
    presets: dict[str, Preset] = {}
    for stem, text in sorted(_packaged_texts().items()):
        source = f"qkdnet/hardware/presets/{stem}.toml"
        try:
            preset = preset_from_document(tomllib.loads(text), source)
        except ValidationError as exc:  # a shipped file is wrong: a bug, say where
            raise InvalidParameter(f"{source}: {exc}") from None
        if preset.name != stem:
            raise InvalidParameter(f"{source}: name: the preset {preset.name!r} must be in a file named {stem}.toml")
        presets[preset.name] = preset
    return presets


__all__ = ["PresetFile", "PresetNumber", "build_preset", "expected_unit", "packaged_presets", "preset_from_document"]
__all__ += ["preset_problems"]
