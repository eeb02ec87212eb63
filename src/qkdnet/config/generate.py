"""Scenario generators and a small TOML writer: large networks are made by a function, not by hand.

:func:`random_geometric_document` places nodes uniformly in a square, links every pair closer than a
radius (networkx's random geometric graph), then joins any stray component to its nearest neighbour so that
every request is reachable; fiber is longer than the straight line by ``fiber_factor``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from qkdnet.errors import InvalidParameter
from qkdnet.rng import SeedTree

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise InvalidParameter(f"cannot write {type(value).__name__} values to TOML: {value!r}")


def dump_toml(document: Mapping[str, Any], *, header: str = "") -> str:
    """TOML text for a scenario document: scalars, arrays of tables (one item a line), then one ``[table]`` each.

    Enough for scenario documents (the standard library reads TOML but does not write it).
    """
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    tables = {k: v for k, v in document.items() if isinstance(v, Mapping)}
    arrays = {k: v for k, v in document.items() if isinstance(v, list | tuple) and v and isinstance(v[0], Mapping)}
    for k, v in document.items():
        if k not in tables and k not in arrays:
            lines.append(f"{_key(k)} = {_value(v)}")
    for k, items in arrays.items():  # before any [table] header, or TOML would put them inside it
        lines += ["", f"{_key(k)} = ["] + [f"  {_value(item)}," for item in items] + ["]"]
    for k, table in tables.items():
        lines += ["", f"[{_key(k)}]"] + [f"{_key(name)} = {_value(v)}" for name, v in table.items()]
    return "\n".join(lines) + "\n"


def _link_stray_components(graph: Any, pos: np.ndarray) -> None:
    """Join every component to the rest by the shortest possible link, smallest components first."""
    import networkx as nx

    while nx.number_connected_components(graph) > 1:
        components = sorted(nx.connected_components(graph), key=lambda c: (len(c), min(c)))
        small = np.array(sorted(components[0]))
        rest = np.array(sorted(set(graph.nodes) - set(small.tolist())))
        d = np.linalg.norm(pos[small][:, None, :] - pos[rest][None, :, :], axis=-1)
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        graph.add_edge(int(small[i]), int(rest[j]))


def random_geometric_document(
    n_nodes: int = 1000,
    *,
    n_requests: int = 10_000,
    side_km: float = 100.0,
    radius_km: float = 5.0,
    fiber_factor: float = 1.2,
    seed: int = 1,
    preset: str = "zhang2022",
    heralding: str = "two-photon",
    memories: int = 4,
    pairs: int = 10,
    min_fidelity: float = 0.5,
) -> dict[str, Any]:
    """A random geometric network as a scenario document (a dict ready for :func:`dump_toml`).

    Nodes ``n0 .. n{N-1}`` uniform in a ``side_km`` square; links between nodes closer than ``radius_km``
    (plus the shortest joins that make the network connected), fiber ``fiber_factor`` × the distance rounded
    up to the metre; ``n_requests`` requests between uniformly drawn distinct nodes.
    """
    import networkx as nx

    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int) or n_nodes < 2:
        raise InvalidParameter(f"n_nodes must be an integer >= 2, got {n_nodes!r}")
    if isinstance(n_requests, bool) or not isinstance(n_requests, int) or n_requests < 0:
        raise InvalidParameter(f"n_requests must be an integer >= 0, got {n_requests!r}")
    for name, value in (("side_km", side_km), ("radius_km", radius_km)):
        if not (math.isfinite(value) and value > 0):
            raise InvalidParameter(f"{name} must be a positive length, got {value!r}")
    if not (math.isfinite(fiber_factor) and fiber_factor >= 1.0):
        raise InvalidParameter(f"fiber_factor must be >= 1 (fiber is never shorter than the line), got {fiber_factor}")
    tree = SeedTree(seed)
    pos = tree.generator("random-geometric", "positions").random((n_nodes, 2)) * side_km
    pos = np.round(pos, 3)  # metres: what the file will say
    graph = nx.random_geometric_graph(n_nodes, radius_km, pos={i: tuple(p) for i, p in enumerate(pos)})
    _link_stray_components(graph, pos)
    names = [f"n{i}" for i in range(n_nodes)]
    links = []
    for u, v in sorted((min(e), max(e)) for e in graph.edges):
        length = math.ceil(float(np.linalg.norm(pos[u] - pos[v])) * fiber_factor * 1000.0) / 1000.0
        links.append({"endpoints": [names[u], names[v]], "length_km": max(length, 0.001)})
    rng = tree.generator("random-geometric", "requests")
    a = rng.integers(0, n_nodes, size=n_requests)
    b = (a + rng.integers(1, n_nodes, size=n_requests)) % n_nodes  # uniform over distinct ordered pairs
    return {
        "seed": seed,
        "name": f"random geometric network, {n_nodes} nodes",
        "description": (
            f"{n_nodes} nodes uniform in a {side_km:g} km square, linked within {radius_km:g} km, "
            f"fiber {fiber_factor:g} x distance; {n_requests} random requests"
        ),
        "defaults": {
            "node": {"preset": preset, "memories": memories},
            "link": {"preset": preset, "heralding": heralding},
            "request": {"pairs": pairs, "min_fidelity": min_fidelity},
        },
        "policies": {"routing_metric": "length"},
        "nodes": {names[i]: {"position_km": [float(x), float(y)]} for i, (x, y) in enumerate(pos)},
        "links": links,
        "requests": [{"endpoints": [names[i], names[j]]} for i, j in zip(a.tolist(), b.tolist(), strict=True)],
    }


__all__ = ["dump_toml", "random_geometric_document"]
