"""Scenario files: every kind of error with its exact one-line message, defaults, generators, the examples."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import pytest

from qkdnet.config import (
    ConfigError,
    Scenario,
    dump_toml,
    link_physics,
    load_scenario,
    parse_scenario,
    random_geometric_document,
    random_geometric_scenario,
)
from qkdnet.errors import InvalidParameter
from qkdnet.hardware.presets import preset_names

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PRESETS = ", ".join(preset_names())

GOOD = """
seed = 7

[nodes.alice]
preset = "ritter2012"
memories = 1
position_km = [0.0, 0.0]

[nodes.bob]
preset = "ritter2012"
memories = 2
position_km = [0.021, 0.0]

[nodes.carol]
preset = "zhang2022"

[[links]]
endpoints = ["alice", "bob"]
length_km = 0.06
preset = "ritter2012"
heralding = "emission-absorption"

[[links]]
endpoints = ["bob", "carol"]
length_km = 10.0
preset = "zhang2022"
heralding = "two-photon"

[[requests]]
endpoints = ["alice", "carol"]
pairs = 10
min_fidelity = 0.8
deadline_s = 5.0

[policies]
cutoff_s = 1e-3
"""


def _errors(text: str, *, source: str = "s.toml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_scenario(text, source=source)
    assert str(info.value) == "\n".join(info.value.lines)
    return list(info.value.lines)


def _one_error(text: str) -> str:
    lines = _errors(text)
    assert len(lines) == 1, lines
    return lines[0]


# --- a good file ---------------------------------------------------------------------------------------------


def test_a_good_scenario_loads_with_its_defaults() -> None:
    s = parse_scenario(GOOD)
    assert s.seed == 7 and list(s.nodes) == ["alice", "bob", "carol"]
    assert s.nodes["carol"].memories == 1 and s.nodes["carol"].position_km is None
    assert s.links[1].heralding == "two-photon" and s.links[0].label == "alice-bob"
    request = s.requests[0]
    assert (request.pairs, request.key_bits, request.min_fidelity, request.deadline_s) == (10, None, 0.8, 5.0)
    assert request.label == "alice->carol"
    assert s.policies.cutoff_s == 1e-3
    assert (s.policies.purification_rounds, s.policies.purification_scheme, s.policies.routing_metric) == (
        0,
        "dejmps",
        "length",
    )
    assert s.skipped_requests == ()


def test_graph_carries_nodes_and_links() -> None:
    g = parse_scenario(GOOD).to_graph()
    assert set(g.nodes) == {"alice", "bob", "carol"} and g.nodes["bob"]["memories"] == 2
    assert g.edges["bob", "carol"]["length_km"] == 10.0 and g.edges["alice", "bob"]["index"] == 0
    assert nx.shortest_path(g, "alice", "carol", weight="length_km") == ["alice", "bob", "carol"]


def test_fingerprint_is_stable_and_tracks_content() -> None:
    assert parse_scenario(GOOD).fingerprint() == parse_scenario(GOOD).fingerprint()
    assert parse_scenario(GOOD).fingerprint() != parse_scenario(GOOD.replace("seed = 7", "seed = 8")).fingerprint()


def test_scenarios_are_frozen() -> None:
    s = parse_scenario(GOOD)
    with pytest.raises(ValueError, match="frozen"):
        s.seed = 3  # type: ignore[misc]


def test_integers_are_accepted_where_numbers_are_expected() -> None:
    s = parse_scenario(GOOD.replace("length_km = 10.0", "length_km = 10"))
    assert s.links[1].length_km == 10.0


# --- reading ---------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: cannot read the file: No such file or directory"


def test_invalid_toml_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('seed = 1\n[nodes.alice]\npreset = "ritter2012\n')
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: invalid TOML: ")
    assert "(at line 3, column" in str(info.value)


def test_load_scenario_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(GOOD.replace("memories = 2", "memories = -2"))
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: nodes.bob.memories: expected a number >= 0, got -2"


def test_config_error_is_an_invalid_parameter() -> None:
    with pytest.raises(InvalidParameter):
        parse_scenario("seed = -1\n[nodes.a]\npreset = 'ritter2012'\n")
    assert issubclass(ConfigError, ValueError)


# --- field errors, one message shape each ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('preset = "zhang2022"\n\n[[links]]', "\n[[links]]", "s.toml: nodes.carol.preset: required field is missing"),
        (
            'heralding = "two-photon"',
            'heralding = "teleport"',
            "s.toml: links[1].heralding: expected one of 'two-photon', 'single-click', 'emission-absorption' or "
            "'state-transfer', got 'teleport'",
        ),
        ("length_km = 10.0", "length_km = -1.0", "s.toml: links[1].length_km: expected a number > 0, got -1.0"),
        ("length_km = 10.0", "length_km = inf", "s.toml: links[1].length_km: expected a finite number, got inf"),
        ("length_km = 10.0", 'length_km = "10 km"', "s.toml: links[1].length_km: expected a number, got '10 km'"),
        ("length_km = 10.0", "length_km = true", "s.toml: links[1].length_km: expected a number, got True"),
        (
            "min_fidelity = 0.8",
            "min_fidelity = 1.5",
            "s.toml: requests[0].min_fidelity: expected a number <= 1, got 1.5",
        ),
        ("memories = 2", "memories = 1.5", "s.toml: nodes.bob.memories: expected an integer, got 1.5"),
        ("memories = 2", "memories = -2", "s.toml: nodes.bob.memories: expected a number >= 0, got -2"),
        (
            'preset = "zhang2022"\n\n[[links]]',
            "preset = 5\n\n[[links]]",
            "s.toml: nodes.carol.preset: expected a string, got 5",
        ),
        (
            'preset = "zhang2022"\n\n[[links]]',
            'preset = "zhang2021"\n\n[[links]]',
            f"s.toml: nodes.carol.preset: unknown preset 'zhang2021'; expected one of: {PRESETS}",
        ),
        ("cutoff_s = 1e-3", "cutoff_s = 0.0", "s.toml: policies.cutoff_s: expected a number > 0, got 0.0"),
        (
            'endpoints = ["bob", "carol"]',
            'endpoints = "bob"',
            "s.toml: links[1].endpoints: expected an array, got 'bob'",
        ),
        (
            'endpoints = ["bob", "carol"]',
            'endpoints = ["bob", "carol", "alice"]',
            "s.toml: links[1].endpoints: expected 2 items, got 3",
        ),
        ('endpoints = ["bob", "carol"]', 'endpoints = ["bob"]', "s.toml: links[1].endpoints: expected 2 items, got 1"),
        (
            "position_km = [0.0, 0.0]",
            "position_km = [0.0, nan]",
            "s.toml: nodes.alice.position_km[1]: expected a finite number, got nan",
        ),
        ("pairs = 10", "pairs = 0", "s.toml: requests[0].pairs: expected a number >= 1, got 0"),
        ("length_km = 10.0", "length_km = 10.0\nmodes = 0", "s.toml: links[1].modes: expected a number >= 1, got 0"),
        ("length_km = 10.0", "length_km = 10.0\nmodes = -4", "s.toml: links[1].modes: expected a number >= 1, got -4"),
        ("length_km = 10.0", "length_km = 10.0\nmodes = 2.5", "s.toml: links[1].modes: expected an integer, got 2.5"),
        ("length_km = 10.0", "length_km = 10.0\nmodes = 2.0", "s.toml: links[1].modes: expected an integer, got 2.0"),
        ("length_km = 10.0", "length_km = 10.0\nmodes = true", "s.toml: links[1].modes: expected an integer, got True"),
        ("length_km = 10.0", 'length_km = 10.0\nmodes = "8"', "s.toml: links[1].modes: expected an integer, got '8'"),
        ("pairs = 10", "pairs = 10\nkey_bits = 100", "s.toml: requests[0]: give exactly one of pairs or key_bits"),
        ("pairs = 10", "", "s.toml: requests[0]: give exactly one of pairs or key_bits"),
        ("seed = 7", "", "s.toml: seed: required field is missing"),
        ("seed = 7", "seed = -7", "s.toml: seed: expected a number >= 0, got -7"),
        (
            "seed = 7",
            "seed = 7\nsed = 8",
            "s.toml: sed: unknown field; did you mean 'seed'? expected one of: seed, name, description, nodes, links, "
            "requests, policies, system",
        ),
        (
            "cutoff_s = 1e-3",
            'routing_metric = "hops"',
            "s.toml: policies.routing_metric: expected one of 'length' or 'rate', got 'hops'",
        ),
        (
            "cutoff_s = 1e-3",
            'purification_scheme = "pumping"',
            "s.toml: policies.purification_scheme: expected one of 'bbpssw' or 'dejmps', got 'pumping'",
        ),
        (
            "[nodes.carol]",
            '[nodes."carol smith"]',
            "s.toml: nodes[\"carol smith\"]: invalid node name 'carol smith'; "
            "use letters, digits and _ . : @ - (not first)",
        ),
    ],
)
def test_field_errors_have_one_readable_line(old: str, new: str, expected: str) -> None:
    assert old in GOOD
    assert _one_error(GOOD.replace(old, new, 1)) == expected


def test_a_table_given_as_a_number() -> None:
    text = GOOD.replace("[policies]\ncutoff_s = 1e-3", "").replace("seed = 7", "seed = 7\npolicies = 3")
    assert _one_error(text) == "s.toml: policies: expected a table, got 3"


def test_a_misspelt_field_is_named_with_a_suggestion() -> None:
    """One line: the "did you mean" already says why the required field is missing."""
    assert _errors(GOOD.replace("length_km = 0.06", "lenght_km = 0.06")) == [
        "s.toml: links[0].lenght_km: unknown field; did you mean 'length_km'? "
        "expected one of: endpoints, length_km, preset, heralding, name, timetags, modes",
    ]


def test_unknown_fields_come_before_the_missing_ones_they_do_not_explain() -> None:
    text = GOOD.replace("length_km = 0.06", "colour = 'red'")
    errors = _errors(text)
    assert errors[0].startswith("s.toml: links[0].colour: unknown field; expected one of: endpoints, length_km")
    assert errors[1:] == ["s.toml: links[0].length_km: required field is missing"]


def test_empty_node_table() -> None:
    assert _one_error("seed = 1\nnodes = {}\n") == "s.toml: nodes: expected at least 1 entry, got 0"


def test_every_problem_is_reported_at_once() -> None:
    text = (
        GOOD.replace("memories = 2", "memories = -2")
        .replace("length_km = 10.0", "length_km = 0")
        .replace("cutoff_s = 1e-3", "cutoff_s = -1.0")
    )
    assert _errors(text) == [
        "s.toml: nodes.bob.memories: expected a number >= 0, got -2",
        "s.toml: links[1].length_km: expected a number > 0, got 0",
        "s.toml: policies.cutoff_s: expected a number > 0, got -1.0",
    ]


def test_long_inputs_are_shortened_in_messages() -> None:
    line = _one_error(GOOD.replace("cutoff_s = 1e-3", f"routing_metric = {'x' * 200!r}"))
    assert line.endswith("got '" + "x" * 56 + "...")


# --- cross-entry errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'endpoints = ["bob", "carol"]',
            'endpoints = ["bob", "dave"]',
            "s.toml: links[1].endpoints[1]: unknown node 'dave'; expected one of: alice, bob, carol",
        ),
        (
            'endpoints = ["bob", "carol"]',
            'endpoints = ["bob", "bob"]',
            "s.toml: links[1].endpoints: a link needs two different nodes, got 'bob' twice",
        ),
        (
            'endpoints = ["bob", "carol"]',
            'endpoints = ["bob", "alice"]',
            "s.toml: links[1].endpoints: duplicate link between 'bob' and 'alice' (first at links[0])",
        ),
        (
            "length_km = 0.06",
            "length_km = 0.02",
            "s.toml: links[0].length_km: 0.02 km of fiber cannot join 'alice' and 'bob', 0.021 km apart",
        ),
        (
            'endpoints = ["alice", "carol"]',
            'endpoints = ["alice", "erin"]',
            "s.toml: requests[0].endpoints[1]: unknown node 'erin'; expected one of: alice, bob, carol",
        ),
        (
            'endpoints = ["alice", "carol"]',
            'endpoints = ["alice", "alice"]',
            "s.toml: requests[0].endpoints: a request needs two different nodes, got 'alice' twice",
        ),
        (
            "pairs = 10",
            'pairs = 10\nroute = ["alice", "zed", "carol"]',
            "s.toml: requests[0].route[1]: unknown node 'zed'; expected one of: alice, bob, carol",
        ),
    ],
)
def test_reference_errors_name_the_entry(old: str, new: str, expected: str) -> None:
    assert old in GOOD
    assert _one_error(GOOD.replace(old, new, 1)) == expected


def test_unknown_node_lists_are_abbreviated_for_big_networks() -> None:
    doc = random_geometric_document(30, n_requests=1)
    doc["links"][0]["endpoints"][1] = "ghost"
    line = _one_error(dump_toml(doc))
    assert line == (
        "s.toml: links[0].endpoints[1]: unknown node 'ghost'; expected one of: n0, n1, n10, n11, n12, n13, n14, n15,"
        " ... (30 nodes)"
    )


BAD_REQUESTS = (
    GOOD
    + """
