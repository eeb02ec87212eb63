"""Eavesdroppers on the fiber and on the classical channel. Each attack keeps Eve's record so her information
can be measured.

Any object with ``attack(states, n_pairs, *, rng) -> AttackedPairs`` is an :class:`Attack` and can be passed
to a key run; its record turns into Eve's per-pair guesses (:class:`EveGuess`) once the bases are announced.
:class:`ManInTheMiddle` also intercepts the classical messages (alters, replays, drops, reorders, injects).

Each name is imported on first use (PEP 562 ``__getattr__``): a key run that needs only :class:`Attack` and
:class:`EveGuess` does not load the classical-channel attacks (and the post-processing messages they forge).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qkdnet._lazy import lazy_names

if TYPE_CHECKING:
    from qkdnet.attacks.base import Attack, AttackedPairs, EveGuess, EveKnowledge
    from qkdnet.attacks.catalog import ATTACK_KINDS, AttackKind, make_attack
    from qkdnet.attacks.classical import MANIPULATIONS, ManInTheMiddle, Manipulation
    from qkdnet.attacks.cloner import PhaseCovariantCloner, ProbeRecord, fggnp_information
    from qkdnet.attacks.intercept_resend import RANDOM_BASES_DEG, EveRecord, InterceptResend
    from qkdnet.attacks.loss import LossHiding, LossRecord
    from qkdnet.attacks.source import SourceRecord, SourceReplacement

#: Each exported name and the module that defines it.
_LAZY = {
    "Attack": "qkdnet.attacks.base",
    "AttackedPairs": "qkdnet.attacks.base",
    "EveGuess": "qkdnet.attacks.base",
    "EveKnowledge": "qkdnet.attacks.base",
    "ATTACK_KINDS": "qkdnet.attacks.catalog",
    "AttackKind": "qkdnet.attacks.catalog",
    "make_attack": "qkdnet.attacks.catalog",
    "MANIPULATIONS": "qkdnet.attacks.classical",
    "ManInTheMiddle": "qkdnet.attacks.classical",
    "Manipulation": "qkdnet.attacks.classical",
    "PhaseCovariantCloner": "qkdnet.attacks.cloner",
    "ProbeRecord": "qkdnet.attacks.cloner",
    "fggnp_information": "qkdnet.attacks.cloner",
    "RANDOM_BASES_DEG": "qkdnet.attacks.intercept_resend",
    "EveRecord": "qkdnet.attacks.intercept_resend",
    "InterceptResend": "qkdnet.attacks.intercept_resend",
    "LossHiding": "qkdnet.attacks.loss",
    "LossRecord": "qkdnet.attacks.loss",
    "SourceRecord": "qkdnet.attacks.source",
    "SourceReplacement": "qkdnet.attacks.source",
}


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

__getattr__, __dir__ = lazy_names("qkdnet.attacks", _LAZY, globals(), __all__)
