"""One test per preset: the model's headline numbers against the published ones, within the paper's error bar
(or a tolerance stated as an estimate in the preset). The published values are written out here, so a preset
cannot drift away from its paper unnoticed. Where a preset parameter was calibrated to a headline number
(its note says "calibrated"), the comparison checks the model's arithmetic, not an independent prediction;
the report lists which is which."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from qkdnet.hardware import get_preset
from qkdnet.network import SingleClickLink, TwoNodeLink, TwoPhotonLink, link_from_preset, model_headline
from qkdnet.qkd.security import device_independent_key_fraction


def check(name: str, quantity: str, published: float, tolerance: float) -> float:
    record = get_preset(name).headline[quantity]
    assert record.value == published, f"{name}.{quantity}: preset no longer holds the published value"
    assert record.uncertainty == tolerance
    model = model_headline(name, quantity)
    assert abs(model - published) <= tolerance, f"{name}.{quantity}: model {model:.4g} vs {published} ± {tolerance}"
    return model


def test_ritter2012() -> None:
    check("ritter2012", "pair_fidelity", 0.85, 0.05)  # [U] ≈ 85 %
    check("ritter2012", "state_transfer_fidelity", 0.84, 0.05)  # [U] ≈ 84 %
    check("ritter2012", "state_transfer_efficiency", 0.002, 0.001)  # [U] ≈ 0.2 %
    link = link_from_preset("ritter2012")
    assert isinstance(link, TwoNodeLink) and link.fiber.length_km == 0.06
    # Emission/absorption through the cavity model: C > 1 and 2C/(2C+1)·κ_out/κ ≈ 0.65 per node.
    cavity = get_preset("ritter2012").emitter.cavity
    assert cavity is not None and 0.6 < cavity.emission_efficiency < 0.7


def test_nolleke2013() -> None:
    check("nolleke2013", "teleportation_fidelity", 0.880, 0.015)  # [V] (88.0 ± 1.5) %
    check("nolleke2013", "success_probability", 0.001, 0.0002)  # [V] 0.1 %
    link = link_from_preset("nolleke2013")
    assert isinstance(link, TwoPhotonLink) and link.station.max_success_probability == 0.5
    # The atoms are the ritter2012 nodes (not refitted): same atom-photon fidelity.
    assert link.node_a.atom_photon_fidelity == get_preset("ritter2012").emitter.atom_photon_fidelity


def test_hofmann2012() -> None:
    check("hofmann2012", "pair_fidelity", 0.82, 0.05)  # [U] ≈ 0.82
    rate = check("hofmann2012", "pair_rate_hz", 0.004, 0.004)  # [V2] 0.004 s⁻¹, factor-2 tolerance
    assert rate < 1.0  # "rate ≪ 1 s⁻¹" with free-space collection
    assert get_preset("hofmann2012").headline["node_separation_km"].value == 0.020


def test_vanleent2022() -> None:
    check("vanleent2022", "pair_fidelity", 0.622, 0.015)  # [V2] F = 0.622(15) at 33 km
    check("vanleent2022", "pair_rate_hz", 0.01, 0.005)  # [V2] 0.01 s⁻¹ at 33 km
    link = link_from_preset("vanleent2022")
    assert isinstance(link, TwoPhotonLink) and link.converter is not None
    assert link.converter.efficiency == 0.57 and link.converter.output_wavelength_nm == 1522.0  # [V]
    assert link.length_km == pytest.approx(33.0)
    # Shorter fiber, same hardware: more and better pairs; entanglement survives the full 33 km.
    short = link.with_length(0.7)
    assert short.expected_fidelity > link.expected_fidelity > 0.5
    assert short.expected_pair_rate_hz > 10 * link.expected_pair_rate_hz


def test_zhang2022() -> None:
    s = check("zhang2022", "chsh", 2.578, 0.075)  # [V] S = 2.578(75)
    q = check("zhang2022", "qber_x", 0.078, 0.009)  # [V] QBER 0.078(9)
    f = model_headline("zhang2022", "pair_fidelity")
    assert f >= 0.892 - 0.023  # [V] F ≥ 0.892(23): a lower bound
    # Not a Werner state: on the Werner line this QBER would allow only S = 2√2(1 − 2Q) ≈ 2.39.
    assert s > 2 * math.sqrt(2) * (1 - 2 * q) + 0.1
    # Device-independent key is possible with the model's S and key-basis QBER (Acín et al. 2007).
    assert device_independent_key_fraction(q, s) > 0.0


def test_nadlinger2022() -> None:
    rate = check("nadlinger2022", "pair_rate_hz", 52.0, 10.0)  # [V] 1.5e6 pairs in 8 h
    s = check("nadlinger2022", "chsh", 2.66, 0.02)  # [U] S ≈ 2.64–2.68
    q = check("nadlinger2022", "qber_z", 0.016, 0.002)  # [U] QBER ≈ 1.4–1.8 %
    # 1.5 million pairs take ≈ 8 hours at the model's rate.
    assert 1.5e6 / rate / 3600 == pytest.approx(8.0, rel=0.2)
    # 95,628 key bits from 1.5e6 pairs (finite-size, with test rounds) stay below the asymptotic DI bound.
    assert device_independent_key_fraction(q, s) > 95_628 / 1.5e6
    link = link_from_preset("nadlinger2022")
    n = 200_000
    pairs = link.generate(n, rng=np.random.default_rng(2022))
    sim_qber = float(np.mean(pairs.states.weights[:, 2] + pairs.states.weights[:, 3]))
    f = link.false_herald_fraction  # only the false-herald count is random (each moves Q by ≤ 1/2)
    assert sim_qber == pytest.approx(q, abs=5 * 0.5 * math.sqrt(f * (1 - f) / n) + 1e-12)


# ---- predictions and fits (issue 16) ---------------------------------------------------------------
# Every published number a preset reproduces, with the calibrated parameters (field names, both nodes) that were
# fitted to it. A row fitted with nothing is a prediction of the model; a row with fitted parameters only checks
# the arithmetic of the fit. A number used to calibrate cannot be a prediction: every calibrated parameter of a
# preset must be claimed by exactly one of its rows (test below), so a new fit cannot hide behind a "prediction".
PAPER_TABLE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ritter2012", "state_transfer_efficiency", ("photon_generation_efficiency", "photon_absorption_efficiency")),
    ("ritter2012", "pair_fidelity", ("atom_photon_fidelity",)),
    ("ritter2012", "state_transfer_fidelity", ()),
    ("nolleke2013", "success_probability", ("photon_generation_efficiency",)),
    ("nolleke2013", "teleportation_fidelity", ("two_photon_overlap",)),
    ("hofmann2012", "pair_rate_hz", ("photon_generation_efficiency",)),
    ("hofmann2012", "pair_fidelity", ()),
    ("vanleent2022", "pair_rate_hz", ("photon_generation_efficiency",)),
    ("vanleent2022", "pair_fidelity", ("dynamical_decoupling.coherence_time_s",)),
    ("zhang2022", "chsh", ("atom_photon_fidelity",)),
    ("zhang2022", "qber_x", ("two_photon_overlap",)),
    ("zhang2022", "pair_fidelity", ()),
    ("nadlinger2022", "pair_rate_hz", ("attempt_rate_hz",)),
    ("nadlinger2022", "qber_z", ("atom_photon_fidelity",)),
    ("nadlinger2022", "chsh", ()),
    ("stolk2024", "success_probability", ("photon_generation_efficiency",)),
    ("liu2024", "pair_fidelity", ("atom_photon_fidelity",)),
)
#: The issue 16 presets. Their published fidelities and rates were found only as quoted by a third-party survey
#: (github.com/DiegoAbreuSWB/intentqnet, docs/parameter_calibration.md): the stored copies of the papers give
#: their openings only. So those headline numbers are [V2] estimates, never "confirmed".
ISSUE16 = ("krutyanskiy2023", "knaut2024", "stolk2024", "liu2024")
#: Published numbers the model does not reproduce (model outside the paper's error bar), with the word of the
#: headline note that names why: the missing mechanism, or the unsourced estimate that decides it.
NOT_REPRODUCED: tuple[tuple[str, str, float, float, str], ...] = (
    ("krutyanskiy2023", "pair_fidelity", 0.72, 0.02, "atom_photon_fidelity"),  # [V2] 0.72(2); first ion's wait
    ("knaut2024", "pair_fidelity", 0.69, 0.07, "gate"),  # [V2] 0.69(7); no electron → nuclear swap in the model
    ("stolk2024", "pair_fidelity", 0.534, 0.015, "noise clicks"),  # [V2] 0.534(15); unsourced noise estimates
    ("stolk2024", "pair_rate_hz", 0.022, None, "duty cycle"),  # [V2] 0.022 s⁻¹; no error bar, off by ×2.7
)


def _field(key: str) -> str:
    return key.split(".", 1)[1]


def predictions() -> list[tuple[str, str]]:
    return [(name, q) for name, q, fitted in PAPER_TABLE if not fitted]


def fits() -> list[tuple[str, str]]:
    return [(name, q) for name, q, fitted in PAPER_TABLE if fitted]


def test_the_table_lists_every_reproduced_number_once() -> None:
    rows = [(name, q) for name, q, _ in PAPER_TABLE]
    assert len(rows) == len(set(rows))
    names = {name for name, _ in rows}
    for name in names | set(ISSUE16):
        assert sorted(q for n, q in rows if n == name) == sorted(get_preset(name).reproduces), name
    assert set(predictions()).isdisjoint(fits())


@pytest.mark.parametrize("name", sorted({row[0] for row in PAPER_TABLE} | set(ISSUE16)))
def test_every_calibrated_number_is_claimed_by_the_fit_it_was_made_for(name: str) -> None:
    calibrated = {_field(k) for k, r in get_preset(name).provenance.items() if r.calibrated}
    claimed = [f for n, _, fitted in PAPER_TABLE if n == name for f in fitted]
    assert len(claimed) == len(set(claimed)), f"{name}: a parameter is fitted to two numbers"
    assert set(claimed) == calibrated, f"{name}: calibrated {sorted(calibrated)}, claimed by fits {sorted(claimed)}"


def test_predictions_and_fits_as_the_report_prints_them() -> None:
    # The report's two lists (predictions first); every row is also checked against the paper above.
    assert predictions() == [
        ("ritter2012", "state_transfer_fidelity"),
        ("hofmann2012", "pair_fidelity"),
        ("zhang2022", "pair_fidelity"),
        ("nadlinger2022", "chsh"),
    ]
    assert len(fits()) == 13


# ---- the issue 16 presets: what they can and cannot be compared with -------------------------------
def test_stolk2024_herald_probability_fit() -> None:
    check("stolk2024", "success_probability", 7.2e-6, 1e-6)  # [V2] 7.2·10⁻⁶ per attempt, fitted


def test_liu2024_memory_pair_fidelity_fit() -> None:
    model = check("liu2024", "pair_fidelity", 0.666, 0.031)  # [V2] 0.666(31), fitted
    assert abs(model - 0.672) <= 0.032  # [V2] the other node pair's 0.672(32): which one is 12.5 km is not said


def test_new_presets_published_numbers_are_secondary_and_say_so() -> None:
    # Fidelities and rates come from the survey quoting the papers: estimates [V2] that name it; distances
    # read in the abstracts stay confirmed.
    for name in ISSUE16:
        for key, record in get_preset(name).headline.items():
            if record.kind == "confirmed":
                assert record.where.startswith("abstract"), (name, key)
            else:
                assert "third-party survey" in record.source and "[V2]" in record.note, (name, key)


@pytest.mark.parametrize(("name", "quantity", "published", "tolerance", "reason"), NOT_REPRODUCED)
def test_numbers_the_model_does_not_reproduce_say_why(
    name: str, quantity: str, published: float, tolerance: float | None, reason: str
) -> None:
    record = get_preset(name).headline[quantity]
    assert record.value == published and record.uncertainty == tolerance
    model = model_headline(name, quantity)
    # Outside the error bar (or, without one, a factor 2 off): if a fix brings it inside, move the row up.
    if tolerance is None:
        assert not 0.5 < model / published < 2.0, f"{name}.{quantity}: model {model:.4g} now near {published}"
    else:
        assert abs(model - published) > tolerance, f"{name}.{quantity}: model {model:.4g} now within the error bar"
    assert quantity not in get_preset(name).reproduces
    assert "not reproduced" in record.note.lower() and reason in record.note + _notes(name), (name, quantity)


def _notes(name: str) -> str:
    return " ".join(r.note for r in get_preset(name).provenance.values())


def test_krutyanskiy2023_two_25km_arms_and_a_gate_swap() -> None:
    p = get_preset("krutyanskiy2023")
    # The repeater node is PRL 130, 213601; PRL 130, 050803 is the group's 230 m paper (later papers' reference lists)
    assert "PRL 130, 213601 (2023)" in p.reference and "050803" not in p.reference
    assert all("050803" not in r.source for r in {**p.provenance, **p.headline}.values())
    assert p.headline["channel_length_km"].value == 50.0 and p.headline["arm_length_km"].value == 25.0  # abstract
    link = link_from_preset("krutyanskiy2023")
    assert isinstance(link, TwoPhotonLink) and link.converter is not None
    assert link.fiber_a.length_km == link.fiber_b.length_km == pytest.approx(25.0)
    assert (link.converter.input_wavelength_nm, link.converter.output_wavelength_nm) == (854.0, 1550.0)
    # Cannot reproduce the node's rate: its swap is a gate resolving all four Bell states, qkdnet's station at most
    # two, so the model's success probability is capped at half the node's (the preset's note says so).
    assert link.station.max_success_probability == 0.5
    assert "half" in p.provenance["link.resolved_bell_states"].note
    # What the model predicts from the estimates: entanglement survives the 50 km; two 25 km arms beat one 50 km.
    assert link.expected_fidelity > 0.5
    one_arm = link.with_length(25.0)
    assert one_arm.expected_pair_rate_hz > link.expected_pair_rate_hz


def test_knaut2024_serial_gates_over_the_deployed_loop() -> None:
    p = get_preset("knaut2024")
    assert p.fiber.length_km == 35.0 and p.provenance["fiber.length_km"].kind == "confirmed"
    assert p.headline["spool_fiber_km"].value == 40.0 and p.headline["telecom_wavelength_nm"].value == 1350.0
    link = link_from_preset("knaut2024")
    assert isinstance(link, TwoNodeLink)
    # One photon visits both nodes in turn: success falls with the loss of one 35 km pass, not two arms.
    t = 10 ** (-p.fiber.attenuation_db_per_km * 35.0 / 10)
    eta = p.emitter.photon_generation_efficiency * p.receiver.photon_absorption_efficiency * p.detector.efficiency
    assert link.true_herald_probability == pytest.approx(eta * t, rel=1e-6)
    # Second-long nuclear memories: the herald wait (≈ 0.3 ms) costs nothing measurable.
    assert link.expected_fidelity == pytest.approx(link.with_length(0.001).expected_fidelity, abs=1e-3)


def test_stolk2024_single_click_fidelity_is_bounded_by_the_bright_population() -> None:
    p = get_preset("stolk2024")
    link = link_from_preset("stolk2024")
    assert isinstance(link, SingleClickLink) and p.bright_population == 0.25  # [V2] α = 0.25
    # Single click: F ≤ 1 − α. Here noise clicks decide the fidelity (headline pair_fidelity is not reproduced):
    # a smaller α lowers the true heralds, not the noise, so more heralds are false and F falls too.
    assert link.expected_fidelity <= 1 - p.bright_population
    smaller = dataclasses.replace(link, bright_population=0.05)
    assert smaller.success_probability < link.success_probability
    assert smaller.false_herald_fraction > link.false_herald_fraction > 0.5
    assert p.provenance["fiber.length_km"].kind == "estimate"  # 25 km read only in the survey [V2]


def test_liu2024_nodes_12_5_km_apart() -> None:
    p = get_preset("liu2024")
    assert p.headline["node_separation_km"].value == 12.5  # abstract of the arXiv version
    assert p.fiber.length_km >= p.headline["node_separation_km"].value  # fiber cannot be shorter than the line
    link = link_from_preset("liu2024")
    assert isinstance(link, SingleClickLink)
    assert 0.5 < link.expected_fidelity <= 1 - p.bright_population
