"""The code ladder: PEG parity-check matrices built on first use, deterministically, and kept in memory.

A code is named by ``(family, rate, n, seed)``; both parties rebuild the very same matrix from that
name (the seed drives PEG's tie-breaking), so a message only carries the name. Codes are built at
first use and memoised in-process rather than shipped as package data or cached on disk: the
post-processing layer does no file I/O (ARCHITECTURE.md), PEG takes about a second for n = 10⁴
and several for n = 10⁵, and a ladder of 10⁵-bit matrices would weigh megabytes in the wheel.

Each code also carries its *puncturing order*: an untainted puncturing pattern (Elkouss,
Martinez-Mateo & Martin, "Untainted puncturing for irregular LDPC codes", IEEE Wireless Commun.
Lett. 1, 585 (2012), arXiv:1103.6149). Symbols are taken greedily, smallest two-step neighbourhood
first, so that no check touches two punctured symbols: every punctured symbol can be recovered in
one step, and the punctured columns of H have disjoint supports, hence full rank — the property
that lets the syndrome of a punctured frame leak only ``m − p`` bits (see :mod:`.parties`).

>>> code = ldpc_code("martinez_mateo2012", 0.5, 2000)
>>> code.m, code.n, code.matrix.nnz == int(code.distribution.variable_degrees(2000).sum())
(1000, 2000, True)
>>> bool(np.all(code.matrix[:, code.puncture_order].sum(axis=1) <= 1))
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
from scipy import sparse

from qkdnet.checks import check_int
from qkdnet.errors import InvalidParameter
from qkdnet.postprocess._bits import Bits
from qkdnet.postprocess.ldpc.distributions import ELKOUSS_2009, MARTINEZ_MATEO_2012, DegreeDistribution
from qkdnet.postprocess.ldpc.peg import DEFAULT_BFS_BUDGET, peg_matrix

IntArray = npt.NDArray[np.int64]

FAMILIES: Mapping[str, Mapping[float, DegreeDistribution]] = MappingProxyType(
    {"elkouss2009": ELKOUSS_2009, "martinez_mateo2012": MARTINEZ_MATEO_2012}
)
"""Degree-distribution tables by family name."""
_FAMILY_IDS = {"elkouss2009": 1, "martinez_mateo2012": 2}

MIN_CODE_LENGTH = 200
"""Shortest code built (the densest ensembles need ~50 checks per high-degree column)."""


@dataclass(frozen=True, slots=True, eq=False)
class LdpcCode:
    """A parity-check matrix of the ladder, its name, and its untainted puncturing order."""

    family: str
    rate: float
    n: int
    seed: int
    distribution: DegreeDistribution
    matrix: sparse.csr_matrix
    puncture_order: IntArray

    @property
    def m(self) -> int:
        """Number of parity checks (syndrome bits per frame)."""
        return int(self.matrix.shape[0])

    def syndrome(self, words: npt.NDArray[np.uint8]) -> Bits:
        """Syndromes ``H·w`` of the rows of ``words`` (shape (frames, n)) over GF(2), shape (frames, m)."""
        arr = np.asarray(words, dtype=np.uint8)
        product = self.matrix @ arr.T.astype(np.int32)
        return (np.asarray(product).T & 1).astype(np.uint8)

    def __repr__(self) -> str:
        return f"LdpcCode({self.family!r}, rate={self.rate}, n={self.n}, m={self.m}, seed={self.seed})"


def _untainted_order(H: sparse.csr_matrix, rng: np.random.Generator) -> IntArray:
    """Greedy untainted puncturing: smallest two-step neighbourhood first, random among ties."""
    csc = H.tocsc()
    check_degree = np.diff(H.indptr)
    # |N²(v)|: the symbols sharing a check with v (v itself counted once per check, hence the -1s).
    reach = np.asarray(sparse.csc_matrix((check_degree[csc.indices] - 1, csc.indices, csc.indptr)).sum(axis=0))
    ties = rng.random(H.shape[1])
    order = np.lexsort((ties, reach.ravel()))
    tainted = np.zeros(H.shape[1], dtype=bool)
    chosen: list[int] = []
    for v in order.tolist():
        if tainted[v]:
            continue
        chosen.append(v)
        checks = csc.indices[csc.indptr[v] : csc.indptr[v + 1]]
        for c in checks.tolist():
            tainted[H.indices[H.indptr[c] : H.indptr[c + 1]]] = True
    result = np.array(chosen, dtype=np.int64)
    result.setflags(write=False)
    return result


def _distribution(family: str, rate: float) -> DegreeDistribution:
    table = FAMILIES.get(family)
    if table is None:
        raise InvalidParameter(f"unknown code family {family!r}; known: {sorted(FAMILIES)}")
    if rate not in table:
        raise InvalidParameter(f"family {family!r} has no rate {rate!r}; rates: {sorted(table)}")
    return table[rate]


@lru_cache(maxsize=32)
def _build(family: str, rate: float, n: int, seed: int) -> LdpcCode:
    dist = _distribution(family, rate)
    variable_degrees = dist.variable_degrees(n)
    check_degrees = dist.check_degrees(dist.check_count(n), int(variable_degrees.sum()))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_FAMILY_IDS[family], round(rate * 1000), n)))
    H = peg_matrix(variable_degrees, check_degrees, rng=rng, bfs_budget=DEFAULT_BFS_BUDGET)
    H.data.setflags(write=False)
    return LdpcCode(family, rate, n, seed, dist, H, _untainted_order(H, rng))


def ldpc_code(family: str, rate: float, n: int, *, seed: int = 0) -> LdpcCode:
    """The ladder's code ``(family, rate, n, seed)``, built by PEG on first use and memoised.

    The same arguments give the same matrix in every process (numpy's SeedSequence and PCG64 are
    stable), which is what lets Alice and Bob name a code instead of sending it.
    """
    if not isinstance(family, str):
        raise InvalidParameter(f"family must be a string, got {family!r}")
    _distribution(family, rate)
    size = check_int(n, name="n", minimum=MIN_CODE_LENGTH)
    return _build(family, float(rate), size, check_int(seed, name="seed"))


__all__ = ["FAMILIES", "MIN_CODE_LENGTH", "LdpcCode", "ldpc_code"]
