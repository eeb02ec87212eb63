"""Source replacement: Eve hands Alice and Bob pairs of her own making and keeps a copy of their classical values.

For each pair she picks a basis θ_e (uniformly from ``bases_deg``) and prepares
|Ψ> = (|θ_e θ_e>|e_0> + |θ_e⊥ θ_e⊥>|e_1>)/√2 with <e_0|e_1> = c = 1 − knowledge. With knowledge 1 her copies are
orthogonal: the pairs are classically correlated in her basis and she knows both outcomes there (the
statistics of a full intercept-resend). With knowledge 0 the pairs are perfect Φ+ and she knows nothing. In
between, Alice and Bob share (1 + c)/2 |Φ+><Φ+| + (1 − c)/2 |χ><χ|, a partially entangled pair whose
concurrence is c, and Eve's Helstrom guess in her own basis is right with probability (1 + √(1 − c²))/2.

This models an untrusted pair source or heralding station that Eve controls; the replaced pairs carry only the
noise Eve puts in them (none of the link's own).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from qkdnet.attacks._probe import ComplexArray, draw_guess, eve_states_given_alice, helstrom, joint_table
from qkdnet.attacks.base import AttackedPairs, Bits, EveGuess, FloatArray, check_pairs, fill_blind, select, split
from qkdnet.attacks.intercept_resend import RANDOM_BASES_DEG
from qkdnet.errors import InvalidParameter
from qkdnet.quantum import BELL_VECTORS, BellDiagonal, PairStates, check_probability, polarization_vectors


@dataclass(frozen=True, slots=True)
class SourceReplacement:
    """Eve replaces a ``fraction`` of the pairs by her own, knowing their values to the degree ``knowledge``."""

    knowledge: float
    fraction: float = 1.0
    bases_deg: tuple[float, ...] = RANDOM_BASES_DEG

    def __post_init__(self) -> None:
        object.__setattr__(self, "knowledge", check_probability(self.knowledge, "Eve's knowledge of her pairs"))
        object.__setattr__(self, "fraction", check_probability(self.fraction, "fraction of pairs Eve replaces"))
        bases = tuple(float(b) for b in self.bases_deg)
        if not bases or not np.all(np.isfinite(bases)):
            raise InvalidParameter(f"Eve's bases must be one or more finite angles in degrees, got {self.bases_deg!r}")
        object.__setattr__(self, "bases_deg", bases)

    @property
    def overlap(self) -> float:
        """<e_0|e_1> = 1 − knowledge: the concurrence of the pairs Alice and Bob receive."""
        return 1.0 - self.knowledge

    def tripartite_state(self, basis_deg: float) -> ComplexArray:
        """|Ψ> for one of Eve's bases, as an array (2_A, 2_B, 2_E)."""
        return _state(self.overlap, float(basis_deg))

    def pair_state(self, basis_deg: float) -> ComplexArray:
        """Alice and Bob's state (4, 4) when Eve prepared in ``basis_deg``: Tr_E |Ψ><Ψ|."""
        psi = self.tripartite_state(basis_deg).reshape(4, 2)
        return np.asarray(psi @ psi.conj().T)

    def attack(self, states: PairStates, n_pairs: int, *, rng: np.random.Generator) -> AttackedPairs:
        """Replace the chosen pairs by Eve's, each prepared in one of her bases at random."""
        n = check_pairs(n_pairs)
        attacked, att_idx = split(n, self.fraction, rng=rng)
        keep_idx = np.flatnonzero(~attacked)
        choice = rng.integers(0, len(self.bases_deg), att_idx.size).astype(np.intp)
        rhos = np.array([self.pair_state(b) for b in self.bases_deg])
        bell = np.einsum("ki,cij,lj->ckl", BELL_VECTORS, rhos, BELL_VECTORS)
        diagonal = np.einsum("ckk->ck", bell).real
        mine: PairStates
        if np.allclose(bell, np.einsum("ck,kl->ckl", diagonal, np.eye(4)), atol=1e-12):
            mine = BellDiagonal(np.clip(diagonal, 0.0, None)[choice])
        else:  # a basis off the Z/X axes leaves coherences between Bell states: keep full density matrices
            mine = rhos[choice]
        return AttackedPairs(
            untouched_index=keep_idx,
            untouched_states=select(states, keep_idx),
            attacked_index=att_idx,
            attacked_states=mine,
            record=SourceRecord(attacked=attacked, index=att_idx, basis_choice=choice, source=self),
        )


@lru_cache(maxsize=64)
def _state(overlap: float, basis_deg: float) -> ComplexArray:
    v = polarization_vectors(basis_deg)  # rows |θ>, |θ⊥>
    e = np.array([[1.0, 0.0], [overlap, np.sqrt(max(0.0, 1.0 - overlap**2))]])
    psi = np.einsum("ka,kb,ke->abe", v, v, e) / np.sqrt(2.0)
    out: ComplexArray = np.asarray(psi, dtype=np.complex128)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=256)
def _tables(overlap: float, basis_deg: float, alice_deg: float, bob_deg: float) -> tuple[FloatArray, float]:
    """P(x, y, g) (2, 2, 2) with Eve's Helstrom measurement for Alice's angle, and its success probability."""
    psi = _state(overlap, basis_deg)
    povm, success = helstrom(eve_states_given_alice(psi, alice_deg))
    table = joint_table(psi, povm, alice_deg, bob_deg)
    table.setflags(write=False)
    return table, success


@dataclass(frozen=True, slots=True, repr=False)
class SourceRecord:
    """Which pairs Eve made, in which of her bases, and her copies (still unmeasured)."""

    attacked: NDArray[np.bool_]
    index: NDArray[np.intp]
    basis_choice: NDArray[np.intp]
    source: SourceReplacement

    def guesses(
        self,
        alice_angle_deg: FloatArray,
        bob_angle_deg: FloatArray,
        alice_bits: Bits,
        bob_bits: Bits,
        *,
        rng: np.random.Generator,
    ) -> EveGuess:
        """Eve measures her copy for Alice's announced angle (Helstrom); her outcome is drawn from P(g | x, y)."""
        idx = self.index
        a_u, ai = np.unique(alice_angle_deg[idx], return_inverse=True)
        b_u, bi = np.unique(bob_angle_deg[idx], return_inverse=True)
        src = self.source
        cells = [[[_tables(src.overlap, c, float(a), float(b)) for b in b_u] for a in a_u] for c in src.bases_deg]
        table = np.array([[[t for t, _ in row] for row in by_a] for by_a in cells])  # (C, A, B, 2, 2, 2)
        success = np.array([[row[0][1] for row in by_a] for by_a in cells])  # (C, A)
        c = self.basis_choice
        p_g = table[c, ai, bi, alice_bits[idx], bob_bits[idx]]
        guess = EveGuess(draw_guess(p_g, rng=rng), success[c, ai], np.ones(idx.size, dtype=bool))
        return fill_blind(guess, idx, self.attacked.size, rng=rng)
