"""Presets: every number has a source, unknown names fail helpfully, lengths can be changed."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from qkdnet.cli.main import main
from qkdnet.config import parse_scenario
from qkdnet.config.presets import read_preset_file
from qkdnet.errors import ConfigError, InvalidParameter
from qkdnet.hardware import Preset, Sourced, get_preset, preset_names
from qkdnet.hardware import presets as presets_module
from qkdnet.hardware._catalog import _packaged_texts, expected_unit


def test_preset_names() -> None:
    assert preset_names() == (
        "hofmann2012",
        "knaut2024",
        "krutyanskiy2023",
        "liu2024",
        "nadlinger2022",
        "nolleke2013",
        "ritter2012",
        "stolk2024",
        "vanleent2022",
        "zhang2022",
    )
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
    # Issue 16 searched the stored copies: every number citing Ritter et al. says where it was looked for.
    ritter = {**preset.provenance, **preset.headline}
    cited = {k: r for k, r in ritter.items() if r.source.startswith("Ritter et al.")}
    assert len(cited) == 18
    assert all("not in the abstract" in r.where for r in cited.values())
    for key in ("fiber.length_km", "node_separation_km"):  # only a press-release paraphrase gives 60 m / 21 m
        assert "press release" in ritter[key].where and ritter[key].kind == "estimate"


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


# ---- presets as data (issue 17 item 4) ---------------------------------------------------------------
_SNAPSHOT = Path(__file__).with_name("data") / "presets_main.json"
_REFERENCES = Path("/work/shared/REFERENCES.md")


def test_loaded_presets_are_those_main_built_in_code() -> None:
    # The snapshot was written by the old _catalog.py (main before presets became files), not by the loader.
    snapshot = json.loads(_SNAPSHOT.read_text(encoding="utf-8"))
    # Every preset but the four issue 16 added after the snapshot was taken.
    assert set(preset_names()) - set(snapshot) == {"krutyanskiy2023", "knaut2024", "stolk2024", "liu2024"}
    assert set(snapshot) <= set(preset_names())
    for name, expected in snapshot.items():
        p = get_preset(name)
        fields = {f.name: repr(getattr(p, f.name)) for f in dataclasses.fields(p)}
        assert {k: fields[k] for k in expected["fields"]} == expected["fields"], name
        assert {k: repr(v) for k, v in p.parameters().items()} == expected["parameters"], name
        for table, records in (("provenance", p.provenance), ("headline", p.headline)):
            assert list(records) == list(expected[table]), (name, table)
            for key, want in expected[table].items():
                r = records[key]
                got = {"value": repr(r.value), "source": r.source, "confirmed": r.confirmed, "note": r.note}
                got["uncertainty"] = None if r.uncertainty is None else repr(r.uncertainty)
                assert got == want, (name, key)


@pytest.mark.parametrize(
    ("name", "table", "key", "text"),
    [
        ("zhang2022", "headline", "chsh", "S = 2.578(75)"),
        ("zhang2022", "headline", "qber_x", "QBER 0.078(9)"),
        ("zhang2022", "headline", "pair_fidelity", "F ≥ 0.892(23)"),
        ("nolleke2013", "headline", "teleportation_fidelity", "fidelity 88.0(15) %"),
        ("nadlinger2022", "headline", "key_bits", "95,628 key bits"),
        ("vanleent2022", "provenance", "fiber.length_km", "up to 33 km"),
        ("vanleent2022", "provenance", "converter.efficiency", "57 % efficient"),
    ],
)
def test_published_numbers_match_the_references(name: str, table: str, key: str, text: str) -> None:
    # Independent oracle: the project's REFERENCES.md, written from the papers.
    if not _REFERENCES.exists():
        pytest.skip("REFERENCES.md not available")
    assert text in _REFERENCES.read_text(encoding="utf-8")
    number = re.search(r"(\d[\d,]*\.?\d*)", text.split("=")[-1].split("≥")[-1].split("up to")[-1])
    assert number is not None
    published = float(number.group(1).replace(",", ""))
    if "%" in text:
        published /= 100
    record = getattr(get_preset(name), table)[key]
    assert record.value == pytest.approx(published, rel=1e-12)
    assert record.kind == "confirmed"


def test_every_number_of_every_file_has_unit_where_and_a_three_way_status() -> None:
    for name in preset_names():
        p = get_preset(name)
        for key, r in {**p.provenance, **p.headline}.items():
            assert r.unit == expected_unit(key), (name, key)
            assert r.where.strip(), (name, key)
            assert r.kind in ("confirmed", "estimate", "calibrated")
            if r.calibrated:
                assert "calibrated" in r.note, (name, key)


@pytest.fixture(autouse=True)
def _no_user_presets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no registered user presets and an empty user preset directory."""
    monkeypatch.setattr(presets_module, "_registered", {})
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def _ritter_text() -> str:
    return _packaged_texts()["ritter2012"]


