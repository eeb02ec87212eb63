"""Single-qubit Pauli noise in its Pauli-transfer form: three shrink factors λ = (λx, λy, λz) per qubit.

A Pauli channel multiplies the Bloch components by (λx, λy, λz); composing channels multiplies the λ's,
and on a pair that starts in |Φ+> a channel on either qubit has the same effect, so a whole link's noise
is one λ triple per pair. The pair's Bell weights follow from it (Φ+ correlations are XX = 1, YY = −1,
ZZ = 1), which keeps every delivered state Bell-diagonal, positive and of unit trace:
w = ((1 + λx + λy + λz), (1 − λx − λy + λz), (1 + λx − λy − λz), (1 − λx + λy − λz)) / 4.

>>> bell_weights(depolarizing(0.8)).round(3).tolist()
[0.85, 0.05, 0.05, 0.05]
>>> bell_weights(dephasing(0.6)).round(3).tolist()
[0.8, 0.2, 0.0, 0.0]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkdnet.errors import InvalidParameter
from qkdnet.quantum import BellDiagonal, pauli_channel

FloatArray = NDArray[np.float64]

#: The channel that does nothing.
IDENTITY: FloatArray = np.ones(3)
IDENTITY.setflags(write=False)

# Rows: Bell states (Φ+, Φ−, Ψ+, Ψ−); columns: (1, λx, λy, λz), from the correlations of each Bell state.
_TO_WEIGHTS = 0.25 * np.array([[1, 1, 1, 1], [1, -1, -1, 1], [1, 1, -1, -1], [1, -1, 1, -1]], dtype=np.float64)


def _shrink(value: ArrayLike, name: str) -> FloatArray:
    v = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(v)) or np.any(v < 0.0) or np.any(v > 1.0):
        raise InvalidParameter(f"{name} must lie in [0, 1]")
    return v


def depolarizing(visibility: ArrayLike) -> FloatArray:
    """ρ → Vρ + (1 − V) I/2: λ = (V, V, V); V = (4F − 1)/3 for an atom-photon fidelity F."""
    v = _shrink(visibility, "visibility")
    return np.stack([v, v, v], axis=-1)


def dephasing(coherence: ArrayLike) -> FloatArray:
    """Coherences multiplied by c, populations kept: λ = (c, c, 1)."""
    c = _shrink(coherence, "coherence")
    return np.stack([c, c, np.ones_like(c)], axis=-1)


def relaxation(coherence: ArrayLike, population: ArrayLike) -> FloatArray:
    """Symmetric T1 relaxation plus dephasing: λ = (c, c, p); completely positive iff 2c ≤ 1 + p."""
    c = _shrink(coherence, "coherence")
    p = _shrink(population, "population")
    if np.any(2.0 * c > 1.0 + p + 1e-12):
        raise InvalidParameter("relaxation: coherence too large for the population decay (needs 2c ≤ 1 + p)")
    c, p = np.broadcast_arrays(c, p)
    return np.stack([c, c, p], axis=-1)


def compose(*lambdas: ArrayLike) -> FloatArray:
    """The λ of channels applied one after the other (their product, broadcast over pairs)."""
    out: FloatArray = np.ones(3)
    for lam in lambdas:
        out = out * np.asarray(lam, dtype=np.float64)
    return out


def bell_weights(lambdas: ArrayLike) -> FloatArray:
    """Bell weights (…, 4) of |Φ+> after a Pauli channel with shrink factors ``lambdas`` (…, 3)."""
    lam = np.asarray(lambdas, dtype=np.float64)
    ones = np.ones((*lam.shape[:-1], 1))
    w = np.concatenate([ones, lam], axis=-1) @ _TO_WEIGHTS.T
    return np.asarray(np.clip(w, 0.0, None), dtype=np.float64)


def pauli_probabilities(lambdas: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(p_x, p_y, p_z) of the Pauli channel with shrink factors ``lambdas``."""
    w = bell_weights(lambdas)
    # Φ− = Z|Φ+>, Ψ+ = X|Φ+>, Ψ− = ±Y|Φ+> (up to phase).
    return w[..., 2], w[..., 3], w[..., 1]


def apply(states: BellDiagonal, lambdas: ArrayLike) -> BellDiagonal:
    """Apply the Pauli channel ``lambdas`` ((3,) shared or (N, 3) per pair) to one qubit of each pair."""
    p_x, p_y, p_z = pauli_probabilities(lambdas)
    return pauli_channel(states, p_x=p_x, p_y=p_y, p_z=p_z)


def apply_to_weights(weights: ArrayLike, lambdas: ArrayLike) -> FloatArray:
    """:func:`apply` on raw Bell weights (…, 4), returning weights."""
    w = np.asarray(weights, dtype=np.float64)
    return np.asarray(apply(BellDiagonal._unchecked(w), lambdas).weights, dtype=np.float64)


__all__ = [
    "IDENTITY",
    "apply",
    "apply_to_weights",
    "bell_weights",
    "compose",
    "dephasing",
    "depolarizing",
    "pauli_probabilities",
    "relaxation",
]
