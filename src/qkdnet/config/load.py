"""Read a scenario (TOML file, TOML text or a parsed document) and validate it, or say exactly what is wrong.

Every problem becomes one line ``FILE: FIELD.PATH: what was expected, got what``, all of them at once, in
one :class:`~qkdnet.errors.ConfigError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from qkdnet.config._schema_errors import show, validation_lines
from qkdnet.config.checks import link_problems, request_problems, request_reference_problems, system_problems
from qkdnet.config.files import parse_toml, read_text
from qkdnet.config.generate import random_geometric_document
from qkdnet.config.presets import load_preset_path, load_user_presets
from qkdnet.config.schema import (
    Defaults,
    GenerateSpec,
    LinkDefaults,
    LinkSpec,
    NodeDefaults,
    NodeSpec,
    PolicySpec,
    RequestDefaults,
    RequestSpec,
    Scenario,
    SkippedRequest,
    SystemSpec,
    TimeTagSideSpec,
    TimeTagSpec,
)
from qkdnet.errors import ConfigError


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The schema model whose fields live at ``loc`` (to list the valid ones after a typo)."""
    match loc:
        case ():
            return Scenario
        case ("nodes", str()):
            return NodeSpec
        case ("links", int()):
            return LinkSpec
        case ("requests", int()):
            return RequestSpec
        case ("policies",):
            return PolicySpec
        case ("system",):
            return SystemSpec
        case ("links", int(), "timetags"):
            return TimeTagSpec
        case ("links", int(), "timetags", "alice" | "bob"):
            return TimeTagSideSpec
        case ("defaults",):
            return Defaults
        case ("generate",):
            return GenerateSpec
        case ("defaults", "node"):
            return NodeDefaults
        case ("defaults", "link"):
            return LinkDefaults
        case ("defaults", "request"):
            return RequestDefaults
    return None


def _merge_defaults(document: dict[str, Any], defaults: Defaults) -> dict[str, Any]:
    """Fill in each node, link and request from ``[defaults]`` where it leaves a field out."""
    doc = dict(document)
    node_d = defaults.node.model_dump(exclude_none=True)
    link_d = defaults.link.model_dump(exclude_none=True)
    request_d = defaults.request.model_dump(exclude_none=True)
    if isinstance(doc.get("nodes"), dict):
        doc["nodes"] = {k: {**node_d, **v} if isinstance(v, dict) else v for k, v in doc["nodes"].items()}
    if isinstance(doc.get("links"), list):
        doc["links"] = [{**link_d, **v} if isinstance(v, dict) else v for v in doc["links"]]
    if isinstance(doc.get("requests"), list):
        merged = []
        for v in doc["requests"]:
            if isinstance(v, dict):
                base = dict(request_d)
                if "pairs" in v or "key_bits" in v:  # the entry chose its own kind of amount
                    base.pop("pairs", None)
                    base.pop("key_bits", None)
                v = {**base, **v}
            merged.append(v)
        doc["requests"] = merged
    return doc


def _generated(doc: dict[str, Any], source: str) -> dict[str, Any]:
    """Replace a ``[generate]`` table by the nodes, links (and requests, unless given) it makes from the seed."""
    try:
        spec = GenerateSpec.model_validate(doc.pop("generate"))
    except ValidationError as exc:
        raise ConfigError(validation_lines(source, exc, ("generate",), _model_at)) from None
    seed = doc.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        shown = "required field is missing" if seed is None else f"expected an integer >= 0, got {show(seed)}"
        raise ConfigError([f"{source}: seed: {shown}"])
    given = [k for k in ("nodes", "links") if k in doc]
    if given:
        raise ConfigError(
            [f"{source}: generate: the generator makes the nodes and links; remove {' and '.join(given)}"]
        )
    made = random_geometric_document(
        spec.nodes,
        n_requests=spec.requests,
        side_km=spec.side_km,
        radius_km=spec.radius_km,
        fiber_factor=spec.fiber_factor,
        seed=seed,
        preset=spec.preset,
        heralding=spec.heralding,
        memories=spec.memories,
        pairs=spec.pairs,
        min_fidelity=spec.min_fidelity,
    )
    made = _merge_defaults(made, Defaults.model_validate(made.pop("defaults")))
    keep = {"nodes", "links"} | ({"requests"} if "requests" not in doc else set())
    out = {k: v for k, v in made.items() if k in keep or (k in ("name", "description") and k not in doc)}
    return {**doc, **out}


