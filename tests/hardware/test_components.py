"""Fiber, detector and atom-cavity node: formulas checked against independent arithmetic, and validation."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import AtomCavityNode, Detector, Fiber, werner_visibility

C_M_PER_S = 299_792_458.0  # exact, SI definition


@pytest.mark.parametrize(
    ("length_km", "alpha", "n_g"),
    [(0.0, 0.2, 1.468), (0.06, 3.5, 1.468), (10.0, 0.2, 1.468), (100.0, 0.16, 1.47), (33.0, 0.3, 1.0)],
)
def test_fiber_transmission_and_delay_match_textbook_formulas(length_km: float, alpha: float, n_g: float) -> None:
    fiber = Fiber(length_km=length_km, attenuation_db_per_km=alpha, group_index=n_g)
    assert fiber.transmission == pytest.approx(10 ** (-alpha * length_km / 10), rel=1e-12)
    expected_delay_s = length_km * 1000.0 * n_g / C_M_PER_S
    assert fiber.delay_s == pytest.approx(expected_delay_s, rel=1e-12)
    assert isinstance(fiber.delay_ps, int)
    assert abs(fiber.delay_ps - expected_delay_s * 1e12) <= 0.5
    assert fiber.loss_db == pytest.approx(alpha * length_km)


def test_fiber_known_values() -> None:
    # 1 km of standard fiber: ≈ 4.897 µs; 100 km at 0.2 dB/km: 20 dB → 1 %.
    assert Fiber(1.0, 0.2).delay_ps == 4_896_721
    assert Fiber(100.0, 0.2).transmission == pytest.approx(0.01, rel=1e-12)
    assert Fiber(0.0, 5.0).transmission == 1.0
    assert Fiber(0.0, 5.0).delay_ps == 0


def test_fiber_with_length_keeps_type() -> None:
    fiber = Fiber(0.7, 3.5, 1.47).with_length(0.06)
    assert (fiber.length_km, fiber.attenuation_db_per_km, fiber.group_index) == (0.06, 3.5, 1.47)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"length_km": -1.0, "attenuation_db_per_km": 0.2}, "Fiber.length_km"),
        ({"length_km": math.inf, "attenuation_db_per_km": 0.2}, "Fiber.length_km"),
        ({"length_km": math.nan, "attenuation_db_per_km": 0.2}, "Fiber.length_km"),
        ({"length_km": 1.0, "attenuation_db_per_km": -0.1}, "Fiber.attenuation_db_per_km"),
        ({"length_km": 1.0, "attenuation_db_per_km": math.nan}, "Fiber.attenuation_db_per_km"),
        ({"length_km": 1.0, "attenuation_db_per_km": 0.2, "group_index": 0.9}, "Fiber.group_index"),
        ({"length_km": 1.0, "attenuation_db_per_km": 0.2, "group_index": math.inf}, "Fiber.group_index"),
        ({"length_km": "1", "attenuation_db_per_km": 0.2}, "Fiber.length_km"),
        ({"length_km": True, "attenuation_db_per_km": 0.2}, "Fiber.length_km"),
    ],
)
def test_fiber_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidParameter, match=re.escape(field)):
        Fiber(**kwargs)  # type: ignore[arg-type]


def test_detector_click_probability() -> None:
    d = Detector(efficiency=0.6, dark_count_probability=1e-3)
    assert d.click_probability(0.0) == pytest.approx(1e-3)
    assert d.click_probability(1.0) == pytest.approx(1 - 0.4 * (1 - 1e-3))
    assert Detector(1.0).click_probability(1.0) == 1.0


def test_detector_from_dark_count_rate_is_poisson() -> None:
    d = Detector.from_dark_count_rate(0.7, dark_count_rate_hz=50.0, window_s=2e-6)
    assert d.dark_count_probability == pytest.approx(1 - math.exp(-1e-4), rel=1e-12)
    assert Detector.from_dark_count_rate(0.7, dark_count_rate_hz=0.0, window_s=1.0).dark_count_probability == 0.0
    with pytest.raises(InvalidParameter, match="dark_count_rate_hz"):
        Detector.from_dark_count_rate(0.7, dark_count_rate_hz=-1.0, window_s=1.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"efficiency": 1.1}, "Detector.efficiency"),
        ({"efficiency": -0.1}, "Detector.efficiency"),
        ({"efficiency": math.nan}, "Detector.efficiency"),
        ({"efficiency": 0.5, "dark_count_probability": 2.0}, "Detector.dark_count_probability"),
        ({"efficiency": 0.5, "dark_count_probability": -1e-9}, "Detector.dark_count_probability"),
    ],
)
def test_detector_validation_names_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidParameter, match=re.escape(field)):
        Detector(**kwargs)


def test_werner_visibility_inverts_fidelity() -> None:
    for f in (0.25, 0.5, 0.85, 0.923, 1.0):
        v = werner_visibility(f)
        assert (1 + 3 * v) / 4 == pytest.approx(f)
    with pytest.raises(InvalidParameter):
        werner_visibility(0.2)


def test_node_coherence_and_dephasing() -> None:
    node = AtomCavityNode("A", photon_generation_efficiency=0.5, atom_photon_fidelity=0.9, t2_s=100e-6)
    waits = np.array([0.0, 50e-6, 100e-6, 1.0])
    np.testing.assert_allclose(node.coherence(waits), np.exp(-waits / 100e-6))
    np.testing.assert_allclose(node.dephasing_probability(waits), (1 - np.exp(-waits / 100e-6)) / 2)
    assert node.dephasing_probability(1.0) == pytest.approx(0.5)
    perfect = AtomCavityNode.perfect("P")
    assert perfect.t2_s == math.inf
    np.testing.assert_array_equal(perfect.dephasing_probability([0.0, 1e9]), [0.0, 0.0])
    assert perfect.atom_photon_visibility == 1.0
    assert perfect.photon_absorption_visibility == 1.0
    with pytest.raises(InvalidParameter, match="waiting times"):
        node.coherence(-1.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "AtomCavityNode.name"),
        ({"photon_generation_efficiency": 1.5}, "AtomCavityNode.photon_generation_efficiency"),
        ({"photon_absorption_efficiency": -0.5}, "AtomCavityNode.photon_absorption_efficiency"),
        ({"atom_photon_fidelity": 0.2}, "AtomCavityNode.atom_photon_fidelity"),
        ({"atom_photon_fidelity": 1.01}, "AtomCavityNode.atom_photon_fidelity"),
        ({"photon_absorption_fidelity": math.nan}, "AtomCavityNode.photon_absorption_fidelity"),
        ({"t2_s": 0.0}, "AtomCavityNode.t2_s"),
        ({"t2_s": -1.0}, "AtomCavityNode.t2_s"),
        ({"t2_s": math.nan}, "AtomCavityNode.t2_s"),
    ],
)
def test_node_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    base: dict[str, object] = {
        "name": "A",
        "photon_generation_efficiency": 0.5,
        "atom_photon_fidelity": 0.9,
        "t2_s": 1e-4,
    }
    base.update(kwargs)
    with pytest.raises(InvalidParameter, match=re.escape(field)):
        AtomCavityNode(**base)  # type: ignore[arg-type]


def test_components_are_frozen() -> None:
    fiber = Fiber(1.0, 0.2)
    with pytest.raises(AttributeError):
        fiber.length_km = 2.0  # type: ignore[misc]
