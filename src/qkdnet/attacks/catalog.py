"""Every attack by name, with what its one strength parameter means: for the CLI, sweeps and scenario files.

The ``mitm-*`` kinds are men in the middle on the classical channel (:class:`ManInTheMiddle`); the others act on
the photons.

>>> make_attack("cloner", 0.1)
PhaseCovariantCloner(disturbance=0.1, fraction=1.0)
>>> make_attack("breidbart", 1.0, key_bases_deg=(22.5, 45.0)).bases_deg
(33.75,)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

from qkdnet.attacks.base import Attack
from qkdnet.attacks.classical import ManInTheMiddle, Manipulation
from qkdnet.attacks.cloner import PhaseCovariantCloner
from qkdnet.attacks.intercept_resend import RANDOM_BASES_DEG, InterceptResend
from qkdnet.attacks.loss import LossHiding
from qkdnet.attacks.source import SourceReplacement
from qkdnet.errors import InvalidParameter

_MITM_STRENGTH = "fraction of the classical messages she manipulates, from the first on, evenly spaced (0: she reads)"


@dataclass(frozen=True, slots=True)
class AttackKind:
    """One named attack: what it does, and what its strength means (a number in [0, ``max_strength``])."""

    name: str
    summary: str
    strength: str
    max_strength: float = 1.0
    classical: bool = False
    """True for a man in the middle on the classical channel (the photons pass untouched)."""


ATTACK_KINDS: dict[str, AttackKind] = {
    k.name: k
    for k in (
        AttackKind(
            "intercept-resend",
            "Eve measures Bob's photons in a random Z/X basis and resends what she saw",
            "fraction p of photons intercepted (Q = p/4, S = 2√2(1 − p/2))",
        ),
        AttackKind(
            "intercept-fixed",
            "intercept-resend always in one basis (--eve-angle, default 0° = Z)",
            "fraction p of photons intercepted",
        ),
        AttackKind(
            "breidbart",
            "intercept-resend in the basis halfway between the key bases (22.5° for BBM92, 33.75° for E91)",
            "fraction p of photons intercepted",
        ),
        AttackKind(
            "cloner",
            "optimal entangling probe (Fuchs, Gisin, Griffiths, Niu & Peres 1997), measured after sifting",
            "disturbance D = the QBER it causes, in [0, 0.5] (Eve's information 1 − h(1/2 + √(D(1 − D))))",
            max_strength=0.5,
        ),
        AttackKind(
            "source-replacement",
            "Eve makes the pairs herself and keeps a copy of their values in a random Z/X basis",
            "Eve's knowledge 1 − c (c the pairs' concurrence): 1 = classically correlated pairs, 0 = perfect Φ+",
        ),
        AttackKind(
            "loss-hiding",
            "Eve swaps the fiber for a lossless one and takes photons that would have been lost anyway",
            "fraction of the fiber's loss budget 1 − T she takes (Bob's herald rate unchanged)",
        ),
        *(
            AttackKind(
                f"mitm-{manipulation}",
                f"a man in the middle on the classical channel who {what} messages (announcements included)",
                _MITM_STRENGTH,
                classical=True,
            )
            for manipulation, what in (
                ("alter", "rewrites"),
                ("replay", "repeats"),
                ("drop", "deletes"),
                ("reorder", "holds back and reorders"),
                ("inject", "forges and inserts"),
            )
        ),
    )
}


def make_attack(
    kind: str,
    strength: float,
    *,
    key_bases_deg: tuple[float, float] = RANDOM_BASES_DEG,
    fiber_transmission: float = 1.0,
    eve_angle_deg: float = 0.0,
) -> Attack:
    """The attack ``kind`` at ``strength``; ``key_bases_deg`` (the protocol's key bases) places Breidbart's basis,
    ``fiber_transmission`` sets the loss budget, ``eve_angle_deg`` the fixed basis of ``intercept-fixed``."""
    spec = ATTACK_KINDS.get(kind)
    if spec is None:
        raise InvalidParameter(f"unknown attack {kind!r}; expected one of: {', '.join(ATTACK_KINDS)}")
    s = float(strength)
    if not math.isfinite(s) or not 0.0 <= s <= spec.max_strength:
        raise InvalidParameter(
            f"{kind} strength must be in [0, {spec.max_strength:g}] ({spec.strength}), got {strength!r}"
        )
    match kind:
        case "intercept-resend":
            return InterceptResend(s)
        case "intercept-fixed":
            return InterceptResend.fixed(s, eve_angle_deg)
        case "breidbart":
            return InterceptResend.breidbart(s, key_bases_deg)
        case "cloner":
            return PhaseCovariantCloner(s)
        case "source-replacement":
            return SourceReplacement(s)
        case "loss-hiding":
            return LossHiding(s, fiber_transmission)
        case _:
            manipulation = cast(Manipulation, kind.removeprefix("mitm-"))
            return ManInTheMiddle(manipulation, fraction=s, limit=None)


__all__ = ["ATTACK_KINDS", "AttackKind", "make_attack"]
