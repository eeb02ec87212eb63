"""A validated scenario as network objects: nodes with their presets' memories, links with their physics.

Each link is its preset's hardware over the link's fiber length, heralded by the link's scheme (which may
differ from the preset's own); each node's memory is its preset's (the emitter of the published link).
"""

from __future__ import annotations

import dataclasses
from functools import cache

from qkdnet.config.schema import LinkSpec, NodeSpec, Scenario
from qkdnet.hardware import AtomCavityNode, get_preset
from qkdnet.network import (
    HeraldedLink,
    Network,
    NetworkLink,
    NetworkNode,
    Policies,
    Request,
    link_for_preset,
)


@cache
def _node_hardware(spec: NodeSpec) -> AtomCavityNode:
    emitter = get_preset(spec.preset).emitter
    return emitter if spec.memory_t2_s is None else dataclasses.replace(emitter, t2_s=spec.memory_t2_s)


def link_physics(spec: LinkSpec) -> HeraldedLink:
    """The physics of one scenario link: its preset's hardware, its length, its heralding scheme, its modes."""
    preset = get_preset(spec.preset).with_length(spec.length_km)
    if preset.scheme != spec.heralding:
        preset = dataclasses.replace(preset, scheme=spec.heralding)
    return link_for_preset(preset, modes=spec.mode_count)


def build_network(scenario: Scenario) -> Network:
    """The scenario's nodes and links as a :class:`~qkdnet.network.Network`."""
    policies = scenario.policies
    nodes = [
        NetworkNode(
            name,
            spec.memories,
            _node_hardware(spec),
            swap_efficiency=policies.swap_efficiency,
            swap_fidelity=policies.swap_fidelity,
        )
        for name, spec in scenario.nodes.items()
    ]
    links = [NetworkLink(*spec.endpoints, link_physics(spec), name=spec.label) for spec in scenario.links]
    return Network(nodes, links)


def build_requests(scenario: Scenario) -> list[Request]:
    """The scenario's requests (those it kept) as :class:`~qkdnet.network.Request` objects."""
    return [
        Request(
            endpoints=r.endpoints,
            pairs=r.pairs,
            key_bits=r.key_bits,
            min_fidelity=r.min_fidelity,
            deadline_s=r.deadline_s,
            route=r.route,
            name=r.label,
        )
        for r in scenario.requests
    ]


def build_policies(scenario: Scenario) -> Policies:
    """The scenario's policies for :func:`~qkdnet.network.simulate`."""
    p = scenario.policies
    return Policies(
        cutoff_s=p.cutoff_s,
        purification_rounds=p.purification_rounds,
        purification_scheme=p.purification_scheme,
        routing_metric=p.routing_metric,
    )


__all__ = ["build_network", "build_policies", "build_requests", "link_physics"]
