"""The ``[system]`` table: what the key network's processes need on top of the topology (issue 14 item 1)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from qkdnet.config import load_scenario
from qkdnet.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TWO_NODES = """seed = 1
[nodes.a]
preset = "nadlinger2022"
[nodes.b]
preset = "nadlinger2022"
[[links]]
endpoints = ["a", "b"]
length_km = 0.004
preset = "nadlinger2022"
heralding = "two-photon"
"""


def test_metro5_is_a_ring_of_five_with_a_chord_and_an_sae_on_every_node() -> None:
    s = load_scenario(EXAMPLES / "network" / "metro5.toml")
    graph = s.to_graph()
    assert sorted(graph.nodes) == ["a", "b", "c", "d", "e"]
    ring = {frozenset(p) for p in ("ab", "bc", "cd", "de", "ea")}
    assert {frozenset(e) for e in graph.edges} == ring | {frozenset("bd")}
    assert nx.cycle_basis(graph) and all(graph.degree(n) >= 2 for n in graph.nodes)
    assert s.system is not None and s.system.saes == {f"SAE_{n}": n for n in "abcde"}
    assert s.system.relay == "hops" and s.system.ports_base == 28000


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return load_scenario(path)


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('[system.saes]\nSAE_x = "x"\n', "system.saes.SAE_x: unknown node 'x'"),
        ("[system]\nports_base = 65531\n", "system.ports_base: 6 ports from 65531 run past 65535"),
        ("[system]\nports_base = 80\n", "system.ports_base"),
        ('[system]\nrelay = "shortest"\n', "system.relay"),
        ("[system]\nport_base = 28000\n", "did you mean 'ports_base'"),
        ("[links.timetags]\npair_rate = 1e6\n", "did you mean 'pair_rate_hz'"),
        ('[system]\nend_to_end = [["a", "b"]]\n', "system.end_to_end[0]: expected at least 3 entries"),
        ('[system]\nend_to_end = [["a", "b", "x"]]\n', "system.end_to_end[0]: unknown node 'x'"),
        ("[links.timetags.bob]\nclock_drift = 2.0\n", "did you mean 'clock_drift_ppm'"),
    ],
)
def test_a_bad_system_table_is_one_line_naming_the_field(tmp_path: Path, table: str, says: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, TWO_NODES + table)
    assert says in str(error.value), str(error.value)


def test_a_scenario_without_a_system_table_serialises_as_before(tmp_path: Path) -> None:
    """Its fingerprint keys sweep tables: it must not change because the field exists."""
    plain = _load(tmp_path, TWO_NODES)
    dumped = plain.model_dump()  # type: ignore[attr-defined]
    assert "system" not in dumped and "timetags" not in dumped["links"][0]
    with_system = _load(tmp_path, TWO_NODES + "[system]\n")
    assert with_system.fingerprint() != plain.fingerprint()  # type: ignore[attr-defined]


THREE_IN_A_LINE = (
    TWO_NODES
    + """[nodes.c]
preset = "nadlinger2022"
[[links]]
endpoints = ["b", "c"]
length_km = 0.004
preset = "nadlinger2022"
heralding = "two-photon"
"""
)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ('[system]\nend_to_end = [["a", "b", "c"]]\n', "system.end_to_end[0]: repeater b needs memories >= 2"),
        ('[system]\nend_to_end = [["a", "c", "b"]]\n', "must follow the scenario's links: no link a-c"),
        ('[system]\nend_to_end = [["a", "b", "a"]]\n', "visits each node once"),
    ],
)
def test_an_end_to_end_path_must_follow_links_through_repeaters_that_can_swap(
    tmp_path: Path, extra: str, says: str
) -> None:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, THREE_IN_A_LINE + extra)
    assert says in str(error.value), str(error.value)


def test_metro5_shares_key_end_to_end_between_a_and_c_through_b_with_long_lived_memories() -> None:
    s = load_scenario(EXAMPLES / "network" / "metro5.toml")
    assert s.system is not None and s.system.end_to_end == (("a", "b", "c"),)
    assert s.nodes["b"].memories == 2 and s.nodes["b"].memory_t2_s == 1.0


def test_a_node_without_memory_t2_keeps_its_fingerprint(tmp_path: Path) -> None:
    plain = _load(tmp_path, TWO_NODES)
    assert "memory_t2_s" not in plain.model_dump()["nodes"]["a"]  # type: ignore[attr-defined]
