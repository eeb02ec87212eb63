"""State transfer along a route (store-and-forward, teleportation) and the delivered-pair source, against formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import AtomCavityNode, Detector, Fiber, QuantumMemory
from qkdnet.network import (
    DeliveredPairs,
    IdealLink,
    Network,
    Request,
    StateTransferLink,
    simulate,
    store_and_forward,
    teleport,
)
from qkdnet.qkd import BBM92, run_key_exchange
from qkdnet.quantum import BellDiagonal


def hop(efficiency: float, fidelity: float, length_km: float = 1.0, rate_hz: float = 1e5) -> StateTransferLink:
    """A transfer hop whose heralds are all true (no dark counts) with depolarizing noise of the given fidelity."""
    sender = AtomCavityNode("s", photon_generation_efficiency=efficiency, atom_photon_fidelity=fidelity, t2_s=math.inf)
    receiver = AtomCavityNode("r", photon_generation_efficiency=1.0, atom_photon_fidelity=1.0, t2_s=math.inf)
    return StateTransferLink(sender, receiver, Fiber(length_km, 0.0), Detector(1.0), attempt_rate_hz=rate_hz)


def test_store_and_forward_multiplies_hop_visibilities() -> None:
    hops = [hop(0.5, 0.97), hop(0.8, 0.95), hop(0.9, 0.99)]
    v = [(4 * h.process_fidelity - 1) / 3 for h in hops]
    result = store_and_forward(hops, 500, rng=np.random.default_rng(1))
    np.testing.assert_allclose(result.process_fidelity, (1 + 3 * math.prod(v)) / 4, atol=1e-12)
    # First order in the errors: the product of the hops' process fidelities.
    assert abs(result.process_fidelity[0] - math.prod(h.process_fidelity for h in hops)) < 2e-3
    np.testing.assert_allclose(result.average_fidelity, (2 * result.process_fidelity + 1) / 3)


def test_store_and_forward_retries_from_the_source() -> None:
    # Hop 1 retries until it heralds; a later hop's loss restarts at the source: tries ~ Geom(p2 p3).
    hops = [hop(0.5, 1.0), hop(0.6, 1.0), hop(0.7, 1.0)]
    n = 20_000
    result = store_and_forward(hops, n, rng=np.random.default_rng(2))
    q = hops[1].efficiency * hops[2].efficiency
    sem = math.sqrt((1 - q) / q**2 / n)
    assert abs(result.tries.mean() - 1 / q) < 5 * sem
    assert np.all(np.diff(result.arrival_times_ps) > 0)


def test_store_and_forward_time_of_a_sure_transfer() -> None:
    # Certain hops: one attempt each, the qubit crosses every fiber once and is forwarded on arrival.
    hops = [hop(1.0, 1.0, length_km=2.0), hop(1.0, 1.0, length_km=3.0)]
    result = store_and_forward(hops, 3, rng=np.random.default_rng(3))
    one = Fiber(2.0, 0.0).delay_ps + Fiber(3.0, 0.0).delay_ps
    assert result.arrival_times_ps.tolist() == [one, 2 * one, 3 * one]
    assert np.all(result.tries == 1)


def test_store_and_forward_holds_in_the_last_memory() -> None:
    t2 = 1e-3
    hops = [hop(1.0, 1.0)]
    result = store_and_forward(hops, 2, rng=np.random.default_rng(4), memories=[QuantumMemory(t2_s=t2)], hold_s=t2)
    # One dephased qubit of Φ+: F = (1 + e^(−t/T2))/2.
    np.testing.assert_allclose(result.process_fidelity, (1 + math.exp(-1)) / 2)


def test_store_and_forward_needs_transfer_links() -> None:
    with pytest.raises(InvalidParameter, match="StateTransferLink"):
        store_and_forward([], 1, rng=np.random.default_rng(0))


def test_teleportation_channel_is_the_pair() -> None:
    pairs = BellDiagonal.werner(np.array([0.9, 0.6]))
    out = teleport(pairs, bell_fidelity=0.99)
    v = np.array([0.9, 0.6]) * (4 * 0.99 - 1) / 3
    np.testing.assert_allclose(out.fidelity, (1 + 3 * v) / 4, atol=1e-12)
    mem = QuantumMemory(t2_s=1e-3)
    waited = teleport(BellDiagonal.werner(1.0), receiver_memory=mem, classical_delay_ps=10**9)
    assert abs(float(waited.fidelity) - (1 + math.exp(-1)) / 2) < 1e-12


def test_teleport_over_a_swapped_pair() -> None:
    link = IdealLink(herald_probability=0.3, visibility=0.95, attempt_rate_hz=1e6, fiber=Fiber(0.0, 0.2))
    net = Network.chain(3, link, AtomCavityNode.perfect("p"))
    out = simulate(net, [Request(("n0", "n2"), pairs=10)], seed=1).outcomes[0]
    moved = teleport(out.states)
    np.testing.assert_allclose(moved.fidelity, (1 + 3 * 0.95**2) / 4, atol=1e-12)


def test_delivered_pairs_feed_the_key_pipeline() -> None:
    v = 0.98
    link = IdealLink(herald_probability=0.5, visibility=v, attempt_rate_hz=1e6, fiber=Fiber(0.0, 0.2))
    net = Network.chain(3, link, AtomCavityNode.perfect("p"))
    n = 200_000  # a finite, authenticated key at Q ≈ 2 % needs ≳ 1.5·10⁵ BBM92 pairs (ε_sec = 1e-10)
    out = simulate(net, [Request(("n0", "n2"), pairs=n)], seed=2).outcomes[0]
    result = run_key_exchange(out.pairs_source(), BBM92, n, seed=3)
    expected_qber = (1 - v * v) / 2  # Werner pair of visibility V: error (1 − V)/2 in every basis
    assert abs(result.qber - expected_qber) < 5 * result.qber_stderr
    assert result.secure and result.final_key_bits > 0
    assert result.duration_s == pytest.approx(out.served_s, rel=1e-9)


def test_delivered_pairs_hand_out_blocks_in_order() -> None:
    states = BellDiagonal.werner(np.linspace(0.5, 1.0, 5))
    source = DeliveredPairs(states, np.array([10, 20, 35, 50, 70], dtype=np.int64))
    a = source.generate(2, rng=np.random.default_rng(0))
    b = source.generate(3, rng=np.random.default_rng(0))
    assert a.herald_times_ps.tolist() == [10, 20] and b.herald_times_ps.tolist() == [15, 30, 50]
    np.testing.assert_allclose(b.states.weights, states.weights[2:])
    with pytest.raises(InvalidParameter, match="remain"):
        source.generate(1, rng=np.random.default_rng(0))
