"""Shared helpers of the post-processing tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def noisy_pair(n: int, errors: int, rng: np.random.Generator) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """A random key and a copy with exactly ``errors`` flipped positions."""
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    bob = alice.copy()
    bob[rng.choice(n, size=errors, replace=False)] ^= 1
    return alice, bob


def h2(p: float) -> float:
    """Binary entropy, written out again here so tests do not lean on qkdnet.units."""
    if p in (0.0, 1.0):
        return 0.0
    return float(-p * np.log2(p) - (1 - p) * np.log2(1 - p))


def poly1305_by_definition(key: bytes, message: bytes) -> bytes:
    """Poly1305 written out from RFC 8439 §2.5.1, an oracle independent of pyca/cryptography."""
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(message), 16):
        block = message[i : i + 16] + b"\x01"
        acc = (acc + int.from_bytes(block, "little")) * r % p
    return ((acc + s) % (1 << 128)).to_bytes(16, "little")
