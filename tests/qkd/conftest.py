"""Ideal pair sources for key-run tests, independent of the hardware models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qkdnet.quantum import BellDiagonal, PairStates


@dataclass(frozen=True)
class Block:
    states: PairStates
    herald_times_ps: np.ndarray

    @property
    def last_herald_ps(self) -> int:
        return int(self.herald_times_ps[-1]) if len(self.herald_times_ps) else 0


@dataclass(frozen=True)
class WernerPairs:
    """Werner pairs of a fixed visibility, one per microsecond."""

    visibility: float

    def generate(self, n_pairs: int, *, rng: np.random.Generator) -> Block:
        return Block(BellDiagonal.werner(self.visibility), np.arange(1, n_pairs + 1, dtype=np.int64) * 10**6)


@dataclass(frozen=True)
class FixedStates:
    """A fixed shared state (any representation)."""

    state: PairStates

    def generate(self, n_pairs: int, *, rng: np.random.Generator) -> Block:
        return Block(self.state, np.arange(1, n_pairs + 1, dtype=np.int64) * 10**6)
