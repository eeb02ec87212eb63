"""The optimal individual attack: Fuchs, Gisin, Griffiths, Niu & Peres's entangling probe (PRA 56, 1163 (1997)).

Eve entangles a two-qubit probe with Bob's photon by the isometry V|ψ> = Σ_k √p_k σ_k|ψ> ⊗ |k>_E with
(p_I, p_Z, p_X, p_Y) = ((1 − D)², D(1 − D), D(1 − D), D²): on Bob's side a Pauli channel that flips the bit
in every linear-polarization basis with probability D (phase covariant: the same disturbance at every angle),
on hers a record of which Pauli acted. After the basis announcement she measures the probe with the Helstrom
measurement for Alice's angle; on Φ+ she guesses each key bit with probability 1/2 + √(D(1 − D)), so her
information is I_E(D) = 1 − h(1/2 + √(D(1 − D))), FGGNP's bound, reached at every basis angle. At D = 1/2 she
knows everything and Alice and Bob share nothing; at D ≈ 0.1464 (S = 2√2(1 − 2D) = 2) I_E = 1 − I_AB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from qkdnet.attacks._probe import ComplexArray, draw_guess, eve_states_given_alice, helstrom, projectors
from qkdnet.attacks.base import (
    AttackedPairs,
    Bits,
    EveGuess,
    FloatArray,
    check_pairs,
    fill_blind,
    select,
    split,
)
from qkdnet.errors import InvalidParameter
from qkdnet.quantum import BELL_VECTORS, BellDiagonal, PairStates, ProductStates, apply_local_channel, pauli_channel
from qkdnet.quantum import check_probability as _check_probability

_PAULIS = np.array(
    [[[1, 0], [0, 1]], [[1, 0], [0, -1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]]], dtype=np.complex128
)  # I, Z, X, Y: on Φ+ they make Φ+, Φ−, Ψ+, iΨ−
_CHUNK = 1 << 16


def fggnp_information(disturbance: float) -> float:
    """I_E(D) = 1 − h(1/2 + √(D(1 − D))): Eve's Shannon information per bit at QBER D (FGGNP 1997)."""
    from qkdnet.units import binary_entropy

    d = _check_disturbance(disturbance)
    return 1.0 - binary_entropy(0.5 + math.sqrt(d * (1.0 - d)))


def _check_disturbance(value: float) -> float:
    d = _check_probability(value, "cloner disturbance D")
    if d > 0.5:
        raise InvalidParameter(f"cloner disturbance D must be in [0, 0.5], got {value!r}")
    return d


@dataclass(frozen=True, slots=True)
class PhaseCovariantCloner:
    """Eve's FGGNP probe on a ``fraction`` of Bob's photons, causing a QBER ``disturbance`` = D ∈ [0, 1/2]."""

    disturbance: float
    fraction: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "disturbance", _check_disturbance(self.disturbance))
        object.__setattr__(self, "fraction", _check_probability(self.fraction, "cloner fraction"))

    @property
    def pauli_probabilities(self) -> FloatArray:
        """(p_I, p_Z, p_X, p_Y) of the channel Bob sees."""
        d = self.disturbance
        return np.array([(1 - d) ** 2, d * (1 - d), d * (1 - d), d * d])

    @property
    def isometry(self) -> ComplexArray:
        """V as an (8, 2) matrix from Bob's photon to Bob's photon ⊗ Eve's probe (row index 4·b + e)."""
        return _isometry(self.disturbance)

    @property
    def guessing_probability(self) -> float:
        """1/2 + √(D(1 − D)): Eve's chance of guessing a key bit of a Φ+ pair."""
        return 0.5 + math.sqrt(self.disturbance * (1.0 - self.disturbance))

    def eve_measurement(self, alice_angle_deg: float) -> tuple[ComplexArray, float]:
        """Eve's Helstrom POVM (2, 4, 4) on her probe for Alice's announced angle, and its success on Φ+."""
        return _eve_measurement(self.disturbance, float(alice_angle_deg))

    def attack(self, states: PairStates, n_pairs: int, *, rng: np.random.Generator) -> AttackedPairs:
        """Entangle the probe with Bob's photon on the chosen pairs; the rest pass untouched."""
        n = check_pairs(n_pairs)
        attacked, att_idx = split(n, self.fraction, rng=rng) if self.fraction < 1 else _all(n)
        keep_idx = np.flatnonzero(~attacked)
        before = select(states, att_idx)
        _, p_z, p_x, p_y = self.pauli_probabilities
        after: PairStates
        if isinstance(before, BellDiagonal):
            after = pauli_channel(before, p_x=p_x, p_y=p_y, p_z=p_z)
        else:
            rho = before.to_density() if isinstance(before, ProductStates) else np.asarray(before)
            kraus = np.sqrt(self.pauli_probabilities)[:, None, None] * _PAULIS
            after = apply_local_channel(rho, kraus, target=1)
        return AttackedPairs(
            untouched_index=keep_idx,
            untouched_states=select(states, keep_idx),
            attacked_index=att_idx,
            attacked_states=after,
            record=ProbeRecord(attacked=attacked, index=att_idx, states_before=before, cloner=self),
        )


