"""Runners: a function from one run's resolved configuration (and its seed) to a flat dict of metrics.

* ``link``: the scenario's one link, analytically (what ``qkdnet link --json`` reports): attempt rate,
  herald probability, pair rate, fidelity, QBER, CHSH S, the asymptotic BBM92 key rate and the PLOB bound,
  after ``memory.storage_s`` of extra storage and ``policies.purification_rounds`` of recurrence purification.
* ``key``: one key run over the link (:func:`qkdnet.qkd.run_key_exchange`), with Eve from ``[eve]``: QBER,
  S, the final key and Eve's information.
* ``network``: the whole scenario on the network simulator (:func:`qkdnet.network.simulate`, as
  ``qkdnet simulate``): requests served, pairs delivered, their rate, fidelity, QBER and key, link rates.
* ``null``: returns a constant; it measures the sweep machinery's own cost per run.

Metric names are plain words (no dots): they never collide with field addresses in the results table.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from qkdnet.errors import InvalidParameter
from qkdnet.sweep.document import Scalar

Metrics = dict[str, Scalar]
#: The ``network`` runner adds each request's figures as columns for scenarios of up to this many requests.
PER_REQUEST_COLUMNS = 8
Runner = Callable[[Mapping[str, Any], int], Metrics]


@dataclass(frozen=True, slots=True)
class RunnerSpec:
    """A named runner: its function, the sweep tables it reads, and one line on what it computes."""

    name: str
    function: Runner
    tables: tuple[str, ...]
    summary: str


def _single_link(config: Mapping[str, Any]) -> Mapping[str, Any]:
    links = config["links"]
    if len(links) != 1:
        raise InvalidParameter(f"this runner needs a scenario with exactly one link, got {len(links)}")
    link: Mapping[str, Any] = links[0]
    return link


def link_physics(spec: Mapping[str, Any]) -> Any:
    """The physics of a scenario link given as a dict (:func:`qkdnet.config.link_physics`): a
    :class:`~qkdnet.network.HeraldedLink` of its preset's hardware over its length, by its heralding scheme."""
    from qkdnet.config import LinkSpec
    from qkdnet.config import link_physics as physics

    return physics(LinkSpec.model_validate(dict(spec)))


def bell_metrics(weights: Any) -> dict[str, float]:
    """QBER in Z and X, CHSH S at the E91 angles and the asymptotic BBM92 key fraction of Bell-diagonal weights
    (Φ+, Φ−, Ψ+, Ψ−): Q_Z = w_Ψ+ + w_Ψ−, Q_X = w_Φ− + w_Ψ−, S = 2√2(1 − Q_Z − Q_X), r = 1 − h(Q_Z) − h(Q_X)
    (Shor & Preskill, PRL 85, 441 (2000))."""
    from qkdnet.units import binary_entropy

    w = [float(x) for x in weights]
    q_z, q_x = w[2] + w[3], w[1] + w[3]
    return {
        "fidelity": w[0],
        "qber": (q_z + q_x) / 2.0,
        "qber_z": q_z,
        "qber_x": q_x,
        "chsh_s": 2.0 * math.sqrt(2.0) * (1.0 - q_z - q_x),
        "key_fraction": max(0.0, 1.0 - binary_entropy(q_z) - binary_entropy(q_x)),
    }


