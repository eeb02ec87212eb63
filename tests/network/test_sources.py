"""WernerSource: ideal pairs on a regular clock, with a link's generate() interface."""

from __future__ import annotations

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.network import WernerSource


def test_werner_source_blocks() -> None:
    source = WernerSource(visibility=0.8, pair_rate_hz=2e6)
    block = source.generate(4, rng=np.random.default_rng(0))
    assert len(block) == 4
    np.testing.assert_array_equal(block.herald_times_ps, [500_000, 1_000_000, 1_500_000, 2_000_000])
    np.testing.assert_allclose(block.states.weights, [0.85, 0.05, 0.05, 0.05])
    assert source.expected_fidelity == pytest.approx(0.85)
    assert len(source.generate(0, rng=np.random.default_rng(0))) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"visibility": 1.2, "pair_rate_hz": 1.0},
        {"visibility": 0.5, "pair_rate_hz": 0.0},
        {"visibility": 0.5, "pair_rate_hz": float("inf")},
    ],
)
def test_werner_source_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidParameter, match="WernerSource"):
        WernerSource(**kwargs)


def test_werner_source_rejects_bad_counts() -> None:
    with pytest.raises(InvalidParameter, match="n_pairs"):
        WernerSource(0.5, 1.0).generate(-1, rng=np.random.default_rng(0))
