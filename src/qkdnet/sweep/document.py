"""A sweep's base configuration: a scenario file (qkdnet.config) plus the settings of the runner, by field.

A sweep file is a scenario TOML (``examples/two_labs.toml``) that may add four tables the scenario schema
does not know: ``[sweep]`` (``scenario``: a scenario file to build on, relative to this one; ``runner``; and
``vary``: field → value text as on the command line), ``[memory]``
(``storage_s``, read by the ``link`` runner), ``[key]`` and ``[eve]`` (read by the ``key`` runner). Every
scalar of the validated document is a *field* with an address:

- scenario fields as the file spells them: ``seed``, ``nodes.alice.memories``, ``links[0].length_km``,
  ``requests[0].pairs``, ``policies.cutoff_s``;
- ``link.X`` for ``links[0].X`` and ``request.X`` for ``requests[0].X`` when there is exactly one;
- the runner's own tables: ``memory.storage_s``, ``key.pairs``, ``eve.strength``...

The resolved configuration of a run (what its key hashes and its runner reads) is the validated scenario
(``Scenario.model_dump``: every default filled in) plus ``sweep.runner`` and the runner's tables.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from qkdnet.config import ConfigError, parse_scenario
from qkdnet.config.files import read_toml
from qkdnet.errors import InvalidParameter

#: Tables of a sweep file that belong to the sweep, not to the scenario.
SWEEP_TABLES = ("sweep", "memory", "key", "eve")
Scalar = bool | int | float | str | None
_INDEX = re.compile(r"^(?P<name>[A-Za-z_]+)\[(?P<index>\d+)\]$")
#: Scenario fields that hold arrays (even when unset): not addressable by --vary.
_ARRAY_FIELDS = frozenset({"endpoints", "position_km", "route"})


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemorySettings(_Table):
    """``[memory]``: both qubits of every pair wait ``storage_s`` more in their memories before they are used."""

    storage_s: Annotated[StrictFloat, Field(ge=0.0, allow_inf_nan=False)] = 0.0


class KeySettings(_Table):
    """``[key]``: one key run per point (:func:`qkdnet.qkd.run_key_exchange`).

    ``visibility`` replaces the link's pairs by Werner pairs of that visibility at the link's attempt rate
    (the honest channel of ``qkdnet attack``); ``None`` uses the link itself.
    """

    protocol: Literal["bbm92", "e91"] = "bbm92"
    pairs: Annotated[StrictInt, Field(ge=1)] = 100_000
    security: Literal["trusted", "device-independent"] = "trusted"
    key_length: Literal["finite", "asymptotic"] | None = None
    visibility: Annotated[StrictFloat, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None = None


class EveSettings(_Table):
    """``[eve]``: the eavesdropper of a key run (:func:`qkdnet.attacks.make_attack`); strength 0 means no Eve."""

    kind: StrictStr = "intercept-resend"
    strength: Annotated[StrictFloat, Field(ge=0.0, allow_inf_nan=False)] = 0.0
    angle_deg: Annotated[StrictFloat, Field(allow_inf_nan=False)] = 0.0


class SweepSettings(_Table):
    """``[sweep]``: the scenario file it builds on (if any), which runner, and the fields to vary
    (``{"link.length_km" = "1:100:20"}``)."""

    scenario: StrictStr | None = None
    runner: StrictStr | None = None
    vary: dict[StrictStr, StrictStr | StrictFloat | StrictInt | list[Any]] = {}


#: The runner tables and their models.
RUNNER_TABLES: dict[str, type[_Table]] = {"memory": MemorySettings, "key": KeySettings, "eve": EveSettings}


@dataclass(frozen=True, slots=True)
class SweepDocument:
    """A scenario document (as parsed TOML) and the sweep's own tables, before any field is set."""

    scenario: dict[str, Any]
    tables: dict[str, dict[str, Any]]
    source: str

    @property
    def settings(self) -> SweepSettings:
        """The ``[sweep]`` table."""
        settings: SweepSettings = _validated(SweepSettings, self.tables.get("sweep", {}), "sweep", self.source)
        return settings


def read_document(path: str | os.PathLike[str]) -> SweepDocument:
    """Read a scenario or sweep file; the scenario part is validated later, per point."""
    source = os.fspath(path)
    doc = read_toml(source)
    base = doc.get("sweep", {}).get("scenario") if isinstance(doc.get("sweep"), dict) else None
    if isinstance(base, str):  # a sweep file on top of a scenario file: its own top-level entries win
        scenario = read_toml(Path(source).parent / base)
        doc = {**{k: v for k, v in scenario.items() if k not in SWEEP_TABLES}, **doc}
    return split_document(doc, source=source)


def split_document(doc: Mapping[str, Any], *, source: str = "<sweep>") -> SweepDocument:
    """Separate the sweep's tables from the scenario's; the ``[generate]`` table is expanded once here."""
    scenario = {k: v for k, v in doc.items() if k not in SWEEP_TABLES}
    tables = {}
    for name in SWEEP_TABLES:
        if name in doc:
            if not isinstance(doc[name], dict):
                raise ConfigError([f"{source}: {name}: expected a table, got {doc[name]!r}"])
            tables[name] = dict(doc[name])
    if "generate" in scenario:
        scenario = parse_scenario(scenario, source=source, skip_bad_requests=True).model_dump(mode="json")
    return SweepDocument(scenario=scenario, tables=tables, source=source)


