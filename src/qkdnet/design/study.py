"""A design study file (TOML): the chain, the parameters the search may improve and how far, and the search.

::

    [chain]                      # N nodes over L km in equal elementary links, hardware of one preset
    preset = "krutyanskiy2023"
    nodes = 3
    length_km = 100.0
    gate_fidelity = 0.99         # the repeaters' swap fidelity before improvement (presets give none)

    [parameters]                 # each improvable number and the largest factor the search may try
    memory_t2 = 100.0
    collection_efficiency = 10.0

    [search]
    evaluations = 600

Errors read like a scenario file's: ``FILE: FIELD.PATH: what was expected``, one line each.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError, model_validator

from qkdnet.config._schema_errors import validation_lines
from qkdnet.config.files import parse_toml, read_text
from qkdnet.config.schema import Heralding, PositiveFloat, Probability
from qkdnet.design.space import PARAMETERS
from qkdnet.errors import ConfigError
from qkdnet.hardware import get_preset, preset_names

Factor = Annotated[StrictFloat | StrictInt, Field(gt=1.0, le=1e6, allow_inf_nan=False)]


class ChainSpec(BaseModel):
    """The repeater chain: its preset, nodes, length, heralding scheme, modes and how many pairs a point gets."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    preset: str
    nodes: Annotated[StrictInt, Field(ge=2, le=64)] = 3
    length_km: PositiveFloat
    heralding: Heralding | None = None
    modes: Annotated[StrictInt, Field(ge=1, le=100_000)] = 1
    gate_fidelity: Probability = 1.0
    cutoff_s: PositiveFloat | None = None
    pairs: Annotated[StrictInt, Field(ge=100, le=10_000_000)] = 2000

    @model_validator(mode="after")
    def _known_preset(self) -> ChainSpec:
        if self.preset not in preset_names():
            raise ValueError(f"unknown preset {self.preset!r}; expected one of: {', '.join(preset_names())}")
        return self


class SearchSpec(BaseModel):
    """The search: evaluations, its seed, the penalty per unit of missing margin, the confirmation's pairs."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    evaluations: Annotated[StrictInt, Field(ge=10, le=1_000_000)] = 600
    population: Annotated[StrictInt, Field(ge=4, le=1000)] = 20
    seed: Annotated[StrictInt, Field(ge=0)] = 1
    target_margin: Annotated[StrictFloat | StrictInt, Field(ge=1.0, le=1e6)] = 1.0
    penalty: PositiveFloat = 10.0
    confirm_pairs: Annotated[StrictInt, Field(ge=100, le=100_000_000)] = 20_000


class Study(BaseModel):
    """A whole design study file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = "design study"
    description: str = ""
    chain: ChainSpec
    parameters: dict[str, Factor]
    search: SearchSpec = SearchSpec()

    @model_validator(mode="after")
    def _known_parameters(self) -> Study:
        unknown = sorted(set(self.parameters) - set(PARAMETERS))
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; expected: {', '.join(PARAMETERS)}")
        if not self.parameters:
            raise ValueError("[parameters] names no parameter to improve")
        if self.search.confirm_pairs <= self.chain.pairs:
            raise ValueError(
                f"search.confirm_pairs ({self.search.confirm_pairs}) must exceed chain.pairs ({self.chain.pairs}): "
                "the confirmation is the finer look"
            )
        if get_preset(self.chain.preset).converter is None:
            for name in sorted({"conversion_efficiency", "conversion_fidelity"} & set(self.parameters)):
                raise ValueError(f"{name}: preset {self.chain.preset!r} has no frequency converter")
        return self


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model whose fields live at ``loc`` (to list the valid names after a typo)."""
    match loc:
        case ():
            return Study
        case ("chain",):
            return ChainSpec
        case ("search",):
            return SearchSpec
    return None


def parse_study(document: str | dict[str, Any], *, source: str = "<study>") -> Study:
    """Validate a study given as TOML text or a parsed document; :class:`ConfigError` lists every problem."""
    if isinstance(document, str):
        document = parse_toml(document, source=source)
    try:
        return Study.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(validation_lines(source, exc, (), _model_at)) from None


def load_study(path: str | os.PathLike[str]) -> Study:
    """Read and validate a study file."""
    source = os.fspath(path)
    return parse_study(read_text(source), source=source)


__all__ = ["ChainSpec", "SearchSpec", "Study", "load_study", "parse_study"]
