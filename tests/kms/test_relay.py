"""The relay hop message (one-time pad, Poly1305 tag keyed by link key) and the choice of next hop."""

from __future__ import annotations

import base64
import os
import uuid

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.kms.relay import (
    HopMessage,
    RelayRefused,
    check_shape,
    check_tag,
    kms_graph,
    next_hops,
    open_keys,
    seal,
)

SIZE = 32  # bytes per key


def _message(number: int = 3, **update: object) -> HopMessage:
    fields: dict[str, object] = {
        "relay_id": str(uuid.uuid4()),
        "origin": "KME_a",
        "destination": "KME_c",
        "master_sae": "SAE_a",
        "slave_sae": "SAE_c",
        "key_ids": [str(uuid.uuid4()) for _ in range(number)],
        "size": 8 * SIZE,
        "path": ["KME_a", "KME_b"],
        "pad_ids": [str(uuid.uuid4()) for _ in range(number)],
        "pad_positions": [(4, i * SIZE, SIZE) for i in range(number)],
        "tag_key_id": str(uuid.uuid4()),
        "tag_key_position": (4, 4096, 32),
        "budget_ms": 5000,
    }
    fields.update(update)
    return HopMessage.model_validate(fields)


def test_a_later_hop_carries_keys_xor_pads_and_opens_to_the_same_keys() -> None:
    keys = [os.urandom(SIZE) for _ in range(3)]
    pads = [os.urandom(SIZE) for _ in range(3)]
    tag_key = os.urandom(32)
    sealed = seal(_message(), pads=pads, tag_key=tag_key, keys=keys)
    check_shape(sealed)
    check_tag(sealed, tag_key)
    cipher = base64.b64decode(sealed.ciphertext or "")
    assert cipher == bytes(a ^ b for a, b in zip(b"".join(keys), b"".join(pads), strict=True))
    assert all(k not in cipher for k in keys)  # the key itself never travels
    assert open_keys(sealed, pads) == keys


def test_a_first_hop_carries_no_key_material_the_pads_are_the_keys() -> None:
    pads = [os.urandom(SIZE) for _ in range(2)]
    tag_key = os.urandom(32)
    sealed = seal(_message(2), pads=pads, tag_key=tag_key, keys=None)
    assert sealed.ciphertext is None
    assert all(p.hex() not in sealed.model_dump_json() for p in pads)
    check_tag(sealed, tag_key)
    assert open_keys(sealed, pads) == pads


_FIELDS = st.sampled_from(["origin", "destination", "master_sae", "slave_sae", "size", "path", "budget_ms", "cipher"])


@settings(max_examples=60, deadline=None)
@given(field=_FIELDS, seed=st.integers(0, 2**32 - 1))
def test_any_altered_field_fails_the_tag(field: str, seed: int) -> None:
    """Whatever Eve changes in a hop message, the receiver's tag check refuses it."""
    keys = [os.urandom(SIZE) for _ in range(3)]
    pads = [os.urandom(SIZE) for _ in range(3)]
    tag_key = os.urandom(32)
    sealed = seal(_message(), pads=pads, tag_key=tag_key, keys=keys)
    changes: dict[str, object] = {
        "origin": "KME_x",
        "destination": "KME_d",
        "master_sae": "SAE_x",
        "slave_sae": "SAE_x",
        "size": 8 * SIZE + 8,
        "path": ["KME_a", "KME_x"],
        "budget_ms": sealed.budget_ms + 1 + seed % 1000,
    }
    if field == "cipher":
        raw = bytearray(base64.b64decode(sealed.ciphertext or ""))
        raw[seed % len(raw)] ^= 1 << (seed % 8)
        altered = sealed.model_copy(update={"ciphertext": base64.b64encode(bytes(raw)).decode()})
    else:
        altered = sealed.model_copy(update={field: changes[field]})
    with pytest.raises(RelayRefused, match="tag does not check"):
        check_tag(altered, tag_key)


