"""Entanglement swapping: a Bell measurement on the two middle qubits of A–B and B–C pairs gives an A–C pair.

Bell state k in the order (Φ+, Φ−, Ψ+, Ψ−) is (I ⊗ σ_k)|Φ+> with σ = (I, Z, X, Y): two bits (x, z) with
k = 2x + z, and Pauli products become XOR of indices (up to phase). After a Bell measurement with outcome
m on the middle qubits, C applies σ_m and the A–C pair of two Bell-diagonal inputs is their
*Bell-diagonal convolution* c_k = Σ_{i ⊕ j = k} a_i b_j, whatever m was (Żukowski et al., PRL 71, 4287
(1993); for Werner pairs the visibilities multiply: F = F₁F₂ + (1 − F₁)(1 − F₂)/3, Briegel et al.,
PRL 81, 5932 (1998)). An imperfect Bell measurement reports the right outcome with probability
``measurement_fidelity`` and each wrong one with (1 − fidelity)/3, so a wrong Pauli correction follows.
It succeeds (heralds) with probability ``efficiency``; a failed attempt destroys both pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkdnet.errors import InvalidParameter
from qkdnet.quantum._batch import batch_size, per_pair
from qkdnet.quantum.states import BELL_VECTORS, BellDiagonal, ComplexArray, FloatArray, check_probabilities

#: XOR[i, k] = i ^ k: the Bell index j with i ⊕ j = k (the Klein group of Pauli corrections).
_XOR = np.bitwise_xor.outer(np.arange(4), np.arange(4))
_PAULIS = np.array(
    [[[1, 0], [0, 1]], [[1, 0], [0, -1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]]], dtype=np.complex128
)  # σ_k for Bell index k: I, Z, X, Y

S = TypeVar("S", BellDiagonal, ComplexArray)


@dataclass(frozen=True, slots=True)
class SwapOutcome(Generic[S]):
    """Sampled swaps: which succeeded, the reported Bell outcome (0..3, two classical bits), the new pairs.

    ``success`` and ``outcome`` have one entry per attempted swap; ``states`` holds the successful ones only
    (a shared Bell-diagonal state stays shared).
    """

    success: NDArray[np.bool_]
    outcome: NDArray[np.uint8]
    states: S


def bell_convolve(first: BellDiagonal, second: BellDiagonal) -> BellDiagonal:
    """Bell-diagonal convolution c_k = Σ_{i⊕j=k} a_i b_j of two batches (shared states broadcast)."""
    a, b = first.weights, second.weights
    if a.ndim == 2 and b.ndim == 2 and a.shape[0] != b.shape[0]:
        raise InvalidParameter(f"cannot combine batches of {a.shape[0]} and {b.shape[0]} pairs")
    return BellDiagonal._unchecked(np.einsum("...i,...ik->...k", a, b[..., _XOR]))


def measurement_noise(measurement_fidelity: ArrayLike) -> BellDiagonal:
    """The Pauli error left by a Bell measurement that reports the right outcome with this probability."""
    f = check_probabilities(measurement_fidelity, "measurement_fidelity")
    if f.ndim > 1:
        raise InvalidParameter("measurement_fidelity must be a scalar or a 1-D array (one value per swap)")
    wrong = (1.0 - f) / 3.0
    return BellDiagonal._unchecked(np.stack([f, wrong, wrong, wrong], axis=-1))


def swap(first: BellDiagonal, second: BellDiagonal, *, measurement_fidelity: ArrayLike = 1.0) -> BellDiagonal:
    """The A–C pairs after swapping A–B with B–C and the Pauli correction (deterministic map, given success).

    >>> out = swap(BellDiagonal.werner(0.9), BellDiagonal.werner(0.8))
    >>> round(float(out.fidelity), 4)  # Werner visibilities multiply: (1 + 3·0.72)/4
    0.79
    """
    out = bell_convolve(first, second)
    if np.any(np.asarray(measurement_fidelity) != 1.0):
        out = bell_convolve(out, measurement_noise(measurement_fidelity))
    return out


def _reported(true_outcome: NDArray[np.uint8], fidelity: FloatArray, rng: np.random.Generator) -> NDArray[np.uint8]:
    """The outcome a noisy Bell measurement announces: right with probability ``fidelity``, else another one."""
    n = true_outcome.shape[0]
    wrong = rng.random(n) >= fidelity
    shift = rng.integers(1, 4, size=n, dtype=np.uint8)
    return np.where(wrong, true_outcome ^ shift, true_outcome).astype(np.uint8)


def sample_swap(
    first: BellDiagonal,
    second: BellDiagonal,
    *,
    efficiency: ArrayLike = 1.0,
    measurement_fidelity: ArrayLike = 1.0,
    rng: np.random.Generator,
    n: int | None = None,
) -> SwapOutcome[BellDiagonal]:
    """Attempt swaps of Bell-diagonal pairs: sample heralded success and the announced outcome.

    For Bell-diagonal inputs every outcome is equally likely and the corrected state does not depend on it,
    so the new pairs are :func:`swap` of the successful inputs. ``n`` is needed only if both inputs are shared.
    """
    size = batch_size(None if first.shared else len(first), None if second.shared else len(second), n=n)
    eff = per_pair(efficiency, size, "efficiency")
    fid = check_probabilities(measurement_fidelity, "measurement_fidelity")
    if fid.ndim:
        fid = per_pair(fid, size, "measurement_fidelity")
    success = rng.random(size) < eff
    outcome = rng.integers(0, 4, size=size, dtype=np.uint8)
    states = swap(first.take(success), second.take(success), measurement_fidelity=fid[success] if fid.ndim else fid)
    return SwapOutcome(success=success, outcome=outcome, states=states)


def _as_pairs(rho: ArrayLike, name: str) -> ComplexArray:
    r = np.asarray(rho, dtype=np.complex128)
    if r.ndim == 2:
        r = r[None]
    if r.ndim != 3 or r.shape[1:] != (4, 4):
        raise InvalidParameter(f"{name} must be pair density matrices (N, 4, 4) or (4, 4), got {r.shape}")
    return r


def swap_branches(first: ArrayLike, second: ArrayLike) -> ComplexArray:
    """Unnormalised A–C states for each Bell outcome m of the middle qubits, before correction: (N, 4, 4, 4).

    Index order (pair, outcome, row, column); the trace of branch m is the probability of outcome m.
    """
    r1, r2 = _as_pairs(first, "first"), _as_pairs(second, "second")
    if r1.shape[0] != r2.shape[0] and 1 not in (r1.shape[0], r2.shape[0]):
        raise InvalidParameter(f"cannot combine batches of {r1.shape[0]} and {r2.shape[0]} pairs")
    t1 = r1.reshape(-1, 2, 2, 2, 2)  # a b a' b'
    t2 = r2.reshape(-1, 2, 2, 2, 2)  # c d c' d'
    v = BELL_VECTORS.reshape(4, 2, 2)  # m, b, c (real)
    out = np.einsum("mbc,...abxy,...cdzw,myz->...madxw", v, t1, t2, v, optimize=True)
    return np.asarray(out.reshape(out.shape[0], 4, 4, 4))


def sample_swap_density(
    first: ArrayLike,
    second: ArrayLike,
    *,
    efficiency: ArrayLike = 1.0,
    measurement_fidelity: ArrayLike = 1.0,
    rng: np.random.Generator,
) -> SwapOutcome[ComplexArray]:
    """Swap arbitrary pair states (N, 4, 4): Born-rule Bell outcome, announced outcome, Pauli correction on C.

    Exact for any input (not only Bell-diagonal ones): outcome probabilities and corrected states then
    depend on the outcome. ``states`` are the successful swaps' A–C states (M, 4, 4).
    """
    branches = swap_branches(first, second)
    size = branches.shape[0]
    eff = per_pair(efficiency, size, "efficiency")
    fid = per_pair(measurement_fidelity, size, "measurement_fidelity")
    success = rng.random(size) < eff
    probs = np.clip(np.trace(branches, axis1=2, axis2=3).real, 0.0, None)
    cum = np.cumsum(probs, axis=1)
    u = rng.random(size) * cum[:, -1]
    true_outcome = np.minimum((u[:, None] >= cum).sum(axis=1), 3).astype(np.uint8)
    outcome = _reported(true_outcome, fid, rng)
    keep = np.flatnonzero(success)
    rho = branches[keep, true_outcome[keep]] / probs[keep, true_outcome[keep]][:, None, None]
    sigma = np.einsum("ij,nkl->nikjl", np.eye(2), _PAULIS[outcome[keep]]).reshape(-1, 4, 4)  # I ⊗ σ_announced
    corrected = sigma @ rho @ np.conj(np.swapaxes(sigma, -1, -2))
    return SwapOutcome(success=success, outcome=outcome, states=np.asarray(corrected, dtype=np.complex128))


__all__ = [
    "SwapOutcome",
    "bell_convolve",
    "measurement_noise",
    "sample_swap",
    "sample_swap_density",
    "swap",
    "swap_branches",
]