def _validated(model: type[_Table], data: Mapping[str, Any], table: str, source: str) -> Any:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in (table, *err["loc"]))
            message = err["msg"].replace("Input should be", "expected")
            if err["type"] == "extra_forbidden":
                close = difflib.get_close_matches(str(err["loc"][-1]), list(model.model_fields), n=1)
                hint = f"did you mean {table}.{close[0]}? " if close else ""
                message = f"unknown field; {hint}expected one of: {', '.join(model.model_fields)}"
            lines.append(f"{source}: {where}: {message}, got {err['input']!r}"[:300])
        raise ConfigError(lines) from None


def resolve(doc: SweepDocument, runner: str, tables: tuple[str, ...], *, source: str | None = None) -> dict[str, Any]:
    """The full configuration of one run: the validated scenario, ``sweep.runner`` and the runner's tables.

    A table the runner does not read must not be set: a value nobody reads would split runs by key
    without changing them.
    """
    where = source or doc.source
    unread = [t for t in doc.tables if t in RUNNER_TABLES and t not in tables and doc.tables[t]]
    if unread:
        reads = ", ".join(f"[{t}]" for t in tables) or "only the scenario"
        raise ConfigError(
            [f"{where}: {t}: the {runner!r} runner does not read [{t}] (it reads {reads})" for t in unread]
        )
    scenario = parse_scenario(doc.scenario, source=where, skip_bad_requests=True)
    config: dict[str, Any] = scenario.model_dump(mode="json")
    config["sweep"] = {"runner": runner}
    for name in tables:
        config[name] = _validated(RUNNER_TABLES[name], doc.tables.get(name, {}), name, where).model_dump(mode="json")
    return config


def _walk(value: Any, address: str, out: dict[str, Scalar]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(v, f"{address}.{k}" if address else str(k), out)
    elif isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return  # arrays of numbers or names (endpoints, position_km, route) are not fields
        for i, v in enumerate(value):
            _walk(v, f"{address}[{i}]", out)
    elif address.rsplit(".", 1)[-1] not in _ARRAY_FIELDS:
        out[address] = value


def flatten(config: Mapping[str, Any]) -> dict[str, Scalar]:
    """Every field of a resolved configuration by address (``links[0].length_km``), in document order."""
    out: dict[str, Scalar] = {}
    _walk(dict(config), "", out)
    out.pop("sweep.runner", None)
    return out


#: Link fields added after scenarios were fingerprinted: left out of a resolved scenario when absent (so old
#: fingerprints hold), yet addressable by ``--vary``, at the value their absence means.
OPTIONAL_LINK_FIELDS: dict[str, Scalar] = {"modes": 1}


def addressable(config: Mapping[str, Any]) -> dict[str, Scalar]:
    """:func:`flatten`, plus each link's :data:`OPTIONAL_LINK_FIELDS` it leaves out, at their defaults."""
    out = flatten(config)
    for i, _ in enumerate(config.get("links") or []):
        for name, default in OPTIONAL_LINK_FIELDS.items():
            out.setdefault(f"links[{i}].{name}", default)
    return out


def aliases(config: Mapping[str, Any]) -> dict[str, str]:
    """Short addresses: ``link.X`` → ``links[0].X`` (one link), ``request.X`` → ``requests[0].X`` (one request)."""
    out = {}
    for short, plural in (("link", "links"), ("request", "requests")):
        entries = config.get(plural) or []
        if len(entries) == 1:
            keys = [*entries[0], *(OPTIONAL_LINK_FIELDS if plural == "links" else ())]
            out.update({f"{short}.{k}": f"{plural}[0].{k}" for k in dict.fromkeys(keys) if k not in _ARRAY_FIELDS})
    return out


def canonical_field(name: str, config: Mapping[str, Any]) -> str:
    """The address ``name`` stands for, or an error naming the nearest valid fields."""
    fields = addressable(config)
    if name in fields:
        return name
    short = aliases(config)
    if name in short:
        return short[name]
    for prefix, plural in (("link.", "links"), ("request.", "requests")):
        entries = config.get(plural) or []
        if name.startswith(prefix) and len(entries) != 1:
            raise InvalidParameter(
                f"--vary {name}: {prefix[:-1]}.* needs a scenario with exactly one {prefix[:-1]}, this one has "
                f"{len(entries)}: use {plural}[i].{name[len(prefix) :]}"
            )
    known = list(fields) + list(short)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    if not close:
        tail = name.rsplit(".", 1)[-1]
        close = [f for f in known if f.endswith("." + tail) or f == tail][:3]
    hint = f"; nearest: {', '.join(close)}" if close else ""
    raise InvalidParameter(f"--vary {name}: no such field{hint} (qkdnet sweep --list-fields SCENARIO lists them)")


def set_field(doc: SweepDocument, address: str, value: Scalar) -> SweepDocument:
    """A copy of ``doc`` with the field at canonical ``address`` set to ``value``."""
    scenario = copy.deepcopy(doc.scenario)
    tables = copy.deepcopy(doc.tables)
    head, _, rest = address.partition(".")
    target: Any
    if head in RUNNER_TABLES:
        target, parts = tables.setdefault(head, {}), rest.split(".")
    else:
        target, parts = scenario, address.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        match = _INDEX.match(part)
        if match:
            container = target.setdefault(match["name"], [])
            index = int(match["index"])
            if last:
                container[index] = value
            else:
                target = container[index]
        elif last:
            target[part] = value
        else:
            target = target.setdefault(part, {})
    return SweepDocument(scenario=scenario, tables=tables, source=doc.source)


__all__ = [
    "OPTIONAL_LINK_FIELDS",
    "RUNNER_TABLES",
    "SWEEP_TABLES",
    "EveSettings",
    "KeySettings",
    "MemorySettings",
    "Scalar",
    "SweepDocument",
    "SweepSettings",
    "addressable",
    "aliases",
    "canonical_field",
    "flatten",
    "read_document",
    "resolve",
    "set_field",
    "split_document",
]
