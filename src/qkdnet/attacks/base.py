"""What every eavesdropper on the fiber has in common: the pairs she leaves behind, and what she knows about them.

An :class:`Attack` turns a block of pairs into :class:`AttackedPairs`: the states Alice and Bob measure, and
Eve's record. Once both parties have measured and announced their settings, the record yields Eve's
:class:`EveGuess`: her best guess of Alice's outcome on every pair (Alice's key is the one the final key is
hashed from), with her own confidence in it. Guessing accuracy and mutual information are measured on these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qkdnet.errors import InvalidParameter
from qkdnet.quantum import BellDiagonal, PairStates, ProductStates, random_bits

Bits = NDArray[np.uint8]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class EveGuess:
    """Eve's guess of Alice's outcome on each pair, her confidence in it, and whether she touched the pair.

    ``confidence`` is the probability, in Eve's model of the channel, that her guess is right (1/2 where
    she knows nothing). Pairs she did not touch get a fair coin, so her guess carries no information there.
    """

    guess: Bits = field(repr=False)
    confidence: FloatArray
    attacked: NDArray[np.bool_]

    def __post_init__(self) -> None:
        n = self.guess.shape
        if self.guess.ndim != 1 or self.confidence.shape != n or self.attacked.shape != n:
            raise InvalidParameter("EveGuess arrays must be 1-D and of equal length")

    def __len__(self) -> int:
        return int(self.guess.size)

    def __repr__(self) -> str:
        return f"EveGuess({self.guess.size} pairs, {int(self.attacked.sum())} attacked)"

    @classmethod
    def blind(cls, n_pairs: int, *, rng: np.random.Generator) -> EveGuess:
        """Coin-flip guesses on ``n_pairs`` pairs Eve knows nothing about."""
        return cls(random_bits(n_pairs, rng=rng), np.full(n_pairs, 0.5), np.zeros(n_pairs, dtype=bool))

    def take(self, index: ArrayLike) -> EveGuess:
        """Eve's guesses on the selected pairs (an index or mask)."""
        i = np.asarray(index)
        return EveGuess(self.guess[i], self.confidence[i], self.attacked[i])

    @classmethod
    def concatenate(cls, parts: list[EveGuess]) -> EveGuess:
        """Guesses of consecutive blocks, in order."""
        if not parts:
            return cls(np.zeros(0, np.uint8), np.zeros(0), np.zeros(0, dtype=bool))
        return cls(
            np.concatenate([p.guess for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.attacked for p in parts]),
        )


@runtime_checkable
class EveKnowledge(Protocol):
    """Eve's record of one block: turns into her guesses once the parties have measured.

    ``alice_bits``/``bob_bits`` are the outcomes nature drew for the parties; an attack whose record is
    quantum (a probe Eve measures after the basis announcement) draws her outcome from the Born rule
    conditioned on them, so the three outcomes follow their exact joint distribution. Eve never sees them.
    """

    @property
    def attacked(self) -> NDArray[np.bool_]:
        """Which pairs of the block Eve touched."""
        ...

    def guesses(
        self,
        alice_angle_deg: FloatArray,
        bob_angle_deg: FloatArray,
        alice_bits: Bits,
        bob_bits: Bits,
        *,
        rng: np.random.Generator,
    ) -> EveGuess:
        """Eve's guess of Alice's outcome on every pair, given the announced measurement angles."""
        ...


@dataclass(frozen=True, slots=True)
class AttackedPairs:
    """The link's pairs after Eve: the untouched ones as they were, the attacked ones as Eve left them."""

    untouched_index: NDArray[np.intp]
    untouched_states: PairStates
    attacked_index: NDArray[np.intp]
    attacked_states: PairStates
    record: EveKnowledge

    def __len__(self) -> int:
        return int(self.untouched_index.size + self.attacked_index.size)


@runtime_checkable
class Attack(Protocol):
    """An eavesdropper on the fiber to Bob: acts on a block of pairs and keeps a record of what she learnt."""

    def attack(self, states: PairStates, n_pairs: int, *, rng: np.random.Generator) -> AttackedPairs:
        """Apply the attack to ``n_pairs`` pairs (``states`` shared by all pairs or one per pair)."""
        ...


def check_pairs(n_pairs: int) -> int:
    """``n_pairs`` as an int, or InvalidParameter."""
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int | np.integer) or n_pairs < 0:
        raise InvalidParameter(f"number of pairs must be a non-negative integer, got {n_pairs!r}")
    return int(n_pairs)


def split(n_pairs: int, fraction: float, *, rng: np.random.Generator) -> tuple[NDArray[np.bool_], NDArray[np.intp]]:
    """Eve's choice of the pairs she attacks: each with probability ``fraction`` (mask and indices)."""
    attacked = rng.random(n_pairs) < fraction
    return attacked, np.flatnonzero(attacked)


def select(states: PairStates, index: NDArray[np.intp]) -> PairStates:
    """The sub-batch of the given pairs (a shared state stays shared)."""
    if isinstance(states, BellDiagonal):
        return states.take(index)
    if isinstance(states, ProductStates):
        return ProductStates(states.rho_a[index], states.rho_b[index])
    rho = np.asarray(states, dtype=np.complex128)
    return rho if rho.ndim == 2 else rho[index]


def density(states: PairStates, index: NDArray[np.intp]) -> NDArray[np.complex128]:
    """Density matrices (len(index), 4, 4) of the selected pairs."""
    part = select(states, index)
    dens = part.to_density() if isinstance(part, BellDiagonal | ProductStates) else np.asarray(part)
    return np.broadcast_to(dens, (index.size, 4, 4)) if dens.ndim == 2 else dens


def fill_blind(guess: EveGuess, index: NDArray[np.intp], n_pairs: int, *, rng: np.random.Generator) -> EveGuess:
    """Guesses on all ``n_pairs``: ``guess`` on the pairs at ``index``, coin flips on the others."""
    out = EveGuess.blind(n_pairs, rng=rng)
    out.guess[index] = guess.guess
    out.confidence[index] = guess.confidence
    out.attacked[index] = guess.attacked
    return out


__all__ = ["Attack", "AttackedPairs", "EveGuess", "EveKnowledge"]
