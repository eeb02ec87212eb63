"""Loss hiding: Eve takes photons that would have been lost anyway, and that buys her nothing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.attacks import LossHiding
from qkdnet.errors import InvalidParameter
from qkdnet.network import link_from_preset
from qkdnet.qkd import E91, eve_report, run_key_exchange
from qkdnet.quantum import BellDiagonal


def test_alice_and_bob_see_exactly_the_run_without_eve() -> None:
    """Harmless: every heralded pair is untouched, so the parties' records and keys are bit for bit unchanged.

    8·10⁵ pairs: this link's QBER is ≈ 6.3 %, where the finite-key bound and the authentication cost leave no
    key on 30 seeds of 2–4·10⁵ pairs, some on 5·10⁵ (28/30) and a key on all 30 from 6·10⁵ (≥ 1.3·10⁴ bits
    at 8·10⁵), so the keys compared here are real."""
    link = link_from_preset("zhang2022", length_km=0.4)
    t = link.fiber.transmission
    honest = run_key_exchange(link, E91, 800_000, seed=31)
    eve = run_key_exchange(link, E91, 800_000, seed=31, attack=LossHiding(1.0, t))
    assert np.array_equal(honest.alice_records.outcomes, eve.alice_records.outcomes)
    assert np.array_equal(honest.bob_records.outcomes, eve.bob_records.outcomes)
    assert honest.qber == eve.qber and honest.chsh_s == eve.chsh_s and honest.duration_s == eve.duration_s
    assert eve.alice_key is not None and honest.alice_key is not None
    assert np.array_equal(honest.alice_key, eve.alice_key)
    report = eve_report(eve)
    assert report.intercepted.bits == 0 and eve.observer.eve_attacked_pairs == 0
    for info in (report.sifted, report.final):
        assert info is not None and not info.beats_chance(5.0)
        assert abs(info.guess_accuracy.value - 0.5) <= 5 * 0.5 / math.sqrt(info.bits)


def test_eve_takes_her_budget_of_lost_photons() -> None:
    attack = LossHiding(0.5, 0.2)
    assert attack.photons_taken_per_herald == pytest.approx(0.5 * 0.8 / 0.2)
    assert attack.herald_rate_factor == 1.0
    n = 100_000
    record = attack.attack(BellDiagonal.werner(0.9), n, rng=np.random.default_rng(2)).record
    mean = n * attack.photons_taken_per_herald
    # lost photons before n arrivals: negative binomial (variance n(1 − T)/T²), then thinned by the budget
    var = 0.25 * n * 0.8 / 0.04 + 0.25 * n * 0.8 / 0.2
    assert abs(record.photons_taken - mean) <= 5 * math.sqrt(var)
    with pytest.raises(InvalidParameter, match="transmission"):
        LossHiding(0.5, 0.0)
    with pytest.raises(InvalidParameter, match="budget"):
        LossHiding(1.5, 0.5)
