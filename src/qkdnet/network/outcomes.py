"""What a network run records: per-link ledgers, per-request outcomes, and delivered pairs as a key source.

They sit below both the run (:mod:`qkdnet.network.simulation`) and its sessions (:mod:`qkdnet.network._session`),
which fill them in, so neither of those imports the other.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from qkdnet.errors import InvalidParameter
from qkdnet.network import _pauli
from qkdnet.network.requests import Request
from qkdnet.quantum import BellDiagonal
from qkdnet.units import PS_PER_S

Status = Literal["completed", "deadline", "unfinished", "rejected"]


class LinkLedger:
    """What one link did: heralds, and the intervals during which some memory pair was attempting on it."""

    __slots__ = ("ends", "heralds", "name", "starts")

    def __init__(self, name: str) -> None:
        self.name = name
        self.heralds = 0
        self.starts = array("q")
        self.ends = array("q")

    def herald(self, start_ps: int, end_ps: int) -> None:
        """A herald at ``end_ps`` after attempting since ``start_ps``."""
        self.heralds += 1
        if end_ps > start_ps:
            self.starts.append(start_ps)
            self.ends.append(end_ps)

    def attempted(self, start_ps: int, end_ps: int, *, heralds: int = 0) -> None:
        """Attempting from ``start_ps`` to ``end_ps`` with ``heralds`` heralds in between."""
        self.heralds += heralds
        if end_ps > start_ps:
            self.starts.append(start_ps)
            self.ends.append(end_ps)

    def busy_ps(self) -> int:
        """Total length of the union of the attempt intervals."""
        if not self.starts:
            return 0
        starts = np.frombuffer(self.starts, dtype=np.int64)
        ends = np.frombuffer(self.ends, dtype=np.int64)
        order = np.argsort(starts, kind="stable")
        s, e = starts[order], np.maximum.accumulate(ends[order])
        # A new block begins where an interval starts after every earlier one has ended.
        new = np.ones(len(s), dtype=bool)
        new[1:] = s[1:] > e[:-1]
        block = np.cumsum(new) - 1
        block_start = s[new]
        block_end = np.zeros(int(block[-1]) + 1, dtype=np.int64)
        np.maximum.at(block_end, block, e)
        return int(np.sum(block_end - block_start))


@dataclass(slots=True)
class RequestOutcome:
    """What became of one request: its route, its delivered pairs (time and state), and what was lost."""

    index: int
    request: Request
    route: tuple[str, ...] | None = None
    status: Status = "unfinished"
    reason: str | None = None
    memory_slots: int = 0
    admitted_ps: int | None = None
    finished_ps: int | None = None
    stop_ps: int = 0
    link_heralds: int = 0
    swap_failures: int = 0
    purification_failures: int = 0
    discarded_cutoff: int = 0
    discarded_fidelity: int = 0
    storage_ps: int = 0
    """Qubit-picoseconds spent in memories by every qubit this request stored."""
    delivery_ps: list[int] = field(default_factory=list)
    """Delivery times appended one by one (event-driven routes); see :attr:`delivery_times_ps` for all."""
    lams: list[tuple[float, float, float]] = field(default_factory=list)
    """Pauli-transfer factors of the pairs in :attr:`delivery_ps`."""
    chunks: list[tuple[NDArray[np.int64], NDArray[np.float64]]] = field(default_factory=list)
    """Deliveries recorded as arrays (times, λ's) by routes drawn in bulk, before those in the lists."""

    @property
    def delivered(self) -> int:
        """Pairs delivered that met the fidelity target."""
        return len(self.delivery_ps) + sum(len(t) for t, _ in self.chunks)

    @property
    def delivery_times_ps(self) -> NDArray[np.int64]:
        """When each pair was delivered (both ends hold it, corrected), from the start of the run."""
        parts = [t for t, _ in self.chunks] + [np.asarray(self.delivery_ps, dtype=np.int64)]
        return np.concatenate(parts)

    @property
    def states(self) -> BellDiagonal:
        """The delivered pairs' Bell-diagonal states as read out by the end nodes, (N, 4)."""
        parts = [lam for _, lam in self.chunks] + [np.asarray(self.lams, dtype=np.float64).reshape(-1, 3)]
        return BellDiagonal._unchecked(_pauli.weights_array(np.concatenate(parts)))

    @property
    def fidelities(self) -> NDArray[np.float64]:
        """Fidelity with Φ+ of each delivered pair."""
        return np.asarray(self.states.fidelity, dtype=np.float64)

    @property
    def served_s(self) -> float:
        """Time from admission to the end of service (0 if never admitted)."""
        if self.admitted_ps is None or self.finished_ps is None:
            return 0.0
        return (self.finished_ps - self.admitted_ps) / PS_PER_S

    def pairs_source(self) -> DeliveredPairs:
        """The delivered pairs as a source for :func:`qkdnet.qkd.run_key_exchange`."""
        origin = self.admitted_ps or 0
        return DeliveredPairs(self.states, self.delivery_times_ps - origin)


@dataclass(frozen=True, slots=True)
class PairBlock:
    """A block of delivered pairs: states and delivery times (from the block's start)."""

    states: BellDiagonal
    herald_times_ps: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.herald_times_ps)

    @property
    def last_herald_ps(self) -> int:
        """Time of the last pair (0 for an empty block)."""
        return int(self.herald_times_ps[-1]) if len(self.herald_times_ps) else 0

    def wrapped_herald_times_ps(self) -> NDArray[np.int64]:
        """The times as a 64-bit time tagger holds them (they fit in int64, so they are their own wrap)."""
        return self.herald_times_ps


class DeliveredPairs:
    """End-to-end pairs a network run delivered, handed out in order by ``generate`` (the key pipeline's source).

    Each block's times count from the end of the previous block, so the pipeline's duration is the delivery
    span. Asking for more pairs than were delivered raises InvalidParameter.
    """

    def __init__(self, states: BellDiagonal, delivery_times_ps: NDArray[np.int64]) -> None:
        if states.shared or len(states) != len(delivery_times_ps):
            raise InvalidParameter("DeliveredPairs needs one state per delivery time")
        self._states = states
        self._times = np.asarray(delivery_times_ps, dtype=np.int64)
        self._next = 0

    def __len__(self) -> int:
        return len(self._times)

    @property
    def remaining(self) -> int:
        """Pairs not yet handed out."""
        return len(self._times) - self._next

    def generate(self, n_pairs: int, *, rng: np.random.Generator) -> PairBlock:
        """The next ``n_pairs`` delivered pairs (``rng`` unused: the network run already drew them)."""
        if isinstance(n_pairs, bool) or not isinstance(n_pairs, int | np.integer) or n_pairs < 0:
            raise InvalidParameter(f"n_pairs must be a non-negative integer, got {n_pairs!r}")
        i, j = self._next, self._next + int(n_pairs)
        if j > len(self._times):
            raise InvalidParameter(f"only {self.remaining} delivered pairs remain, {n_pairs} asked for")
        origin = 0 if i == 0 else int(self._times[i - 1])
        self._next = j
        return PairBlock(BellDiagonal._unchecked(self._states.weights[i:j]), self._times[i:j] - origin)