def test_a_tag_under_another_key_is_refused() -> None:
    sealed = seal(_message(), pads=[os.urandom(SIZE)] * 3, tag_key=os.urandom(32), keys=[os.urandom(SIZE)] * 3)
    with pytest.raises(RelayRefused):
        check_tag(sealed, os.urandom(32))
    with pytest.raises(RelayRefused):
        check_tag(sealed.model_copy(update={"tag": "not base64!"}), os.urandom(32))


def test_inconsistent_messages_are_refused_before_any_key_is_touched() -> None:
    with pytest.raises(RelayRefused, match="repeat"):
        check_shape(_message(key_ids=[str(uuid.UUID(int=1))] * 3))
    with pytest.raises(RelayRefused, match="loops"):
        check_shape(_message(path=["KME_a", "KME_b", "KME_a"]))
    with pytest.raises(RelayRefused, match="origin"):
        check_shape(_message(path=["KME_b"]))
    with pytest.raises(RelayRefused, match="tag key"):
        check_shape(_message(tag_key_position=(4, 0, 16)))


def test_pads_that_do_not_match_the_ciphertext_are_refused() -> None:
    pads = [os.urandom(SIZE) for _ in range(3)]
    sealed = seal(_message(), pads=pads, tag_key=os.urandom(32), keys=[os.urandom(SIZE) for _ in range(3)])
    with pytest.raises(RelayRefused, match="ciphertext"):
        open_keys(sealed, pads[:2])


# ----------------------------------------------------------------------------------------------- routes
METRO5 = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("e", "a"), ("b", "d")]


def test_fewest_hops_first_and_dry_links_skipped() -> None:
    graph = kms_graph(METRO5)
    full = dict.fromkeys("abcde", 10_000)
    assert next_hops(graph, here="a", destination="c", visited=[], available_bytes=full, needed_bytes=64) == ["b", "e"]
    dry_b = {**full, "b": 10}
    assert next_hops(graph, here="a", destination="c", visited=[], available_bytes=dry_b, needed_bytes=64) == ["e"]
    # From b, c is one hop; d is two; a is the way back and was visited.
    assert next_hops(graph, here="b", destination="c", visited=["a"], available_bytes=full, needed_bytes=64) == [
        "c",
        "d",
    ]


def test_available_key_policy_prefers_the_fuller_link_and_failing_neighbours_go_last() -> None:
    graph = kms_graph(METRO5)
    levels = {"b": 1_000, "e": 50_000}
    args = {"here": "a", "destination": "c", "visited": [], "available_bytes": levels, "needed_bytes": 64}
    assert next_hops(graph, **args, policy="hops") == ["b", "e"]
    assert next_hops(graph, **args, policy="available-key") == ["e", "b"]
    assert next_hops(graph, **args, policy="hops", failing=["b"]) == ["e", "b"]


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(3, 9),
    p=st.floats(0.2, 0.9),
    seed=st.integers(0, 10_000),
    levels=st.lists(st.integers(0, 200), min_size=9, max_size=9),
)
def test_a_chosen_hop_is_never_visited_always_has_key_and_reaches_the_destination(
    n: int, p: float, seed: int, levels: list[int]
) -> None:
    """Against networkx's own path search: every hop offered has a loop-free way on, and none is missed."""
    graph = nx.gnp_random_graph(n, p, seed=seed)
    here, destination = 0, n - 1
    visited = [v for v in range(1, n - 1) if (seed >> v) & 1]
    available = {v: levels[v] for v in graph.nodes}
    hops = next_hops(
        graph, here=here, destination=destination, visited=visited, available_bytes=available, needed_bytes=100
    )
    allowed = graph.subgraph(v for v in graph.nodes if v not in visited)
    expected = {
        v
        for v in graph.neighbors(here)
        if v not in visited
        and available[v] >= 100
        and nx.has_path(allowed.subgraph(set(allowed.nodes) - {here}), v, destination)
    }
    assert set(hops) == expected
    assert len(hops) == len(set(hops))