def _write(tmp_path: Path, text: str, name: str = "mylab") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace('name = "ritter2012"', f'name = "{name}"'), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('[numbers."fiber.group_index"]', '[numbers."fiber.group_indx"]', "did you mean 'fiber.group_index'"),
        ('unit = "MHz"', 'units = "MHz"', "unknown field; did you mean 'unit'?"),
        ('unit = "MHz"', 'unit = "GHz"', "unit: expected 'MHz', got 'GHz'"),
        ('status = "estimate"', 'status = "guess"', "status: expected one of"),
        ('scheme = "emission-absorption"', 'scheme = "teleport"', "scheme: expected one of"),
        ('title = "', 'titel = "', "unknown field; did you mean 'title'?"),
    ],
)
def test_a_bad_preset_file_names_file_field_and_the_closest_name(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = _write(tmp_path, _ritter_text().replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        read_preset_file(path)
    assert any(line.startswith(f"{path}: ") and message in line for line in info.value.lines), info.value.lines


def test_check_provenance_runs_on_a_users_file(tmp_path: Path) -> None:
    head, _, rest = _ritter_text().partition('[numbers."fiber.group_index"]')
    _, _, tail = rest.partition("\n\n")
    path = _write(tmp_path, head + tail)
    with pytest.raises(ConfigError, match=r"missing \['fiber.group_index'\]"):
        read_preset_file(path)


def test_presets_add_installs_a_users_lab(tmp_path: Path) -> None:
    path = _write(tmp_path, _ritter_text().replace("value = 0.06\n", "value = 0.5\n", 1))
    assert "mylab" not in preset_names()
    assert main(["presets", "--add", str(path)]) == 0
    installed = tmp_path / "config" / "qkdnet" / "presets" / "mylab.toml"
    assert installed.stat().st_mode & 0o777 == 0o644
    assert "mylab" in preset_names() and get_preset("mylab").fiber.length_km == 0.5
    assert get_preset("mylab").emitter == get_preset("ritter2012").emitter
    assert presets_module.preset_origin("mylab") == str(installed)
    # a shipped name cannot be taken over, and nothing is installed
    zhang = tmp_path / "zhang2022.toml"
    zhang.write_text(_packaged_texts()["zhang2022"], encoding="utf-8")
    assert main(["presets", "--add", str(zhang)]) == 2
    assert not (installed.parent / "zhang2022.toml").exists()


def test_installed_presets_serve_the_cli_in_a_new_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, _ritter_text())
    assert main(["presets", "--add", str(path)]) == 0
    presets_module._registered.clear()  # as a fresh process: only the directory remembers
    capsys.readouterr()
    assert main(["link", "--preset", "mylab", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fidelity"] > 0.5


def test_a_scenario_names_its_own_preset_paths(tmp_path: Path) -> None:
    (tmp_path / "lab").mkdir()
    _write(tmp_path / "lab", _ritter_text())
    scenario = tmp_path / "net.toml"
    scenario.write_text(
        'seed = 1\npreset_paths = ["lab"]\n[nodes.a]\npreset = "mylab"\n[nodes.b]\npreset = "ritter2012"\n'
        '[[links]]\nendpoints = ["a", "b"]\nlength_km = 1.0\npreset = "mylab"\nheralding = "emission-absorption"\n',
        encoding="utf-8",
    )
    from qkdnet.config import load_scenario

    loaded = load_scenario(scenario)
    assert loaded.nodes["a"].preset == "mylab"
    with pytest.raises(ConfigError, match="preset_paths"):
        parse_scenario('seed = 1\npreset_paths = "lab"\n[nodes.a]\npreset = "ritter2012"\n')


def test_presets_json_keeps_its_fields_and_adds_every_numbers_provenance(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for row in rows:
        assert {"name", "scheme", "length_km", "title", "source", "estimates", "numbers"} <= set(row)
        assert len(row["parameters"]) == row["numbers"]
        assert {"key", "value", "unit", "source", "where", "status"} <= set(row["parameters"][0])
    zhang = next(r for r in rows if r["name"] == "zhang2022")
    chsh = next(h for h in zhang["headline"] if h["key"] == "chsh")
    assert (chsh["value"], chsh["status"], chsh["where"]) == (2.578, "confirmed", "abstract")
