"""The quantum half of a key run: heralded pairs in blocks, each party measuring with its own random settings.

Pairs come from any :class:`PairSource` (a link, idealised Werner pairs, a network run's delivered pairs) in
blocks of at most :data:`BLOCK_PAIRS`, so memory stays bounded whatever the run's length; each party draws
its settings from its own stream and nature the outcomes. Only the parties' logs (and, apart, what the
simulator knows of Eve) leave this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from qkdnet.attacks import Attack, EveGuess
from qkdnet.errors import InvalidParameter
from qkdnet.qkd.protocols import ProtocolSpec
from qkdnet.qkd.sifting import PartyRecord
from qkdnet.quantum import PairStates, sample_setting_outcomes
from qkdnet.rng import SeedTree

ProgressCallback = Callable[[int, int], None]

#: Pairs simulated per block: bounds memory to a few tens of MB whatever the run's size.
BLOCK_PAIRS = 1 << 19


class PairBlock(Protocol):
    """A block of heralded pairs: their states, and the exact time of the last herald from the block's start."""

    @property
    def states(self) -> PairStates: ...

    @property
    def last_herald_ps(self) -> int: ...


class PairSource(Protocol):
    """Anything that yields heralded pairs in bulk (a link, or ideal Werner pairs)."""

    def generate(self, n_pairs: int, *, rng: np.random.Generator) -> PairBlock: ...


def measure_block(
    protocol: ProtocolSpec,
    states: PairStates,
    n_pairs: int,
    *,
    attack: Attack | None,
    rng_alice: np.random.Generator,
    rng_bob: np.random.Generator,
    rng_nature: np.random.Generator,
    rng_eve: np.random.Generator,
    rng_rounds: np.random.Generator | None = None,
) -> tuple[PartyRecord, PartyRecord, EveGuess | None]:
    """Both parties pick settings independently and measure; Eve may attack on the way to Bob.

    After the settings are announced, Eve's record yields her guess of Alice's outcome on every pair.
    A spot-checking protocol needs ``rng_rounds``, the randomness both parties share that says which
    rounds are tests (:func:`draw_settings`).
    """
    sa, sb = draw_settings(protocol, n_pairs, rng_alice=rng_alice, rng_bob=rng_bob, rng_rounds=rng_rounds)
    angles = (protocol.alice_angles_deg, protocol.bob_angles_deg)
    if attack is None:
        x, y = sample_setting_outcomes(states, *angles, sa, sb, rng=rng_nature)
        return PartyRecord(sa, x), PartyRecord(sb, y), None
    hit = attack.attack(states, n_pairs, rng=rng_eve)
    x = np.empty(n_pairs, dtype=np.uint8)
    y = np.empty(n_pairs, dtype=np.uint8)
    for index, part in (
        (hit.untouched_index, hit.untouched_states),
        (hit.attacked_index, hit.attacked_states),
    ):
        if index.size:
            x[index], y[index] = sample_setting_outcomes(part, *angles, sa[index], sb[index], rng=rng_nature)
    alice_deg = np.asarray(protocol.alice_angles_deg)[sa]
    bob_deg = np.asarray(protocol.bob_angles_deg)[sb]
    eve = hit.record.guesses(alice_deg, bob_deg, x, y, rng=rng_eve)
    return PartyRecord(sa, x), PartyRecord(sb, y), eve


