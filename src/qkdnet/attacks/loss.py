"""Loss hiding: Eve swaps the lossy fiber for a lossless one and takes the photons that would have been lost anyway.

The fiber passes a fraction T of the photons. With a lossless fiber Eve can take up to 1 − T of them and
still deliver T to Bob, so his herald rate does not change. She takes ``budget_fraction`` of that budget and
measures what she took. But a photon that never reaches Bob never heralds: Alice's atom is reset before the next
attempt and that pair never enters the key. Every heralded pair is untouched, so Eve's information on the key
is zero and Alice and Bob see nothing: in heralded entanglement-based QKD hiding in the loss gains her nothing.
(To get anything into the key she must resend photons, which is an intercept-resend attack and is caught.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qkdnet.attacks.base import AttackedPairs, Bits, EveGuess, FloatArray, check_pairs, select
from qkdnet.errors import InvalidParameter
from qkdnet.quantum import PairStates, check_probability


@dataclass(frozen=True, slots=True)
class LossHiding:
    """Eve takes ``budget_fraction`` of the 1 − T photons a fiber of transmission ``fiber_transmission`` loses."""

    budget_fraction: float
    fiber_transmission: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "budget_fraction", check_probability(self.budget_fraction, "loss-budget fraction"))
        t = check_probability(self.fiber_transmission, "fiber transmission")
        if t == 0.0:
            raise InvalidParameter("fiber transmission must be > 0: a fiber that loses every photon never heralds")
        object.__setattr__(self, "fiber_transmission", t)

    @property
    def photons_taken_per_herald(self) -> float:
        """Photons Eve takes per photon that reaches Bob: budget · (1 − T)/T (more if Bob's side also loses some)."""
        t = self.fiber_transmission
        return self.budget_fraction * (1.0 - t) / t

    @property
    def herald_rate_factor(self) -> float:
        """Bob's herald rate with Eve over his rate without her: 1, she thins her lossless fiber to T."""
        return 1.0

    def attack(self, states: PairStates, n_pairs: int, *, rng: np.random.Generator) -> AttackedPairs:
        """Every heralded pair passes untouched; Eve's photons came from attempts that never heralded."""
        n = check_pairs(n_pairs)
        none = np.zeros(0, dtype=np.intp)
        lost = int(rng.negative_binomial(n, self.fiber_transmission)) if n else 0  # fiber losses before n arrivals
        taken = int(rng.binomial(lost, self.budget_fraction))
        return AttackedPairs(
            untouched_index=np.arange(n, dtype=np.intp),
            untouched_states=states,
            attacked_index=none,
            attacked_states=select(states, none),
            record=LossRecord(attacked=np.zeros(n, dtype=bool), photons_taken=taken),
        )


@dataclass(frozen=True, slots=True, repr=False)
class LossRecord:
    """Eve's photons belong to attempts that never heralded: about the heralded pairs she knows nothing."""

    attacked: NDArray[np.bool_]
    photons_taken: int
    """Photons Eve took and measured during this block (each from an attempt that did not herald)."""

    def guesses(
        self,
        alice_angle_deg: FloatArray,
        bob_angle_deg: FloatArray,
        alice_bits: Bits,
        bob_bits: Bits,
        *,
        rng: np.random.Generator,
    ) -> EveGuess:
        """Coin flips: none of Eve's photons is correlated with a heralded pair."""
        return EveGuess.blind(self.attacked.size, rng=rng)
