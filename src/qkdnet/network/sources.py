"""Idealised pair sources with the same ``generate`` interface as a link (for tests and what-ifs).

>>> import numpy as np
>>> block = WernerSource(visibility=0.9, pair_rate_hz=1e3).generate(3, rng=np.random.default_rng(0))
>>> block.herald_times_ps.tolist(), round(float(block.states.fidelity), 3)
([1000000000, 2000000000, 3000000000], 0.925)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qkdnet.checks import probability
from qkdnet.errors import InvalidParameter
from qkdnet.quantum import BellDiagonal
from qkdnet.units import PS_PER_S


@dataclass(frozen=True, slots=True)
class WernerBlock:
    """Pairs that all share one Werner state, heralded on a regular clock."""

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


@dataclass(frozen=True, slots=True)
class WernerSource:
    """Werner pairs of a fixed ``visibility``, one every 1/``pair_rate_hz`` (a lossless, noiseless clock)."""

    visibility: float
    pair_rate_hz: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "visibility", probability(self.visibility, "WernerSource.visibility"))
        rate = float(self.pair_rate_hz)
        if not math.isfinite(rate) or rate <= 0.0:
            raise InvalidParameter(f"WernerSource.pair_rate_hz must be finite and positive, got {rate!r}")
        object.__setattr__(self, "pair_rate_hz", rate)

    @property
    def expected_fidelity(self) -> float:
        """(1 + 3V)/4."""
        return (1.0 + 3.0 * self.visibility) / 4.0

    def generate(self, n_pairs: int, *, rng: np.random.Generator) -> WernerBlock:
        """``n_pairs`` pairs heralded at 1, 2, … periods; ``rng`` is unused (nothing is random)."""
        if isinstance(n_pairs, bool) or not isinstance(n_pairs, int | np.integer) or n_pairs < 0:
            raise InvalidParameter(f"n_pairs must be a non-negative integer, got {n_pairs!r}")
        period = max(round(PS_PER_S / self.pair_rate_hz), 1)
        times = np.arange(1, int(n_pairs) + 1, dtype=np.int64) * period
        times.setflags(write=False)
        return WernerBlock(BellDiagonal.werner(self.visibility), times)


__all__ = ["WernerBlock", "WernerSource"]
