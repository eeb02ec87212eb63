"""The memory's plain-float paths (used once per stored qubit by the network simulator) equal its array model."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.hardware import DynamicalDecoupling, QuantumMemory

MEMORIES = [
    QuantumMemory(),
    QuantumMemory(t2_s=1e-3),
    QuantumMemory(t2_s=1e-3, decay="gaussian"),
    QuantumMemory(t2_s=1e-3, t1_s=4e-3),
    QuantumMemory(t2_s=1e-4, dynamical_decoupling=DynamicalDecoupling(5e-3, 1.5, 1e-4, 0.01)),
]


@settings(max_examples=50)
@given(st.sampled_from(MEMORIES), st.floats(0.0, 1e-2))
def test_scalar_memory_paths_match_the_array_model(memory: QuantumMemory, wait_s: float) -> None:
    expected = memory.lambdas(wait_s)
    np.testing.assert_allclose(memory.lambdas_at(wait_s), expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(memory.lambdas_function()(wait_s), expected, rtol=1e-12, atol=1e-300)