[nodes.dave]
preset = "ritter2012"

[nodes.erin]
preset = "ritter2012"
memories = 0

[[links]]
endpoints = ["carol", "erin"]
length_km = 1.0
preset = "ritter2012"
heralding = "single-click"

[[requests]]
endpoints = ["alice", "dave"]
pairs = 1

[[requests]]
endpoints = ["erin", "alice"]
key_bits = 64

[[requests]]
endpoints = ["alice", "carol"]
pairs = 1
route = ["alice", "bob", "alice", "bob", "carol"]

[[requests]]
endpoints = ["alice", "carol"]
pairs = 1
route = ["alice", "carol"]

[[requests]]
endpoints = ["alice", "carol"]
pairs = 1
route = ["bob", "carol"]

[[requests]]
endpoints = ["bob", "carol"]
pairs = 2
route = ["bob", "carol"]
"""
)

BAD_REQUEST_LINES = [
    "s.toml: requests[1].endpoints: no chain of links joins 'alice' and 'dave'",
    "s.toml: requests[2].endpoints[0]: node 'erin' has no memories (memories = 0), so it cannot hold pairs",
    "s.toml: requests[3].route: visits 'alice' twice (a cycle); a route must be a simple path",
    "s.toml: requests[4].route: no link between 'alice' and 'carol' (route[0] to route[1])",
    "s.toml: requests[5].route: must start at 'alice' and end at 'carol', got ['bob', 'carol']",
]


def test_requests_that_cannot_be_served_are_errors_by_default() -> None:
    assert _errors(BAD_REQUESTS) == BAD_REQUEST_LINES


def test_requests_that_cannot_be_served_can_be_set_aside_and_the_rest_still_loads() -> None:
    s = parse_scenario(BAD_REQUESTS, source="s.toml", skip_bad_requests=True)
    assert [r.endpoints for r in s.requests] == [("alice", "carol"), ("bob", "carol")]
    assert [k.index for k in s.skipped_requests] == [1, 2, 3, 4, 5]
    assert ["s.toml: " + k.reason for k in s.skipped_requests] == BAD_REQUEST_LINES
    assert s.skipped_requests[1].request.key_bits == 64


def test_reference_errors_are_not_skippable() -> None:
    with pytest.raises(ConfigError, match="unknown node 'dave'"):
        parse_scenario(GOOD.replace('["bob", "carol"]', '["bob", "dave"]'), skip_bad_requests=True)


# --- defaults and generators ------------------------------------------------------------------------------------

DEFAULTED = """
seed = 1

