"""Two-qubit pair states: Bell states, Werner states, batched density matrices and the Bell-diagonal form.

Qubit basis: |0> = |H>, |1> = |V> (photon polarization, or the atom's spin mapped onto it).
A batch of N states is an array of shape ``(N, d, d)``; a single state ``(d, d)`` is shared by all pairs.
The Bell-diagonal form keeps only the four weights on (Φ+, Φ−, Ψ+, Ψ−): exact for any state made
from a Bell state by Pauli noise (depolarizing, dephasing, bit flips), and 32 bytes a pair instead of 256.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkdnet.checks import probability as check_probability
from qkdnet.errors import InvalidParameter

BellName = Literal["phi+", "phi-", "psi+", "psi-"]
BELL_NAMES: tuple[BellName, ...] = ("phi+", "phi-", "psi+", "psi-")

_S = 1.0 / np.sqrt(2.0)
#: Rows are |Φ+>, |Φ−>, |Ψ+>, |Ψ−> in the basis |HH>, |HV>, |VH>, |VV>.
BELL_VECTORS: NDArray[np.float64] = np.array(
    [[_S, 0, 0, _S], [_S, 0, 0, -_S], [0, _S, _S, 0], [0, _S, -_S, 0]], dtype=np.float64
)
BELL_VECTORS.setflags(write=False)

ComplexArray = NDArray[np.complex128]
FloatArray = NDArray[np.float64]


def check_probabilities(values: ArrayLike, name: str) -> FloatArray:
    """Array version of :func:`check_probability`."""
    arr = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0.0) or np.any(arr > 1.0):
        raise InvalidParameter(f"{name} must hold probabilities in [0, 1]")
    return arr


def bell_index(name: BellName) -> int:
    """Index of a Bell state in the order (Φ+, Φ−, Ψ+, Ψ−)."""
    if name not in BELL_NAMES:
        raise InvalidParameter(f"unknown Bell state {name!r}; expected one of {', '.join(BELL_NAMES)}")
    return BELL_NAMES.index(name)


def bell_state(name: BellName = "phi+") -> ComplexArray:
    """Density matrix (4, 4) of a Bell state.

    >>> rho = bell_state("phi+")
    >>> round(float(rho[0, 3].real), 12)
    0.5
    """
    v = BELL_VECTORS[bell_index(name)]
    return np.outer(v, v).astype(np.complex128)


def werner_state(visibility: float, name: BellName = "phi+") -> ComplexArray:
    """Werner state V|B><B| + (1 − V) I/4, visibility V in [0, 1]; fidelity (1 + 3V)/4."""
    v = check_probability(visibility, "visibility")
    return v * bell_state(name) + (1.0 - v) * np.eye(4, dtype=np.complex128) / 4.0


def is_density_matrix(rho: ArrayLike, *, atol: float = 1e-9) -> bool:
    """True if every matrix in the batch is Hermitian, positive semidefinite and of unit trace."""
    r = np.asarray(rho, dtype=np.complex128)
    if r.ndim < 2 or r.shape[-1] != r.shape[-2]:
        return False
    if not np.allclose(r, np.conj(np.swapaxes(r, -1, -2)), atol=atol):
        return False
    if not np.allclose(np.trace(r, axis1=-2, axis2=-1), 1.0, atol=atol):
        return False
    eig = np.linalg.eigvalsh(r)
    return bool(np.all(eig > -atol))


def fidelity_to_bell(rho: ArrayLike, name: BellName = "phi+") -> FloatArray:
    """<B|ρ|B> for each state of a batch (a float array of the batch shape)."""
    v = BELL_VECTORS[bell_index(name)]
    r = np.asarray(rho, dtype=np.complex128)
    return np.asarray(np.einsum("i,...ij,j->...", v, r, v).real, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class BellDiagonal:
    """Pair states diagonal in the Bell basis: weights on (Φ+, Φ−, Ψ+, Ψ−), shape (4,) or (N, 4).

    >>> w = BellDiagonal.werner(0.8)
    >>> round(float(w.fidelity), 3)
    0.85
    """

    weights: FloatArray

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, dtype=np.float64)
        if w.ndim not in (1, 2) or w.shape[-1] != 4:
            raise InvalidParameter(f"Bell-diagonal weights must have shape (4,) or (N, 4), got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < -1e-12):
            raise InvalidParameter("Bell-diagonal weights must be finite and non-negative")
        if not np.allclose(w.sum(axis=-1), 1.0, atol=1e-9):
            raise InvalidParameter("Bell-diagonal weights must sum to 1")
        object.__setattr__(self, "weights", w)

    @classmethod
    def _unchecked(cls, weights: FloatArray) -> BellDiagonal:
        """Wrap weights already known to be valid (the output of a channel on valid states): no O(N) checks."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "weights", weights)
        return obj

    @classmethod
    def bell(cls, name: BellName = "phi+", n: int | None = None) -> BellDiagonal:
        """A pure Bell state, shared (n=None) or repeated n times."""
        w = np.zeros(4)
        w[bell_index(name)] = 1.0
        return cls(w if n is None else np.tile(w, (n, 1)))

    @classmethod
    def werner(cls, visibility: ArrayLike, name: BellName = "phi+") -> BellDiagonal:
        """Werner states of visibility V (scalar: shared; array (N,): one per pair)."""
        v = check_probabilities(visibility, "visibility")
        k = bell_index(name)
        w = np.repeat(((1.0 - v) / 4.0)[..., None], 4, axis=-1)
        w[..., k] += v
        return cls(w)

    @property
    def shared(self) -> bool:
        """True when one state stands for every pair."""
        return self.weights.ndim == 1

    def __len__(self) -> int:
        return 1 if self.shared else int(self.weights.shape[0])

    @property
    def fidelity(self) -> FloatArray:
        """Fidelity with |Φ+> (the target state of every link)."""
        return np.asarray(self.weights[..., 0])

    def to_density(self) -> ComplexArray:
        """The density matrices, shape (4, 4) or (N, 4, 4)."""
        proj = np.einsum("ki,kj->kij", BELL_VECTORS, BELL_VECTORS)
        return np.asarray(np.einsum("...k,kij->...ij", self.weights, proj), dtype=np.complex128)

    @classmethod
    def from_density(cls, rho: ArrayLike) -> BellDiagonal:
        """Bell-diagonal part of a state (the result of Bell-basis twirling; exact if ρ is Bell-diagonal)."""
        r = np.asarray(rho, dtype=np.complex128)
        w = np.einsum("ki,...ij,kj->...k", BELL_VECTORS, r, BELL_VECTORS).real
        return cls(np.clip(w, 0.0, None) / np.clip(w, 0.0, None).sum(axis=-1, keepdims=True))

    def take(self, index: ArrayLike) -> BellDiagonal:
        """The sub-batch selected by an index or mask (a shared state stays shared)."""
        return self if self.shared else BellDiagonal(self.weights[np.asarray(index)])


