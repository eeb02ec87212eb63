"""A sweep plan: the base document, the runner and the axes, turned into runs (key, seed, configuration).

Every point is resolved and validated before anything runs, so a bad value at point 180 of 200 fails at once,
in one line, naming the field.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from qkdnet.errors import InvalidParameter
from qkdnet.sweep.document import (
    RUNNER_TABLES,
    Scalar,
    SweepDocument,
    addressable,
    aliases,
    canonical_field,
    flatten,
    read_document,
    resolve,
    set_field,
)
from qkdnet.sweep.grid import MAX_POINTS, Axis, grid, grid_size, merge_axes, parse_vary
from qkdnet.sweep.keys import canonical_json, run_key, run_seed
from qkdnet.sweep.runners import RUNNERS, get_runner
from qkdnet.sweep.whole_presets import keep_presets_whole


@dataclass(frozen=True, slots=True)
class RunPoint:
    """One run of a sweep: its id (the run key: SHA-256 of the configuration), its seed, its resolved
    configuration and the values of its varied fields."""

    run_id: str
    seed: int
    config: dict[str, Any]
    varied: dict[str, Scalar]

    @property
    def config_json(self) -> str:
        """The canonical JSON the key hashes."""
        return canonical_json(self.config)


@dataclass(frozen=True, slots=True)
class SweepPlan:
    """What to run: the document, the runner and the axes (canonical field addresses)."""

    document: SweepDocument
    runner: str
    axes: tuple[Axis, ...]

    @property
    def size(self) -> int:
        """Number of runs (grid points)."""
        return grid_size(self.axes)

    @property
    def varied_fields(self) -> tuple[str, ...]:
        """Canonical addresses of the varied fields, in ``--vary`` order."""
        return tuple(a.field for a in self.axes)

    def points(self) -> Iterator[RunPoint]:
        """Every run, resolved and keyed, in grid order (the last axis fastest); a varied link preset brings
        its scheme and node hardware along (:mod:`qkdnet.sweep.whole_presets`)."""
        tables = get_runner(self.runner).tables
        for values in grid(self.axes):
            doc = self.document
            for field, value in values.items():
                doc = set_field(doc, field, value)
            doc = keep_presets_whole(doc, values)
            where = f"{self.document.source} at " + ", ".join(f"{f}={v!r}" for f, v in values.items())
            config = resolve(doc, self.runner, tables, source=where if values else None)
            key = run_key(config)
            yield RunPoint(run_id=key, seed=run_seed(int(config["seed"]), key), config=config, varied=values)


def default_runner(document: SweepDocument, fields: Sequence[str]) -> str:
    """``[sweep] runner`` if set; else ``key`` when ``[key]``/``[eve]`` is set or varied; else ``link`` for a
    scenario with one link and ``network`` otherwise (when that runner is installed)."""
    chosen = document.settings.runner
    if chosen is not None:
        return chosen
    touched = {f.split(".", 1)[0] for f in fields} | {t for t, v in document.tables.items() if v}
    if touched & {"key", "eve"}:
        return "key"
    links = document.scenario.get("links") or []
    if len(links) == 1 or "network" not in RUNNERS:
        return "link"
    return "network"


def _coerce(value: Scalar, current: Scalar) -> Scalar:
    """A range's float where the field holds an integer becomes that integer (``key.pairs=1e4:1e5:4``)."""
    if isinstance(current, int) and not isinstance(current, bool) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def plan_sweep(
    scenario: str | os.PathLike[str] | SweepDocument,
    vary: Sequence[str | Axis] = (),
    *,
    runner: str | None = None,
) -> SweepPlan:
    """Read the scenario (or sweep file), add ``vary`` to its ``[sweep] vary`` table, check every field.

    ``vary`` holds ``FIELD=VALUES`` texts (``--vary``) or :class:`Axis` objects. Raises
    :class:`~qkdnet.errors.InvalidParameter` naming a field that does not exist and the nearest valid ones.
    """
    document = scenario if isinstance(scenario, SweepDocument) else read_document(scenario)
    from_file = [parse_vary(f"{k}={_text(v)}") for k, v in document.settings.vary.items()]
    given = [v if isinstance(v, Axis) else parse_vary(v) for v in vary]
    axes = merge_axes(from_file + given)
    name = runner or default_runner(document, [a.field for a in axes])
    spec = get_runner(name)
    for axis in axes:
        head = axis.field.split(".", 1)[0]
        if head in RUNNER_TABLES and head not in spec.tables:
            reads = ", ".join(f"{t}.*" for t in spec.tables) or "scenario fields only"
            raise InvalidParameter(f"--vary {axis.field}: the {name!r} runner does not read it (it reads {reads})")
    base = resolve(document, name, spec.tables)
    links = len(base.get("links", []))
    if name in ("link", "key") and links != 1:
        others = [r for r in RUNNERS if r not in ("link", "key", "null")]
        hint = f"; --runner {others[0]} simulates the whole network" if others else ""
        raise InvalidParameter(
            f"the {name!r} runner needs a scenario with exactly one link, this one has {links}{hint}"
        )
    fields = addressable(base)
    canonical = []
    for axis in axes:
        field = canonical_field(axis.field, base)
        canonical.append(Axis(field, tuple(_coerce(v, fields[field]) for v in axis.values)))
    plan = SweepPlan(document=document, runner=name, axes=merge_axes(canonical))
    if plan.size > MAX_POINTS:
        raise InvalidParameter(f"the sweep has {plan.size:,} points, more than {MAX_POINTS:,}: check the counts")
    return plan


def _text(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def list_fields(document: SweepDocument, runner: str | None = None) -> list[tuple[str, Scalar, str]]:
    """Every addressable field of the document for ``runner``: (address, value, note), aliases included; without
    a ``runner``, also the other runners' tables (``key.*``, ``eve.*``…) where they apply, noted with the runner
    they select."""
    name = runner or default_runner(document, [])
    base = resolve(document, name, get_runner(name).tables)
    flat = addressable(base)
    out: list[tuple[str, Scalar, str]] = [(f, v, "") for f, v in flat.items()]
    out += [(short, flat[full], f"= {full}") for short, full in aliases(base).items()]
    if runner is None and len(base.get("links", [])) == 1:  # the link and key runners model one link
        for other in RUNNERS.values():
            extra = [t for t in other.tables if t not in base]
            if extra:
                fields = flatten(resolve(document, other.name, other.tables))
                out += [
                    (f, v, f"selects the {other.name!r} runner") for f, v in fields.items() if f.split(".")[0] in extra
                ]
    return out


__all__ = ["RunPoint", "SweepPlan", "default_runner", "list_fields", "plan_sweep"]
