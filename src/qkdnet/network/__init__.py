"""Links between nodes, and (later) topology, memories, swapping and routing (layer 3).

Layer 3 uses hardware, quantum and layer 0. A link yields heralded pairs in bulk: arrays of herald
times and Bell-diagonal states, never one object per pair. Every scheme (emission/absorption, direct
state transfer, two-photon and single-click heralding) offers the same :class:`Link` interface.

>>> import numpy as np
>>> from qkdnet.network import link_from_preset
>>> pairs = link_from_preset("zhang2022", length_km=0.06).generate(5, rng=np.random.default_rng(0))
>>> len(pairs), bool((pairs.states.fidelity > 0.85).all())
(5, True)
"""

from qkdnet.network._sampling import HeraldedPairs
from qkdnet.network.base import HeraldedLink, Link
from qkdnet.network.headline import MODELED_QUANTITIES, model_headline
from qkdnet.network.link import StateTransferLink, TwoNodeLink, link_from_preset
from qkdnet.network.schemes import SingleClickLink, TwoPhotonLink, link_for_preset
from qkdnet.network.sources import WernerBlock, WernerSource

__all__ = [
    "MODELED_QUANTITIES",
    "HeraldedLink",
    "HeraldedPairs",
    "Link",
    "SingleClickLink",
    "StateTransferLink",
    "TwoNodeLink",
    "TwoPhotonLink",
    "WernerBlock",
    "WernerSource",
    "link_for_preset",
    "link_from_preset",
    "model_headline",
]
