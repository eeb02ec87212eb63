"""RepeaterChainSource: end-to-end pairs of a chain, checked against closed forms of swapping and waiting.

With memories that never decohere and perfect readout, a swapped pair's Bell weights are the XOR-convolution
of the two links' weights as the simulator delivers them over one link (Pauli errors compose; the order
(Φ+, Φ−, Ψ+, Ψ−) is the Pauli frame (x, z) as 2x + z), and a repeater with one memory per link delivers
when the slower of its two links has heralded: for links heralding at rate r, the mean time between
end-to-end pairs is E[max(T1, T2)] = 1.5/r for exponential waits.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import get_preset
from qkdnet.network import Network, NetworkLink, NetworkNode, Request, link_for_preset, simulate
from qkdnet.network.repeater_source import RepeaterChainSource

PRESET = "nadlinger2022"


def _chain(t2_s: float) -> tuple[Network, NetworkLink]:
    preset = get_preset(PRESET).with_length(0.004)
    hardware = dataclasses.replace(preset.emitter, t2_s=t2_s, readout_fidelity=1.0)  # readout: once per end
    link = link_for_preset(dataclasses.replace(preset, emitter=hardware, receiver=hardware))
    nodes = [NetworkNode("a", 1, hardware), NetworkNode("r", 2, hardware), NetworkNode("b", 1, hardware)]
    links = [NetworkLink("a", "r", link, name="a-r"), NetworkLink("r", "b", link, name="r-b")]
    return Network(nodes, links), links[0]


def _xor_convolution(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.array([sum(first[i] * second[i ^ k] for i in range(4)) for k in range(4)])


def test_without_decoherence_a_swapped_pair_is_the_pauli_convolution_of_its_links() -> None:
    network, _ = _chain(math.inf)
    block = RepeaterChainSource(network, ("a", "r", "b")).generate(20_000, rng=np.random.default_rng(5))
    assert len(block) == 20_000 and np.all(np.diff(block.herald_times_ps) > 0)
    one_hop = simulate(network, [Request(("a", "r"), pairs=2_000)], seed=5).outcomes[0]  # the link's own pairs
    per_link = one_hop.states.weights.mean(axis=0)
    expected = _xor_convolution(per_link, per_link)
    weights = block.states.weights
    spread = one_hop.states.weights.std(axis=0) / math.sqrt(2_000) + weights.std(axis=0) / math.sqrt(len(weights))
    margin = 5 * spread + 1e-12
    assert np.all(np.abs(weights.mean(axis=0) - expected) <= margin)
    assert expected[0] < per_link[0]  # swapping costs fidelity: the check can tell the two apart


def test_end_to_end_pairs_arrive_when_the_slower_link_has_heralded() -> None:
    network, link = _chain(math.inf)
    n = 20_000
    block = RepeaterChainSource(network, ("a", "r", "b")).generate(n, rng=np.random.default_rng(6))
    rate = link.physics.expected_pair_rate_hz
    mean_interval_s = block.last_herald_ps / 1e12 / n
    sd = math.sqrt(1.25 / n) / rate  # var(max of two exponentials) = 1.25 / r²
    assert abs(mean_interval_s - 1.5 / rate) < 5 * sd + 0.01 / rate


def test_memories_that_dephase_while_waiting_raise_the_x_error_of_the_end_to_end_pair() -> None:
    rng = np.random.default_rng(7)
    ideal = RepeaterChainSource(_chain(math.inf)[0], ("a", "r", "b")).generate(5_000, rng=rng)
    ions = RepeaterChainSource(_chain(0.01)[0], ("a", "r", "b")).generate(5_000, rng=rng)
    assert ions.states.weights.mean(axis=0)[0] < ideal.states.weights.mean(axis=0)[0] - 0.05


def test_a_chain_needs_a_repeater_that_can_swap() -> None:
    network, _ = _chain(math.inf)
    with pytest.raises(InvalidParameter):
        RepeaterChainSource(network, ("a", "b"))
    with pytest.raises(InvalidParameter):
        RepeaterChainSource(network, ("a", "r", "a"))
    with pytest.raises(InvalidParameter, match="n_pairs"):
        RepeaterChainSource(network, ("a", "r", "b")).generate(0, rng=np.random.default_rng(0))
