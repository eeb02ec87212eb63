"""Entanglement purification by recurrence: two pairs in, one better pair out, with some probability.

Both schemes apply bilateral CNOTs (the kept pair controls, the sacrificed pair is the target), measure the
target pair in Z on both sides and keep the control pair when the two bits agree. In the Bell index
k = 2x + z of (Φ+, Φ−, Ψ+, Ψ−), bilateral CNOT maps (x₁, z₁), (x₂, z₂) → (x₁, z₁ ⊕ z₂), (x₁ ⊕ x₂, z₂),
so the parity test passes when x₁ = x₂ and the kept pair's z-bit becomes z₁ ⊕ z₂.

* BBPSSW (Bennett et al., PRL 76, 722 (1996)) first twirls each pair to Werner form of the same fidelity F:
  p_s = F² + 2F(1−F)/3 + 5((1−F)/3)², F′ = [F² + ((1−F)/3)²]/p_s.
* DEJMPS (Deutsch et al., PRL 77, 2818 (1996)) first rotates Alice's qubits by R_x(π/2) and Bob's by
  R_x(−π/2), exchanging the Φ− and Ψ− weights; with Deutsch's (A, B, C, D) = (Φ+, Ψ−, Ψ+, Φ−):
  N = (A+B)² + (C+D)², A′ = (A²+B²)/N, B′ = 2CD/N, C′ = (C²+D²)/N, D′ = 2AB/N.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkdnet.errors import InvalidParameter
from qkdnet.quantum._batch import batch_size
from qkdnet.quantum.states import BellDiagonal, ComplexArray, FloatArray

PurificationScheme = Literal["bbpssw", "dejmps"]
PURIFICATION_SCHEMES: tuple[PurificationScheme, ...] = get_args(PurificationScheme)

#: DEJMPS's local rotations exchange the Φ− and Ψ− weights.
_DEJMPS_ORDER = np.array([0, 3, 2, 1])

S = TypeVar("S", BellDiagonal, ComplexArray)


@dataclass(frozen=True, slots=True)
class Purified:
    """The deterministic map: success probability per pair and the kept pairs' states given success."""

    success_probability: FloatArray
    states: BellDiagonal


@dataclass(frozen=True, slots=True)
class PurificationOutcome(Generic[S]):
    """Sampled purification rounds: which succeeded (one entry per attempt) and the kept pairs that did."""

    success: NDArray[np.bool_]
    success_probability: FloatArray
    states: S


def _scheme(scheme: str) -> PurificationScheme:
    if scheme not in PURIFICATION_SCHEMES:
        expected = ", ".join(PURIFICATION_SCHEMES)
        raise InvalidParameter(f"unknown purification scheme {scheme!r}; expected one of {expected}")
    return scheme


def twirl(states: BellDiagonal) -> BellDiagonal:
    """Werner form with the same Φ+ weight F: (F, (1−F)/3, (1−F)/3, (1−F)/3), as random bilateral rotations make."""
    f = states.weights[..., :1]
    rest = np.repeat((1.0 - f) / 3.0, 3, axis=-1)
    return BellDiagonal._unchecked(np.concatenate([f, rest], axis=-1))


def _prepare(states: BellDiagonal, scheme: PurificationScheme) -> FloatArray:
    if scheme == "bbpssw":
        return twirl(states).weights
    return states.weights[..., _DEJMPS_ORDER]


def purify(first: BellDiagonal, second: BellDiagonal, *, scheme: PurificationScheme = "dejmps") -> Purified:
    """One recurrence round on pairs of Bell-diagonal pairs: ``first`` is kept, ``second`` is measured.

    Where the success probability is 0 the kept state is undefined and returned maximally mixed.

    >>> pair = BellDiagonal.werner(0.8)  # F = 0.85: p_s = 0.7225 + 0.085 + 0.0125, F′ = 0.725/0.82
    >>> out = purify(pair, pair, scheme="bbpssw")
    >>> round(float(out.success_probability), 4), round(float(out.states.fidelity), 4)
    (0.82, 0.8841)
    """
    s = _scheme(scheme)
    a, b = _prepare(first, s), _prepare(second, s)
    if a.ndim == 2 and b.ndim == 2 and a.shape[0] != b.shape[0]:
        raise InvalidParameter(f"cannot combine batches of {a.shape[0]} and {b.shape[0]} pairs")
    a0, a1, a2, a3 = (a[..., i] for i in range(4))
    b0, b1, b2, b3 = (b[..., i] for i in range(4))
    raw = np.stack([a0 * b0 + a1 * b1, a0 * b1 + a1 * b0, a2 * b2 + a3 * b3, a2 * b3 + a3 * b2], axis=-1)
    p = raw.sum(axis=-1)
    ok = p > 0
    states = np.where(ok[..., None], raw / np.where(ok, p, 1.0)[..., None], 0.25)
    return Purified(success_probability=np.asarray(p), states=BellDiagonal._unchecked(states))


