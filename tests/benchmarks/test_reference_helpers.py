"""The reference benchmarks' statistics: rates and errors from delivery times, agreement, medians."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

HELPER = Path(__file__).resolve().parents[2] / "benchmarks" / "_reference.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_reference", HELPER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_reference"] = module
    spec.loader.exec_module(module)
    return module


ref = _load()


def test_rate_and_error_of_a_poisson_process_covers_the_true_rate() -> None:
    # 200 seeded Poisson processes of 400 arrivals at 1 kHz: the 3σ interval holds the true rate in ~99.7 % of
    # them, and the errors' scale is rate/√n; allow a few misses (binomial tail of 200 trials at p = 0.003).
    rng = np.random.default_rng(19)
    misses, errors = 0, []
    for _ in range(200):
        times = np.cumsum(rng.exponential(1e-3, 400)).tolist()
        rate, err = ref.rate_and_error(times)
        errors.append(err)
        misses += abs(rate - 1000.0) > 3 * err
    assert misses <= 4
    assert math.isclose(float(np.median(errors)), 1000.0 / math.sqrt(400), rel_tol=0.1)


def test_rate_needs_two_deliveries() -> None:
    assert all(math.isnan(x) for x in ref.rate_and_error([1.0]))


def test_mean_and_error() -> None:
    mean, err = ref.mean_and_error([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert math.isclose(err, math.sqrt(5 / 3) / 2)
    assert math.isnan(ref.mean_and_error([1.0])[1])


def test_agree_within_combined_errors_only() -> None:
    assert ref.agree((0.85, 0.0), (0.85, 0.0))
    assert not ref.agree((0.5542, 0.0), (0.5845, 0.0))
    assert ref.agree((100.0, 3.0), (110.0, 3.0))  # 10 < 3·√18 ≈ 12.7
    assert not ref.agree((100.0, 3.0), (115.0, 3.0))
    assert not ref.agree((math.nan, 0.0), (1.0, 0.0))


def test_median() -> None:
    assert ref.median([3.0, 1.0, 2.0]) == 2.0
    assert math.isnan(ref.median([]))
