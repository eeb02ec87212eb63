"""Links, topology, routing, and network protocols in simulated time (layer 3).

Layer 3 uses hardware, quantum, engine and layer 0. A link yields heralded pairs in bulk: arrays of herald
times and Bell-diagonal states, never one object per pair. Every scheme (emission/absorption, direct
state transfer, two-photon and single-click heralding) offers the same :class:`Link` interface. A
:class:`Network` of nodes and links serves :class:`Request` s in engine time with :func:`simulate`:
heralding, swapping, purification, cutoffs and routing; :mod:`qkdnet.network.transfer` moves qubits along a
route, hop by hop or by teleportation.

>>> import numpy as np
>>> from qkdnet.network import link_from_preset
>>> pairs = link_from_preset("zhang2022", length_km=0.06).generate(5, rng=np.random.default_rng(0))
>>> len(pairs), bool((pairs.states.fidelity > 0.85).all())
(5, True)
"""

from qkdnet.network._sampling import HeraldedPairs
from qkdnet.network.base import HeraldedLink, Link
from qkdnet.network.headline import MODELED_QUANTITIES, model_headline
from qkdnet.network.ideal import IdealLink
from qkdnet.network.link import StateTransferLink, TwoNodeLink
from qkdnet.network.requests import Policies, Request
from qkdnet.network.schemes import SingleClickLink, TwoPhotonLink, link_for_preset, link_from_preset
from qkdnet.network.simulation import (
    DeliveredPairs,
    LinkLedger,
    NetworkRun,
    RequestOutcome,
    fidelity_summary,
    simulate,
)
from qkdnet.network.sources import WernerBlock, WernerSource
from qkdnet.network.topology import ROUTING_METRICS, Network, NetworkLink, NetworkNode, RoutingMetric
from qkdnet.network.transfer import TransferResult, store_and_forward, teleport

__all__ = [
    "MODELED_QUANTITIES",
    "ROUTING_METRICS",
    "DeliveredPairs",
    "HeraldedLink",
    "HeraldedPairs",
    "IdealLink",
    "Link",
    "LinkLedger",
    "Network",
    "NetworkLink",
    "NetworkNode",
    "NetworkRun",
    "Policies",
    "Request",
    "RequestOutcome",
    "RoutingMetric",
    "SingleClickLink",
    "StateTransferLink",
    "TransferResult",
    "TwoNodeLink",
    "TwoPhotonLink",
    "WernerBlock",
    "WernerSource",
    "fidelity_summary",
    "link_for_preset",
    "link_from_preset",
    "model_headline",
    "simulate",
    "store_and_forward",
    "teleport",
]
