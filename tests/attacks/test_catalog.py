"""The named attacks: each builds, each is an Attack, strengths outside their range are refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from qkdnet.attacks import ATTACK_KINDS, Attack, EveKnowledge, make_attack
from qkdnet.errors import InvalidParameter
from qkdnet.quantum import BellDiagonal


@pytest.mark.parametrize("kind", list(ATTACK_KINDS))
def test_every_kind_is_an_attack_with_a_record(kind: str) -> None:
    top = ATTACK_KINDS[kind].max_strength
    for strength in (0.0, top / 2, top):
        attack = make_attack(kind, strength, fiber_transmission=0.5)
        assert isinstance(attack, Attack)
        hit = attack.attack(BellDiagonal.werner(0.9), 50, rng=np.random.default_rng(0))
        assert len(hit) == 50 and isinstance(hit.record, EveKnowledge)
        angles = np.zeros(50)
        bits = np.zeros(50, dtype=np.uint8)
        guess = hit.record.guesses(angles, angles, bits, bits, rng=np.random.default_rng(1))
        assert len(guess) == 50 and ((guess.confidence >= 0.5 - 1e-12) & (guess.confidence <= 1 + 1e-12)).all()
    with pytest.raises(InvalidParameter, match=kind):
        make_attack(kind, top + 0.01)
    with pytest.raises(InvalidParameter, match=kind):
        make_attack(kind, float("nan"))


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(InvalidParameter, match="intercept-resend"):
        make_attack("mitm", 0.5)
