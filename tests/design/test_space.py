"""Improvement factors: k = 1 is the preset, a probability p becomes p^(1/k), a time or rate k-fold, modes whole."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkdnet.design import PARAMETERS, baseline_values, improve, total_improvement
from qkdnet.errors import InvalidParameter
from qkdnet.hardware import get_preset

PRESET = get_preset("krutyanskiy2023")


def test_factor_one_is_the_preset_itself() -> None:
    base = baseline_values(PRESET, modes=1, gate_fidelity=0.99)
    hardware = improve(PRESET, dict.fromkeys(PARAMETERS, 1.0), modes=1, gate_fidelity=0.99)
    assert baseline_values(hardware.preset, modes=hardware.modes, gate_fidelity=hardware.gate_fidelity) == base
    assert hardware.preset.emitter == PRESET.emitter and hardware.preset.receiver == PRESET.receiver


def test_each_parameter_lands_on_its_own_number() -> None:
    hw = improve(PRESET, {"memory_t2": 10.0, "collection_efficiency": 2.0, "conversion_efficiency": 4.0}, modes=3)
    assert hw.preset.emitter.t2_s == pytest.approx(10 * PRESET.emitter.t2_s)
    assert hw.preset.receiver.t2_s == pytest.approx(10 * PRESET.receiver.t2_s)
    assert hw.preset.emitter.photon_generation_efficiency == pytest.approx(math.sqrt(0.46))
    assert PRESET.converter is not None and hw.preset.converter is not None
    assert hw.preset.converter.efficiency == pytest.approx(0.3**0.25)
    assert hw.preset.detector == PRESET.detector and hw.modes == 3
    more = improve(PRESET, {"modes": 2.5, "attempt_rate": 3.0, "gate_fidelity": 2.0}, modes=2, gate_fidelity=0.81)
    assert (more.modes, more.gate_fidelity) == (5, pytest.approx(0.9))
    assert more.preset.attempt_rate_hz == pytest.approx(3 * PRESET.attempt_rate_hz)


@given(p=st.floats(0.001, 0.999), k1=st.floats(1.0, 1e4), k2=st.floats(1.0, 1e4))
def test_a_probability_only_gets_better(p: float, k1: float, k2: float) -> None:
    rule = PARAMETERS["collection_efficiency"]
    lo, hi = sorted((k1, k2))
    assert p <= rule.improved(p, lo) <= rule.improved(p, hi) <= 1.0
    # the error shrinks the same way whatever the size: ln p / k
    assert math.log(rule.improved(p, hi)) == pytest.approx(math.log(p) / hi, rel=1e-9)


@given(st.dictionaries(st.sampled_from(list(PARAMETERS)), st.floats(1.0, 1e6), min_size=1))
def test_total_improvement_adds_decades(factors: dict[str, float]) -> None:
    assert total_improvement(factors) == pytest.approx(sum(math.log10(k) for k in factors.values()))
    assert total_improvement(factors) >= 0.0


def test_bad_factors_and_names_are_refused() -> None:
    with pytest.raises(InvalidParameter, match=r"unknown design parameter.*memory_t3"):
        improve(PRESET, {"memory_t3": 2.0})
    with pytest.raises(InvalidParameter, match=">= 1"):
        improve(PRESET, {"memory_t2": 0.5})
    without = next(get_preset(n) for n in ("ritter2012", "nadlinger2022") if get_preset(n).converter is None)
    with pytest.raises(InvalidParameter, match="no frequency converter"):
        improve(without, {"conversion_efficiency": 2.0})
