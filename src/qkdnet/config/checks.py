"""Rules across entries of a scenario: links join known, distinct nodes; requests can be served.

Each problem is a (field path, message) pair; the loader prefixes the file name. Problems of single
requests (unreachable, an end without memories, a bad forced route) are kept apart, so a run can set
those requests aside and still run the rest.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

from qkdnet.config.schema import RequestSpec, Scenario

Problem = tuple[str, str]

#: How many node names an "unknown node" message lists before it abbreviates.
_LISTED = 8


def _known(names: Iterable[str]) -> str:
    names = sorted(names)
    shown = ", ".join(names[:_LISTED])
    return shown if len(names) <= _LISTED else f"{shown}, ... ({len(names)} nodes)"


def _unknown(name: str, scenario: Scenario) -> str:
    return f"unknown node {name!r}; expected one of: {_known(scenario.nodes)}"


class _Components:
    """Union-find over node names: which nodes some chain of links joins."""

    def __init__(self, names: Iterable[str]) -> None:
        self._parent = {n: n for n in names}

    def find(self, name: str) -> str:
        root = name
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[name] != root:
            self._parent[name], name = root, self._parent[name]
        return root

    def join(self, a: str, b: str) -> None:
        self._parent[self.find(a)] = self.find(b)


def link_problems(scenario: Scenario) -> list[Problem]:
    """Links must join two different known nodes, once, with at least the straight-line distance of fiber."""
    problems: list[Problem] = []
    seen: dict[frozenset[str], int] = {}
    for i, link in enumerate(scenario.links):
        a, b = link.endpoints
        unknown = [(j, n) for j, n in enumerate(link.endpoints) if n not in scenario.nodes]
        problems += [(f"links[{i}].endpoints[{j}]", _unknown(n, scenario)) for j, n in unknown]
        if a == b:
            problems.append((f"links[{i}].endpoints", f"a link needs two different nodes, got {a!r} twice"))
            continue
        key = frozenset((a, b))
        if key in seen:
            problems.append(
                (f"links[{i}].endpoints", f"duplicate link between {a!r} and {b!r} (first at links[{seen[key]}])")
            )
        seen.setdefault(key, i)
        if unknown:
            continue
        pa, pb = scenario.nodes[a].position_km, scenario.nodes[b].position_km
        if pa is not None and pb is not None:
            distance = math.dist(pa, pb)
            if link.length_km < distance * (1 - 1e-9):
                message = f"{link.length_km:g} km of fiber cannot join {a!r} and {b!r}, {distance:.6g} km apart"
                problems.append((f"links[{i}].length_km", message))
    return problems


def system_problems(scenario: Scenario) -> list[Problem]:
    """``[system]``: every SAE hangs off a known node, and the ports the processes take fit below 65536 (a KME
    per node, and a peer port and a device socket per link end, end-to-end paths included), and every
    end-to-end path follows the links through repeaters that can swap."""
    system = scenario.system
    if system is None:
        return []
    problems: list[Problem] = [
        (f"system.saes.{sae}", _unknown(node, scenario))
        for sae, node in system.saes.items()
        if node not in scenario.nodes
    ]
    linked = {frozenset(link.endpoints) for link in scenario.links}
    for i, path in enumerate(system.end_to_end):
        where = f"system.end_to_end[{i}]"
        if unknown := [node for node in path if node not in scenario.nodes]:
            problems.append((where, _unknown(unknown[0], scenario)))
        elif len(set(path)) != len(path):
            problems.append((where, f"a path visits each node once, got {list(path)}"))
        elif missing := [f"{a}-{b}" for a, b in itertools.pairwise(path) if frozenset((a, b)) not in linked]:
            problems.append((where, f"the path must follow the scenario's links: no link {missing[0]}"))
        elif frozenset((path[0], path[-1])) in linked:
            problems.append((where, f"{path[0]} and {path[-1]} share a link already: swapping adds nothing"))
        elif short := [node for node in path[1:-1] if scenario.nodes[node].memories < 2]:
            problems.append((where, f"repeater {short[0]} needs memories >= 2 to swap (it has 1)"))
    ends = [frozenset((path[0], path[-1])) for path in system.end_to_end]
    if len(set(ends)) != len(ends):
        problems.append(("system.end_to_end", "two paths join the same two nodes: keep one"))
    needed = len(scenario.nodes) + 4 * (len(scenario.links) + len(system.end_to_end))
    if system.ports_base + needed > 65536:
        problems.append(
            ("system.ports_base", f"{needed} ports from {system.ports_base} run past 65535: choose a lower base")
        )
    return problems


def request_reference_problems(scenario: Scenario) -> list[Problem]:
    """Requests must name two different known nodes (and a forced route only known nodes)."""
    problems: list[Problem] = []
    for i, request in enumerate(scenario.requests):
        for j, name in enumerate(request.endpoints):
            if name not in scenario.nodes:
                problems.append((f"requests[{i}].endpoints[{j}]", _unknown(name, scenario)))
        a, b = request.endpoints
        if a == b:
            problems.append((f"requests[{i}].endpoints", f"a request needs two different nodes, got {a!r} twice"))
        for k, name in enumerate(request.route or ()):
            if name not in scenario.nodes:
                problems.append((f"requests[{i}].route[{k}]", _unknown(name, scenario)))
    return problems


def _route_problem(i: int, request: RequestSpec, linked: set[frozenset[str]]) -> Problem | None:
    route = request.route
    if route is None:
        return None
    a, b = request.endpoints
    if len(route) < 2 or route[0] != a or route[-1] != b:
        return (f"requests[{i}].route", f"must start at {a!r} and end at {b!r}, got {list(route)!r}")
    seen: set[str] = set()
    for name in route:
        if name in seen:
            return (f"requests[{i}].route", f"visits {name!r} twice (a cycle); a route must be a simple path")
        seen.add(name)
    for k, (u, v) in enumerate(itertools.pairwise(route)):
        if frozenset((u, v)) not in linked:
            return (f"requests[{i}].route", f"no link between {u!r} and {v!r} (route[{k}] to route[{k + 1}])")
    return None


def request_problems(scenario: Scenario) -> list[tuple[int, Problem]]:
    """Requests that cannot be served: no memories at an end, no chain of links, a forced route that fails.

    Assumes :func:`link_problems` and :func:`request_reference_problems` found nothing.
    """
    components = _Components(scenario.nodes)
    linked: set[frozenset[str]] = set()
    for link in scenario.links:
        components.join(*link.endpoints)
        linked.add(frozenset(link.endpoints))
    problems: list[tuple[int, Problem]] = []
    for i, request in enumerate(scenario.requests):
        a, b = request.endpoints
        empty = [(j, n) for j, n in enumerate(request.endpoints) if scenario.nodes[n].memories == 0]
        if empty:
            j, name = empty[0]
            message = f"node {name!r} has no memories (memories = 0), so it cannot hold pairs"
            problems.append((i, (f"requests[{i}].endpoints[{j}]", message)))
        elif components.find(a) != components.find(b):
            problems.append((i, (f"requests[{i}].endpoints", f"no chain of links joins {a!r} and {b!r}")))
        elif (problem := _route_problem(i, request, linked)) is not None:
            problems.append((i, problem))
    return problems


__all__ = ["Problem", "link_problems", "request_problems", "request_reference_problems"]
