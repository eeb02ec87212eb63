"""A network run on the event engine: route every request, admit it when its memories are free, serve it.

Each request is routed (a forced route is checked; otherwise the policies' metric picks one), then waits
until it can reserve its memories along the route: one qubit at each end (two with purification) and two
at each repeater. Memory is a hard limit: a link only heralds into qubits reserved for it, so it never
heralds into a full node. Waiting requests are admitted first-come first-served as memory frees up (a
request blocked at some node is looked at again when that node releases memory). An admitted request runs
the protocol of :mod:`qkdnet.network._session` until it has its pairs (or key bits), its deadline passes,
or the run's horizon ends; then it releases its memories. Requests that cannot be served at all (no
route, a node with too few memories) are rejected with a one-line reason and the rest run on.

Links are fibers that many memory pairs can use at once (different qubits, multiplexed); a link's
utilisation is the fraction of the run during which at least one of its memory pairs was attempting.

Randomness: each request has its own stream from the seed tree (``"request", index``), so a request's
pairs do not depend on how many others share the run.

>>> from qkdnet.hardware import get_preset
>>> from qkdnet.network import Network, NetworkLink, NetworkNode, Request, link_from_preset
>>> atom = get_preset("ritter2012").emitter
>>> nodes = [NetworkNode("a", 1, atom), NetworkNode("b", 1, atom)]
>>> net = Network(nodes, [NetworkLink("a", "b", link_from_preset("ritter2012"))])
>>> run = simulate(net, [Request(("a", "b"), pairs=100)], seed=1)
>>> run.outcomes[0].status, run.outcomes[0].delivered
('completed', 100)
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qkdnet._display import html_table, human_duration
from qkdnet.engine import Environment, Event
from qkdnet.errors import InvalidParameter, RouteError
from qkdnet.network._session import LinkModel, NodeModel, Session
from qkdnet.network.outcomes import DeliveredPairs, LinkLedger, PairBlock, RequestOutcome, Status
from qkdnet.network.requests import Policies, Request
from qkdnet.network.topology import Network, NetworkLink
from qkdnet.rng import SeedTree
from qkdnet.units import PS_PER_S

ProgressCallback = Callable[[int, int], None]
#: How long requests without a deadline are served when no request has one and the policies set no horizon.
DEFAULT_HORIZON_S = 3600.0
#: Requests listed in a run's HTML table before the rest is counted.
HTML_ROWS = 50


@dataclass(slots=True)
class NetworkRun:
    """Everything a run found: one outcome per request, one ledger per link, memory use per node."""

    outcomes: list[RequestOutcome]
    ledgers: dict[str, LinkLedger]
    duration_ps: int
    peak_memories: dict[str, int]
    events: int

    @property
    def duration_s(self) -> float:
        """Simulated time of the run."""
        return self.duration_ps / PS_PER_S

    def __repr__(self) -> str:
        """One line: what a notebook cell or a log shows."""
        status = Counter(o.status for o in self.outcomes)
        counts = ", ".join(f"{n:,} {k}" for k, n in sorted(status.items()))
        delivered = sum(o.delivered for o in self.outcomes)
        return (
            f"<NetworkRun {len(self.outcomes):,} requests ({counts}), {delivered:,} pairs delivered in "
            f"{human_duration(self.duration_s)} simulated, {self.events:,} events>"
        )

    def _repr_html_(self) -> str:
        """One row per request (Jupyter); the first :data:`HTML_ROWS`."""
        rows = [
            (
                o.request.name,
                o.status,
                f"{o.delivered:,}",
                "–" if not o.delivered else f"{float(np.mean(o.fidelities)):.4f}",
                o.reason or "",
            )
            for o in self.outcomes[:HTML_ROWS]
        ]
        more = len(self.outcomes) - HTML_ROWS
        title = f"network run: {human_duration(self.duration_s)} simulated, {self.events:,} events"
        table = html_table(title, rows, header=("request", "status", "delivered", "mean fidelity", "reason"))
        return table + (f"<p>… and {more:,} more requests</p>" if more > 0 else "")

    def utilisation(self) -> dict[str, float]:
        """Per link: the fraction of the run during which some memory pair was attempting on it."""
        if self.duration_ps <= 0:
            return {name: 0.0 for name in self.ledgers}
        return {name: min(1.0, led.busy_ps() / self.duration_ps) for name, led in self.ledgers.items()}


class _Run:
    """The admission and bookkeeping around the sessions (see the module docstring)."""

    def __init__(
        self,
        network: Network,
        requests: Sequence[Request],
        policies: Policies,
        seed: int,
        progress: ProgressCallback | None,
        event_by_event: bool = False,
    ) -> None:
        self.env = Environment()
        self.event_by_event = event_by_event
        self.network = network
        self.policies = policies
        self.tree = SeedTree(seed)
        self.progress = progress
        self.free = {name: node.memories for name, node in network.nodes.items()}
        self.in_use = dict.fromkeys(network.nodes, 0)
        self.peak = dict.fromkeys(network.nodes, 0)
        self.ledgers = {link.name: LinkLedger(link.name) for link in network.links}
        self.blocked: dict[str, deque[tuple[Session, dict[str, int]]]] = {}
        self.outcomes: list[RequestOutcome] = []
        self.link_models: dict[str, LinkModel] = {}
        self.node_models: dict[str, NodeModel] = {}
        self.finished = 0
        self.all_done = self.env.event()
        self.requests = list(requests)
        deadlines = [r.deadline_s for r in self.requests if r.deadline_s is not None]
        horizon_s = policies.horizon_s or max(deadlines, default=DEFAULT_HORIZON_S)
        self.horizon_ps = round(horizon_s * PS_PER_S)

    # ---- setting requests up ------------------------------------------------------------------------
    def needs(self, route: tuple[str, ...]) -> dict[str, int]:
        """Qubits the request holds at each node of ``route``."""
        ends = 2 if self.policies.purification_rounds > 0 else 1
        need = dict.fromkeys(route[1:-1], 2)
        need[route[0]] = ends
        need[route[-1]] = ends
        return need

    def prepare(self, index: int, request: Request) -> Session | None:
        outcome = RequestOutcome(index, request)
        self.outcomes.append(outcome)
        deadline = self.horizon_ps if request.deadline_s is None else round(request.deadline_s * PS_PER_S)
        outcome.stop_ps = deadline
        try:
            a, b = request.endpoints
            if request.route is not None:
                route = self.network.check_route(request.route)
                if (route[0], route[-1]) != (a, b):
                    raise RouteError(f"forced route must start at {a!r} and end at {b!r}, got {list(route)!r}")
            else:
                route = self.network.route(a, b, metric=self.policies.routing_metric)
        except RouteError as exc:
            outcome.status, outcome.reason = "rejected", str(exc)
            return None
        outcome.route = route
        need = self.needs(route)
        for name, n in need.items():
            have = self.network.nodes[name].memories
            if have < n:
                role = "an end" if name in (route[0], route[-1]) else "a repeater"
                why = " with purification" if self.policies.purification_rounds and role == "an end" else ""
                outcome.status = "rejected"
                outcome.reason = f"node {name!r} has {have} memories; as {role} of this route{why} it needs {n}"
                return None
        outcome.memory_slots = sum(need.values())
        nodes = [self.node_model(n) for n in route]
        links = [(self.link_model(link), forward) for link, forward in self.network.path_links(route)]
        ledgers = [self.ledgers[model.name] for model, _ in links]
        rng = self.tree.generator("request", str(index))
        return Session(
            self.env,
            request,
            route,
            nodes,
            links,
            self.policies,
            rng,
            outcome,
            ledgers,
            self.on_finish,
            force_events=self.event_by_event,
        )

    def link_model(self, link: NetworkLink) -> LinkModel:
        model = self.link_models.get(link.name)
        if model is None:
            model = self.link_models[link.name] = LinkModel.of(link)
        return model

    def node_model(self, name: str) -> NodeModel:
        model = self.node_models.get(name)
        if model is None:
            model = self.node_models[name] = NodeModel.of(self.network.nodes[name])
        return model

    # ---- memory ----------------------------------------------------------------------------------------
    def blocking_node(self, need: dict[str, int]) -> str | None:
        return next((name for name, n in need.items() if self.free[name] < n), None)

    def try_admit(self, session: Session, need: dict[str, int]) -> bool:
        node = self.blocking_node(need)
        if node is not None:
            self.blocked.setdefault(node, deque()).append((session, need))
            return False
        for name, n in need.items():
            self.free[name] -= n
            used = self.in_use[name] + n
            self.in_use[name] = used
            if used > self.peak[name]:
                self.peak[name] = used
        session.start()
        return True

    def release(self, session: Session) -> None:
        assert session.outcome.route is not None  # noqa: S101 - only admitted sessions release
        need = self.needs(session.outcome.route)
        for name, n in need.items():
            self.free[name] += n
            self.in_use[name] -= n
        now = self.env.now
        for name in need:
            queue = self.blocked.get(name)
            while queue and self.free[name] > 0:
                waiting, waiting_need = queue.popleft()
                if waiting.outcome.finished_ps is not None or waiting.active or waiting.outcome.stop_ps <= now:
                    continue  # expired while it waited, or expires at this very instant
                if self.free[name] < waiting_need[name]:
                    queue.appendleft((waiting, waiting_need))
                    break
                self.try_admit(waiting, waiting_need)

    # ---- ends --------------------------------------------------------------------------------------------
    def on_finish(self, session: Session, status: str) -> None:
        outcome = session.outcome
        if status == "completed":
            outcome.status = "completed"
        else:
            outcome.status = "deadline" if session.request.deadline_s is not None else "unfinished"
        self.count_finished()
        self.release(session)

    def count_finished(self) -> None:
        self.finished += 1
        if self.progress is not None:
            self.progress(self.finished, len(self.requests))
        if self.finished == len(self.requests):
            self.all_done.succeed()

    def expire(self, event: Event) -> None:
        session: Session = event.value
        outcome = session.outcome
        if session.active:
            session.stop("deadline")
        elif outcome.finished_ps is None:
            outcome.status = "deadline" if session.request.deadline_s is not None else "unfinished"
            outcome.reason = "never admitted: the memories on its route stayed busy"
            outcome.finished_ps = self.env.now
            self.count_finished()

    def run(self) -> NetworkRun:
        sessions: list[tuple[Session, dict[str, int]]] = []
        for index, request in enumerate(self.requests):
            session = self.prepare(index, request)
            if session is None:
                self.finished += 1
                continue
            assert session.outcome.route is not None  # noqa: S101
            sessions.append((session, self.needs(session.outcome.route)))
        if self.progress is not None:
            self.progress(self.finished, len(self.requests))
        for session, _ in sessions:
            self.env.call_at(session.outcome.stop_ps, self.expire, session)
        for session, need in sessions:
            self.try_admit(session, need)
        if sessions:
            self.env.run(until=self.all_done)
        return NetworkRun(
            outcomes=self.outcomes,
            ledgers=self.ledgers,
            duration_ps=self.env.now,
            peak_memories=self.peak,
            events=self.env.processed_events,
        )


def simulate(
    network: Network,
    requests: Sequence[Request],
    policies: Policies | None = None,
    *,
    seed: int,
    progress: ProgressCallback | None = None,
    event_by_event: bool = False,
) -> NetworkRun:
    """Serve ``requests`` on ``network`` under ``policies`` (see the module docstring); one outcome each.

    ``progress(done, total)`` is called as requests finish. The run ends when every request is done or
    stopped (deadline, or ``policies.horizon_s`` for requests without one). ``event_by_event`` turns every
    shortcut off (the bulk renewal of single links, the max-plus recursion of chains without cutoffs or
    failures): one engine event per herald, the reference path, slower, with the same statistics.
    """
    if not isinstance(network, Network):
        raise InvalidParameter("simulate needs a Network")
    for r in requests:
        if not isinstance(r, Request):
            raise InvalidParameter(f"requests must be Request objects, got {r!r}")
    return _Run(network, requests, policies or Policies(), seed, progress, event_by_event).run()


def fidelity_summary(fidelities: NDArray[np.float64]) -> dict[str, float | None]:
    """Mean and quantiles (5 %, 50 %, 95 %) of delivered fidelities (None when nothing was delivered)."""
    if fidelities.size == 0:
        return {"mean": None, "p05": None, "median": None, "p95": None, "min": None}
    q = np.quantile(fidelities, [0.05, 0.5, 0.95])
    return {
        "mean": float(np.mean(fidelities)),
        "p05": float(q[0]),
        "median": float(q[1]),
        "p95": float(q[2]),
        "min": float(np.min(fidelities)),
    }


__all__ = [
    "DeliveredPairs",
    "LinkLedger",
    "NetworkRun",
    "PairBlock",
    "ProgressCallback",
    "RequestOutcome",
    "Status",
    "fidelity_summary",
    "simulate",
]