def _register_presets(paths: object, source: str) -> None:
    """Register a user's presets: the installed ones, then each ``preset_paths`` entry (beside the scenario file)."""
    if not isinstance(paths, list | tuple) or not all(isinstance(p, str) for p in paths):
        raise ConfigError([f"{source}: preset_paths: expected an array of paths (strings), got {paths!r}"])
    load_user_presets()
    base = Path(source).parent if Path(source).is_file() else Path.cwd()
    for path in paths:
        load_preset_path(base / path)


def parse_scenario(
    document: str | Mapping[str, Any], *, source: str = "<scenario>", skip_bad_requests: bool = False
) -> Scenario:
    """Validate a scenario given as TOML text or as an already parsed document.

    ``preset_paths`` (an array of preset files or directories, relative to the scenario file) registers a
    user's own presets, as :func:`qkdnet.config.presets.load_preset_path` does, before the nodes name them.

    A ``[generate]`` table (``kind = "random-geometric"``, sizes) makes the nodes, links and, unless the
    document lists its own, the requests, from the scenario's seed.

    With ``skip_bad_requests``, requests that cannot be served (unreachable, an end without memories, a
    bad forced route) are set aside in ``Scenario.skipped_requests`` instead of failing the whole file.
    """
    if isinstance(document, str):
        document = parse_toml(document, source=source)
    doc = dict(document)
    _register_presets(doc.pop("preset_paths", ()), source)
    if "generate" in doc:
        doc = _generated(doc, source)
    try:
        defaults = Defaults.model_validate(doc.pop("defaults", {}))
    except ValidationError as exc:
        raise ConfigError(validation_lines(source, exc, ("defaults",), _model_at)) from None
    try:
        scenario = Scenario.model_validate(_merge_defaults(doc, defaults))
    except ValidationError as exc:
        raise ConfigError(validation_lines(source, exc, (), _model_at)) from None
    problems = link_problems(scenario) + request_reference_problems(scenario) + system_problems(scenario)
    if problems:
        raise ConfigError([f"{source}: {path}: {message}" for path, message in problems])
    bad = request_problems(scenario)
    if bad and not skip_bad_requests:
        raise ConfigError([f"{source}: {path}: {message}" for _, (path, message) in bad])
    if bad:
        dropped = {i for i, _ in bad}
        kept = tuple(r for i, r in enumerate(scenario.requests) if i not in dropped)
        skipped = tuple(
            SkippedRequest(index=i, request=scenario.requests[i], reason=f"{path}: {message}")
            for i, (path, message) in bad
        )
        scenario = scenario.model_copy(update={"requests": kept})
        scenario._skipped = skipped
    return scenario


def load_scenario(path: str | os.PathLike[str], *, skip_bad_requests: bool = False) -> Scenario:
    """Read and validate a scenario file (TOML); :class:`~qkdnet.errors.ConfigError` lists every problem."""
    source = os.fspath(path)
    return parse_scenario(read_text(source), source=source, skip_bad_requests=skip_bad_requests)


def random_geometric_scenario(n_nodes: int = 1000, **kwargs: Any) -> Scenario:
    """The validated :class:`Scenario` of :func:`~qkdnet.config.generate.random_geometric_document`."""
    return parse_scenario(random_geometric_document(n_nodes, **kwargs), source="<random geometric network>")


__all__ = ["load_scenario", "parse_scenario", "random_geometric_scenario"]
