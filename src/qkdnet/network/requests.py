"""What a network run is asked to do: end-to-end requests, and the policies every node follows."""

from __future__ import annotations

import math
from dataclasses import dataclass

from qkdnet.errors import InvalidParameter
from qkdnet.network.topology import ROUTING_METRICS, RoutingMetric
from qkdnet.quantum import PURIFICATION_SCHEMES, PurificationScheme
from qkdnet.units import PS_PER_S


def _probability(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidParameter(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


#: The network engine counts picoseconds in int64: a run's horizon and deadlines stay inside 2⁶² ps (53 days).
MAX_RUN_TIME_S = 2**62 / PS_PER_S


def _positive_time(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and value > 0.0):
        raise InvalidParameter(f"{name} must be a positive, finite time in seconds, got {value!r}")
    return float(value)


def _run_time(value: object, name: str) -> float:
    """A horizon or deadline: positive, and inside the engine's int64 clock."""
    seconds = _positive_time(value, name)
    if seconds > MAX_RUN_TIME_S:
        raise InvalidParameter(
            f"{name} = {seconds:.3g} s is beyond the network engine's clock ({MAX_RUN_TIME_S:.3g} s, 53 days "
            "of int64 picoseconds); for longer link time, run the key pipeline on the link itself"
        )
    return seconds


@dataclass(frozen=True, slots=True)
class Request:
    """End-to-end demand between two nodes: ``pairs`` entangled pairs, or pairs enough for ``key_bits``.

    A delivered pair whose fidelity (after the end nodes' readout) is below ``min_fidelity`` is discarded
    and another one made. ``deadline_s`` counts from the start of the run; ``route`` forces a path.
    """

    endpoints: tuple[str, str]
    pairs: int | None = None
    key_bits: int | None = None
    min_fidelity: float = 0.0
    deadline_s: float | None = None
    route: tuple[str, ...] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if len(self.endpoints) != 2:
            raise InvalidParameter(f"Request.endpoints must name two nodes, got {self.endpoints!r}")
        object.__setattr__(self, "endpoints", tuple(self.endpoints))
        if (self.pairs is None) == (self.key_bits is None):
            raise InvalidParameter("a Request needs exactly one of pairs or key_bits")
        for field in ("pairs", "key_bits"):
            value = getattr(self, field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InvalidParameter(f"Request.{field} must be a positive integer, got {value!r}")
        object.__setattr__(self, "min_fidelity", _probability(self.min_fidelity, "Request.min_fidelity"))
        if self.deadline_s is not None:
            object.__setattr__(self, "deadline_s", _run_time(self.deadline_s, "Request.deadline_s"))
        if self.route is not None:
            object.__setattr__(self, "route", tuple(self.route))
        if not self.name:
            object.__setattr__(self, "name", f"{self.endpoints[0]}->{self.endpoints[1]}")


@dataclass(frozen=True, slots=True)
class Policies:
    """Network-wide rules.

    ``cutoff_s``: a pair is discarded as soon as one of its qubits has been stored this long (None: never).
    ``purification_rounds``: end-to-end entanglement pumping, each delivered pair purified this many times
    with fresh pairs (``purification_scheme``: BBPSSW or DEJMPS), each round's outcome known after the
    ends exchange their parity bits over the route's fiber. ``routing_metric``: ``"length"`` or ``"rate"``.
    ``horizon_s``: requests without a deadline are served until then (default: the latest deadline of the
    run's requests, or an hour if none has one).
    """

    cutoff_s: float | None = None
    purification_rounds: int = 0
    purification_scheme: PurificationScheme = "dejmps"
    routing_metric: RoutingMetric = "length"
    horizon_s: float | None = None

    def __post_init__(self) -> None:
        if self.cutoff_s is not None:
            object.__setattr__(self, "cutoff_s", _positive_time(self.cutoff_s, "Policies.cutoff_s"))
        rounds = self.purification_rounds
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
            raise InvalidParameter(f"Policies.purification_rounds must be an integer >= 0, got {rounds!r}")
        if self.purification_scheme not in PURIFICATION_SCHEMES:
            raise InvalidParameter(
                f"Policies.purification_scheme must be one of {', '.join(PURIFICATION_SCHEMES)}, "
                f"got {self.purification_scheme!r}"
            )
        if self.routing_metric not in ROUTING_METRICS:
            raise InvalidParameter(
                f"Policies.routing_metric must be one of {', '.join(ROUTING_METRICS)}, got {self.routing_metric!r}"
            )
        if self.horizon_s is not None:
            object.__setattr__(self, "horizon_s", _run_time(self.horizon_s, "Policies.horizon_s"))


__all__ = ["Policies", "Request"]