def link_runner(config: Mapping[str, Any], seed: int) -> Metrics:
    """The ``link`` runner: expected figures of the scenario's one link (deterministic; ``seed`` unused).

    Storage adds ``memory.storage_s`` to the time both atoms hold each pair. Purification pumps nothing and
    waits for nothing: each round pairs two equal pairs (``policies.purification_scheme``), keeps one with
    the success probability, so the rate falls by p/2 per round — the ideal-memory upper bound.
    """
    from qkdnet.qkd import plob_bits_per_use
    from qkdnet.quantum import BellDiagonal, purify
    from qkdnet.units import PS_PER_S

    del seed
    link = link_physics(_single_link(config))
    storage_s = float(config["memory"]["storage_s"])
    state = BellDiagonal(link.expected_weights(measurement_delay_s=link.measurement_delay_s + storage_s).weights)
    rate = link.expected_pair_rate_hz
    policies = config["policies"]
    for _ in range(int(policies["purification_rounds"])):
        out = purify(state, state, scheme=policies["purification_scheme"])
        rate *= float(out.success_probability) / 2.0
        state = out.states
    attempt_rate = PS_PER_S / link.attempt_period_ps
    metrics: Metrics = {
        "attempt_rate_hz": attempt_rate,
        "success_probability": link.success_probability,
        "pair_rate_hz": rate,
        "transmission": link.fiber.transmission,
        "unpurified_fidelity": link.expected_fidelity,
    }
    bell = bell_metrics(state.weights)
    metrics.update(bell)
    metrics["key_rate_bps"] = 0.5 * rate * bell["key_fraction"]
    metrics["plob_key_rate_bps"] = plob_bits_per_use(link.fiber.transmission) * attempt_rate
    return metrics


def key_runner(config: Mapping[str, Any], seed: int) -> Metrics:
    """The ``key`` runner: one key exchange over the link (or Werner pairs at its rate) with Eve from ``[eve]``."""
    from qkdnet.attacks import make_attack
    from qkdnet.network import WernerSource
    from qkdnet.qkd import KeyRunConfig, eve_report, eve_summary, get_protocol, run_key_exchange

    link = link_physics(_single_link(config))
    key, eve = config["key"], config["eve"]
    protocol = get_protocol(key["protocol"])
    source = link if key["visibility"] is None else WernerSource(key["visibility"], pair_rate_hz=link.attempt_rate_hz)
    attack = None
    if eve["strength"] > 0:
        attack = make_attack(
            eve["kind"],
            eve["strength"],
            key_bases_deg=(protocol.key_basis_angle_deg(0), protocol.key_basis_angle_deg(1)),
            fiber_transmission=link.fiber.transmission,
            eve_angle_deg=eve["angle_deg"],
        )
    elif eve["kind"] != "intercept-resend":
        make_attack(eve["kind"], 0.0)  # an unknown kind is an error even at strength 0
    run_config = KeyRunConfig(security=key["security"], key_length=key["key_length"])
    result = run_key_exchange(source, protocol, key["pairs"], seed=seed, config=run_config, attack=attack)
    metrics: Metrics = _scalars(result.summary())
    if attack is not None:
        metrics.update(_scalars(eve_summary(eve_report(result))))
    metrics["pair_rate_hz"] = link.expected_pair_rate_hz if key["visibility"] is None else link.attempt_rate_hz
    return metrics


def network_runner(config: Mapping[str, Any], seed: int) -> Metrics:
    """The ``network`` runner: the whole scenario on the network simulator (:func:`qkdnet.network.simulate`,
    as ``qkdnet simulate``), seeded with the run's seed; totals over the requests, and each request's figures
    for scenarios of up to :data:`PER_REQUEST_COLUMNS` requests."""
    from qkdnet.config import build_network, build_policies, build_requests, parse_scenario
    from qkdnet.network import simulate
    from qkdnet.report.network import run_summary
    from qkdnet.sweep.document import SWEEP_TABLES

    scenario = parse_scenario({k: v for k, v in config.items() if k not in SWEEP_TABLES}, skip_bad_requests=True)
    network = build_network(scenario)
    run = simulate(network, build_requests(scenario), build_policies(scenario), seed=seed)
    summary = run_summary(scenario.model_copy(update={"seed": seed}), network, run, wall_s=0.0)
    requests = summary["requests"]
    delivered = sum(r["delivered"] for r in requests)
    weighted = [(r["delivered"], r["fidelity"]["mean"], r["qber"]) for r in requests if r["delivered"]]
    metrics: Metrics = {f"requests_{k}": v for k, v in summary["counts"].items()}
    duration = summary["simulated_s"]
    metrics.update(
        simulated_s=duration,
        events=summary["events"],
        delivered=delivered,
        pair_rate_hz=sum(r["rate_hz"] for r in requests),
        fidelity=sum(n * f for n, f, _ in weighted) / delivered if delivered else None,
        qber=sum(n * q for n, _, q in weighted) / delivered if delivered else None,
        key_rate_bps=sum(r["key"]["key_rate_bps"] or 0.0 for r in requests),
        final_key_bits=sum(r["key"]["final_key_bits"] or 0 for r in requests),
        link_rates_hz=json.dumps([link["heralds"] / duration if duration > 0 else 0.0 for link in summary["links"]]),
    )
    if len(requests) <= PER_REQUEST_COLUMNS:
        for i, r in enumerate(requests):
            metrics.update(
                {
                    f"request{i}_status": r["status"],
                    f"request{i}_delivered": r["delivered"],
                    f"request{i}_rate_hz": r["rate_hz"],
                    f"request{i}_fidelity": r["fidelity"]["mean"],
                    f"request{i}_qber": r["qber"],
                    f"request{i}_key_rate_bps": r["key"]["key_rate_bps"],
                }
            )
    return metrics


