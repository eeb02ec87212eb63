"""Closed forms for validation: waiting for links (against event simulations) and stored-pair decay."""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.engine import Environment
from qkdnet.errors import InvalidParameter
from qkdnet.quantum import BellDiagonal, apply_local_channel, dephase, dephasing_kraus, dephasing_probability
from qkdnet.quantum.closed_forms import (
    expected_max_geometric,
    expected_max_geometric_mixed,
    stored_pair,
    werner_fidelity_after_wait,
)
from qkdnet.units import PS_PER_S

Gen = Generator[Any, Any, Any]


def _brute_force_expected_max(ps: list[float], terms: int = 20_000) -> float:
    """Σ_{k≥0} P(max > k), summed term by term (an independent route to the same number)."""
    k = np.arange(terms)[:, None]
    q = 1.0 - np.asarray(ps)[None, :]
    return float(np.sum(1.0 - np.prod(1.0 - q**k, axis=1)))


def test_two_links_formula_from_the_issue() -> None:
    for p in (1.0, 0.5, 0.1, 1e-3):
        assert expected_max_geometric(p) == pytest.approx(2 / p - 1 / (1 - (1 - p) ** 2), rel=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("p", [0.9, 0.3, 0.05])
def test_identical_links_match_the_term_by_term_sum(n: int, p: float) -> None:
    assert expected_max_geometric(p, n) == pytest.approx(_brute_force_expected_max([p] * n), rel=1e-9)


def test_one_link_is_the_geometric_mean() -> None:
    assert expected_max_geometric(0.2, 1) == pytest.approx(5.0)


@settings(deadline=None)  # exact sums over up to 2^6 subsets: slow on a loaded machine, not wrong
@given(st.lists(st.floats(0.05, 1.0), min_size=1, max_size=6))
def test_mixed_links_match_the_term_by_term_sum(ps: list[float]) -> None:
    assert expected_max_geometric_mixed(ps) == pytest.approx(_brute_force_expected_max(ps), rel=1e-9)


def test_mixed_links_reduce_to_identical_ones_and_to_the_two_link_formula() -> None:
    assert expected_max_geometric_mixed([0.3] * 4) == pytest.approx(expected_max_geometric(0.3, 4), rel=1e-12)
    p1, p2 = 0.4, 0.15
    by_hand = 1 / p1 + 1 / p2 - 1 / (1 - (1 - p1) * (1 - p2))
    assert expected_max_geometric_mixed([p1, p2]) == pytest.approx(by_hand, rel=1e-12)


def _two_link_swaps(
    p: float, attempt_ps: int, trials: int, *, rng: np.random.Generator, per_attempt: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Event simulation: two links start together, a swap fires when both have a pair (deterministic swap).

    Returns the delivery times (ps) and, for the geometric version, the attempts each trial drew.
    """
    env = Environment()
    deliveries: list[int] = []
    attempts: list[int] = []

    def link_geometric(n_attempts: int) -> Gen:
        yield n_attempts * attempt_ps

    def link_per_attempt() -> Gen:
        while True:
            yield attempt_ps
            if rng.random() < p:
                return env.now

    def experiment() -> Gen:
        for _ in range(trials):
            start = env.now
            if per_attempt:
                links = [env.process(link_per_attempt()), env.process(link_per_attempt())]
            else:
                draws = rng.geometric(p, size=2)
                attempts.append(int(draws.max()))
                links = [env.process(link_geometric(int(d))) for d in draws]
            yield env.all_of(links)
            deliveries.append(env.now - start)

    env.run(until=env.process(experiment()))
    return np.asarray(deliveries), np.asarray(attempts)


@pytest.mark.parametrize("per_attempt", [True, False], ids=["attempt-by-attempt", "geometric-draws"])
def test_two_link_swap_delivery_time_matches_the_expected_maximum(per_attempt: bool) -> None:
    p, attempt_ps = (0.2, 1_000_000) if per_attempt else (0.01, 10_000_000)
    trials = 4_000 if per_attempt else 20_000
    times, attempts = _two_link_swaps(p, attempt_ps, trials, rng=np.random.default_rng(42), per_attempt=per_attempt)
    expected = attempt_ps * expected_max_geometric(p)
    sigma = times.std(ddof=1) / math.sqrt(trials)
    assert abs(times.mean() - expected) < 5 * sigma
    assert np.all(times % attempt_ps == 0)  # integer time: deliveries fall exactly on attempt boundaries
    if not per_attempt:
        assert np.array_equal(times, attempts * attempt_ps)  # each delivery is exactly max(X, Y) attempts


@given(st.floats(0.0, 1.0), st.floats(0.0, 1e-3), st.floats(1e-6, 1e-2))
def test_stored_werner_pair_matches_its_fidelity_formula(v: float, wait_s: float, t2_s: float) -> None:
    pair = BellDiagonal.werner(v)
    f0 = float(pair.fidelity)
    out = stored_pair(pair, wait_s=wait_s, t2_s=t2_s)
    assert float(out.fidelity) == pytest.approx(
        float(werner_fidelity_after_wait(f0, wait_s=wait_s, t2_s=t2_s)), abs=1e-12
    )


def test_stored_pair_matches_two_dephasing_channels_on_bell_weights_and_on_density_matrices() -> None:
    rng = np.random.default_rng(4)
    w = rng.random((6, 4))
    pairs = BellDiagonal(w / w.sum(axis=1, keepdims=True))
    wait_s, t2_a, t2_b = rng.random(6) * 2e-4, 1e-4, 3e-4
    got = stored_pair(pairs, wait_s=wait_s, t2_s=(t2_a, t2_b))
    via_pauli = dephase(dephase(pairs, dephasing_probability(wait_s, t2_a)), dephasing_probability(wait_s, t2_b))
    assert np.allclose(got.weights, via_pauli.weights, atol=1e-12)
    rho = apply_local_channel(pairs.to_density(), dephasing_kraus(dephasing_probability(wait_s, t2_a)), target=0)
    rho = apply_local_channel(rho, dephasing_kraus(dephasing_probability(wait_s, t2_b)), target=1)
    assert np.allclose(got.to_density(), rho, atol=1e-12)


def test_stored_pair_edges() -> None:
    pair = BellDiagonal.bell()
    assert np.allclose(stored_pair(pair, wait_s=0.0, t2_s=1e-4).weights, [1, 0, 0, 0])
    assert np.allclose(stored_pair(pair, wait_s=1.0, t2_s=math.inf).weights, [1, 0, 0, 0])
    assert np.allclose(stored_pair(pair, wait_s=1e3, t2_s=1e-4).weights, [0.5, 0.5, 0, 0])
    # one memory: the Ritter et al. 2012 style estimate F(t) = (1 + e^(−t/T2))/2 for a Bell pair
    f = werner_fidelity_after_wait(1.0, wait_s=1e-4, t2_s=1e-4, memories=1)
    assert float(f) == pytest.approx((1 + math.exp(-1)) / 2)


def test_a_pair_stored_in_simulated_time_decays_by_the_exact_elapsed_wait() -> None:
    """A memory process stores a pair at its herald time; the reader applies the decay for the elapsed ps."""
    env = Environment()
    t2_s = 1e-4
    herald_ps, read_ps = 3_141_593, 103_141_593  # read exactly 100 µs later
    read: list[float] = []

    def memory() -> Gen:
        yield herald_ps
        stored_at = env.now
        yield read_ps - herald_ps
        wait_s = (env.now - stored_at) / PS_PER_S
        read.append(float(stored_pair(BellDiagonal.werner(0.9), wait_s=wait_s, t2_s=t2_s).fidelity))

    env.process(memory())
    env.run()
    expected = werner_fidelity_after_wait((1 + 3 * 0.9) / 4, wait_s=100e-6, t2_s=t2_s)
    assert read == [pytest.approx(float(expected), abs=1e-15)]


def test_bad_inputs_are_named() -> None:
    with pytest.raises(InvalidParameter, match=r"p must be a success probability in \(0, 1\], got 0"):
        expected_max_geometric(0)
    with pytest.raises(InvalidParameter, match="n must be a positive number of links"):
        expected_max_geometric(0.5, 0)
    with pytest.raises(InvalidParameter, match=r"probabilities\[1\] must be a success probability"):
        expected_max_geometric_mixed([0.5, 1.5])
    with pytest.raises(InvalidParameter, match="at most 20 distinct links"):
        expected_max_geometric_mixed([0.5] * 21)
    with pytest.raises(InvalidParameter, match="at least one link"):
        expected_max_geometric_mixed([])
    with pytest.raises(InvalidParameter, match="wait_s"):
        stored_pair(BellDiagonal.bell(), wait_s=-1.0, t2_s=1.0)
    with pytest.raises(InvalidParameter, match="t2_s"):
        stored_pair(BellDiagonal.bell(), wait_s=1.0, t2_s=(1.0, 0.0))
    with pytest.raises(InvalidParameter, match="memories"):
        werner_fidelity_after_wait(0.9, wait_s=1.0, t2_s=1.0, memories=3)
