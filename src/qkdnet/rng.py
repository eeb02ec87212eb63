"""The seed tree: one scenario seed, an independent random stream for each named entity.

Streams are derived with :class:`numpy.random.SeedSequence` from the root seed and a path of names,
so adding a new entity never shifts the streams of the others, and the same seed gives the same
keys bit for bit. There is no global generator anywhere in qkdnet.

>>> tree = SeedTree(7)
>>> a = tree.generator("link", "alice-bob")
>>> b = SeedTree(7).generator("link", "alice-bob")
>>> bool(a.integers(1 << 30) == b.integers(1 << 30))
True
"""

from __future__ import annotations

import hashlib

import numpy as np

from qkdnet.errors import InvalidParameter


def _name_words(name: str) -> list[int]:
    """Turn a stream name into 32-bit words for SeedSequence's spawn key (stable across runs)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


class SeedTree:
    """Named, independent random streams derived from one root seed."""

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InvalidParameter(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = seed

    def sequence(self, *path: str) -> np.random.SeedSequence:
        """The SeedSequence of the stream named by ``path``."""
        key: list[int] = []
        for name in path:
            key.extend(_name_words(name))
        return np.random.SeedSequence(self.seed, spawn_key=tuple(key))

    def generator(self, *path: str) -> np.random.Generator:
        """A fresh generator for the stream named by ``path``."""
        return np.random.Generator(np.random.PCG64(self.sequence(*path)))


def make_rng(seed: int | None) -> np.random.Generator:
    """A generator from an explicit seed; ``None`` draws fresh OS entropy (never a global state)."""
    if seed is None:
        return np.random.Generator(np.random.PCG64())
    return SeedTree(seed).generator()


__all__ = ["SeedTree", "make_rng"]
