"""Test-only helpers for the quantum tests, independent of the code under test."""

from __future__ import annotations

import numpy as np


def random_density(rng: np.random.Generator, d: int = 4) -> np.ndarray:
    """A random mixed state from a Ginibre matrix."""
    g = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    rho = g @ g.conj().T
    return rho / np.trace(rho)
