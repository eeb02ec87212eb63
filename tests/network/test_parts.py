"""The simulator's parts: λ arithmetic against the Bell-diagonal maps, herald draws, ledgers, key targets."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qkdnet.hardware import AtomCavityNode, Fiber
from qkdnet.network import IdealLink, LinkLedger, Network, Request, _pauli, simulate
from qkdnet.network._draws import HeraldDraws
from qkdnet.network._sampling import HeraldClass
from qkdnet.network._session import key_bits_array, key_bits_estimate
from qkdnet.quantum import BellDiagonal, bell_convolve, swap
from qkdnet.units import binary_entropy

weights = st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4).filter(lambda w: sum(w) > 1e-3)


def _normalised(w: list[float]) -> np.ndarray:
    a = np.array(w)
    return a / a.sum()


@given(weights, weights)
def test_swap_is_a_product_of_lambdas(a: list[float], b: list[float]) -> None:
    wa, wb = _normalised(a), _normalised(b)
    lam = _pauli.times(_pauli.lam_of_weights(wa.tolist()), _pauli.lam_of_weights(wb.tolist()))
    oracle = bell_convolve(BellDiagonal(wa), BellDiagonal(wb)).weights
    np.testing.assert_allclose(_pauli.weights_of_lam(lam), oracle, atol=1e-12)


@given(weights, st.floats(0.25, 1.0))
def test_bell_measurement_lambda_matches_swap(a: list[float], f: float) -> None:
    wa = _normalised(a)
    lam = _pauli.times(_pauli.lam_of_weights(wa.tolist()), _pauli.bell_measurement_lam(f))
    oracle = swap(BellDiagonal(wa), BellDiagonal.bell(), measurement_fidelity=f).weights
    np.testing.assert_allclose(_pauli.weights_of_lam(lam), oracle, atol=1e-12)


def test_herald_draws_are_geometric_with_their_classes() -> None:
    classes = [HeraldClass(0.03, np.array([1.0, 0, 0, 0]), True), HeraldClass(0.01, np.full(4, 0.25), False)]
    draws = HeraldDraws(classes, period_ps=7, rng=np.random.default_rng(1))
    n = 50_000
    extra, kind = zip(*(draws.next() for _ in range(n)), strict=True)
    attempts = np.array(extra) / 7 + 1
    p = 0.04
    assert abs(attempts.mean() - 1 / p) < 5 * math.sqrt((1 - p) / p**2 / n)
    share = np.mean(np.array(kind) == 1)
    assert abs(share - 0.25) < 5 * math.sqrt(0.25 * 0.75 / n)


def test_link_ledger_busy_time_is_the_union_of_intervals() -> None:
    rng = np.random.default_rng(2)
    ledger = LinkLedger("x")
    covered = np.zeros(10_000, dtype=bool)
    for _ in range(200):
        a = int(rng.integers(0, 9_900))
        b = a + int(rng.integers(1, 100))
        ledger.attempted(a, b)
        covered[a:b] = True
    assert ledger.busy_ps() == int(covered.sum())


def test_key_estimate_is_shor_preskill() -> None:
    assert key_bits_estimate(1000, 0.02, 0.03) == 500 * (1 - binary_entropy(0.02) - binary_entropy(0.03))
    assert key_bits_estimate(1000, 0.2, 0.2) == 0.0
    np.testing.assert_allclose(
        key_bits_array(np.array([1000]), np.array([0.02]), np.array([0.03])), key_bits_estimate(1000, 0.02, 0.03)
    )


def test_key_requests_stop_once_the_key_is_there() -> None:
    v = 0.96
    link = IdealLink(herald_probability=0.4, visibility=v, attempt_rate_hz=1e6, fiber=Fiber(0.0, 0.2))
    for n_nodes in (2, 3):  # the single-link bulk path and the event path
        net = Network.chain(n_nodes, link, AtomCavityNode.perfect("p"))
        q = (1 - v ** (n_nodes - 1)) / 2  # a Werner pair's error in both bases
        out = simulate(net, [Request(("n0", f"n{n_nodes - 1}"), key_bits=500)], seed=1).outcomes[0]
        n = out.delivered
        assert key_bits_estimate(n, q, q) >= 500 > key_bits_estimate(n - 1, q, q)