[defaults.node]
preset = "zhang2022"
memories = 3

[defaults.link]
preset = "zhang2022"
heralding = "single-click"

[defaults.request]
pairs = 5
min_fidelity = 0.6

[nodes]
a = {}
b = { memories = 1 }

[[links]]
endpoints = ["a", "b"]
length_km = 2.0

[[requests]]
endpoints = ["a", "b"]

[[requests]]
endpoints = ["b", "a"]
key_bits = 128
min_fidelity = 0.9
"""


def test_defaults_fill_in_what_entries_leave_out() -> None:
    s = parse_scenario(DEFAULTED)
    assert (s.nodes["a"].preset, s.nodes["a"].memories, s.nodes["b"].memories) == ("zhang2022", 3, 1)
    assert (s.links[0].preset, s.links[0].heralding) == ("zhang2022", "single-click")
    assert (s.requests[0].pairs, s.requests[0].min_fidelity) == (5, 0.6)
    # an entry that names its own kind of amount does not inherit the other one
    assert (s.requests[1].pairs, s.requests[1].key_bits, s.requests[1].min_fidelity) == (None, 128, 0.9)


def test_defaults_errors_name_the_defaults_table() -> None:
    assert _errors(DEFAULTED.replace('heralding = "single-click"', 'heralding = "smoke"')) == [
        "s.toml: defaults.link.heralding: expected one of 'two-photon', 'single-click', 'emission-absorption' or "
        "'state-transfer', got 'smoke'"
    ]
    assert _errors(DEFAULTED.replace("[defaults.request]", "[defaults.requests]")) == [
        "s.toml: defaults.requests: unknown field; did you mean 'request'? expected one of: node, link, request"
    ]


def test_random_geometric_network_is_connected_reproducible_and_physical() -> None:
    s = random_geometric_scenario(300, n_requests=500, side_km=50.0, radius_km=4.0, seed=5)
    g = s.to_graph()
    assert len(s.nodes) == 300 and len(s.requests) == 500 and nx.is_connected(g)
    for link in s.links:
        a, b = (s.nodes[n].position_km for n in link.endpoints)
        assert a is not None and b is not None
        assert 1.2 * math.dist(a, b) <= link.length_km <= 1.2 * math.dist(a, b) + 0.001 + 1e-9
    assert all(r.endpoints[0] != r.endpoints[1] for r in s.requests)
    assert random_geometric_scenario(300, n_requests=500, side_km=50.0, radius_km=4.0, seed=5) == s
    assert random_geometric_scenario(300, n_requests=500, side_km=50.0, radius_km=4.0, seed=6) != s


def test_sparse_random_networks_are_joined_into_one() -> None:
    s = random_geometric_scenario(50, n_requests=10, side_km=100.0, radius_km=1.0, seed=2)
    assert nx.is_connected(s.to_graph()) and len(s.links) >= 49


def test_dump_toml_round_trips() -> None:
    doc = random_geometric_document(40, n_requests=20, seed=3)
    assert parse_scenario(dump_toml(doc, header="test\n\nfile")) == parse_scenario(doc)
    assert dump_toml(doc, header="test\n\nfile").startswith("# test\n#\n# file\nseed = 3\n")


def test_dump_toml_writes_scalars_and_refuses_the_rest() -> None:
    text = dump_toml({"a": True, "b": float("inf"), "c": 'say "hi"', "d": {"odd key": [1, 2.5]}})
    assert text == 'a = true\nb = inf\nc = "say \\"hi\\""\n\n[d]\n"odd key" = [1, 2.5]\n'
    with pytest.raises(InvalidParameter, match="cannot write object values"):
        dump_toml({"x": object()})


def test_generate_table_builds_the_same_network_as_the_function() -> None:
    text = (
        'seed = 4\n[generate]\nkind = "random-geometric"\nnodes = 60\nrequests = 30\nradius_km = 9.0\n'
        "[defaults.request]\ndeadline_s = 9.0\n"
    )
    s = parse_scenario(text)
    direct = random_geometric_scenario(60, n_requests=30, radius_km=9.0, seed=4)
    assert s.nodes == direct.nodes and s.links == direct.links
    assert [r.endpoints for r in s.requests] == [r.endpoints for r in direct.requests]
    assert all(r.deadline_s == 9.0 for r in s.requests) and s.name == direct.name


def test_generate_table_errors() -> None:
    base = 'seed = 4\n[generate]\nkind = "random-geometric"\n'
    assert _errors(base + "nodes = 1\n") == ["s.toml: generate.nodes: expected a number >= 2, got 1"]
    assert _errors(base.replace('"random-geometric"', '"lattice"')) == [
        "s.toml: generate.kind: expected one of 'random-geometric', got 'lattice'"
    ]
    assert _errors(base.replace("seed = 4\n", "")) == ["s.toml: seed: required field is missing"]
    assert _errors(base.replace("seed = 4", "seed = 'x'")) == ["s.toml: seed: expected an integer >= 0, got 'x'"]
    assert _errors(base + "[nodes.a]\npreset = 'zhang2022'\n") == [
        "s.toml: generate: the generator makes the nodes and links; remove nodes"
    ]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_nodes": 1}, "n_nodes must be an integer >= 2"),
        ({"n_requests": -1}, "n_requests must be an integer >= 0"),
        ({"radius_km": 0.0}, "radius_km must be a positive length"),
        ({"fiber_factor": 0.9}, "fiber_factor must be >= 1"),
    ],
)
def test_generator_arguments_are_checked(kwargs: dict[str, float], match: str) -> None:
    args = {"n_nodes": 10, **kwargs}
    n = args.pop("n_nodes")
    with pytest.raises(InvalidParameter, match=match):
        random_geometric_document(n, **args)  # type: ignore[arg-type]


# --- the examples ---------------------------------------------------------------------------------------------------


def test_two_labs_is_the_seed_experiment() -> None:
    s = load_scenario(EXAMPLES / "two_labs.toml")
    (link,) = s.links
    assert link.length_km == 0.06 and link.preset == "ritter2012"
    a, b = (s.nodes[n].position_km for n in link.endpoints)
    assert a is not None and b is not None and math.dist(a, b) == pytest.approx(0.021)


def test_chain3_is_a_three_node_chain() -> None:
    s = load_scenario(EXAMPLES / "chain3.toml")
    g = s.to_graph()
    assert len(s.nodes) == 3 and len(s.links) == 2 and nx.is_connected(g)
    assert sorted(d for _, d in g.degree) == [1, 1, 2]  # a path: alice - repeater - bob
    assert s.nodes["repeater"].memories == 2


def test_metro20_is_a_connected_mesh_of_about_twenty_nodes() -> None:
    s = load_scenario(EXAMPLES / "metro20.toml")
    g = s.to_graph()
    assert 18 <= len(s.nodes) <= 22 and nx.is_connected(g) and nx.cycle_basis(g)
    assert any(r.route for r in s.requests) and any(r.key_bits for r in s.requests)


def test_rgg1000_is_a_thousand_nodes_and_ten_thousand_requests() -> None:
    s = load_scenario(EXAMPLES / "rgg1000.toml")
    assert len(s.nodes) == 1000 and len(s.requests) == 10_000 and s.seed == 1000
    assert nx.is_connected(s.to_graph())


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_every_example_loads_without_skipping_requests(path: Path) -> None:
    s = load_scenario(path)
    assert isinstance(s, Scenario) and s.requests and s.skipped_requests == ()


def test_link_modes_reach_the_physics_and_keep_old_fingerprints() -> None:
    plain = parse_scenario(GOOD)
    many = parse_scenario(GOOD.replace("length_km = 10.0", "length_km = 10.0\nmodes = 8", 1))
    assert [link.mode_count for link in many.links] == [1, 8]
    # modes = 1 is no multiplexing: the same scenario, the same fingerprint as leaving it out.
    assert parse_scenario(GOOD.replace("length_km = 10.0", "length_km = 10.0\nmodes = 1", 1)) == plain
    assert "modes" not in plain.model_dump()["links"][1]
    assert many.fingerprint() != plain.fingerprint()
    physics = link_physics(many.links[1])
    assert physics.modes == 8 and link_physics(plain.links[1]).modes == 1
    p = link_physics(plain.links[1]).success_probability
    assert physics.success_probability == pytest.approx(1.0 - (1.0 - p) ** 8, rel=1e-12)
    assert many.to_graph().edges[tuple(many.links[1].endpoints)]["modes"] == 8


def test_link_modes_come_from_the_defaults_table() -> None:
    s = parse_scenario(DEFAULTED.replace('heralding = "single-click"', 'heralding = "single-click"\nmodes = 4'))
    assert {link.mode_count for link in s.links} == {4}
    assert _errors(DEFAULTED.replace('heralding = "single-click"', 'heralding = "single-click"\nmodes = 0')) == [
        "s.toml: defaults.link.modes: expected a number >= 1, got 0"
    ]


def test_multiplexed_link_example_has_one_plain_and_one_multiplexed_link() -> None:
    s = load_scenario(EXAMPLES / "multiplexed_link.toml")
    assert [link.mode_count for link in s.links] == [1, 50]
    plain, many = (link_physics(link) for link in s.links)
    p = plain.success_probability
    assert many.expected_pair_rate_hz / plain.expected_pair_rate_hz == pytest.approx((1 - (1 - p) ** 50) / p, rel=1e-9)