@dataclass(frozen=True, slots=True)
class ProductStates:
    """Uncorrelated pairs ρ_A ⊗ ρ_B, each side (N, 2, 2): what is left after a qubit was measured and resent."""

    rho_a: ComplexArray
    rho_b: ComplexArray

    def __post_init__(self) -> None:
        a = np.asarray(self.rho_a, dtype=np.complex128)
        b = np.asarray(self.rho_b, dtype=np.complex128)
        if a.ndim != 3 or a.shape[1:] != (2, 2) or b.shape != a.shape:
            raise InvalidParameter(f"product states need two (N, 2, 2) arrays, got {a.shape} and {b.shape}")
        object.__setattr__(self, "rho_a", a)
        object.__setattr__(self, "rho_b", b)

    def __len__(self) -> int:
        return int(self.rho_a.shape[0])

    def to_density(self) -> ComplexArray:
        """The two-qubit density matrices (N, 4, 4)."""
        out = np.einsum("nij,nkl->nikjl", self.rho_a, self.rho_b)
        return np.asarray(out.reshape(-1, 4, 4))


def collapse_qubit(
    rho: ArrayLike, angle_deg: ArrayLike, *, target: int, rng: np.random.Generator
) -> tuple[NDArray[np.uint8], ComplexArray]:
    """Measure one qubit of each pair at a polarization angle; return outcomes and the other qubit's state.

    ``rho`` is (N, 4, 4); the result is the outcome bits (N,) and the conditional (N, 2, 2) states of the
    unmeasured qubit, ρ_other|k = Tr_target[(P_k) ρ] / p_k, sampled with the Born rule.
    """
    r = np.asarray(rho, dtype=np.complex128)
    if r.ndim != 3 or r.shape[1:] != (4, 4):
        raise InvalidParameter(f"pair density matrices must be (N, 4, 4), got {r.shape}")
    theta = np.deg2rad(np.broadcast_to(np.asarray(angle_deg, dtype=np.float64), (r.shape[0],)))
    if not np.all(np.isfinite(theta)):
        raise InvalidParameter("measurement angles must be finite")
    t = r.reshape(-1, 2, 2, 2, 2)
    # Reduced (unnormalised) states of the other qubit for outcome 0 along |θ> = (cos θ, sin θ).
    ket = np.stack([np.cos(theta), np.sin(theta)], -1)
    if target == 1:
        cond0 = np.einsum("nb,nabcd,nd->nac", ket, t, ket)
    elif target == 0:
        cond0 = np.einsum("na,nabcd,nc->nbd", ket, t, ket)
    else:
        raise InvalidParameter(f"target must be 0 or 1, got {target!r}")
    other = np.einsum("nabcb->nac", t) if target == 1 else np.einsum("nabad->nbd", t)  # partial trace
    p0 = np.clip(np.trace(cond0, axis1=1, axis2=2).real, 0.0, 1.0)
    outcome = (rng.random(r.shape[0]) >= p0).astype(np.uint8)
    cond = np.where(outcome[:, None, None] == 0, cond0, other - cond0)
    norm = np.trace(cond, axis1=1, axis2=2).real
    return outcome, np.asarray(cond / np.where(norm > 0, norm, 1.0)[:, None, None])


__all__ = [
    "BELL_NAMES",
    "BELL_VECTORS",
    "BellDiagonal",
    "BellName",
    "ProductStates",
    "bell_index",
    "bell_state",
    "check_probabilities",
    "check_probability",
    "collapse_qubit",
    "fidelity_to_bell",
    "is_density_matrix",
    "werner_state",
]