def _all(n: int) -> tuple[NDArray[np.bool_], NDArray[np.intp]]:
    return np.ones(n, dtype=bool), np.arange(n, dtype=np.intp)


@lru_cache(maxsize=64)
def _isometry(d: float) -> ComplexArray:
    p = np.array([(1 - d) ** 2, d * (1 - d), d * (1 - d), d * d])
    v = np.einsum("e,ebi->bei", np.sqrt(p), _PAULIS)  # V[b, e, i] = √p_e σ_e[b, i]
    out: ComplexArray = np.asarray(v.reshape(8, 2))
    out.setflags(write=False)
    return out


@lru_cache(maxsize=256)
def _eve_measurement(d: float, alice_angle_deg: float) -> tuple[ComplexArray, float]:
    v = _isometry(d).reshape(2, 4, 2)
    phi_plus = BELL_VECTORS[0].reshape(2, 2)
    psi = np.einsum("ai,bei->abe", phi_plus, v)  # (I ⊗ V)|Φ+> as (A, B, E)
    povm, success = helstrom(eve_states_given_alice(psi, alice_angle_deg))
    povm.setflags(write=False)
    return povm, success


@lru_cache(maxsize=256)
def _effective_operators(d: float, alice_angle_deg: float, bob_angle_deg: float) -> ComplexArray:
    """O[x, y, g] (2, 2, 2, 4, 4) on the pair before Eve: P(x, y, g) = Tr(ρ O[x, y, g]).

    O = P_x ⊗ V†(P_y ⊗ M_g)V, so the joint distribution follows for any input state, exactly.
    """
    v = _isometry(d)
    povm, _ = _eve_measurement(d, alice_angle_deg)
    pa, pb = projectors(alice_angle_deg), projectors(bob_angle_deg)
    bob_eve = np.einsum("ybc,gef->ygbecf", pb, povm).reshape(2, 2, 8, 8)  # P_y ⊗ M_g
    f = np.einsum("pi,ygpq,qj->ygij", v.conj(), bob_eve, v)  # V†(P_y ⊗ M_g)V on Bob's photon before Eve
    out: ComplexArray = np.asarray(np.einsum("xac,ygbd->xygabcd", pa, f).reshape(2, 2, 2, 4, 4))
    out.setflags(write=False)
    return out


@dataclass(frozen=True, slots=True, repr=False)
class ProbeRecord:
    """Eve's probes, unmeasured: the pairs she entangled them with and those pairs' states before she did."""

    attacked: NDArray[np.bool_]
    index: NDArray[np.intp]
    states_before: PairStates
    cloner: PhaseCovariantCloner

    def guesses(
        self,
        alice_angle_deg: FloatArray,
        bob_angle_deg: FloatArray,
        alice_bits: Bits,
        bob_bits: Bits,
        *,
        rng: np.random.Generator,
    ) -> EveGuess:
        """Eve measures each probe for Alice's announced angle; her outcome is drawn from P(g | x, y)."""
        idx = self.index
        n = self.attacked.size
        a_u, ai = np.unique(alice_angle_deg[idx], return_inverse=True)
        b_u, bi = np.unique(bob_angle_deg[idx], return_inverse=True)
        d = self.cloner.disturbance
        ops = np.array([[_effective_operators(d, float(a), float(b)) for b in b_u] for a in a_u])
        x = alice_bits[idx]
        y = bob_bits[idx]
        before = self.states_before
        if isinstance(before, BellDiagonal):
            bell = np.einsum("ki,abxygij,kj->abxygk", BELL_VECTORS, ops, BELL_VECTORS).real
            w = before.weights
            rows = bell[ai, bi, x, y]  # (m, 2, 4): P(x, y, g | Bell component k) for each pair's outcomes
            p_g = np.einsum("mgk,k->mg", rows, w) if before.shared else np.einsum("mgk,mk->mg", rows, w)
        else:
            rho = before.to_density() if isinstance(before, ProductStates) else np.asarray(before)
            p_g = np.empty((idx.size, 2))
            for start in range(0, idx.size, _CHUNK):
                s = slice(start, start + _CHUNK)
                rows_op = ops[ai[s], bi[s], x[s], y[s]]  # (c, 2, 4, 4)
                if rho.ndim == 2:
                    p_g[s] = np.einsum("ij,mgji->mg", rho, rows_op).real
                else:
                    p_g[s] = np.einsum("mij,mgji->mg", rho[s], rows_op).real
        success = np.array([_eve_measurement(d, float(a))[1] for a in a_u])
        guess = EveGuess(draw_guess(p_g, rng=rng), success[ai], np.ones(idx.size, dtype=bool))
        return fill_blind(guess, idx, n, rng=rng)
