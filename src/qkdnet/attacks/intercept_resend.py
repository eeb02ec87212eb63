"""Intercept-resend: Eve measures a fraction p of Bob's photons in a basis of her choice and resends what she saw.

Eve's measurement collapses the pair: conditioned on her outcome k in basis θ_e, Alice's atom is left in
ρ_A|k and Bob receives a fresh photon |θ_e + 90°·k>. The attacked pairs become uncorrelated product states,
so their statistics follow exactly, and Eve keeps her record (basis and outcome per pair) for later analysis.
With her basis random between Z (0°) and X (45°) and p = 1, a Φ+ link shows Q = 25 % and S = √2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qkdnet.errors import InvalidParameter
from qkdnet.quantum import BellDiagonal, PairStates, ProductStates, check_probability, collapse_qubit

_CHUNK = 1 << 16

#: Eve's bases when she picks at random: Z (H/V) and X (±45°).
RANDOM_BASES_DEG = (0.0, 45.0)


@dataclass(frozen=True, slots=True)
class EveRecord:
    """What Eve knows: which pairs she attacked, her basis (degrees) and her outcome for each of them."""

    attacked: NDArray[np.bool_]
    basis_deg: NDArray[np.float64]
    outcome: NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class AttackedPairs:
    """The link's pairs after Eve: the untouched ones as they were, the attacked ones as product states."""

    untouched_index: NDArray[np.intp]
    untouched_states: PairStates
    attacked_index: NDArray[np.intp]
    attacked_states: ProductStates
    record: EveRecord

    def __len__(self) -> int:
        return int(self.untouched_index.size + self.attacked_index.size)


def _select(states: PairStates, index: NDArray[np.intp]) -> PairStates:
    """The sub-batch of the given pairs (a shared state stays shared)."""
    if isinstance(states, BellDiagonal):
        return states.take(index)
    if isinstance(states, ProductStates):
        return ProductStates(states.rho_a[index], states.rho_b[index])
    rho = np.asarray(states, dtype=np.complex128)
    return rho if rho.ndim == 2 else rho[index]


def _density(states: PairStates, index: NDArray[np.intp]) -> NDArray[np.complex128]:
    """Density matrices (len(index), 4, 4) of the selected pairs."""
    part = _select(states, index)
    dens = part.to_density() if isinstance(part, BellDiagonal | ProductStates) else np.asarray(part)
    return np.broadcast_to(dens, (index.size, 4, 4)) if dens.ndim == 2 else dens


@dataclass(frozen=True, slots=True)
class InterceptResend:
    """Eve intercepts each photon with probability ``fraction`` and measures it in a random Z/X basis."""

    fraction: float

    def __post_init__(self) -> None:
        check_probability(self.fraction, "intercept fraction")

    def attack(self, states: PairStates, n_pairs: int, *, rng: np.random.Generator) -> AttackedPairs:
        """Apply the attack to ``n_pairs`` pairs (``states`` shared or one per pair)."""
        if n_pairs < 0:
            raise InvalidParameter(f"number of pairs must be >= 0, got {n_pairs}")
        attacked = rng.random(n_pairs) < self.fraction
        att_idx = np.flatnonzero(attacked)
        keep_idx = np.flatnonzero(~attacked)
        basis = np.full(n_pairs, np.nan)
        basis[att_idx] = np.asarray(RANDOM_BASES_DEG)[rng.integers(0, 2, att_idx.size)]
        outcome = np.zeros(n_pairs, dtype=np.uint8)
        rho_a = np.empty((att_idx.size, 2, 2), dtype=np.complex128)
        for start in range(0, att_idx.size, _CHUNK):
            part = att_idx[start : start + _CHUNK]
            k, cond = collapse_qubit(_density(states, part), basis[part], target=1, rng=rng)
            outcome[part] = k
            rho_a[start : start + part.size] = cond
        # Bob receives the state Eve saw: |θ_e + 90°·k>.
        theta = np.deg2rad(basis[att_idx] + 90.0 * outcome[att_idx])
        ket = np.stack([np.cos(theta), np.sin(theta)], -1)
        rho_b = np.einsum("ni,nj->nij", ket, ket).astype(np.complex128)
        return AttackedPairs(
            untouched_index=keep_idx,
            untouched_states=_select(states, keep_idx),
            attacked_index=att_idx,
            attacked_states=ProductStates(rho_a, rho_b),
            record=EveRecord(attacked=attacked, basis_deg=basis, outcome=outcome),
        )
