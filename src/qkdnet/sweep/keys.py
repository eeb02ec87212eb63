"""Run keys and run seeds: a run is named by the SHA-256 of its configuration's canonical JSON.

Canonical JSON sorts keys, drops whitespace and writes floats with Python's shortest round-trip ``repr``
(the same text on every platform and Python version since 3.1), so a configuration has one key
everywhere: in the process that plans a sweep, on a Dask worker, in next year's resume. A run's seed
comes from the scenario's seed and the run key through the seed tree, so every run has its own
reproducible stream and no two runs share one.

>>> canonical_json({"b": 1, "a": [0.1, None, "µ"]})
'{"a":[0.1,null,"µ"],"b":1}'
>>> run_key({"a": 1})[:16]
'015abd7f5cc57a2d'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from qkdnet.errors import InvalidParameter
from qkdnet.rng import SeedTree

#: Run seeds are drawn below 2**63 so they fit a signed 64-bit Parquet column.
SEED_BITS = 63


def canonical_json(config: Mapping[str, Any]) -> str:
    """The one JSON text of ``config``: sorted keys, no spaces, UTF-8, no NaN or infinity."""
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise InvalidParameter(f"a run configuration must be finite JSON: {exc}") from None
    except TypeError as exc:
        raise InvalidParameter(f"a run configuration must be plain JSON data: {exc}") from None


def run_key(config: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``config``: equal configurations, equal keys."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()


def run_seed(scenario_seed: int, key: str) -> int:
    """The seed of run ``key``: stream ``("sweep", key)`` of the scenario's seed tree, as a 63-bit integer."""
    state = SeedTree(scenario_seed).sequence("sweep", key).generate_state(1, np.uint64)
    return int(state[0]) >> (64 - SEED_BITS)


__all__ = ["SEED_BITS", "canonical_json", "run_key", "run_seed"]
