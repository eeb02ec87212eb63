"""Eavesdroppers on the fiber. Each attack keeps Eve's record so her information can be measured."""

from qkdnet.attacks.intercept_resend import RANDOM_BASES_DEG, AttackedPairs, EveRecord, InterceptResend

__all__ = ["RANDOM_BASES_DEG", "AttackedPairs", "EveRecord", "InterceptResend"]
