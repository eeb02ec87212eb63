"""One design point against oracles: the end-to-end rate of a swap-asap chain, the swapped state, and PLOB."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.design import evaluate_design, improve
from qkdnet.hardware import get_preset
from qkdnet.network import link_for_preset
from qkdnet.units import binary_entropy

PAIRS = 20_000
#: Memories that do not dephase on these time scales and an ideal readout at the ends: the swapped state is then
#: exactly the XOR-convolution of the two links' states.
IDEAL_MEMORY = {"memory_t2": 1e6, "readout_fidelity": 1e6}
FACTORS = IDEAL_MEMORY | {"collection_efficiency": 30.0, "conversion_efficiency": 30.0}


def _chain(**changes: object) -> dict[str, object]:
    chain: dict[str, object] = {
        "preset": "krutyanskiy2023",
        "nodes": 3,
        "length_km": 100.0,
        "pairs": PAIRS,
        "modes": 1,
        "gate_fidelity": 1.0,
        "heralding": None,
        "cutoff_s": None,
    }
    return chain | changes


@pytest.fixture(scope="module")
def point() -> dict[str, object]:
    return evaluate_design({"chain": _chain(), "factors": FACTORS}, 7)


def _link() -> object:
    return link_for_preset(improve(get_preset("krutyanskiy2023"), FACTORS).preset.with_length(50.0))


def test_end_to_end_rate_is_the_max_of_two_geometric_waits_plus_the_corrections_round(
    point: dict[str, object],
) -> None:
    """Swap-asap over two links that herald with p per round: a delivery takes E[max(G₁, G₂)] = 2/p − 1/(p(2 − p))
    rounds, and one more while the swap outcome crosses 50 km to the far end (244.8 µs, just under the 250 µs
    round), before the end's memory is free again."""
    p = _link().mode_success_probability  # type: ignore[attr-defined]
    rounds = 2.0 / p - 1.0 / (p * (2.0 - p)) + 1.0
    sigma = 1.0 / math.sqrt(PAIRS)  # the relative spread of a mean of PAIRS waits whose spread is about their mean
    assert float(point["pairs_per_use"]) * rounds == pytest.approx(1.0, abs=5 * sigma)


def test_swapped_state_is_the_xor_convolution_of_the_links_states(point: dict[str, object]) -> None:
    w = np.asarray(_link().expected_weights().weights).reshape(4)  # type: ignore[attr-defined]
    swapped = np.zeros(4)
    for i in range(4):
        for j in range(4):
            swapped[i ^ j] += w[i] * w[j]  # Bell index: bit 0 = phase flip, bit 1 = bit flip
    assert point["fidelity"] == pytest.approx(swapped[0], abs=1e-3)
    assert point["qber_z"] == pytest.approx(swapped[2] + swapped[3], abs=1e-3)
    assert point["qber_x"] == pytest.approx(swapped[1] + swapped[3], abs=1e-3)


def test_key_per_use_and_the_bound(point: dict[str, object]) -> None:
    q_z, q_x = float(point["qber_z"]), float(point["qber_x"])  # type: ignore[arg-type]
    fraction = 1.0 - binary_entropy(q_z) - binary_entropy(q_x)
    assert point["key_per_use"] == pytest.approx(float(point["pairs_per_use"]) * max(0.0, fraction))  # type: ignore[arg-type]
    assert point["margin"] == pytest.approx(float(point["pairs_per_use"]) * fraction / float(point["plob_per_use"]))  # type: ignore[arg-type]
    eta = 10 ** (-0.18 * 100 / 10)  # the preset's 0.18 dB/km over 100 km
    assert point["plob_per_use"] == pytest.approx(-math.log2(1 - eta), rel=1e-9)


def test_the_preset_itself_is_far_below_the_bound_and_not_simulated() -> None:
    m = evaluate_design({"chain": _chain(), "factors": {"memory_t2": 1.0}}, 1)
    assert m["simulated"] is False and m["beats_plob"] is False and m["key_per_use"] == 0.0
    assert m["link_success_per_mode"] < m["plob_per_use"] and m["margin"] < 0.0


@pytest.mark.parametrize("factors", [FACTORS, dict.fromkeys(FACTORS, 1e3), dict.fromkeys(FACTORS, 1e6)])
def test_a_direct_link_never_beats_the_repeaterless_bound(factors: dict[str, float]) -> None:
    """PLOB is a theorem for any protocol over the bare channel: two nodes with one link of the whole length
    cannot beat it, however good the hardware."""
    m = evaluate_design({"chain": _chain(nodes=2, pairs=2000), "factors": factors}, 3)
    assert m["beats_plob"] is False and m["link_success_per_mode"] <= m["plob_per_use"]


def test_more_modes_do_not_raise_the_key_per_use_but_shorten_the_wait() -> None:
    """N modes per round herald 1 − (1 − p)^N per round, at N uses: per use at most p, so multiplexing pays
    through shorter memory waits (and the rate per second), never per channel use."""
    one = evaluate_design({"chain": _chain(pairs=4000), "factors": FACTORS}, 5)
    many = evaluate_design({"chain": _chain(pairs=4000, modes=10), "factors": FACTORS}, 5)
    assert many["pair_rate_hz"] > 5 * one["pair_rate_hz"]  # type: ignore[operator]
    assert many["pairs_per_use"] <= one["pairs_per_use"] * (1 + 5 / math.sqrt(4000))  # type: ignore[operator]
