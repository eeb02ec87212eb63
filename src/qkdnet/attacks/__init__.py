"""Eavesdroppers on the fiber and on the classical channel. Each attack keeps Eve's record so her information
can be measured.

Any object with ``attack(states, n_pairs, *, rng) -> AttackedPairs`` is an :class:`Attack` and can be passed
to a key run; its record turns into Eve's per-pair guesses (:class:`EveGuess`) once the bases are announced.
:class:`ManInTheMiddle` also intercepts the classical messages (alters, replays, drops, reorders, injects).
"""

from qkdnet.attacks.base import Attack, AttackedPairs, EveGuess, EveKnowledge
from qkdnet.attacks.catalog import ATTACK_KINDS, AttackKind, make_attack
from qkdnet.attacks.classical import MANIPULATIONS, ManInTheMiddle, Manipulation
from qkdnet.attacks.cloner import PhaseCovariantCloner, ProbeRecord, fggnp_information
from qkdnet.attacks.intercept_resend import RANDOM_BASES_DEG, EveRecord, InterceptResend
from qkdnet.attacks.loss import LossHiding, LossRecord
from qkdnet.attacks.source import SourceRecord, SourceReplacement

__all__ = [
    "ATTACK_KINDS",
    "MANIPULATIONS",
    "RANDOM_BASES_DEG",
    "Attack",
    "AttackKind",
    "AttackedPairs",
    "EveGuess",
    "EveKnowledge",
    "EveRecord",
    "InterceptResend",
    "LossHiding",
    "LossRecord",
    "ManInTheMiddle",
    "Manipulation",
    "PhaseCovariantCloner",
    "ProbeRecord",
    "SourceRecord",
    "SourceReplacement",
    "fggnp_information",
    "make_attack",
]
