"""The code ladder: PEG parity-check matrices built on first use, deterministically, and cached.

A code is named by ``(family, rate, n, seed)``; both parties rebuild the very same matrix from that
name (the seed drives PEG's tie-breaking), so a message only carries the name. Codes are built at
first use, memoised in-process, and kept in a disk cache (:func:`code_cache_dir`, like numba's
cache of compiled kernels) so that a new process loads a 10⁵-bit matrix instead of spending
seconds in PEG; the wheel ships no matrices (a ladder of 10⁵-bit codes would weigh megabytes). A
cached file is only a shortcut: it is checked against the code's degree sequences on load, holds
no key material, and any unreadable or inconsistent file is ignored and rebuilt.

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

import hashlib
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse

from qkdnet.checks import check_int
from qkdnet.errors import InvalidParameter
from qkdnet.postprocess._bits import Bits
from qkdnet.postprocess.ldpc.distributions import FAMILIES, DegreeDistribution
from qkdnet.postprocess.ldpc.peg import DEFAULT_BFS_BUDGET, peg_matrix

IntArray = npt.NDArray[np.int64]

_FAMILY_IDS = {"elkouss2009": 1, "martinez_mateo2012": 2}

MIN_CODE_LENGTH = 200
"""Shortest code built (the densest ensembles need ~50 checks per high-degree column)."""
CACHE_ENV = "QKDNET_CACHE_DIR"
"""Environment variable naming the cache directory; empty disables the disk cache."""
_CACHE_FORMAT = 1
"""Bumped whenever PEG or the puncturing order change, so that stale cached codes are not loaded."""


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


def code_cache_dir() -> Path | None:
    """Where built codes are cached: ``$QKDNET_CACHE_DIR/ldpc``, else ``$XDG_CACHE_HOME/qkdnet/ldpc``
    (``~/.cache/qkdnet/ldpc`` by default); ``None`` when ``QKDNET_CACHE_DIR`` is set but empty."""
    base = os.environ.get(CACHE_ENV)
    if base is not None:
        return Path(base) / "ldpc" if base else None
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "qkdnet" / "ldpc"


def _cache_file(directory: Path, dist: DegreeDistribution, family: str, rate: float, n: int, seed: int) -> Path:
    """The file of one code; its name hashes everything the matrix depends on."""
    recipe = repr((_CACHE_FORMAT, family, rate, n, seed, sorted(dist.lambda_.items()), sorted(dist.rho.items())))
    digest = hashlib.sha256(f"{recipe}{DEFAULT_BFS_BUDGET}".encode()).hexdigest()[:16]
    return directory / f"{family}-{round(rate * 1000)}-{n}-{seed}-{digest}.npz"


def _load(
    path: Path, m: int, variable_degrees: IntArray, check_degrees: IntArray
) -> tuple[sparse.csr_matrix, IntArray] | None:
    """The cached matrix and puncturing order, if the file exists and has the code's degrees."""
    try:
        with np.load(path, allow_pickle=False) as data:
            indptr, indices, order = data["indptr"], data["indices"], data["puncture_order"]
        n = variable_degrees.size
        H = sparse.csr_matrix((np.ones(indices.size, dtype=np.uint8), indices, indptr), shape=(m, n))
    except (OSError, KeyError, ValueError):
        return None
    H.sum_duplicates()
    if (
        not np.array_equal(np.sort(np.diff(H.indptr)), np.sort(check_degrees))
        or not np.array_equal(np.bincount(H.indices, minlength=n), variable_degrees)
        or order.ndim != 1
        or (order.size and (int(order.min()) < 0 or int(order.max()) >= n))
    ):
        return None
    return H, order.astype(np.int64)


def _save(path: Path, H: sparse.csr_matrix, order: IntArray) -> None:
    """Write atomically (a temporary file renamed into place); a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            np.savez(tmp, indptr=H.indptr, indices=H.indices, puncture_order=order)
        os.replace(tmp.name, path)
    except OSError:
        return


@lru_cache(maxsize=32)
def _build(family: str, rate: float, n: int, seed: int) -> LdpcCode:
    dist = _distribution(family, rate)
    variable_degrees = dist.variable_degrees(n)
    m = dist.check_count(n)
    check_degrees = dist.check_degrees(m, int(variable_degrees.sum()))
    directory = code_cache_dir()
    path = None if directory is None else _cache_file(directory, dist, family, rate, n, seed)
    cached = None if path is None else _load(path, m, variable_degrees, check_degrees)
    if cached is not None:
        H, order = cached
    else:
        rng = np.random.default_rng(
            np.random.SeedSequence(seed, spawn_key=(_FAMILY_IDS[family], round(rate * 1000), n))
        )
        H = peg_matrix(variable_degrees, check_degrees, rng=rng, bfs_budget=DEFAULT_BFS_BUDGET)
        order = _untainted_order(H, rng)
        if path is not None:
            _save(path, H, order)
    H.data.setflags(write=False)
    order.setflags(write=False)
    return LdpcCode(family, rate, n, seed, dist, H, order)


def ldpc_code(family: str, rate: float, n: int, *, seed: int = 0) -> LdpcCode:
    """The ladder's code ``(family, rate, n, seed)``, built by PEG on first use, memoised and cached on disk.

    The same arguments give the same matrix in every process (numpy's SeedSequence and PCG64 are
    stable), which is what lets Alice and Bob name a code instead of sending it.
    """
    if not isinstance(family, str):
        raise InvalidParameter(f"family must be a string, got {family!r}")
    _distribution(family, rate)
    size = check_int(n, name="n", minimum=MIN_CODE_LENGTH)
    return _build(family, float(rate), size, check_int(seed, name="seed"))


__all__ = ["CACHE_ENV", "FAMILIES", "MIN_CODE_LENGTH", "LdpcCode", "code_cache_dir", "ldpc_code"]
