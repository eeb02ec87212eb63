"""Links between nodes, and (later) topology, memories, swapping and routing (layer 3).

Layer 3 uses hardware, quantum and layer 0. A link yields heralded pairs in bulk: arrays of herald
times and Bell-diagonal states, never one object per pair.

>>> import numpy as np
>>> from qkdnet.network import link_from_preset
>>> pairs = link_from_preset("zhang2022", length_km=0.06).generate(5, rng=np.random.default_rng(0))
>>> len(pairs), bool((pairs.states.fidelity > 0.85).all())
(5, True)
"""

from qkdnet.network.link import HeraldedPairs, TwoNodeLink, link_from_preset
from qkdnet.network.sources import WernerBlock, WernerSource

__all__ = ["HeraldedPairs", "TwoNodeLink", "WernerBlock", "WernerSource", "link_from_preset"]
