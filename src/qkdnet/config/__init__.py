"""Scenario files: a TOML schema (pydantic) for nodes, links, requests, policies and a seed, with clear errors.

Layer 6. Every problem in a file is reported at once, one line each: ``FILE: FIELD.PATH: what was
expected, got what`` (:class:`~qkdnet.errors.ConfigError`, an InvalidParameter). Large networks come
from a ``[generate]`` table or from :func:`random_geometric_document` (written out with :func:`dump_toml`).
"""

from qkdnet.config.build import build_network, build_policies, build_requests, link_physics
from qkdnet.config.generate import dump_toml, random_geometric_document
from qkdnet.config.load import load_scenario, parse_scenario, random_geometric_scenario
from qkdnet.config.schema import (
    HERALDING_SCHEMES,
    GenerateSpec,
    Heralding,
    LinkSpec,
    NodeSpec,
    PolicySpec,
    RequestSpec,
    RoutingMetric,
    Scenario,
    SkippedRequest,
)
from qkdnet.errors import ConfigError

__all__ = [
    "HERALDING_SCHEMES",
    "ConfigError",
    "GenerateSpec",
    "Heralding",
    "LinkSpec",
    "NodeSpec",
    "PolicySpec",
    "RequestSpec",
    "RoutingMetric",
    "Scenario",
    "SkippedRequest",
    "build_network",
    "build_policies",
    "build_requests",
    "dump_toml",
    "link_physics",
    "load_scenario",
    "parse_scenario",
    "random_geometric_document",
    "random_geometric_scenario",
]
