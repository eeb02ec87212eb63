"""A slow, obviously-correct reference: explicit projectors, one pair at a time. Tests only."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def projector(angle_deg: float, outcome: int) -> NDArray[np.complex128]:
    """|θ><θ| for outcome 0, |θ+90°><θ+90°| for outcome 1, written out by hand."""
    theta = np.deg2rad(angle_deg + 90.0 * outcome)
    ket = np.array([np.cos(theta), np.sin(theta)], dtype=np.complex128)
    return np.outer(ket, ket.conj())


def joint_probabilities(rho: NDArray[np.complex128], angle_a_deg: float, angle_b_deg: float) -> list[float]:
    """Tr[(P_x ⊗ P_y) ρ] for (x, y) = 00, 01, 10, 11."""
    return [
        float(np.trace(np.kron(projector(angle_a_deg, x), projector(angle_b_deg, y)) @ rho).real)
        for x in (0, 1)
        for y in (0, 1)
    ]


def apply_kraus(
    rho: NDArray[np.complex128], kraus: list[NDArray[np.complex128]], target: int
) -> NDArray[np.complex128]:
    """Σ_k (K ⊗ I) ρ (K ⊗ I)† (or I ⊗ K), with the identity written out explicitly."""
    d_other = rho.shape[0] // kraus[0].shape[1]
    terms = []
    for k in kraus:
        full = np.kron(k, np.eye(d_other)) if target == 0 else np.kron(np.eye(d_other), k)
        terms.append(full @ rho @ full.conj().T)
    return np.asarray(np.sum(terms, axis=0), dtype=np.complex128)


def sample_one(
    rho: NDArray[np.complex128], angle_a_deg: float, angle_b_deg: float, rng: np.random.Generator
) -> tuple[int, int]:
    """One pair's outcomes drawn with rng.choice from the four Born probabilities."""
    p = np.clip(joint_probabilities(rho, angle_a_deg, angle_b_deg), 0, None)
    k = int(rng.choice(4, p=p / p.sum()))
    return k >> 1, k & 1
