"""The summary of a network run, per request, link and node, as plain JSON-ready dicts (the ``--json`` of
``qkdnet simulate``).

Per request: delivered pairs, their rate over the time the request was served, the fidelity distribution,
the end-to-end error rates of BBM92's two bases from the delivered states (Q_Z = w_Ψ+ + w_Ψ−,
Q_X = w_Φ− + w_Ψ−), and a key rate. The key rate is the asymptotic BBM92 rate with trusted devices,
pairs/s × ½ × (1 − h(Q_Z) − h(Q_X)) (Shor & Preskill, PRL 85, 441 (2000)), ``key.method = "asymptotic"``;
for a key request with at least :data:`PIPELINE_MIN_PAIRS` delivered pairs the delivered pairs also go
through the full key pipeline (:func:`qkdnet.qkd.run_key_exchange`, BBM92: sifting, estimation, error
correction, privacy amplification) and ``key.method = "pipeline"`` reports its finite-size result.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from qkdnet.config import Scenario
from qkdnet.network import Network, NetworkRun, RequestOutcome, fidelity_summary
from qkdnet.qkd import BBM92, run_key_exchange
from qkdnet.units import PS_PER_S, binary_entropy

#: A key request runs the full key pipeline when it has at least this many delivered pairs.
PIPELINE_MIN_PAIRS = 2000

#: The fields of each entry of ``requests`` in ``qkdnet simulate --json`` (stable; see README).
REQUEST_FIELDS = (
    "name",
    "endpoints",
    "status",
    "reason",
    "route",
    "hops",
    "route_length_km",
    "target_pairs",
    "target_key_bits",
    "min_fidelity",
    "deadline_s",
    "admitted_s",
    "finished_s",
    "delivered",
    "rate_hz",
    "fidelity",
    "qber",
    "qber_z",
    "qber_x",
    "key",
    "discarded",
    "link_heralds",
    "memory",
)
#: The top-level fields of ``qkdnet simulate --json``.
RUN_FIELDS = (
    "scenario",
    "fingerprint",
    "seed",
    "simulated_s",
    "events",
    "wall_s",
    "counts",
    "requests",
    "skipped",
    "links",
    "nodes",
)


def _seconds(t_ps: int | None) -> float | None:
    return None if t_ps is None else t_ps / PS_PER_S


def _key(outcome: RequestOutcome, q_z: float | None, q_x: float | None, rate_hz: float, seed: int) -> dict[str, Any]:
    if q_z is None or q_x is None:
        return {"method": "asymptotic", "key_fraction": None, "key_rate_bps": None, "final_key_bits": None}
    fraction = max(0.0, 1.0 - binary_entropy(q_z) - binary_entropy(q_x))
    key: dict[str, Any] = {
        "method": "asymptotic",
        "key_fraction": fraction,
        "key_rate_bps": 0.5 * rate_hz * fraction,
        "final_key_bits": None,
    }
    if outcome.request.key_bits is not None and outcome.delivered >= PIPELINE_MIN_PAIRS:
        result = run_key_exchange(outcome.pairs_source(), BBM92, outcome.delivered, seed=seed)
        served = outcome.served_s
        key.update(
            method="pipeline",
            final_key_bits=result.final_key_bits,
            key_rate_bps=result.final_key_bits / served if served > 0 else 0.0,
            secure=result.secure,
            abort_reason=result.abort_reason,
        )
    return key


def request_summary(outcome: RequestOutcome, network: Network, *, seed: int) -> dict[str, Any]:
    """One request's entry of the report (fields :data:`REQUEST_FIELDS`)."""
    r = outcome.request
    route = outcome.route
    served = outcome.served_s
    n = outcome.delivered
    rate = n / served if served > 0 else 0.0
    q_z = q_x = None
    if n:
        w = outcome.states.weights
        q_z = float(np.mean(w[:, 2] + w[:, 3]))
        q_x = float(np.mean(w[:, 1] + w[:, 3]))
    length = None
    if route is not None:
        length = float(sum(link.length_km for link, _ in network.path_links(route)))
    return {
        "name": r.name,
        "endpoints": list(r.endpoints),
        "status": outcome.status,
        "reason": outcome.reason,
        "route": None if route is None else list(route),
        "hops": None if route is None else len(route) - 1,
        "route_length_km": length,
        "target_pairs": r.pairs,
        "target_key_bits": r.key_bits,
        "min_fidelity": r.min_fidelity,
        "deadline_s": r.deadline_s,
        "admitted_s": _seconds(outcome.admitted_ps),
        "finished_s": _seconds(outcome.finished_ps),
        "delivered": n,
        "rate_hz": rate,
        "fidelity": fidelity_summary(outcome.fidelities),
        "qber": None if q_z is None or q_x is None else (q_z + q_x) / 2.0,
        "qber_z": q_z,
        "qber_x": q_x,
        "key": _key(outcome, q_z, q_x, rate, seed),
        "discarded": {
            "cutoff": outcome.discarded_cutoff,
            "below_fidelity": outcome.discarded_fidelity,
            "swap_failures": outcome.swap_failures,
            "purification_failures": outcome.purification_failures,
        },
        "link_heralds": outcome.link_heralds,
        "memory": {
            "slots": outcome.memory_slots,
            "qubit_seconds": outcome.storage_ps / PS_PER_S,
        },
    }


def run_summary(scenario: Scenario, network: Network, run: NetworkRun, *, wall_s: float) -> dict[str, Any]:
    """The whole report of ``qkdnet simulate --json`` (fields :data:`RUN_FIELDS`)."""
    requests = [request_summary(o, network, seed=scenario.seed + o.index) for o in run.outcomes]
    counts: Counter[str] = Counter(o.status for o in run.outcomes)
    counts["skipped"] = len(scenario.skipped_requests)
    utilisation = run.utilisation()
    links = [
        {
            "name": link.name,
            "endpoints": [link.a, link.b],
            "length_km": link.length_km,
            "scheme": link.physics.scheme,
            "expected_rate_hz": link.physics.expected_pair_rate_hz,
            "expected_fidelity": link.physics.expected_fidelity,
            "heralds": run.ledgers[link.name].heralds,
            "utilisation": utilisation[link.name],
        }
        for link in network.links
    ]
    nodes = [
        {"name": name, "memories": node.memories, "peak_in_use": run.peak_memories[name]}
        for name, node in network.nodes.items()
    ]
    skipped = [{"index": s.index, "name": s.request.label, "reason": s.reason} for s in scenario.skipped_requests]
    return {
        "scenario": scenario.name,
        "fingerprint": scenario.fingerprint(),
        "seed": scenario.seed,
        "simulated_s": run.duration_s,
        "events": run.events,
        "wall_s": wall_s,
        "counts": {k: counts.get(k, 0) for k in ("completed", "deadline", "unfinished", "rejected", "skipped")},
        "requests": requests,
        "skipped": skipped,
        "links": links,
        "nodes": nodes,
    }


__all__ = ["PIPELINE_MIN_PAIRS", "REQUEST_FIELDS", "RUN_FIELDS", "request_summary", "run_summary"]
