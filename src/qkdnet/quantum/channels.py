"""Noise channels in Kraus form, applied to one qubit of batched pair states.

Every channel is a completely positive, trace-preserving map given by Kraus operators of shape
``(K, d_out, d_in)`` (one set shared by all pairs) or ``(N, K, d_out, d_in)`` (one set per pair).
Pauli channels also act on the compact Bell-diagonal form, where they only permute weights.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkdnet.errors import InvalidParameter
from qkdnet.quantum.states import BellDiagonal, ComplexArray, check_probabilities

PAULI_I = np.eye(2, dtype=np.complex128)
PAULI_X = np.array([[0, 1], [1, 0]], dtype=np.complex128)
PAULI_Y = np.array([[0, -1j], [1j, 0]], dtype=np.complex128)
PAULI_Z = np.array([[1, 0], [0, -1]], dtype=np.complex128)


def _stack(ops: list[NDArray[np.complex128]], batch: tuple[int, ...]) -> ComplexArray:
    """Stack Kraus operators along axis -3, keeping a leading batch shape if the weights had one."""
    out = np.stack(ops, axis=-3)
    return out if batch else out.reshape(out.shape[-3:])


def _weights(p: ArrayLike, name: str) -> tuple[NDArray[np.float64], tuple[int, ...]]:
    arr = check_probabilities(p, name)
    if arr.ndim > 1:
        raise InvalidParameter(f"{name} must be a scalar or a 1-D array (one value per pair)")
    return arr[..., None, None], arr.shape


def depolarizing_kraus(p: ArrayLike) -> ComplexArray:
    """ρ → (1 − p) ρ + p I/2: with probability p the qubit is replaced by a fully mixed one."""
    w, batch = _weights(p, "depolarizing probability")
    return _stack(
        [
            np.sqrt(1 - 3 * w / 4) * PAULI_I,
            np.sqrt(w / 4) * PAULI_X,
            np.sqrt(w / 4) * PAULI_Y,
            np.sqrt(w / 4) * PAULI_Z,
        ],
        batch,
    )


def dephasing_kraus(p: ArrayLike) -> ComplexArray:
    """ρ → (1 − p) ρ + p ZρZ: coherences shrink by 1 − 2p (p = (1 − e^(−t/T2))/2 after a wait t)."""
    w, batch = _weights(p, "dephasing probability")
    return _stack([np.sqrt(1 - w) * PAULI_I, np.sqrt(w) * PAULI_Z], batch)


def amplitude_damping_kraus(gamma: ArrayLike) -> ComplexArray:
    """|1> decays to |0> with probability γ (energy relaxation, T1: γ = 1 − e^(−t/T1))."""
    w, batch = _weights(gamma, "damping probability")
    zero = np.zeros_like(w)
    one = np.ones_like(w)
    k0 = np.concatenate([np.concatenate([one, zero], -1), np.concatenate([zero, np.sqrt(1 - w)], -1)], -2)
    k1 = np.concatenate([np.concatenate([zero, np.sqrt(w)], -1), np.concatenate([zero, zero], -1)], -2)
    return _stack([k0.astype(np.complex128), k1.astype(np.complex128)], batch)


def erasure_kraus(p: ArrayLike) -> ComplexArray:
    """Loss as erasure: with probability p the qubit becomes the flag state |2> (photon lost), 2 → 3 dims."""
    w, batch = _weights(p, "loss probability")
    shape = (*batch, 3, 2)
    keep = np.zeros(shape, dtype=np.complex128)
    keep[..., 0, 0] = keep[..., 1, 1] = 1.0
    lose0 = np.zeros(shape, dtype=np.complex128)
    lose0[..., 2, 0] = 1.0
    lose1 = np.zeros(shape, dtype=np.complex128)
    lose1[..., 2, 1] = 1.0
    return _stack([np.sqrt(1 - w) * keep, np.sqrt(w) * lose0, np.sqrt(w) * lose1], batch)


def apply_local_channel(
    rho: ArrayLike, kraus: ArrayLike, *, target: int, dims: tuple[int, int] = (2, 2)
) -> ComplexArray:
    """Apply a channel to subsystem ``target`` (0 = Alice's, 1 = Bob's) of bipartite states.

    ``rho`` has shape (D, D) or (N, D, D) with D = dims[0]·dims[1]; ``kraus`` is (K, d_out, d_in) or
    (N, K, d_out, d_in). The result has the target's dimension replaced by d_out.
    """
    r = np.asarray(rho, dtype=np.complex128)
    k = np.asarray(kraus, dtype=np.complex128)
    if target not in (0, 1):
        raise InvalidParameter(f"target must be 0 or 1, got {target!r}")
    d_a, d_b = dims
    if r.shape[-2:] != (d_a * d_b, d_a * d_b):
        raise InvalidParameter(f"state shape {r.shape} does not match subsystem dims {dims}")
    d_in = dims[target]
    if k.ndim not in (3, 4) or k.shape[-1] != d_in:
        raise InvalidParameter(f"Kraus operators of shape {k.shape} do not act on a {d_in}-level system")
    d_out = k.shape[-2]
    batch = r.shape[:-2]
    t = r.reshape(*batch, d_a, d_b, d_a, d_b)
    if target == 0:
        out = np.einsum("...kxa,...abcd,...kyc->...xbyd", k, t, np.conj(k))
        new = (d_out, d_b)
    else:
        out = np.einsum("...kxb,...abcd,...kyd->...axcy", k, t, np.conj(k))
        new = (d_a, d_out)
    size = new[0] * new[1]
    return np.asarray(out.reshape(*out.shape[:-4], size, size), dtype=np.complex128)


# Index permutations of the Bell weights (Φ+, Φ−, Ψ+, Ψ−) under a Pauli on either qubit.
_PERM_X = np.array([2, 3, 0, 1])
_PERM_Y = np.array([3, 2, 1, 0])
_PERM_Z = np.array([1, 0, 3, 2])


def pauli_channel(
    states: BellDiagonal, *, p_x: ArrayLike = 0.0, p_y: ArrayLike = 0.0, p_z: ArrayLike = 0.0
) -> BellDiagonal:
    """Pauli channel on one qubit of Bell-diagonal pairs (X, Y, Z with the given probabilities).

    Scalars act on all pairs; arrays of shape (N,) give each pair its own channel.
    """
    px = check_probabilities(p_x, "p_x")[..., None]
    py = check_probabilities(p_y, "p_y")[..., None]
    pz = check_probabilities(p_z, "p_z")[..., None]
    p_i = 1.0 - px - py - pz
    if np.any(p_i < -1e-12):
        raise InvalidParameter("Pauli probabilities must sum to at most 1")
    w = states.weights
    out = np.multiply(w, np.clip(p_i, 0.0, None))
    for p, perm in ((px, _PERM_X), (py, _PERM_Y), (pz, _PERM_Z)):
        if np.any(p):
            out += p * w[..., perm]
    return BellDiagonal._unchecked(out)


def depolarize(states: BellDiagonal, p: ArrayLike) -> BellDiagonal:
    """ρ → (1 − p) ρ + p I/2 on one qubit, for Bell-diagonal pairs."""
    q = check_probabilities(p, "depolarizing probability") / 4.0
    return pauli_channel(states, p_x=q, p_y=q, p_z=q)


def dephase(states: BellDiagonal, p: ArrayLike) -> BellDiagonal:
    """ρ → (1 − p) ρ + p ZρZ on one qubit, for Bell-diagonal pairs."""
    return pauli_channel(states, p_z=p)


def dephasing_probability(wait_s: ArrayLike, t2_s: float) -> NDArray[np.float64]:
    """Dephasing probability after waiting ``wait_s`` with exponential coherence decay e^(−t/T2)."""
    t = np.asarray(wait_s, dtype=np.float64)
    if not np.isfinite(t2_s) or t2_s <= 0:
        raise InvalidParameter(f"T2 must be a positive time in seconds, got {t2_s!r}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise InvalidParameter("waiting times must be finite and non-negative")
    return np.asarray((1.0 - np.exp(-t / t2_s)) / 2.0)


__all__ = [
    "PAULI_I",
    "PAULI_X",
    "PAULI_Y",
    "PAULI_Z",
    "amplitude_damping_kraus",
    "apply_local_channel",
    "dephase",
    "dephasing_kraus",
    "dephasing_probability",
    "depolarize",
    "depolarizing_kraus",
    "erasure_kraus",
    "pauli_channel",
]
