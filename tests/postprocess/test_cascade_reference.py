"""The vectorised Cascade against a slow, obviously sequential one written here from Brassard & Salvail.

The reference runs pass after pass, block after block; each BINARY search asks Alice (a dict of what she
disclosed, so nothing is asked twice) and each correction cascades at once into every earlier pass. It
shares only the public pass orders with the code under test. The two process errors in different
orders, so single runs differ a little; over many keys their disclosed bits must agree.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from qkdnet.postprocess import (
    CascadeAlice,
    CascadeBob,
    LeakageLedger,
    cascade_block_sizes,
    pass_permutation,
    run_protocol,
)

from .helpers import h2


def reference_cascade(
    alice: npt.NDArray[np.uint8], bob: npt.NDArray[np.uint8], sizes: tuple[int, ...], seed: int
) -> tuple[npt.NDArray[np.uint8], int]:
    """Sequential Cascade with the given block sizes; returns Bob's corrected key and the parities disclosed."""
    n = alice.size
    bob = bob.copy()
    orders = [pass_permutation(seed, p, n) for p in range(len(sizes))]
    where = [np.argsort(order) for order in orders]
    disclosed: dict[tuple[int, int, int], int] = {}

    def ask(p: int, s: int, e: int) -> int:
        if (p, s, e) not in disclosed:
            disclosed[(p, s, e)] = int(alice[orders[p][s:e]].sum() % 2)
        return disclosed[(p, s, e)]

    def mine(p: int, s: int, e: int) -> int:
        return int(bob[orders[p][s:e]].sum() % 2)

    def block_of(p: int, bit: int) -> tuple[int, int]:
        start = int(where[p][bit]) // sizes[p] * sizes[p]
        return start, min(start + sizes[p], n)

    def binary(p: int, s: int, e: int) -> int:
        while e - s > 1:
            m = (s + e) // 2
            if ask(p, s, m) != mine(p, s, m):
                e = m
            else:
                s = m
        return int(orders[p][s])

    for i, k in enumerate(sizes):
        for start in range(0, n, k):
            todo = [(i, start, min(start + k, n))]
            while todo:
                p, s, e = todo.pop()
                if ask(p, s, e) != mine(p, s, e):
                    bit = binary(p, s, e)
                    bob[bit] ^= 1
                    todo.extend((q, *block_of(q, bit)) for q in range(i + 1))
    return bob, len(disclosed)


@pytest.mark.parametrize(
    ("variant", "q"), [("original", 0.02), ("original", 0.05), ("option7", 0.03), ("yanetal", 0.05), ("option8", 0.03)]
)
def test_vectorised_cascade_discloses_what_sequential_cascade_discloses(variant: str, q: float) -> None:
    """Paired runs (same keys, same pass orders): the disclosed bits agree within 4 %.

    They cannot agree exactly: the vectorised Cascade searches every odd block of a pass at once, so a
    block that sequential Cascade would find even after an earlier block's cascade is searched anyway
    (measured: about +3 % for the original), while its order of cascades sometimes saves a little (the
    half-frame passes of opt. (7)/(8), searched one block at a time as in sequential Cascade, come out
    2–3 % below this depth-first reference at n = 2048).
    """
    n, runs = 2048, 30
    rng = np.random.default_rng(int(q * 1e4))
    sizes = cascade_block_sizes(n, q, variant=variant)
    ours, theirs, residual = [], [], 0
    for _ in range(runs):
        alice_key = rng.integers(0, 2, n, dtype=np.uint8)
        bob_key = alice_key ^ (rng.random(n) < q).astype(np.uint8)
        bob_seed = int(rng.integers(2**32))
        seed = int.from_bytes(np.random.default_rng(bob_seed).bytes(16), "little")  # what Bob will draw
        bob_rng = np.random.default_rng(bob_seed)
        bob = CascadeBob(bob_key, qber_estimate=q, ledger=LeakageLedger(), rng=bob_rng, variant=variant)
        run_protocol(CascadeAlice(alice_key, ledger=LeakageLedger()), bob, serialize=False)
        ref_key, ref_disclosed = reference_cascade(alice_key, bob_key, sizes, seed)
        residual += int(not np.array_equal(ref_key, alice_key)) + int(not np.array_equal(bob.result.key, alice_key))
        ours.append(bob.result.disclosed_bits)
        theirs.append(ref_disclosed)
    diff = np.array(ours, dtype=float) - np.array(theirs, dtype=float)
    noise = 4 * diff.std(ddof=1) / math.sqrt(runs)
    assert abs(diff.mean()) <= 0.04 * np.mean(theirs) + noise, f"{diff.mean():.1f} bits of {np.mean(theirs):.0f}"
    assert residual <= 2
    assert np.mean(ours) > n * h2(q)  # no reconciliation beats the Shannon limit