def draw_settings(
    protocol: ProtocolSpec,
    n_pairs: int,
    *,
    rng_alice: np.random.Generator,
    rng_bob: np.random.Generator,
    rng_rounds: np.random.Generator | None = None,
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Both parties' settings for ``n_pairs`` rounds: uniform, or the spot-checking rule.

    Spot-checking (``protocol.test_probability = γ``): a round is a test with probability γ, drawn from
    ``rng_rounds`` (randomness the parties share, as in Arnon-Friedman et al.'s protocol where T_i is chosen
    jointly); then each party picks one of its CHSH settings uniformly from its own stream, otherwise both
    take the key basis. Each party draws its test choice for every round, so its stream does not depend on T.
    """
    if protocol.test_probability is None:
        sa = rng_alice.integers(0, len(protocol.alice_angles_deg), n_pairs, dtype=np.uint8)
        sb = rng_bob.integers(0, len(protocol.bob_angles_deg), n_pairs, dtype=np.uint8)
        return sa, sb
    if rng_rounds is None:
        raise InvalidParameter("a spot-checking protocol needs the shared randomness that picks the test rounds")
    test = rng_rounds.random(n_pairs) < protocol.test_probability
    (a_key, b_key), (a_tests, b_tests) = protocol.key_settings[0], protocol.test_settings
    a_choice = np.asarray(a_tests, dtype=np.uint8)[rng_alice.integers(0, len(a_tests), n_pairs)]
    b_choice = np.asarray(b_tests, dtype=np.uint8)[rng_bob.integers(0, len(b_tests), n_pairs)]
    sa = np.where(test, a_choice, np.uint8(a_key)).astype(np.uint8)
    sb = np.where(test, b_choice, np.uint8(b_key)).astype(np.uint8)
    return sa, sb


@dataclass(frozen=True, slots=True)
class SimulatedRecords:
    """Both parties' measurement logs of one run, plus what the simulator knows about it."""

    alice: PartyRecord
    bob: PartyRecord
    duration_s: float
    attacked_pairs: int
    eve: EveGuess | None = None
    """Eve's guesses of Alice's outcomes, one per pair (None without an attack)."""

    @property
    def pairs(self) -> int:
        return int(self.alice.settings.size)


def simulate_records(
    source: PairSource,
    protocol: ProtocolSpec,
    n_pairs: int,
    *,
    tree: SeedTree,
    attack: Attack | None = None,
    progress: ProgressCallback | None = None,
) -> SimulatedRecords:
    """Generate ``n_pairs`` heralded pairs block by block and measure them; keep only the parties' logs."""
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < 1:
        raise InvalidParameter(f"number of pairs must be a positive integer, got {n_pairs!r}")
    rngs = {name: tree.generator(name) for name in ("link", "alice", "bob", "nature", "eve", "rounds")}
    a_settings, a_outcomes, b_settings, b_outcomes = [], [], [], []
    guesses: list[EveGuess] = []
    elapsed_ps = 0
    done = 0
    while done < n_pairs:
        # A link caps its blocks so that one block's attempt count stays inside int64 (10¹⁸ attempts).
        m = min(BLOCK_PAIRS, n_pairs - done, getattr(source, "max_pairs_per_block", BLOCK_PAIRS))
        block = source.generate(m, rng=rngs["link"])
        alice, bob, eve = measure_block(
            protocol,
            block.states,
            m,
            attack=attack,
            rng_alice=rngs["alice"],
            rng_bob=rngs["bob"],
            rng_nature=rngs["nature"],
            rng_eve=rngs["eve"],
            rng_rounds=rngs["rounds"],
        )
        elapsed_ps += block.last_herald_ps
        a_settings.append(alice.settings)
        a_outcomes.append(alice.outcomes)
        b_settings.append(bob.settings)
        b_outcomes.append(bob.outcomes)
        if eve is not None:
            guesses.append(eve)
        done += m
        if progress is not None:
            progress(done, n_pairs)
    eve_all = EveGuess.concatenate(guesses) if attack is not None else None
    return SimulatedRecords(
        alice=PartyRecord(np.concatenate(a_settings), np.concatenate(a_outcomes)),
        bob=PartyRecord(np.concatenate(b_settings), np.concatenate(b_outcomes)),
        duration_s=elapsed_ps * 1e-12,
        attacked_pairs=0 if eve_all is None else int(eve_all.attacked.sum()),
        eve=eve_all,
    )


__all__ = [
    "BLOCK_PAIRS",
    "PairBlock",
    "PairSource",
    "ProgressCallback",
    "SimulatedRecords",
    "draw_settings",
    "measure_block",
    "simulate_records",
]
