"""Sweep plans (fields, aliases, runners, errors) and the runners against independent formulas."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from qkdnet.cli.main import main
from qkdnet.config import ConfigError
from qkdnet.errors import InvalidParameter
from qkdnet.sweep import canonical_field, get_runner, list_fields, plan_sweep, read_document
from qkdnet.units import binary_entropy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TWO_LABS = EXAMPLES / "two_labs.toml"


def test_alias_resolves_to_the_canonical_address() -> None:
    plan = plan_sweep(TWO_LABS, ["link.length_km=0.03:1:4"])
    assert plan.runner == "link"
    assert plan.varied_fields == ("links[0].length_km",)
    lengths = [p.config["links"][0]["length_km"] for p in plan.points()]
    assert lengths == pytest.approx([0.03, 0.3533333333, 0.6766666667, 1.0])


def test_unknown_field_names_the_nearest_valid_ones() -> None:
    with pytest.raises(InvalidParameter) as info:
        plan_sweep(TWO_LABS, ["link.lenght_km=1,2"])
    message = str(info.value)
    assert "link.lenght_km" in message and "link.length_km" in message and "\n" not in message


def test_link_alias_needs_one_link() -> None:
    with pytest.raises(InvalidParameter, match=r"exactly one link.*links\[i\]\.length_km"):
        plan_sweep(EXAMPLES / "chain3.toml", ["link.length_km=1,2"], runner="null")


def test_eve_fields_choose_the_key_runner_and_other_runners_refuse_them() -> None:
    assert plan_sweep(TWO_LABS, ["eve.strength=0,0.1"]).runner == "key"
    with pytest.raises(InvalidParameter, match="does not read"):
        plan_sweep(TWO_LABS, ["eve.strength=0,0.1"], runner="link")


def test_every_point_is_validated_before_anything_runs() -> None:
    with pytest.raises(ConfigError, match=r"links\[0\]\.length_km=-1.*expected a number > 0"):
        plan = plan_sweep(TWO_LABS, ["link.length_km=1,-1"])
        list(plan.points())


def test_integer_fields_take_integral_range_values() -> None:
    plan = plan_sweep(TWO_LABS, ["key.pairs=1e4:3e4:3"])
    assert [p.config["key"]["pairs"] for p in plan.points()] == [10_000, 20_000, 30_000]


def test_keys_change_with_every_field_and_only_then() -> None:
    a = list(plan_sweep(TWO_LABS, ["link.length_km=1,2"]).points())
    b = list(plan_sweep(TWO_LABS, ["link.length_km=2,1"]).points())
    assert {p.run_id for p in a} == {p.run_id for p in b}
    c = list(plan_sweep(TWO_LABS, ["link.length_km=1,2", "memory.storage_s=1e-6"]).points())
    assert not {p.run_id for p in a} & {p.run_id for p in c}


def test_list_fields_shows_scenario_fields_runner_tables_and_aliases() -> None:
    fields = {f: (v, note) for f, v, note in list_fields(read_document(TWO_LABS), "key")}
    assert fields["links[0].length_km"][0] == 0.06
    assert fields["link.length_km"][1] == "= links[0].length_km"
    assert "eve.strength" in fields and "key.pairs" in fields
    assert "nodes.alice.position_km" not in fields  # arrays are not fields


def test_list_fields_without_a_runner_adds_every_runner_that_applies() -> None:
    """The default runner of a one-link scenario is ``link``; ``key.*`` and ``eve.*`` are listed too, noted with
    the runner they select; a network of two links lists only what the network runner reads."""
    fields = {f: note for f, _, note in list_fields(read_document(TWO_LABS))}
    assert fields["memory.storage_s"] == ""
    for field in ("key.pairs", "key.protocol", "key.visibility", "eve.kind", "eve.strength", "eve.angle_deg"):
        assert fields[field] == "selects the 'key' runner", field
    chain = {f for f, _, _ in list_fields(read_document(TWO_LABS.parent / "chain3.toml"))}
    assert not any(f.split(".")[0] in ("key", "eve", "memory") for f in chain)


def test_canonical_field_accepts_canonical_names() -> None:
    config = next(plan_sweep(TWO_LABS).points()).config
    assert canonical_field("policies.cutoff_s", config) == "policies.cutoff_s"


def _config(**changes: object) -> dict[str, object]:
    plan = plan_sweep(TWO_LABS, [f"{k}={v}" for k, v in changes.items()], runner="link")
    return next(plan.points()).config


def test_link_runner_reports_what_qkdnet_link_reports(capsys: pytest.CaptureFixture[str]) -> None:
    metrics = get_runner("link").function(_config(**{"link.length_km": 0.5}), 0)
    assert main(["link", "--preset", "ritter2012", "--length-km", "0.5", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    for name in ("attempt_rate_hz", "success_probability", "pair_rate_hz", "fidelity", "qber", "chsh_s"):
        assert metrics[name] == pytest.approx(cli[name], rel=1e-12), name
    assert metrics["key_rate_bps"] == pytest.approx(cli["key_rate_bps"], rel=1e-12, abs=1e-300)


def test_link_runner_bell_figures_follow_the_closed_forms() -> None:
    m = get_runner("link").function(_config(), 0)
    q_z, q_x = m["qber_z"], m["qber_x"]
    assert isinstance(q_z, float) and isinstance(q_x, float)
    assert m["chsh_s"] == pytest.approx(2 * math.sqrt(2) * (1 - q_z - q_x))
    assert m["key_fraction"] == pytest.approx(max(0.0, 1 - binary_entropy(q_z) - binary_entropy(q_x)))
    eta = m["transmission"]
    assert isinstance(eta, float)
    assert m["plob_key_rate_bps"] == pytest.approx(-math.log2(1 - eta) * m["attempt_rate_hz"])  # type: ignore[operator]


def _dejmps(w: np.ndarray) -> tuple[float, np.ndarray]:
    """One DEJMPS round, as Deutsch et al. (PRL 77, 2818 (1996)) write it with (A, B, C, D) = (Φ+, Ψ−, Ψ+, Φ−)."""
    a, b, c, d = w[0], w[3], w[2], w[1]
    n = (a + b) ** 2 + (c + d) ** 2
    new = {"A": (a * a + b * b) / n, "B": 2 * c * d / n, "C": (c * c + d * d) / n, "D": 2 * a * b / n}
    return n, np.array([new["A"], new["D"], new["C"], new["B"]])


def test_purification_rounds_follow_deutsch_et_al() -> None:
    run = get_runner("link").function
    base = run(_config(), 0)
    one = run(_config(**{"policies.purification_rounds": 1}), 0)
    two = run(_config(**{"policies.purification_rounds": 2}), 0)
    q_z, q_x, f = base["qber_z"], base["qber_x"], base["fidelity"]
    assert isinstance(q_z, float) and isinstance(q_x, float) and isinstance(f, float)
    w3 = q_z + q_x - (1 - f)  # Ψ− counts in both error rates, and the weights sum to 1
    w = np.array([f, q_x - w3, q_z - w3, w3])
    p1, w1 = _dejmps(w)
    p2, w2 = _dejmps(w1)
    assert one["fidelity"] == pytest.approx(w1[0], rel=1e-9)
    assert two["fidelity"] == pytest.approx(w2[0], rel=1e-9)
    assert one["pair_rate_hz"] == pytest.approx(base["pair_rate_hz"] * p1 / 2, rel=1e-9)  # type: ignore[operator]
    assert two["pair_rate_hz"] == pytest.approx(base["pair_rate_hz"] * p1 * p2 / 4, rel=1e-9)  # type: ignore[operator]


def test_storage_lowers_fidelity_monotonically_towards_no_entanglement() -> None:
    run = get_runner("link").function
    f = [run(_config(**{"memory.storage_s": t}), 0)["fidelity"] for t in (0.0, 1e-5, 1e-4, 1e-3, 1e-1)]
    assert all(a > b for a, b in itertools.pairwise(f))  # type: ignore[operator]
    # After 0.1 s (≫ T2 ≈ 100 µs) no entanglement is left (F ≤ 1/2), and F never falls below the fully mixed 1/4.
    assert 0.25 <= f[-1] <= 0.5  # type: ignore[operator]


def test_key_runner_intercept_resend_gives_a_quarter_of_errors() -> None:
    plan = plan_sweep(
        TWO_LABS, ["key.visibility=1.0", "key.pairs=20000", "eve.strength=1.0", "eve.kind=intercept-resend"]
    )
    point = next(plan.points())
    m = get_runner("key").function(point.config, point.seed)
    # Intercept-resend on every photon in a random Z/X basis: Q = 1/4 (Bennett, Brassard & Ekert 1992).
    sigma = math.sqrt(0.25 * 0.75 / int(m["sample_bits"] or 1))  # type: ignore[arg-type]
    assert m["qber"] == pytest.approx(0.25, abs=5 * sigma)
    assert m["secure"] is False


def test_a_sweep_file_builds_on_its_scenario_and_varies_its_own_fields(tmp_path: Path) -> None:
    plan = plan_sweep(EXAMPLES / "sweeps" / "two_labs_attack.toml")
    assert plan.runner == "key" and plan.size == 22
    point = next(plan.points())
    assert point.config["name"] == "two labs" and point.config["key"]["protocol"] == "e91"
    extra = plan_sweep(EXAMPLES / "sweeps" / "two_labs_attack.toml", ["eve.strength=0.5"])
    assert extra.size == 2  # a --vary replaces the file's axis of the same field
    bad = tmp_path / "bad.toml"
    bad.write_text('[sweep]\nscenario = "nowhere.toml"\n')
    with pytest.raises(ConfigError, match=r"nowhere\.toml: cannot read the file"):
        plan_sweep(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text(f'[sweep]\nscenario = "{TWO_LABS}"\n[key]\npairz = 5\n')
    with pytest.raises(ConfigError, match=r"did you mean key\.pairs"):
        plan_sweep(typo)


def test_single_link_runners_refuse_a_network_up_front() -> None:
    with pytest.raises(InvalidParameter, match="exactly one link, this one has 2"):
        plan_sweep(EXAMPLES / "chain3.toml", ["policies.cutoff_s=1e-3,1e-2"], runner="link")


def test_network_runner_reports_what_qkdnet_simulate_reports(capsys: pytest.CaptureFixture[str]) -> None:
    point = next(plan_sweep(TWO_LABS, runner="network").points())
    metrics = get_runner("network").function(point.config, 2012)  # the scenario's own seed, as simulate uses
    assert main(["simulate", str(TWO_LABS), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    requests = report["requests"]
    assert metrics["delivered"] == sum(r["delivered"] for r in requests)
    assert metrics["requests_completed"] == report["counts"]["completed"]
    for i, r in enumerate(requests):
        assert metrics[f"request{i}_delivered"] == r["delivered"]
        assert metrics[f"request{i}_fidelity"] == pytest.approx(r["fidelity"]["mean"])
    rates = json.loads(str(metrics["link_rates_hz"]))
    assert rates == pytest.approx([link["heralds"] / report["simulated_s"] for link in report["links"]])


def test_a_network_scenario_sweeps_on_the_network_runner() -> None:
    plan = plan_sweep(EXAMPLES / "chain3.toml", ["policies.cutoff_s=none,1e-2"])
    assert plan.runner == "network" and plan.size == 2
    seeds = {p.seed for p in plan.points()}
    assert len(seeds) == 2  # each run its own stream


def test_link_modes_sweep_though_the_scenario_leaves_them_out() -> None:
    # modes is absent from two_labs.toml (so its fingerprint is the old one), yet --vary can set it.
    assert ("link.modes", 1, "= links[0].modes") in list_fields(read_document(TWO_LABS), "link")
    plan = plan_sweep(TWO_LABS, ["link.modes=1,4,16"])
    assert plan.varied_fields == ("links[0].modes",)
    points = list(plan.points())
    plain = next(iter(plan_sweep(TWO_LABS, ["link.length_km=0.06"]).points()))
    assert points[0].run_id == plain.run_id  # modes = 1 is the scenario as it was: the same run
    runner = get_runner("link").function
    rates = [runner(p.config, p.seed)["pair_rate_hz"] for p in points]
    p = get_runner("link").function(plain.config, plain.seed)["success_probability"]
    for modes, rate in zip((4, 16), rates[1:], strict=True):
        assert rate / rates[0] == pytest.approx((1.0 - (1.0 - p) ** modes) / p, rel=1e-9)
    with pytest.raises(ConfigError, match=r"links\[0\]\.modes: expected a number >= 1, got 0"):
        list(plan_sweep(TWO_LABS, ["link.modes=0"]).points())
