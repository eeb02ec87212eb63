"""Preset files: the TOML schema of a published (or a user's own) link, and the loader that builds its Preset.

A preset file (``src/qkdnet/hardware/presets/<name>.toml``, or a user's own) names the link (``name``, ``title``,
``reference``, ``scheme``, ``nodes``, ``coherence_decay``, ``reproduces``) and gives every number as a table
``[numbers."emitter.t2_s"]`` (or ``[headline.chsh]``) with ``value``, ``unit``, ``source``, ``where`` (figure,
table, page or abstract), ``status`` (``confirmed``, ``estimate`` or ``calibrated``: a calibrated number's
``note`` says what it was fitted to) and optionally ``note`` and ``uncertainty``. The schema is a pydantic model,
as scenario files are, and an error names the file, the field and the closest valid name.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError, model_validator

from qkdnet.errors import InvalidParameter
from qkdnet.hardware._records import SCHEMES, Preset, Scheme, Sourced, check_provenance
from qkdnet.hardware.cavity import CavityQED
from qkdnet.hardware.components import AtomCavityNode, Detector, Fiber
from qkdnet.hardware.memory import DynamicalDecoupling
from qkdnet.hardware.photonics import FrequencyConverter

#: The presets shipped with qkdnet (package data).
PACKAGED_DIR = Path(__file__).with_name("presets")
_SUFFIX_UNITS: tuple[tuple[str, str], ...] = (("_db_per_km", "dB/km"), ("_per_km", "1/km"), ("_mhz", "MHz"))
_SUFFIX_UNITS += (("_hz", "Hz"), ("_km", "km"), ("_nm", "nm"), ("_s", "s"))
_NAMED_UNITS = {"key_bits": "bit", "secret_key_bits_per_event": "bit/event", "resolved_bell_states": "count"}
_LINK_NAMES: tuple[str, ...] = ("attempt_rate_hz", "measurement_delay_s", "station_position", "two_photon_overlap")
_LINK_NAMES += ("resolved_bell_states", "bright_population")
_Text = Annotated[StrictStr, Field(min_length=1)]


def expected_unit(key: str) -> str:
    """The unit a number's name implies: ``t2_s`` → ``s``, ``g_mhz`` → ``MHz``; ``1`` for a plain ratio."""
    name = key.rsplit(".", 1)[-1]
    if name in _NAMED_UNITS:
        return _NAMED_UNITS[name]
    return next((unit for suffix, unit in _SUFFIX_UNITS if name.endswith(suffix)), "1")


class _Number(BaseModel):
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
    def _explained(self) -> _Number:
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
    numbers: dict[str, _Number]
    headline: dict[str, _Number] = {}


def _field_names(cls: type[Any]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def _valid_numbers() -> list[str]:
    """Every number a preset file may set, by its dotted name."""
    keys = [f"fiber.{n}" for n in _field_names(Fiber)] + [f"detector.{n}" for n in _field_names(Detector)]
    keys += [f"converter.{n}" for n in _field_names(FrequencyConverter)] + [f"link.{n}" for n in _LINK_NAMES]
    for node in ("emitter", "receiver"):
        keys += [f"{node}.{n}" for n in _field_names(AtomCavityNode)]
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


def _problems(spec: PresetFile) -> list[str]:
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


def _error_lines(error: ValidationError) -> list[str]:
    """Pydantic's errors as ``field.path: message`` lines, with a 'did you mean' for an unknown field."""
    lines = []
    for err in error.errors():
        loc = [str(part) for part in err["loc"] if not str(part).startswith(("float", "int"))]
        path = ".".join(f'"{p}"' if "." in p else p for p in loc)
        if err["type"] == "extra_forbidden":
            fields = list((_Number if loc[0] in ("numbers", "headline") else PresetFile).model_fields)
            close = difflib.get_close_matches(loc[-1], fields, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            lines.append(f"{path}: unknown field; {hint}expected one of: {', '.join(fields)}")
        elif err["type"] == "missing":
            lines.append(f"{path}: required field is missing")
        else:
            lines.append(f"{path}: {err['msg'].replace('Input should be', 'expected')}, got {err['input']!r}")
    return list(dict.fromkeys(lines))


def load_preset_file(path: str | Path) -> Preset:
    """The preset a TOML file describes, validated; one InvalidParameter naming the file and fields otherwise."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidParameter(f"{path}: cannot read preset file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidParameter(f"{path}: not valid TOML ({exc})") from None
    try:
        spec = PresetFile.model_validate(document)
    except ValidationError as exc:
        raise InvalidParameter("; ".join(f"{path}: {line}" for line in _error_lines(exc))) from None
    problems = _problems(spec)
    if problems:
        raise InvalidParameter("; ".join(f"{path}: {line}" for line in problems))
    try:
        return build_preset(spec)
    except (InvalidParameter, TypeError, ValueError) as exc:
        raise InvalidParameter(f"{path}: {exc}") from None


def load_directory(directory: Path) -> dict[str, Preset]:
    """Every ``*.toml`` preset in ``directory`` by name (none if it does not exist); a file's name is its preset's."""
    presets: dict[str, Preset] = {}
    for path in sorted(directory.glob("*.toml")) if directory.is_dir() else []:
        preset = load_preset_file(path)
        if preset.name != path.stem:
            raise InvalidParameter(
                f"{path}: name: the preset {preset.name!r} must be in a file named {preset.name}.toml"
            )
        presets[preset.name] = preset
    return presets


__all__ = ["PACKAGED_DIR", "SCHEMES", "PresetFile", "build_preset", "expected_unit", "load_directory"]
__all__ += ["load_preset_file"]
