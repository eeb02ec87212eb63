"""Projective polarization measurements of both qubits and vectorised Born-rule sampling.

A measurement at polarization angle θ (degrees) has outcome 0 for |θ> = cos θ|H> + sin θ|V> and
outcome 1 for the orthogonal |θ + 90°>. On the Bloch sphere this is the observable cos 2θ Z + sin 2θ X,
so 0° and 45° are the Z and X bases. Outcomes of a pair are sampled for millions of pairs at once.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkdnet.errors import InvalidParameter
from qkdnet.quantum.states import BellDiagonal, ComplexArray, FloatArray, ProductStates

PairStates: TypeAlias = BellDiagonal | ProductStates | ComplexArray
"""Pair states: Bell-diagonal weights, uncorrelated product pairs, or density matrices (4, 4) / (N, 4, 4)."""

Bits = NDArray[np.uint8]

_CHUNK = 1 << 18  # pairs per block for per-pair density matrices (keeps temporaries in cache-sized slabs)


def _angles_rad(angle_deg: ArrayLike, name: str) -> FloatArray:
    a = np.asarray(angle_deg, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise InvalidParameter(f"{name} must be finite angles in degrees")
    return np.deg2rad(a)


def polarization_vectors(angle_deg: ArrayLike) -> FloatArray:
    """Measurement eigenvectors, shape (..., 2, 2): row 0 is |θ>, row 1 is |θ + 90°>.

    >>> polarization_vectors(0.0).tolist()
    [[1.0, 0.0], [-0.0, 1.0]]
    """
    t = _angles_rad(angle_deg, "angle")
    c, s = np.cos(t), np.sin(t)
    return np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)


def correlation(states: BellDiagonal, angle_a_deg: ArrayLike, angle_b_deg: ArrayLike) -> FloatArray:
    """E(a, b) = P(same) − P(different) for Bell-diagonal pairs (their marginals are uniform).

    For weights (Φ+, Φ−, Ψ+, Ψ−): E = (w_Φ+ − w_Ψ−) cos 2(a − b) + (w_Φ− − w_Ψ+) cos 2(a + b).
    """
    a = _angles_rad(angle_a_deg, "Alice's angle")
    b = _angles_rad(angle_b_deg, "Bob's angle")
    w = states.weights
    return np.asarray((w[..., 0] - w[..., 3]) * np.cos(2 * (a - b)) + (w[..., 1] - w[..., 2]) * np.cos(2 * (a + b)))


def joint_probabilities(states: PairStates, angle_a_deg: ArrayLike, angle_b_deg: ArrayLike) -> FloatArray:
    """Born-rule probabilities of the joint outcomes (x, y) ∈ {00, 01, 10, 11}, shape (..., 4)."""
    if isinstance(states, BellDiagonal):
        e = correlation(states, angle_a_deg, angle_b_deg)
        same, diff = (1 + e) / 4, (1 - e) / 4
        return np.stack([same, diff, diff, same], axis=-1)
    if isinstance(states, ProductStates):
        pa = _single_qubit_probabilities(states.rho_a, angle_a_deg)
        pb = _single_qubit_probabilities(states.rho_b, angle_b_deg)
        return np.asarray(np.einsum("...x,...y->...xy", pa, pb).reshape(*pa.shape[:-1], 4))
    rho = np.asarray(states, dtype=np.complex128)
    if rho.shape[-2:] != (4, 4):
        raise InvalidParameter(f"pair density matrices must be (4, 4) or (N, 4, 4), got {rho.shape}")
    va = polarization_vectors(angle_a_deg)
    vb = polarization_vectors(angle_b_deg)
    u = np.einsum("...xi,...yj->...xyij", va, vb)
    u = u.reshape(*u.shape[:-4], 4, 4)  # rows: outcome pairs, columns: |HH>, |HV>, |VH>, |VV>
    p = np.einsum("...ki,...ij,...kj->...k", u, rho, u).real
    return np.asarray(np.clip(p, 0.0, None), dtype=np.float64)


def _single_qubit_probabilities(rho: ComplexArray, angle_deg: ArrayLike) -> FloatArray:
    """Outcome probabilities (..., 2) of one qubit measured at a polarization angle."""
    v = polarization_vectors(angle_deg)
    return np.asarray(np.clip(np.einsum("...xi,...ij,...xj->...x", v, rho, v).real, 0.0, 1.0))


def random_bits(n: int, *, rng: np.random.Generator) -> Bits:
    """n fair random bits (uint8 0/1), drawn 8 to a byte."""
    raw = np.frombuffer(rng.bytes((n + 7) // 8), dtype=np.uint8)
    return np.unpackbits(raw)[:n]


def _sample_from_table(probs: FloatArray, u: FloatArray) -> tuple[Bits, Bits]:
    """Invert the cumulative distribution over the four joint outcomes; probs (N, 4), u (N,)."""
    c = np.cumsum(probs, axis=-1)
    k = (u > c[..., 0]).astype(np.uint8) + (u > c[..., 1]) + (u > c[..., 2])
    return (k >> 1).astype(np.uint8), (k & 1).astype(np.uint8)


def sample_setting_outcomes(
    states: PairStates,
    angles_a_deg: ArrayLike,
    angles_b_deg: ArrayLike,
    setting_a: NDArray[np.integer],
    setting_b: NDArray[np.integer],
    *,
    rng: np.random.Generator,
) -> tuple[Bits, Bits]:
    """Sample both parties' outcomes when pair i is measured at angles_a[setting_a[i]], angles_b[setting_b[i]].

    Settings come from small tables, so a shared state needs one probability table for all pairs.
    Returns (x, y): Alice's and Bob's outcome bits.
    """
    ta = np.atleast_1d(np.asarray(angles_a_deg, dtype=np.float64))
    tb = np.atleast_1d(np.asarray(angles_b_deg, dtype=np.float64))
    sa = np.asarray(setting_a)
    sb = np.asarray(setting_b)
    n = sa.shape[0]
    if sa.shape != (n,) or sb.shape != (n,):
        raise InvalidParameter("setting arrays must be 1-D and of equal length")
    if n and (sa.min() < 0 or sa.max() >= ta.size or sb.min() < 0 or sb.max() >= tb.size):
        raise InvalidParameter("setting index outside the table of angles")
    combo = sa.astype(np.intp) * tb.size + sb
    if isinstance(states, BellDiagonal):
        if not states.shared and len(states) != n:
            raise InvalidParameter(f"{len(states)} pair states for {n} settings")
        if states.shared:
            e = correlation(states, ta[:, None], tb[None, :]).ravel()[combo]
        else:
            ra = np.deg2rad(ta)[:, None]
            rb = np.deg2rad(tb)[None, :]
            c_minus = np.cos(2 * (ra - rb)).ravel()[combo]
            c_plus = np.cos(2 * (ra + rb)).ravel()[combo]
            w = states.weights
            e = (w[:, 0] - w[:, 3]) * c_minus + (w[:, 1] - w[:, 2]) * c_plus
        x = random_bits(n, rng=rng)
        flip = rng.random(n) < (1.0 - e) / 2.0
        return x, x ^ flip.astype(np.uint8)
    if isinstance(states, ProductStates):
        if len(states) != n:
            raise InvalidParameter(f"{len(states)} pair states for {n} settings")
        pa = _single_qubit_probabilities(states.rho_a, ta[sa])
        pb = _single_qubit_probabilities(states.rho_b, tb[sb])
        x = (rng.random(n) >= pa[:, 0]).astype(np.uint8)
        y = (rng.random(n) >= pb[:, 0]).astype(np.uint8)
        return x, y
    rho = np.asarray(states, dtype=np.complex128)
    if rho.ndim == 2:
        table = joint_probabilities(rho, ta[:, None], tb[None, :]).reshape(-1, 4)
        return _sample_from_table(table[combo], rng.random(n))
    if rho.shape != (n, 4, 4):
        raise InvalidParameter(f"pair density matrices of shape {rho.shape} for {n} settings")
    x = np.empty(n, dtype=np.uint8)
    y = np.empty(n, dtype=np.uint8)
    u = rng.random(n)
    for start in range(0, n, _CHUNK):
        s = slice(start, start + _CHUNK)
        probs = joint_probabilities(rho[s], ta[sa[s]], tb[sb[s]])
        x[s], y[s] = _sample_from_table(probs, u[s])
    return x, y


def sample_joint_outcomes(
    states: PairStates, angle_a_deg: ArrayLike, angle_b_deg: ArrayLike, *, rng: np.random.Generator
) -> tuple[Bits, Bits]:
    """Sample (x, y) for pairs measured at arbitrary angles (arrays of shape (N,), or scalars with N states)."""
    a = np.asarray(angle_a_deg, dtype=np.float64)
    b = np.asarray(angle_b_deg, dtype=np.float64)
    if isinstance(states, BellDiagonal | ProductStates):
        n_states = len(states)
    else:
        rho = np.asarray(states, dtype=np.complex128)
        n_states = rho.shape[0] if rho.ndim == 3 else 1
    n = max(a.size, b.size, n_states)
    a = np.broadcast_to(a, (n,))
    b = np.broadcast_to(b, (n,))
    probs = joint_probabilities(states, a, b)
    return _sample_from_table(np.broadcast_to(probs, (n, 4)), rng.random(n))


__all__ = [
    "Bits",
    "PairStates",
    "correlation",
    "joint_probabilities",
    "polarization_vectors",
    "random_bits",
    "sample_joint_outcomes",
    "sample_setting_outcomes",
]
