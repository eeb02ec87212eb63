"""A network of atom nodes joined by heralded links, as a networkx graph, and routes over it.

Each node holds ``memories`` qubits of its hardware (the memory model of an :class:`AtomCavityNode`) and
a Bell-state measurement for swapping with its own efficiency and fidelity; each link carries the
physics of one :class:`~qkdnet.network.base.HeraldedLink`. Routes are simple paths chosen by one of two
metrics: ``"length"`` (least fiber) or ``"rate"`` (best expected rate: each link weighs its expected
time to herald, 1/rate, so a route minimises the summed waiting of its links, the sequential
generation time of the chain). Links whose success probability is 0 are never routed over.

>>> from qkdnet.network import link_from_preset
>>> from qkdnet.hardware import get_preset
>>> atom = get_preset("ritter2012").emitter
>>> link = link_from_preset("ritter2012", 0.1)
>>> nodes = [NetworkNode("a", 1, atom), NetworkNode("b", 2, atom), NetworkNode("c", 1, atom)]
>>> net = Network(nodes, [NetworkLink("a", "b", link), NetworkLink("b", "c", link)])
>>> net.route("a", "c")
('a', 'b', 'c')
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from qkdnet.errors import InvalidParameter, RouteError
from qkdnet.hardware import AtomCavityNode
from qkdnet.network.base import HeraldedLink

if TYPE_CHECKING:
    import networkx as nx

RoutingMetric = Literal["length", "rate"]
ROUTING_METRICS: tuple[RoutingMetric, ...] = get_args(RoutingMetric)


@dataclass(frozen=True, slots=True)
class NetworkNode:
    """A node: ``memories`` qubits with ``hardware``'s memory, and a Bell measurement for swapping.

    The swap heralds with probability ``swap_efficiency`` (a failure loses both pairs) and reports the
    right outcome with probability ``swap_fidelity`` (each wrong one with (1 − f)/3).
    """

    name: str
    memories: int
    hardware: AtomCavityNode
    swap_efficiency: float = 1.0
    swap_fidelity: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidParameter(f"NetworkNode.name must be a non-empty string, got {self.name!r}")
        if isinstance(self.memories, bool) or not isinstance(self.memories, int) or self.memories < 0:
            raise InvalidParameter(f"NetworkNode.memories must be an integer >= 0, got {self.memories!r}")
        if not isinstance(self.hardware, AtomCavityNode):
            raise InvalidParameter("NetworkNode.hardware must be an AtomCavityNode")
        for name in ("swap_efficiency", "swap_fidelity"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise InvalidParameter(f"NetworkNode.{name} must be a probability in [0, 1], got {value!r}")


@dataclass(frozen=True, slots=True)
class NetworkLink:
    """A heralded link between nodes ``a`` and ``b``: ``physics.node_a`` sits at ``a``."""

    a: str
    b: str
    physics: HeraldedLink
    name: str = ""

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise InvalidParameter(f"a link needs two different nodes, got {self.a!r} twice")
        if not isinstance(self.physics, HeraldedLink):
            raise InvalidParameter("NetworkLink.physics must be a HeraldedLink")
        if not self.name:
            object.__setattr__(self, "name", f"{self.a}-{self.b}")

    @property
    def length_km(self) -> float:
        """Fiber length between the two nodes."""
        return self.physics.length_km


class Network:
    """Nodes and links as a networkx graph (edge attribute ``link``), with routing."""

    def __init__(self, nodes: Iterable[NetworkNode], links: Iterable[NetworkLink]) -> None:
        import networkx as nx

        self.nodes: dict[str, NetworkNode] = {}
        for node in nodes:
            if node.name in self.nodes:
                raise InvalidParameter(f"duplicate node {node.name!r}")
            self.nodes[node.name] = node
        self.graph: nx.Graph = nx.Graph()
        self.graph.add_nodes_from(self.nodes)
        for link in links:
            for end in (link.a, link.b):
                if end not in self.nodes:
                    raise InvalidParameter(f"link {link.name!r} names unknown node {end!r}")
            if self.graph.has_edge(link.a, link.b):
                raise InvalidParameter(f"duplicate link between {link.a!r} and {link.b!r}")
            rate = link.physics.expected_pair_rate_hz
            self.graph.add_edge(
                link.a,
                link.b,
                link=link,
                length=link.length_km if rate > 0.0 else math.inf,
                rate=1.0 / rate if rate > 0.0 else math.inf,
            )
        self._names = list(self.nodes)
        self._index = {name: i for i, name in enumerate(self._names)}
        self._matrices: dict[str, Any] = {}
        self._trees: dict[tuple[str, int], np.ndarray] = {}

    @classmethod
    def chain(
        cls,
        n_nodes: int,
        link: HeraldedLink,
        hardware: AtomCavityNode,
        *,
        swap_efficiency: float = 1.0,
        swap_fidelity: float = 1.0,
        prefix: str = "n",
    ) -> Network:
        """A linear repeater chain ``n0 - n1 - ...`` of identical links: one memory at each end, two inside."""
        if isinstance(n_nodes, bool) or not isinstance(n_nodes, int) or n_nodes < 2:
            raise InvalidParameter(f"a chain needs at least 2 nodes, got {n_nodes!r}")
        names = [f"{prefix}{i}" for i in range(n_nodes)]
        nodes = [
            NetworkNode(name, 1 if i in (0, n_nodes - 1) else 2, hardware, swap_efficiency, swap_fidelity)
            for i, name in enumerate(names)
        ]
        return cls(nodes, [NetworkLink(a, b, link) for a, b in itertools.pairwise(names)])

    @property
    def links(self) -> list[NetworkLink]:
        """Every link, in insertion order."""
        return [data["link"] for _, _, data in self.graph.edges(data=True)]

    def link(self, a: str, b: str) -> NetworkLink:
        """The link between ``a`` and ``b``; RouteError if there is none."""
        try:
            return self.graph.edges[a, b]["link"]  # type: ignore[no-any-return]
        except KeyError:
            raise RouteError(f"no link between {a!r} and {b!r}") from None

    def route(self, a: str, b: str, *, metric: RoutingMetric = "length") -> tuple[str, ...]:
        """The best simple path from ``a`` to ``b`` by ``metric`` (Dijkstra; links that never herald are skipped).

        RouteError if a node is unknown or no chain of working links joins them. Shortest-path trees are
        computed once per source and metric (SciPy's compiled Dijkstra), so many requests route fast.
        """
        if metric not in ROUTING_METRICS:
            raise InvalidParameter(f"unknown routing metric {metric!r}; expected one of {', '.join(ROUTING_METRICS)}")
        for end in (a, b):
            if end not in self.nodes:
                raise RouteError(f"unknown node {end!r}")
        if a == b:
            raise RouteError(f"a route needs two different nodes, got {a!r} twice")
        names, index = self._names, self._index
        predecessors = self._tree(metric, index[a])
        hop = index[b]
        if predecessors[hop] < 0:
            raise RouteError(f"no chain of working links joins {a!r} and {b!r}")
        path = [hop]
        while hop != index[a]:
            hop = int(predecessors[hop])
            path.append(hop)
        return tuple(names[i] for i in reversed(path))

    def _tree(self, metric: RoutingMetric, source: int) -> np.ndarray:
        """Predecessors on the shortest-path tree from ``source`` (-9999 where unreachable)."""
        key = (metric, source)
        tree = self._trees.get(key)
        if tree is None:
            from scipy.sparse.csgraph import dijkstra

            _, predecessors = dijkstra(self._matrix(metric), directed=False, indices=source, return_predecessors=True)
            tree = self._trees[key] = predecessors
        return tree

    def _matrix(self, metric: RoutingMetric) -> Any:
        matrix = self._matrices.get(metric)
        if matrix is None:
            from scipy.sparse import csr_matrix

            rows, cols, weights = [], [], []
            for u, v, data in self.graph.edges(data=True):
                w = data[metric]
                if math.isinf(w):
                    continue
                rows.append(self._index[u])
                cols.append(self._index[v])
                weights.append(max(w, 1e-12))  # an explicit zero would read as "no edge"
            n = len(self._names)
            matrix = self._matrices[metric] = csr_matrix((weights, (rows, cols)), shape=(n, n))
        return matrix

    def check_route(self, route: Sequence[str]) -> tuple[str, ...]:
        """A forced route, if it is a simple path along existing links; RouteError saying what is wrong."""
        path = tuple(route)
        if len(path) < 2:
            raise RouteError(f"a route needs at least two nodes, got {list(path)!r}")
        unknown = [n for n in path if n not in self.nodes]
        if unknown:
            raise RouteError(f"route names unknown node {unknown[0]!r}")
        seen: set[str] = set()
        for name in path:
            if name in seen:
                raise RouteError(f"route visits {name!r} twice (a cycle); a route must be a simple path")
            seen.add(name)
        for u, v in itertools.pairwise(path):
            if not self.graph.has_edge(u, v):
                raise RouteError(f"route has no link between {u!r} and {v!r}")
        return path

    def path_links(self, route: Sequence[str]) -> list[tuple[NetworkLink, bool]]:
        """The links along ``route``, each with True when its ``a`` end comes first on the route."""
        return [(link := self.link(u, v), link.a == u) for u, v in itertools.pairwise(route)]


__all__ = ["ROUTING_METRICS", "Network", "NetworkLink", "NetworkNode", "RoutingMetric"]