def sample_purification(
    first: BellDiagonal,
    second: BellDiagonal,
    *,
    scheme: PurificationScheme = "dejmps",
    rng: np.random.Generator,
    n: int | None = None,
) -> PurificationOutcome[BellDiagonal]:
    """Run one round on each pair of pairs: sample success; ``states`` holds the kept pairs that succeeded."""
    size = batch_size(None if first.shared else len(first), None if second.shared else len(second), n=n)
    result = purify(first, second, scheme=scheme)
    p = np.broadcast_to(result.success_probability, (size,))
    success = rng.random(size) < p
    return PurificationOutcome(success=success, success_probability=p, states=result.states.take(success))


def _gate_matrices() -> tuple[ComplexArray, ComplexArray]:
    """Bilateral CNOT and the DEJMPS rotations on qubits ordered (A₁, B₁, A₂, B₂), as 16 × 16 unitaries."""
    eye = np.eye(2)
    x = np.array([[0, 1], [1, 0]], dtype=np.complex128)
    p0, p1 = np.diag([1.0, 0.0]), np.diag([0.0, 1.0])

    def kron(*ops: NDArray[np.complexfloating] | NDArray[np.floating]) -> ComplexArray:
        out: NDArray[np.complexfloating] = np.ones((1, 1), dtype=np.complex128)
        for op in ops:
            out = np.kron(out, op)
        return np.asarray(out, dtype=np.complex128)

    cnot_a = kron(p0, eye, eye, eye) + kron(p1, eye, x, eye)
    cnot_b = kron(eye, p0, eye, eye) + kron(eye, p1, eye, x)
    rx_plus = (eye - 1j * x) / np.sqrt(2.0)  # R_x(π/2) on Alice's qubits
    rx_minus = (eye + 1j * x) / np.sqrt(2.0)  # R_x(−π/2) on Bob's
    return cnot_a @ cnot_b, kron(rx_plus, rx_minus, rx_plus, rx_minus)


_BCNOT, _DEJMPS_ROTATION = _gate_matrices()


def purification_branches(
    first: ArrayLike, second: ArrayLike, *, scheme: PurificationScheme = "dejmps"
) -> ComplexArray:
    """Unnormalised kept-pair states for each target outcome (x_A, x_B) = 00, 01, 10, 11: shape (N, 4, 4, 4).

    BBPSSW twirls the inputs to Werner form first; DEJMPS works on the full density matrices.
    """
    s = _scheme(scheme)
    r1, r2 = (np.asarray(r, dtype=np.complex128) for r in (first, second))
    r1, r2 = (r[None] if r.ndim == 2 else r for r in (r1, r2))
    for name, r in (("first", r1), ("second", r2)):
        if r.ndim != 3 or r.shape[1:] != (4, 4):
            raise InvalidParameter(f"{name} must be pair density matrices (N, 4, 4) or (4, 4), got {r.shape}")
    if s == "bbpssw":
        r1, r2 = (twirl(BellDiagonal.from_density(r)).to_density() for r in (r1, r2))
    joint = np.einsum("...ij,...kl->...ikjl", r1, r2).reshape(-1, 16, 16)
    u = _BCNOT if s == "bbpssw" else _BCNOT @ _DEJMPS_ROTATION
    joint = u @ joint @ u.conj().T
    t = joint.reshape(-1, 4, 4, 4, 4)  # (kept row, target row, kept column, target column), target = x_A x_B
    out = np.stack([t[:, :, k, :, k] for k in range(4)], axis=1)
    return np.asarray(out, dtype=np.complex128)


def sample_purification_density(
    first: ArrayLike, second: ArrayLike, *, scheme: PurificationScheme = "dejmps", rng: np.random.Generator
) -> PurificationOutcome[ComplexArray]:
    """One round on arbitrary pair states (N, 4, 4): Born-rule target outcomes, keep the pair if the bits agree."""
    branches = purification_branches(first, second, scheme=scheme)
    size = branches.shape[0]
    probs = np.clip(np.trace(branches, axis1=2, axis2=3).real, 0.0, None)
    cum = np.cumsum(probs, axis=1)
    u = rng.random(size) * cum[:, -1]
    outcome = np.minimum((u[:, None] >= cum).sum(axis=1), 3)
    success = (outcome == 0) | (outcome == 3)
    keep = np.flatnonzero(success)
    states = branches[keep, outcome[keep]] / probs[keep, outcome[keep]][:, None, None]
    return PurificationOutcome(
        success=success, success_probability=probs[:, 0] + probs[:, 3], states=np.asarray(states, dtype=np.complex128)
    )


__all__ = [
    "PURIFICATION_SCHEMES",
    "PurificationOutcome",
    "PurificationScheme",
    "Purified",
    "purification_branches",
    "purify",
    "sample_purification",
    "sample_purification_density",
    "twirl",
]
