"""Pairs as three Pauli-transfer factors: swaps, stored waits and readout become products of floats.

A Bell-diagonal pair with weights w on (Φ+, Φ−, Ψ+, Ψ−) is the Choi state of a Pauli channel with shrink
factors λ = (λx, λy, λz): λx = w₀ − w₁ + w₂ − w₃, λy = w₀ − w₁ − w₂ + w₃, λz = w₀ + w₁ − w₂ − w₃ (the
inverse of :func:`qkdnet.hardware.noise.bell_weights`). Entanglement swapping of two such pairs is their
Bell-diagonal convolution, which is the composition of their channels, so the λ's multiply; so do memory
channels and a noisy Bell measurement's error. The simulator keeps one float triple per pair and never a
matrix: F = (1 + λx + λy + λz)/4, Q_Z = (1 − λz)/2, Q_X = (1 − λx)/2.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

Lam = tuple[float, float, float]


def lam_of_weights(w: Sequence[float]) -> Lam:
    """λ triple of Bell weights (Φ+, Φ−, Ψ+, Ψ−)."""
    w0, w1, w2, w3 = (float(x) for x in w)
    return (w0 - w1 + w2 - w3, w0 - w1 - w2 + w3, w0 + w1 - w2 - w3)


def weights_of_lam(lam: Lam) -> tuple[float, float, float, float]:
    """Bell weights of a λ triple (clipped at 0 against rounding)."""
    x, y, z = lam
    return (
        max(0.0, (1.0 + x + y + z) / 4.0),
        max(0.0, (1.0 - x - y + z) / 4.0),
        max(0.0, (1.0 + x - y - z) / 4.0),
        max(0.0, (1.0 - x + y - z) / 4.0),
    )


def weights_array(lams: NDArray[np.float64]) -> NDArray[np.float64]:
    """Bell weights (N, 4) of λ triples (N, 3)."""
    x, y, z = lams[:, 0], lams[:, 1], lams[:, 2]
    w = np.stack([1.0 + x + y + z, 1.0 - x - y + z, 1.0 + x - y - z, 1.0 - x + y - z], axis=1) / 4.0
    return np.asarray(np.clip(w, 0.0, None), dtype=np.float64)


def bell_measurement_lam(fidelity: float) -> Lam:
    """λ of the error a Bell measurement leaves when it reports the right outcome with ``fidelity``."""
    v = (4.0 * fidelity - 1.0) / 3.0
    return (v, v, v)


def times(a: Lam, b: Lam) -> Lam:
    """Compose two channels (swap two pairs)."""
    return (a[0] * b[0], a[1] * b[1], a[2] * b[2])


def fidelity(lam: Lam) -> float:
    """Fidelity with Φ+."""
    return (1.0 + lam[0] + lam[1] + lam[2]) / 4.0


__all__ = ["Lam", "bell_measurement_lam", "fidelity", "lam_of_weights", "times", "weights_array", "weights_of_lam"]
