"""Presets: every number has a source, unknown names fail helpfully, lengths can be changed."""

from __future__ import annotations

import dataclasses

import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import Preset, Sourced, get_preset, preset_names
from qkdnet.hardware import presets as presets_module


def test_preset_names() -> None:
    assert preset_names() == ("hofmann2012", "nadlinger2022", "nolleke2013", "ritter2012", "vanleent2022", "zhang2022")
    for name in preset_names():
        assert get_preset(name).name == name


def test_unknown_preset_lists_the_valid_names() -> None:
    with pytest.raises(InvalidParameter) as info:
        get_preset("ritter2021")
    message = str(info.value)
    assert "ritter2021" in message
    for name in preset_names():
        assert name in message
    with pytest.raises(InvalidParameter):
        get_preset(["not", "hashable"])  # type: ignore[arg-type]


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_number_has_a_source(name: str) -> None:
    preset = get_preset(name)
    params = preset.parameters()
    assert set(params) == set(preset.provenance)
    for key, value in params.items():
        record = preset.provenance[key]
        assert isinstance(record, Sourced)
        assert record.source.strip(), key
        assert record.value == value, key
        assert record.status in ("confirmed", "estimate")
        if not record.confirmed:
            assert record.note.strip(), f"{key}: an estimate must say why"
    for key, record in preset.headline.items():
        assert record.source.strip(), key
    assert preset.estimates == tuple(k for k, s in preset.provenance.items() if not s.confirmed)


def test_ritter2012_cites_the_seed_paper() -> None:
    preset = get_preset("ritter2012")
    assert "1202.5955" in preset.reference
    assert "Nature 484, 195 (2012)" in preset.reference
    assert preset.fiber.length_km == 0.06
    # The stored copy of the paper is its abstract only (no numbers): nothing is confirmed from its text.
    assert all(not s.confirmed for s in preset.headline.values())
    confirmed = {k for k, s in preset.provenance.items() if s.confirmed}
    assert confirmed == set()
    assert preset.emitter.cavity is not None and preset.emitter.cavity.cooperativity > 1.0


def test_zhang2022_confirmed_numbers_are_the_abstracts() -> None:
    preset = get_preset("zhang2022")
    confirmed = {k: s.value for k, s in preset.headline.items() if s.confirmed}
    assert confirmed == {
        "qber_x": 0.078,
        "chsh": 2.578,
        "pair_fidelity": 0.892,
        "secret_key_bits_per_event": 0.07,
        "node_separation_km": 0.4,
    }
    assert preset.headline["qber_x"].uncertainty == 0.009
    assert preset.headline["chsh"].uncertainty == 0.075
    assert preset.fiber.length_km == 0.7


def test_with_length_changes_only_the_fiber_length() -> None:
    original = get_preset("zhang2022")
    moved = original.with_length(0.06)
    before, after = original.parameters(), moved.parameters()
    assert after.pop("fiber.length_km") == 0.06
    assert before.pop("fiber.length_km") == 0.7
    assert before == after
    record = moved.provenance["fiber.length_km"]
    assert record.status == "estimate"
    assert "0.7 km" in record.note
    assert original.fiber.length_km == 0.7  # presets are immutable
    with pytest.raises(InvalidParameter, match=r"Fiber\.length_km"):
        original.with_length(-1.0)


def test_presets_are_read_only() -> None:
    preset = get_preset("ritter2012")
    with pytest.raises(TypeError):
        preset.provenance["fiber.length_km"] = Sourced(1.0, "x", confirmed=False)  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset.attempt_rate_hz = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("name", preset_names())
def test_every_number_needs_exactly_one_matching_record(name: str) -> None:
    preset = get_preset(name)
    assert presets_module.check_provenance(preset) is preset
    numbers = dict(preset.provenance)
    del numbers["emitter.t2_s"]
    with pytest.raises(InvalidParameter, match=r"emitter\.t2_s"):
        presets_module.check_provenance(dataclasses.replace(preset, provenance=numbers))
    numbers = dict(preset.provenance)
    numbers["fiber.colour"] = Sourced(1.0, "nowhere", confirmed=False)
    with pytest.raises(InvalidParameter, match=r"fiber\.colour"):
        presets_module.check_provenance(dataclasses.replace(preset, provenance=numbers))
    numbers = dict(preset.provenance)
    numbers["fiber.length_km"] = Sourced(123.0, "elsewhere", confirmed=False)
    with pytest.raises(InvalidParameter, match="differ"):
        presets_module.check_provenance(dataclasses.replace(preset, provenance=numbers))


def test_reproduces_must_name_headline_numbers() -> None:
    preset = get_preset("ritter2012")
    with pytest.raises(InvalidParameter, match="reproduces"):
        dataclasses.replace(preset, reproduces=("no_such_number",))


def test_sourced_validation() -> None:
    assert Sourced(1, "paper", confirmed=True).status == "confirmed"
    assert Sourced(1.0, "paper", confirmed=False).status == "estimate"
    with pytest.raises(InvalidParameter, match="source"):
        Sourced(1.0, "  ", confirmed=True)
    with pytest.raises(InvalidParameter, match=r"Sourced\.value"):
        Sourced("1", "paper", confirmed=True)  # type: ignore[arg-type]


def test_preset_type_is_exported() -> None:
    assert isinstance(get_preset("zhang2022"), Preset)
