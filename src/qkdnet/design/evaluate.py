"""One design point on the network simulator: a chain of improved hardware, its secret key per channel use.

The chain has ``nodes`` nodes over ``length_km`` of fiber in equal elementary links; every link heralds with the
improved preset's physics, the repeaters swap as soon as they hold both pairs (the simulator's memories decohere
while they wait), and the ends keep ``pairs`` end-to-end pairs. The key is the asymptotic BBM92 fraction of the
pairs' mean state, r = 1 − h(Q_Z) − h(Q_X) (Shor & Preskill, PRL 85, 441 (2000)), per channel use: a use is one
mode sent down every elementary link in one attempt round (the convention of Rozpędek et al., PRA 99, 052330
(2019), who compare such chains with the repeaterless bound), so

    key per use = (end-to-end pairs per second) · r / (modes · attempt rounds per second).

The PLOB bound of the whole length is −log₂(1 − η), η the transmission of ``length_km`` of the preset's fiber
(Pirandola et al., Nat. Commun. 8, 15043 (2017)). No chain delivers more end-to-end pairs per use than one of its
links heralds per mode, so a point whose links herald below the bound is not simulated: its key per use is at
most that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from qkdnet.design.space import improve, total_improvement
from qkdnet.hardware import get_preset
from qkdnet.network import Network, link_for_preset, simulate
from qkdnet.network.requests import Policies, Request
from qkdnet.qkd import plob_bits_per_use
from qkdnet.units import PS_PER_S, binary_entropy

#: Simulated time one point may take: a chain slower than this makes no key worth designing for.
HORIZON_S = 4e6


def _signed_key_fraction(q_z: float, q_x: float) -> float:
    """1 − h(Q_Z) − h(Q_X) without the clip at 0: how far a point is from making key, for the search."""
    return 1.0 - binary_entropy(min(q_z, 0.5)) - binary_entropy(min(q_x, 0.5))


def evaluate_design(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The metrics of one design point (``config``: ``{"chain": {...}, "factors": {NAME: k}, "seed": N}``, see
    :class:`~qkdnet.design.study.ChainSpec`), simulated with ``seed`` (the run's seed: the configuration's).

    ``key_per_use`` and ``plob_per_use`` in bits per channel use, ``margin`` their ratio with the key fraction
    left signed (negative: no key), ``beats_plob`` whether the chain's key beats the bound.
    """
    chain, factors = config["chain"], dict(config["factors"])
    nodes, length_km, pairs = int(chain["nodes"]), float(chain["length_km"]), int(chain["pairs"])
    preset = get_preset(chain["preset"])
    hardware = improve(preset, factors, modes=int(chain["modes"]), gate_fidelity=float(chain["gate_fidelity"]))
    heralding = chain.get("heralding") or preset.scheme
    elementary = hardware.preset.with_length(length_km / (nodes - 1))
    if elementary.scheme != heralding:
        elementary = dataclasses.replace(elementary, scheme=heralding)
    link = link_for_preset(elementary, modes=hardware.modes)
    plob = plob_bits_per_use(preset.with_length(length_km).fiber.transmission)
    uses_hz = hardware.modes * PS_PER_S / link.attempt_period_ps
    metrics: dict[str, Any] = {
        "plob_per_use": plob,
        "total_improvement": total_improvement(factors),
        "link_success_per_mode": link.mode_success_probability,
        "channel_uses_hz": uses_hz,
        "elementary_km": length_km / (nodes - 1),
    }
    bound = link.mode_success_probability
    if bound < plob or nodes < 2:
        return metrics | _no_simulation(bound, plob)
    network = Network.chain(nodes, link, hardware.preset.emitter, swap_fidelity=hardware.gate_fidelity)
    names = tuple(network.nodes)
    cutoff = chain.get("cutoff_s")
    policies = Policies(cutoff_s=None if cutoff is None else float(cutoff), horizon_s=HORIZON_S)
    run = simulate(network, [Request((names[0], names[-1]), pairs=pairs, route=names)], policies, seed=seed)
    outcome = run.outcomes[0]
    if outcome.delivered < 2:
        return metrics | _no_simulation(0.0, plob) | {"delivered": outcome.delivered}
    times = np.asarray(outcome.delivery_times_ps, dtype=np.float64)
    duration_s = float(times[-1] - (outcome.admitted_ps or 0)) / PS_PER_S
    weights = np.asarray(outcome.states.weights, dtype=np.float64).mean(axis=0)
    q_z, q_x = float(weights[2] + weights[3]), float(weights[1] + weights[3])
    pair_rate_hz = float(outcome.delivered) / duration_s
    signed = _signed_key_fraction(q_z, q_x)
    pairs_per_use = pair_rate_hz / uses_hz
    key_per_use = pairs_per_use * max(0.0, signed)
    return metrics | {
        "delivered": int(outcome.delivered),
        "simulated_s": duration_s,
        "pair_rate_hz": pair_rate_hz,
        "pairs_per_use": pairs_per_use,
        "fidelity": float(weights[0]),
        "qber_z": q_z,
        "qber_x": q_x,
        "key_fraction": max(0.0, signed),
        "key_rate_bps": pair_rate_hz * max(0.0, signed),
        "key_per_use": key_per_use,
        "margin": pairs_per_use * signed / plob,
        "beats_plob": bool(key_per_use > plob),
        "simulated": True,
    }


def _no_simulation(pairs_per_use_bound: float, plob: float) -> dict[str, Any]:
    """The metrics of a point not worth simulating: at most ``pairs_per_use_bound`` pairs (and key) per use. Its
    margin is given as ``pairs_per_use_bound / plob − 1`` (≤ 0): the search learns how far its links are from
    heralding often enough, and never mistakes the bound for a key."""
    return {
        "key_per_use": 0.0,
        "key_rate_bps": 0.0,
        "margin": pairs_per_use_bound / plob - 1.0,
        "beats_plob": False,
        "simulated": False,
    }


__all__ = ["HORIZON_S", "evaluate_design"]
