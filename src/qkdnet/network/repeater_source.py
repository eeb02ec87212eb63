"""End-to-end pairs of a repeater chain, block by block: the pair source of an end-to-end (swapped) QKD link.

Each :meth:`RepeaterChainSource.generate` runs the network simulator (:func:`~qkdnet.network.simulate`) on a
fixed route for the pairs asked: every elementary link heralds, the repeaters' memories decohere while they
wait for the next link, the repeaters swap (Bell measurement, its outcome announced to the ends, who apply the
Pauli correction: the states here are after correction) and ``policies.cutoff_s`` discards pairs stored too
long. The two ends get the end-to-end pairs only: the repeaters' Bell outcomes are public classical messages
and carry nothing about the key the ends will measure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from qkdnet.errors import InvalidParameter
from qkdnet.network.outcomes import PairBlock
from qkdnet.network.requests import Policies, Request
from qkdnet.network.simulation import simulate
from qkdnet.network.topology import Network
from qkdnet.quantum import BellDiagonal

#: Simulated time one block may take (the engine clock holds 53 days): ample for a block of a chain that makes key.
BLOCK_HORIZON_S = 4e6


class RepeaterChainSource:
    """Blocks of end-to-end pairs along ``route`` (ends first and last, repeaters between) of ``network``."""

    def __init__(self, network: Network, route: Sequence[str], policies: Policies | None = None) -> None:
        route = tuple(route)
        if len(route) < 3 or len(set(route)) != len(route):
            raise InvalidParameter(f"a repeater chain needs two ends and a repeater, all distinct; got {route!r}")
        self.network = network
        self.route = route
        self.policies = dataclasses.replace(policies or Policies(), horizon_s=BLOCK_HORIZON_S)
        self.delivered = 0
        self.swap_failures = 0

    def generate(self, n_pairs: int, *, rng: np.random.Generator) -> PairBlock:
        """The next ``n_pairs`` end-to-end pairs (fewer if the chain delivers none within the horizon); times from
        the block's start."""
        if isinstance(n_pairs, bool) or not isinstance(n_pairs, int | np.integer) or n_pairs < 1:
            raise InvalidParameter(f"n_pairs must be a positive integer, got {n_pairs!r}")
        request = Request((self.route[0], self.route[-1]), pairs=int(n_pairs), route=self.route)
        run = simulate(self.network, [request], self.policies, seed=int(rng.integers(2**63)))
        outcome = run.outcomes[0]
        if outcome.status == "rejected":
            raise InvalidParameter(f"the chain {'-'.join(self.route)} cannot serve pairs: {outcome.reason}")
        self.delivered += outcome.delivered
        self.swap_failures += outcome.swap_failures
        times = np.asarray(outcome.delivery_times_ps, dtype=np.int64) - (outcome.admitted_ps or 0)
        if outcome.delivered == 0:
            return PairBlock(BellDiagonal._unchecked(np.zeros((0, 4))), times)
        return PairBlock(outcome.states, times)


__all__ = ["BLOCK_HORIZON_S", "RepeaterChainSource"]
