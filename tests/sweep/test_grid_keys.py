"""--vary parsing, the grid, canonical JSON, run keys and run seeds."""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.sweep import canonical_json, grid, parse_vary, run_key, run_seed
from qkdnet.sweep.grid import Axis, merge_axes


def test_range_includes_both_ends() -> None:
    axis = parse_vary("link.length_km=1:100:20")
    assert axis.field == "link.length_km"
    assert len(axis.values) == 20
    assert axis.values[0] == 1.0 and axis.values[-1] == 100.0
    step = 99.0 / 19.0
    assert all(math.isclose(b - a, step) for a, b in zip(axis.values, axis.values[1:], strict=False))


def test_log_range_is_geometric() -> None:
    values = parse_vary("memory.storage_s=1e-6:1e-2:5:log").values
    assert values == pytest.approx([10.0**e for e in (-6, -5, -4, -3, -2)], rel=1e-9)


def test_comma_lists_read_scalars() -> None:
    assert parse_vary("eve.strength=0,0.1,0.2").values == (0.0, 0.1, 0.2)  # ints become floats beside floats
    assert parse_vary("key.pairs=1000,2000").values == (1000, 2000)
    assert parse_vary("eve.kind=cloner,intercept-resend").values == ("cloner", "intercept-resend")
    assert parse_vary("policies.cutoff_s=none,1e-3").values == (None, 1e-3)
    assert parse_vary("link.preset=zhang2022").values == ("zhang2022",)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("link.length_km", "expected FIELD=VALUES"),
        ("=1:2:3", "expected a field name"),
        ("link.length_km=", "no values"),
        ("link.length_km=1:100", "start:stop:count"),
        ("link.length_km=1:100:x", "count must be a whole number"),
        ("link.length_km=1:100:0", "at least 1"),
        ("link.length_km=a:100:3", "start must be a number"),
        ("link.length_km=0:100:3:log", "log range needs start and stop > 0"),
        ("link.length_km=1:100:3:lin", "can only be 'log'"),
        ("link.length_km=1,,2", "empty item"),
        ("link.length_km=inf:2:3", "finite"),
    ],
)
def test_malformed_vary_is_one_line(spec: str, words: str) -> None:
    with pytest.raises(InvalidParameter, match=words) as info:
        parse_vary(spec)
    assert "\n" not in str(info.value)


def test_grid_is_the_cartesian_product_last_axis_fastest() -> None:
    axes = [Axis("a", (1, 2)), Axis("b", ("x", "y", "z"))]
    points = list(grid(axes))
    assert len(points) == 6
    assert points[:3] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"}]


def test_a_later_vary_of_the_same_field_wins() -> None:
    axes = merge_axes([parse_vary("a=1,2"), parse_vary("b=3"), parse_vary("a=5")])
    assert [(a.field, a.values) for a in axes] == [("b", (3,)), ("a", (5,))]


def test_canonical_json_is_the_hand_written_text() -> None:
    config = {"z": [1, 2.5, None], "a": {"µ": True, "b": 1e-7}, "m": "text"}
    expected = '{"a":{"b":1e-07,"µ":true},"m":"text","z":[1,2.5,null]}'
    assert canonical_json(config) == expected
    assert run_key(config) == hashlib.sha256(expected.encode("utf-8")).hexdigest()


def test_nan_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="finite"):
        run_key({"x": math.nan})


#: A configuration and its key, from `printf '%s' '{"eve":{"strength":0.1},"links":[{"length_km":0.06}],"seed":2012}'
#: | sha256sum`: it must never change, or old tables would stop resuming.
GOLDEN = (
    {"seed": 2012, "links": [{"length_km": 0.06}], "eve": {"strength": 0.1}},
    "9cce952dc045a2153fd20808cc983182f27f01f4d8cf80ff4c3b9bad2613c3c6",
)


def test_keys_are_stable_across_processes_and_hash_seeds() -> None:
    config, prefix = GOLDEN
    assert run_key(config) == prefix
    code = "import sys; from qkdnet.sweep import run_key; print(run_key(eval(sys.argv[1])))"
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code, repr(config)], capture_output=True, text=True, check=True, env=env
        )
        assert out.stdout.strip() == run_key(config)


def test_run_seeds_are_reproducible_and_distinct() -> None:
    keys = [run_key({"i": i}) for i in range(2000)]
    seeds = [run_seed(2012, k) for k in keys]
    assert seeds == [run_seed(2012, k) for k in keys]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2**63 for s in seeds)
    assert run_seed(2013, keys[0]) != seeds[0]
    # independent streams: the first draws of neighbouring runs are uncorrelated (|r| < 5σ, σ = 1/√n)
    first = np.array([np.random.default_rng(s).random() for s in seeds])
    r = np.corrcoef(first[:-1], first[1:])[0, 1]
    assert abs(r) < 5 / math.sqrt(len(first))
