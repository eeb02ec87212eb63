"""Intercept-resend against the closed forms, and Eve's record."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.attacks import InterceptResend
from qkdnet.errors import InvalidParameter
from qkdnet.quantum import BellDiagonal, is_density_matrix, joint_probabilities
from qkdnet.quantum import reference as ref


def test_attacked_pairs_are_the_measure_and_resend_states() -> None:
    """Each attacked pair equals an explicit projector calculation: Alice's conditional state ⊗ Eve's resent state."""
    rng = np.random.default_rng(0)
    state = BellDiagonal.werner(0.9)
    hit = InterceptResend(1.0).attack(state, 200, rng=rng)
    assert hit.attacked_index.size == 200 and hit.record.attacked.all()
    rho = state.to_density()
    for i in range(0, 200, 37):
        basis, k = hit.record.basis_deg[i], int(hit.record.outcome[i])
        proj_b = ref.projector(basis, k)
        cond = np.einsum(
            "ibjb->ij", (np.kron(np.eye(2), proj_b) @ rho @ np.kron(np.eye(2), proj_b)).reshape(2, 2, 2, 2)
        )
        cond /= np.trace(cond)
        assert np.allclose(hit.attacked_states.rho_a[i], cond)
        assert np.allclose(hit.attacked_states.rho_b[i], proj_b)
        assert is_density_matrix(hit.attacked_states.to_density()[i])


def test_eve_basis_is_random_z_or_x_and_her_outcomes_are_fair() -> None:
    n = 100_000
    hit = InterceptResend(0.5).attack(BellDiagonal.bell(), n, rng=np.random.default_rng(1))
    frac = hit.record.attacked.mean()
    assert abs(frac - 0.5) < 5 * math.sqrt(0.25 / n)
    bases = hit.record.basis_deg[hit.record.attacked]
    assert set(np.unique(bases)) == {0.0, 45.0}
    assert np.isnan(hit.record.basis_deg[~hit.record.attacked]).all()
    m = bases.size
    assert abs((bases == 0.0).mean() - 0.5) < 5 * math.sqrt(0.25 / m)
    assert abs(hit.record.outcome[hit.record.attacked].mean() - 0.5) < 5 * math.sqrt(0.25 / m)


def test_eve_knows_the_key_bit_when_she_guessed_the_basis() -> None:
    """Measuring in Alice's basis, Eve's outcome equals Alice's on a perfect Φ+ pair (exact)."""
    hit = InterceptResend(1.0).attack(BellDiagonal.bell(), 1000, rng=np.random.default_rng(2))
    for i in range(0, 1000, 97):
        p = joint_probabilities(
            type(hit.attacked_states)(hit.attacked_states.rho_a[i : i + 1], hit.attacked_states.rho_b[i : i + 1]),
            hit.record.basis_deg[i],
            hit.record.basis_deg[i],
        )[0]
        k = int(hit.record.outcome[i])
        assert p[3 * k] == pytest.approx(1.0)  # Alice and Bob both see Eve's outcome k


def test_eve_guess_follows_her_record_and_the_announced_angle() -> None:
    """Eve guesses k where cos²(a − θ_e) ≥ 1/2 and 1 − k otherwise; untouched pairs get a coin with confidence 1/2."""
    n = 20_000
    hit = InterceptResend(0.5).attack(BellDiagonal.bell(), n, rng=np.random.default_rng(4))
    rec = hit.record
    alice = np.where(np.arange(n) % 2 == 0, 0.0, 67.5)
    eve = rec.guesses(alice, alice, np.zeros(n, np.uint8), np.zeros(n, np.uint8), rng=np.random.default_rng(5))
    att = rec.attacked
    same = np.cos(np.deg2rad(alice - rec.basis_deg)) ** 2
    flip = same[att] < 0.5
    assert np.array_equal(eve.guess[att], np.where(flip, 1 - rec.outcome[att], rec.outcome[att]))
    assert np.allclose(eve.confidence[att], np.maximum(same[att], 1 - same[att]))
    assert np.array_equal(eve.attacked, att)
    assert (eve.confidence[~att] == 0.5).all()
    coin = eve.guess[~att].mean()
    assert abs(coin - 0.5) < 5 * math.sqrt(0.25 / (~att).sum())


@pytest.mark.parametrize(
    ("protocol_name", "expected"),
    [("bbm92", math.cos(math.pi / 8) ** 2), ("e91", math.cos(math.pi / 16) ** 2)],
)
def test_breidbart_gives_eve_cos2_of_half_the_basis_angle(protocol_name: str, expected: float) -> None:
    """Halfway between the key bases Eve is right on cos²(π/8) ≈ 0.854 of Z/X key bits (BBM92); E91's key bases
    are only 22.5° apart, so there it is cos²(π/16) ≈ 0.962, and the CHSH test, not the QBER, catches her."""
    from qkdnet.network import WernerSource
    from qkdnet.qkd import eve_report, get_protocol, run_key_exchange

    protocol = get_protocol(protocol_name)
    bases = (protocol.key_basis_angle_deg(0), protocol.key_basis_angle_deg(1))
    attack = InterceptResend.breidbart(0.5, bases)
    r = run_key_exchange(WernerSource(1.0, 1e6), protocol, 300_000, seed=17, attack=attack)
    hit = eve_report(r).intercepted
    assert hit.bits > 30_000
    assert abs(hit.guess_accuracy.value - expected) <= 5 * hit.guess_accuracy.stderr
    qber = 0.5 * 2 * expected * (1 - expected)  # her resent photon errs on Alice's or on Bob's side
    assert abs(r.qber - qber) <= 5 * r.qber_stderr


@pytest.mark.parametrize("angle", [0.0, 10.0, 30.0])
def test_any_fixed_angle_costs_p_over_4_on_bbm92_and_more_on_e91(angle: float) -> None:
    """Q = p·sin²(2(a − θ))/2 averaged over the key bases: p/4 for Z/X whatever θ, not so for E91's 22.5°/45°."""
    from qkdnet.network import WernerSource
    from qkdnet.qkd import BBM92, E91, run_key_exchange

    p = 0.6
    for protocol in (BBM92, E91):
        keys = [protocol.key_basis_angle_deg(b) for b in (0, 1)]
        expected = p * float(np.mean([np.sin(np.deg2rad(2 * (a - angle))) ** 2 / 2 for a in keys]))
        r = run_key_exchange(WernerSource(1.0, 1e6), protocol, 200_000, seed=8, attack=InterceptResend.fixed(p, angle))
        assert abs(r.qber - expected) <= 5 * r.qber_stderr, protocol.name


def test_bad_bases_are_refused() -> None:
    with pytest.raises(InvalidParameter, match="bases"):
        InterceptResend(0.5, ())
    with pytest.raises(InvalidParameter, match="bases"):
        InterceptResend(0.5, (float("nan"),))
