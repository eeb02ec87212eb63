"""Intercept-resend: Eve measures a fraction p of Bob's photons in a basis of her choice and resends what she saw.

Eve's measurement collapses the pair: conditioned on her outcome k in basis θ_e, Alice's atom is left in
ρ_A|k and Bob receives a fresh photon |θ_e + 90°·k>. The attacked pairs become uncorrelated product states,
so their statistics follow exactly, and Eve keeps her record (basis and outcome per pair) for later analysis.
With her basis random between Z (0°) and X (45°) and p = 1, a Φ+ link shows Q = 25 % and S = √2.

Her basis may also be fixed (one angle), or Breidbart's: the angle halfway between the two key bases
(22.5° for Z/X), which gives her each intercepted key bit with probability cos²(π/8) ≈ 0.854 whichever basis
is announced (Bennett, Bessette, Brassard, Salvail & Smolin, J. Cryptology 5, 3 (1992)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qkdnet.attacks.base import AttackedPairs, Bits, EveGuess, FloatArray, check_pairs, density, select, split
from qkdnet.errors import InvalidParameter
from qkdnet.quantum import PairStates, ProductStates, check_probability, collapse_qubit

_CHUNK = 1 << 16

#: Eve's bases when she picks at random: Z (H/V) and X (±45°).
RANDOM_BASES_DEG = (0.0, 45.0)


@dataclass(frozen=True, slots=True)
class EveRecord:
    """What Eve knows: which pairs she attacked, her basis (degrees) and her outcome for each of them."""

    attacked: NDArray[np.bool_]
    basis_deg: NDArray[np.float64]
    outcome: NDArray[np.uint8]

    def guesses(
        self,
        alice_angle_deg: FloatArray,
        bob_angle_deg: FloatArray,
        alice_bits: Bits,
        bob_bits: Bits,
        *,
        rng: np.random.Generator,
    ) -> EveGuess:
        """Eve's outcome k says Alice's atom was left in |θ_e + 90°k> (for the target state Φ+): Alice sees k at
        angle a with probability cos²(a − θ_e), so Eve guesses k if that is at least 1/2 and 1 − k otherwise.
        """
        out = EveGuess.blind(self.attacked.size, rng=rng)
        idx = np.flatnonzero(self.attacked)
        same = np.cos(np.deg2rad(alice_angle_deg[idx] - self.basis_deg[idx])) ** 2
        out.guess[idx] = np.where(same >= 0.5, self.outcome[idx], 1 - self.outcome[idx])
        out.confidence[idx] = np.maximum(same, 1.0 - same)
        out.attacked[idx] = True
        return out


@dataclass(frozen=True, slots=True)
class InterceptResend:
    """Eve intercepts each photon with probability ``fraction`` and measures it at one of ``bases_deg`` (uniformly).

    The default is a random Z/X basis; one angle fixes her basis (use :meth:`breidbart` for the halfway basis).
    """

    fraction: float
    bases_deg: tuple[float, ...] = RANDOM_BASES_DEG

    def __post_init__(self) -> None:
        check_probability(self.fraction, "intercept fraction")
        bases = tuple(float(b) for b in self.bases_deg)
        if not bases or not all(math.isfinite(b) for b in bases):
            raise InvalidParameter(f"Eve's bases must be one or more finite angles in degrees, got {self.bases_deg!r}")
        object.__setattr__(self, "bases_deg", bases)

    @classmethod
    def fixed(cls, fraction: float, angle_deg: float = 0.0) -> InterceptResend:
        """Eve always measures at ``angle_deg`` (0° = Z)."""
        return cls(fraction, (angle_deg,))

    @classmethod
    def breidbart(cls, fraction: float, key_bases_deg: tuple[float, float] = RANDOM_BASES_DEG) -> InterceptResend:
        """Eve measures halfway between the two key bases: 22.5° for Z/X, 33.75° for E91's 22.5°/45°."""
        a, b = (float(x) for x in key_bases_deg)
        return cls(fraction, ((a + b) / 2.0,))

    def attack(self, states: PairStates, n_pairs: int, *, rng: np.random.Generator) -> AttackedPairs:
        """Apply the attack to ``n_pairs`` pairs (``states`` shared or one per pair)."""
        n = check_pairs(n_pairs)
        attacked, att_idx = split(n, self.fraction, rng=rng)
        keep_idx = np.flatnonzero(~attacked)
        basis = np.full(n, np.nan)
        bases = np.asarray(self.bases_deg)
        basis[att_idx] = bases[rng.integers(0, bases.size, att_idx.size)] if bases.size > 1 else bases[0]
        outcome = np.zeros(n, dtype=np.uint8)
        rho_a = np.empty((att_idx.size, 2, 2), dtype=np.complex128)
        for start in range(0, att_idx.size, _CHUNK):
            part = att_idx[start : start + _CHUNK]
            k, cond = collapse_qubit(density(states, part), basis[part], target=1, rng=rng)
            outcome[part] = k
            rho_a[start : start + part.size] = cond
        # Bob receives the state Eve saw: |θ_e + 90°·k>.
        theta = np.deg2rad(basis[att_idx] + 90.0 * outcome[att_idx])
        ket = np.stack([np.cos(theta), np.sin(theta)], -1)
        rho_b = np.einsum("ni,nj->nij", ket, ket).astype(np.complex128)
        return AttackedPairs(
            untouched_index=keep_idx,
            untouched_states=select(states, keep_idx),
            attacked_index=att_idx,
            attacked_states=ProductStates(rho_a, rho_b),
            record=EveRecord(attacked=attacked, basis_deg=basis, outcome=outcome),
        )
