"""The numba kernels of LDPC reconciliation: PEG construction and frame-parallel belief propagation.

Imported only by the functions that run them (:func:`.peg.peg_matrix`,
:class:`.decoder.LayeredBeliefPropagation`), so that importing qkdnet does not load numba; compiled
on first use and cached on disk by numba, as the Cascade kernels are. Their logic is documented,
validated and tested through those wrappers.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

_F0 = np.float32(0.0)
_KNOWN = np.float32(30.0)
# ln(1 + e^-x): intercepts and slopes of its tangents at x = 0, 1, 2 and 3.5 (float32 keeps SIMD lanes wide).
_A0, _B0 = np.float32(0.69315), np.float32(0.5)
_A1, _B1 = np.float32(0.58220), np.float32(0.26894)
_A2, _B2 = np.float32(0.36533), np.float32(0.11920)
_A3, _B3 = np.float32(0.13234), np.float32(0.02931)
_SLOT_DRAWS = 8
"""Random free slots PEG tries per edge before it scans for the open check of most room."""
_RANDOM_SHARE = 0.75
"""Share of the edges placed on random free slots; the rest go to the checks of most room, which
evens the rooms out so that the last, high-degree variables find enough distinct open checks."""


@numba.njit(nogil=True, cache=True)
def peg(var_degrees: Any, check_targets: Any, offsets: Any, bfs_budget: int) -> tuple[Any, Any, int]:
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
    # Checks grouped by target degree (type t, degree types[t]) and, within a type, ordered by remaining
    # room: order[lo[t, r]:lo[t, r + 1]] holds the checks of type t with room r.
    room = check_targets.copy()
    types = np.unique(check_targets)
    n_types = types.shape[0]
    ctype = np.searchsorted(types, check_targets)
    counts = np.zeros((n_types, dc_max + 2), dtype=np.int64)
    for c in range(m):
        counts[ctype[c], room[c]] += 1
    lo = np.zeros((n_types, dc_max + 2), dtype=np.int64)
    base = 0
    for t in range(n_types):
        for r in range(dc_max + 2):
            lo[t, r] = base
            base += counts[t, r]
    fill = lo.copy()
    order = np.zeros(m, dtype=np.int64)
    where = np.zeros(m, dtype=np.int64)
    for c in range(m):
        t = ctype[c]
        order[fill[t, room[c]]] = c
        where[c] = fill[t, room[c]]
        fill[t, room[c]] += 1
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
    type_room = np.zeros(n_types, dtype=np.int64)  # free sockets of each type
    for c in range(m):
        type_room[ctype[c]] += room[c]
    tried = np.zeros(n_types, dtype=np.bool_)
    random_edges = int(_RANDOM_SHARE * total)
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
            # Draw a check degree ("type") with probability proportional to its free slots, then one of
            # its free slots at random, again if the search reached that check within `level`; after
            # a few misses, the type's open check of most room not reached; another type if none;
            # relax the level if no type has one (see the module text of peg.py).
            chosen = -1
            exclude = level
            draw = offsets[edge]
            while chosen < 0:
                tried[:] = False
                for _attempt in range(n_types):
                    free = 0
                    for t in range(n_types):
                        if not tried[t]:
                            free += type_room[t]
                    if free == 0:
                        break
                    draw = (draw * 6364136223846793005 + 1442695040888963407) & 0x7FFFFFFFFFFFFFFF
                    pick = (draw >> 20) % free
                    t = 0
                    while tried[t] or pick >= type_room[t]:
                        if not tried[t]:
                            pick -= type_room[t]
                        t += 1
                    tried[t] = True
                    for _draw in range(_SLOT_DRAWS if edge < random_edges else 0):  # a random free slot
                        draw = (draw * 6364136223846793005 + 1442695040888963407) & 0x7FFFFFFFFFFFFFFF
                        pick = (draw >> 20) % type_room[t]
                        r = types[t]
                        while pick >= (lo[t, r + 1] - lo[t, r]) * r:
                            pick -= (lo[t, r + 1] - lo[t, r]) * r
                            r -= 1
                        c = order[lo[t, r] + pick // r]
                        if not (cmark[c] == stamp and clevel[c] <= exclude):
                            chosen = c
                            break
                    r = types[t]
                    while r >= 1 and chosen < 0:
                        count = lo[t, r + 1] - lo[t, r]
                        if count > 0:
                            begin = offsets[edge] % count
                            for i in range(count):
                                c = order[lo[t, r] + (begin + i) % count]
                                if cmark[c] == stamp and clevel[c] <= exclude:
                                    continue
                                chosen = c
                                break
                        r -= 1
                    if chosen >= 0:
                        break
                if chosen < 0:
                    if exclude == 0 or vdeg[v] == 0:
                        return rows, cols, v + 1
                    exclude -= 1
            c = chosen
            # Decrease the room of c by one: swap it to the front of its segment, then shrink that segment.
            t = ctype[c]
            r = room[c]
            first = lo[t, r]
            other = order[first]
            order[first] = c
            order[where[c]] = other
            where[other] = where[c]
            where[c] = first
            lo[t, r] += 1
            room[c] = r - 1
            type_room[t] -= 1
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


@numba.njit(inline="always", fastmath=True)
def _correction(x: Any) -> Any:
    """ln(1 + e^-x) for x ≥ 0 as the maximum of 0 and its tangents at x = 0, 1, 2, 3.5 (error < 0.03).

    Branch-free, so the loops over frames vectorise.
    """
    a = max(_A0 - _B0 * x, _A1 - _B1 * x)
    b = max(_A2 - _B2 * x, _A3 - _B3 * x)
    return max(max(a, b), _F0)


@numba.njit(inline="always", fastmath=True)
def _boxplus(a: Any, b: Any) -> Any:
    """a ⊞ b = sign(a)·sign(b)·min(|a|, |b|) + ln(1 + e^-|a+b|) − ln(1 + e^-|a-b|) (exact BP check rule)."""
    low = min(abs(a), abs(b))
    low = low if a * b >= _F0 else -low
    return low + _correction(abs(a + b)) - _correction(abs(a - b))


@numba.njit(nogil=True, fastmath=True, cache=True)
def bp_lanes(
    rowptr: Any,
    cols: Any,
    sign: Any,
    post: Any,
    msg: Any,
    active: Any,
    iterations: Any,
    best: Any,
    stalled: Any,
    hard: Any,
    converged: Any,
    max_iter: int,
    patience: int,
    min_active: int,
) -> None:
    """Layered iterations on ``width`` lanes (one frame each) until at most ``min_active`` are active.

    Arrays are (node, lane) — ``post`` (n, width), ``msg`` (edges, width), ``sign`` (checks, width) —
    so that every inner loop runs over lanes, which LLVM turns into SIMD code. ``post`` holds each
    bit's channel LLR plus its incoming check messages, ``msg`` the check-to-bit messages: the whole
    state, so a decoding can be resumed later. A lane stops when its syndrome is met, when its count
    of unmet checks has not dropped for ``patience`` iterations, or after ``max_iter`` iterations of
    its own; its hard decision then goes to ``hard[lane]`` and its flag to ``converged[lane]``.
    Stopped lanes keep being iterated (they share the SIMD loops) until the call returns.
    """
    n, width = post.shape
    m = rowptr.shape[0] - 1
    dmax = 1
    for r in range(m):
        dmax = max(dmax, rowptr[r + 1] - rowptr[r])
    ext = np.empty((dmax, width), dtype=np.float32)
    fwd = np.empty((dmax, width), dtype=np.float32)
    bwd = np.empty((dmax, width), dtype=np.float32)
    unmet = np.zeros(width, dtype=np.int64)
    parity = np.zeros(width, dtype=np.int64)
    remaining = 0
    for w in range(width):
        remaining += 1 if active[w] else 0
    while remaining > min_active:
        for r in range(m):
            s0 = rowptr[r]
            d = rowptr[r + 1] - s0
            for j in range(d):
                v = cols[s0 + j]
                for w in range(width):
                    ext[j, w] = post[v, w] - msg[s0 + j, w]
            if d == 1:  # a check on one bit fixes it
                v = cols[s0]
                for w in range(width):
                    o = _KNOWN * sign[r, w]
                    msg[s0, w] = o
                    post[v, w] = ext[0, w] + o
                continue
            for w in range(width):
                fwd[0, w] = ext[0, w]
                bwd[d - 1, w] = ext[d - 1, w]
            for j in range(1, d):  # both recursions in one loop: two independent ⊞ chains hide their latency
                k = d - 1 - j
                for w in range(width):
                    fwd[j, w] = _boxplus(fwd[j - 1, w], ext[j, w])
                    bwd[k, w] = _boxplus(ext[k, w], bwd[k + 1, w])
            v = cols[s0]
            for w in range(width):
                o = bwd[1, w] * sign[r, w]
                msg[s0, w] = o
                post[v, w] = ext[0, w] + o
            v = cols[s0 + d - 1]
            for w in range(width):
                o = fwd[d - 2, w] * sign[r, w]
                msg[s0 + d - 1, w] = o
                post[v, w] = ext[d - 1, w] + o
            for j in range(1, d - 1):
                v = cols[s0 + j]
                for w in range(width):
                    o = _boxplus(fwd[j - 1, w], bwd[j + 1, w]) * sign[r, w]
                    msg[s0 + j, w] = o
                    post[v, w] = ext[j, w] + o
        for w in range(width):
            unmet[w] = 0
        for r in range(m):
            for w in range(width):
                parity[w] = 1 if sign[r, w] < _F0 else 0
            for e in range(rowptr[r], rowptr[r + 1]):
                v = cols[e]
                for w in range(width):
                    parity[w] ^= 1 if post[v, w] < _F0 else 0
            for w in range(width):
                unmet[w] += parity[w]
        remaining = 0
        for w in range(width):
            if not active[w]:
                continue
            iterations[w] += 1
            if unmet[w] < best[w]:
                best[w] = unmet[w]
                stalled[w] = 0
            else:
                stalled[w] += 1
            if unmet[w] == 0 or stalled[w] >= patience or iterations[w] >= max_iter:
                active[w] = False
                converged[w] = unmet[w] == 0
                for v in range(n):
                    hard[w, v] = 1 if post[v, w] < _F0 else 0
            else:
                remaining += 1
