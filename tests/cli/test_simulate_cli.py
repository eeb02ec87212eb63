"""``qkdnet simulate``: the examples run, the JSON fields are the documented ones, errors are one line each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qkdnet.cli import main
from qkdnet.config import dump_toml, random_geometric_document
from qkdnet.report import REQUEST_FIELDS, RUN_FIELDS

EXAMPLES = Path(__file__).parents[2] / "examples"


def simulate_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["simulate", *argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert isinstance(out, dict)
    return out


@pytest.mark.parametrize("name", ["two_labs", "chain3", "metro20", "multiplexed_link"])
def test_examples_run_with_the_documented_fields(capsys: pytest.CaptureFixture[str], name: str) -> None:
    out = simulate_json(capsys, str(EXAMPLES / f"{name}.toml"))
    assert tuple(out) == RUN_FIELDS
    requests = out["requests"]
    assert isinstance(requests, list) and requests
    for r in requests:
        assert tuple(r) == REQUEST_FIELDS
    assert any(r["delivered"] > 0 for r in requests)


def test_chain3_swaps_into_end_to_end_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    out = simulate_json(capsys, str(EXAMPLES / "chain3.toml"))
    first = out["requests"][0]  # type: ignore[index]
    assert first["status"] == "completed" and first["hops"] == 2
    assert first["fidelity"]["min"] >= 0.8  # the request's target: lower pairs were discarded
    assert first["discarded"]["below_fidelity"] > 0


def test_seed_replaces_the_scenarios_seed_and_repeats_exactly(capsys: pytest.CaptureFixture[str]) -> None:
    chain = str(EXAMPLES / "chain3.toml")
    own, a, b = (simulate_json(capsys, chain, *extra) for extra in ([], ["--seed", "5"], ["--seed", "5"]))
    assert (own["seed"], a["seed"]) == (3, 5)
    assert a == {**b, "wall_s": a["wall_s"]}
    assert own["requests"][0]["finished_s"] != a["requests"][0]["finished_s"]  # type: ignore[index]


def test_a_generated_network_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = random_geometric_document(60, n_requests=40, side_km=20.0, radius_km=4.0, preset="vanleent2022", seed=5)
    doc["defaults"]["request"]["deadline_s"] = 60.0
    path = tmp_path / "rgg.toml"
    path.write_text(dump_toml(doc))
    out = simulate_json(capsys, str(path))
    assert len(out["requests"]) == 40  # type: ignore[arg-type]
    assert sum(out["counts"].values()) == 40  # type: ignore[union-attr]


def test_bad_requests_are_reported_and_the_rest_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (EXAMPLES / "two_labs.toml").read_text()
    text = text.replace(
        "[policies]",
        """[nodes.carol]
preset = "ritter2012"
memories = 0

[nodes.dave]
preset = "ritter2012"
memories = 1

[[requests]]
name = "to an island"
endpoints = ["alice", "dave"]
pairs = 1

[[requests]]
name = "to a node without memories"
endpoints = ["alice", "carol"]
pairs = 1

[[requests]]
name = "round in circles"
endpoints = ["alice", "bob"]
pairs = 1
route = ["alice", "bob", "alice", "bob"]

[policies]""",
    )
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = simulate_json(capsys, str(path))
    skipped = {s["name"]: s["reason"] for s in out["skipped"]}  # type: ignore[union-attr]
    assert "no chain of links joins 'alice' and 'dave'" in skipped["to an island"]
    assert "no memories" in skipped["to a node without memories"]
    assert "cycle" in skipped["round in circles"]
    assert out["counts"]["completed"] == 2  # type: ignore[index]
    assert main(["simulate", str(path)]) == 0
    text_out = capsys.readouterr().out
    assert "not served" in text_out and "round in circles" in text_out


def test_human_report_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(EXAMPLES / "two_labs.toml"), "--plot", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "two labs" in out and "busiest links" in out
    assert {p.name for p in tmp_path.iterdir()} == {"network_run.png", "network_run.caption.txt"}


def test_missing_or_invalid_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read the file" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = 1\n[nodes.a]\npreset = 'nope'\n")
    assert main(["simulate", str(bad)]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
