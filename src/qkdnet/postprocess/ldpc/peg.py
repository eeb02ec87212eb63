"""Progressive edge growth (PEG): a Tanner graph with given degrees and large local girth.

Hu, Eleftheriou & Arnold, "Regular and irregular progressive edge-growth Tanner graphs", IEEE Trans.
Inf. Theory 51, 386 (2005): variable nodes are taken in order of non-decreasing degree; each edge of
a node goes to a check as far away from it as possible in the graph built so far. The node's
neighbourhood is expanded breadth first, level by level; the new edge goes to a check that is *not*
reached by the deepest complete level (if every check is reached one level further, to one reached
only at that last level), so it closes no cycle shorter than twice that distance. Among the
candidates, Hu et al. take a check of lowest current degree. Here every check also has a target
degree (from ρ), and the candidate with the most remaining room is taken (the same rule when ρ is
concentrated; it realises a spread-out ρ exactly). Ties are broken by a seeded random offset.

One deviation, for speed at n = 10⁴–10⁵: the breadth-first expansion stops once it has walked
``bfs_budget`` edges (after level 1, which is always completed). A budget stop only means the new
edge may close a cycle at the depth where the search stopped — beyond what the complete levels
guarantee — never a shorter one; with level 1 always complete, no 4-cycle is made while a candidate
check exists. The kernel is compiled with numba on first use.

>>> import numpy as np
>>> H = peg_matrix(np.full(12, 3), np.full(6, 6), rng=np.random.default_rng(1))
>>> H.shape, H.nnz, sorted(set(np.diff(H.indptr).tolist()))
((6, 12), 36, [6])
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess._bits import check_int

IntArray = npt.NDArray[np.int64]

DEFAULT_BFS_BUDGET = 5_000
"""Edges walked per breadth-first expansion before it stops (after level 1); see the module text."""


def _peg_kernel_source(
    var_degrees: Any, check_targets: Any, offsets: Any, bfs_budget: int
) -> tuple[Any, Any, int]:  # pragma: no cover - runs compiled by numba (its logic is tested through peg_matrix)
    """PEG on arrays; returns (check of each edge, variable of each edge, status: 0 ok, else the stuck node + 1)."""
    n = var_degrees.shape[0]
    m = check_targets.shape[0]
    dv_max = 0
    for j in range(n):
        dv_max = max(dv_max, var_degrees[j])
    dc_max = 0
    for c in range(m):
        dc_max = max(dc_max, check_targets[c])
    total = 0
    for j in range(n):
        total += var_degrees[j]
    vadj = np.zeros((n, max(dv_max, 1)), dtype=np.int64)
    vdeg = np.zeros(n, dtype=np.int64)
    cadj = np.zeros((m, max(dc_max, 1)), dtype=np.int64)
    cdeg = np.zeros(m, dtype=np.int64)
    # Checks ordered by remaining room; segment r holds the checks with room r: order[lo[r]:lo[r + 1]].
    room = check_targets.copy()
    r_max = dc_max
    counts = np.zeros(r_max + 2, dtype=np.int64)
    for c in range(m):
        counts[room[c]] += 1
    lo = np.zeros(r_max + 2, dtype=np.int64)
    for r in range(1, r_max + 2):
        lo[r] = lo[r - 1] + counts[r - 1]
    fill = lo.copy()
    order = np.zeros(m, dtype=np.int64)
    where = np.zeros(m, dtype=np.int64)
    for c in range(m):
        order[fill[room[c]]] = c
        where[c] = fill[room[c]]
        fill[room[c]] += 1
    open_checks = m  # checks with room > 0
    for c in range(m):
        if room[c] == 0:
            open_checks -= 1
    cmark = np.zeros(m, dtype=np.int64)
    clevel = np.zeros(m, dtype=np.int64)
    vmark = np.zeros(n, dtype=np.int64)
    frontier = np.zeros(m, dtype=np.int64)
    following = np.zeros(m, dtype=np.int64)
    rows = np.zeros(total, dtype=np.int64)
    cols = np.zeros(total, dtype=np.int64)
    stamp = 0
    edge = 0
    for v in range(n):
        for _k in range(var_degrees[v]):
            stamp += 1
            vmark[v] = stamp
            reached_open = 0
            size = 0
            for i in range(vdeg[v]):
                c = vadj[v, i]
                cmark[c] = stamp
                clevel[c] = 0
                frontier[size] = c
                size += 1
                if room[c] > 0:
                    reached_open += 1
            level = 0  # deepest level whose checks are all excluded as candidates
            visits = 0
            if size > 0 and reached_open < open_checks:
                while True:
                    nxt = 0
                    stopped = False
                    for f in range(size):
                        c = frontier[f]
                        for a in range(cdeg[c]):
                            u = cadj[c, a]
                            if vmark[u] == stamp:
                                continue
                            vmark[u] = stamp
                            visits += vdeg[u]
                            for b in range(vdeg[u]):
                                c2 = vadj[u, b]
                                if cmark[c2] != stamp:
                                    cmark[c2] = stamp
                                    clevel[c2] = level + 1
                                    following[nxt] = c2
                                    nxt += 1
                                    if room[c2] > 0:
                                        reached_open += 1
                        if level >= 1 and visits > bfs_budget:
                            stopped = True
                            break
                    if stopped or nxt == 0:
                        break  # budget spent, or no growth: exclude levels <= level
                    if reached_open >= open_checks:
                        break  # every open check reached by level + 1: choose among level + 1
                    for f in range(nxt):
                        frontier[f] = following[f]
                    size = nxt
                    level += 1
            # Choose the open check of most room not reached within `level`; relax the level if none.
            chosen = -1
            exclude = level
            while chosen < 0:
                r = r_max
                while r >= 1 and chosen < 0:
                    count = lo[r + 1] - lo[r]
                    if count > 0:
                        start = offsets[edge] % count
                        for i in range(count):
                            c = order[lo[r] + (start + i) % count]
                            if cmark[c] == stamp and clevel[c] <= exclude:
                                continue
                            chosen = c
                            break
                    r -= 1
                if chosen < 0:
                    if exclude == 0 or vdeg[v] == 0:
                        return rows, cols, v + 1
                    exclude -= 1
            c = chosen
            # Decrease the room of c by one: swap it to the front of its segment, then shrink that segment.
            r = room[c]
            first = lo[r]
            other = order[first]
            order[first] = c
            order[where[c]] = other
            where[other] = where[c]
            where[c] = first
            lo[r] += 1
            room[c] = r - 1
            if room[c] == 0:
                open_checks -= 1
            vadj[v, vdeg[v]] = c
            vdeg[v] += 1
            cadj[c, cdeg[c]] = v
            cdeg[c] += 1
            rows[edge] = c
            cols[edge] = v
            edge += 1
    return rows, cols, 0


@cache
def _compiled_kernel() -> Callable[..., tuple[IntArray, IntArray, int]]:
    """The PEG kernel compiled by numba (imported here, so `import qkdnet` stays light)."""
    import numba

    kernel: Callable[..., tuple[IntArray, IntArray, int]] = numba.njit(cache=False, nogil=True)(_peg_kernel_source)
    return kernel


def peg_matrix(
    var_degrees: npt.ArrayLike,
    check_degrees: npt.ArrayLike,
    *,
    rng: np.random.Generator,
    bfs_budget: int = DEFAULT_BFS_BUDGET,
) -> sparse.csr_matrix:
    """Parity-check matrix (checks × variables, CSR, uint8) whose column j has ``var_degrees[j]`` ones
    and row i has ``check_degrees[i]`` ones, built by progressive edge growth.

    ``var_degrees`` must be non-decreasing (PEG's order) and both sequences must count the same
    edges. ``rng`` draws the tie-breaking offsets only, so the same seed gives the same matrix.
    """
    dv = np.asarray(var_degrees)
    dc = np.asarray(check_degrees)
    for name, arr in (("var_degrees", dv), ("check_degrees", dc)):
        if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
            raise InvalidParameter(f"{name} must be a non-empty one-dimensional integer array")
        if int(arr.min()) < 1:
            raise InvalidParameter(f"{name} must be >= 1")
    if np.any(np.diff(dv) < 0):
        raise InvalidParameter("var_degrees must be non-decreasing (PEG takes low-degree nodes first)")
    if int(dv.sum()) != int(dc.sum()):
        raise InvalidParameter(f"degree sequences count different edges: {int(dv.sum())} and {int(dc.sum())}")
    if int(dv.max()) > dc.size:
        raise InvalidParameter(f"a variable of degree {int(dv.max())} needs that many checks; there are {dc.size}")
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameter("rng must be a numpy.random.Generator")
    budget = check_int(bfs_budget, name="bfs_budget", minimum=1)
    offsets = rng.integers(0, 2**62, size=int(dv.sum()), dtype=np.int64)
    rows, cols, status = _compiled_kernel()(dv.astype(np.int64), dc.astype(np.int64), offsets, budget)
    if status:
        raise InvalidParameter(f"PEG got stuck at variable {status - 1}: degrees too large for so few checks")
    data = np.ones(rows.size, dtype=np.uint8)
    return sparse.csr_matrix((data, (rows, cols)), shape=(dc.size, dv.size))


__all__ = ["DEFAULT_BFS_BUDGET", "peg_matrix"]