def null_runner(config: Mapping[str, Any], seed: int) -> Metrics:
    """The ``null`` runner: one constant metric, so a sweep of it times the machinery alone."""
    del config, seed
    return {"value": 1.0}


def _scalars(values: Mapping[str, object]) -> Metrics:
    return {k: v for k, v in values.items() if v is None or isinstance(v, bool | int | float | str)}


RUNNERS: dict[str, RunnerSpec] = {
    spec.name: spec
    for spec in (
        RunnerSpec("link", link_runner, ("memory",), "the scenario's one link, analytically (qkdnet link)"),
        RunnerSpec("key", key_runner, ("key", "eve"), "one key run over the link, with Eve (qkdnet attack)"),
        RunnerSpec("network", network_runner, (), "the whole scenario on the network simulator (qkdnet simulate)"),
        RunnerSpec("null", null_runner, (), "a constant: measures the sweep machinery"),
    )
}


#: A small configuration for :func:`warm_up`: two labs 60 m apart, a key request, a key run that reaches
#: error correction.
_WARM_CONFIG: dict[str, Any] = {
    "seed": 1,
    "nodes": {"a": {"preset": "ritter2012"}, "b": {"preset": "ritter2012"}},
    "links": [{"endpoints": ["a", "b"], "preset": "ritter2012", "length_km": 0.06, "heralding": "emission-absorption"}],
    "requests": [{"endpoints": ["a", "b"], "key_bits": 64, "deadline_s": 60.0}],
    "policies": {"purification_rounds": 0, "purification_scheme": "dejmps"},
    "memory": {"storage_s": 0.0},
    "key": {"protocol": "bbm92", "pairs": 20_000, "security": "trusted", "key_length": None, "visibility": 0.97},
    "eve": {"kind": "intercept-resend", "strength": 0.0, "angle_deg": 0.0},
}


def warm_up(names: tuple[str, ...]) -> None:
    """Run each named runner once on a small configuration (imports, numba kernels); failures are ignored."""
    for name in names:
        spec = RUNNERS.get(name)
        if spec is not None:
            with contextlib.suppress(Exception):
                spec.function(_WARM_CONFIG, 0)


def get_runner(name: str) -> RunnerSpec:
    """The runner called ``name``, or an error listing them."""
    try:
        return RUNNERS[name]
    except KeyError:
        raise InvalidParameter(f"unknown runner {name!r}; expected one of: {', '.join(RUNNERS)}") from None


__all__ = [
    "PER_REQUEST_COLUMNS",
    "RUNNERS",
    "Metrics",
    "Runner",
    "RunnerSpec",
    "bell_metrics",
    "get_runner",
    "key_runner",
    "link_physics",
    "link_runner",
    "network_runner",
    "null_runner",
    "warm_up",
]
