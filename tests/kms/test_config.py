"""Node config files: the [kme], [api] and [saes] sections, one clear line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from qkdnet.errors import ConfigError
from qkdnet.kms import load_node_config, parse_node_config

GOOD = """
[kme]
id = "KME_A"
peer_id = "KME_B"
db = "keys.sqlite"

[api]
port = 8443
cert = "a.crt"
key = "a.key"
ca = "ca.crt"
peer_url = "https://127.0.0.1:8444"

[saes.SAE_A1]
kme = "KME_A"
partners = ["SAE_B1"]

[saes.SAE_A2]
kme = "KME_A"

[saes.SAE_B1]
kme = "KME_B"

[saes.SAE_B2]
kme = "KME_B"
partners = ["SAE_A2"]
"""


def write(tmp_path: Path, text: str, *, files: bool = True) -> Path:
    if files:
        for name in ("a.crt", "a.key", "ca.crt"):
            (tmp_path / name).write_text("x")
    path = tmp_path / "node.toml"
    path.write_text(text)
    return path


def test_good_config_loads_with_paths_from_its_folder(tmp_path: Path) -> None:
    config = load_node_config(write(tmp_path, GOOD))
    assert config.kme.db == tmp_path / "keys.sqlite"
    assert config.api.cert == tmp_path / "a.crt"
    assert config.link_id == "KME_A|KME_B"
    assert config.api.key_size_bits == 256
    assert config.entitled("SAE_A1", "SAE_B1") and config.entitled("SAE_B1", "SAE_A1")
    assert config.entitled("SAE_A2", "SAE_B2")  # listed on the B side only: a pair either side may list
    assert not config.entitled("SAE_A1", "SAE_B2")
    assert not config.entitled("SAE_A1", "SAE_A2")
    assert not config.entitled("SAE_A1", "nobody")


@pytest.mark.parametrize(
    ("edit", "line"),
    [
        (("port = 8443", 'port = "x"'), "node.toml: api.port: expected a valid integer, got 'x'"),
        (("port = 8443", "port = 70000"), "node.toml: api.port: expected less than or equal to 65535, got 70000"),
        (('peer_id = "KME_B"', 'peer_id = "KME_A"'), "node.toml: kme: peer_id: the peer KME must differ"),
        (('db = "keys.sqlite"\n', ""), "node.toml: kme.db: required field is missing"),
        (("[api]\n", "[api]\nkey_size_bits = 100\n"), "node.toml: api.key_size_bits: expected a multiple of 8"),
        (("[api]\n", "[api]\nmin_key_size_bits = 512\n"), "node.toml: api: key_size_bits: expected min_key_size"),
        (('kme = "KME_B"\n', 'kme = "KME_C"\n'), "node.toml: saes.SAE_B1.kme: expected 'KME_A' or 'KME_B'"),
        (('["SAE_B1"]', '["SAE_B9"]'), "node.toml: saes.SAE_A1.partners[0]: unknown SAE 'SAE_B9'"),
        (('["SAE_B1"]', '["SAE_A2"]'), "node.toml: saes.SAE_A1.partners[0]: 'SAE_A2' talks to the same KME"),
        (("[api]\n", "[api]\nprot = 1\n"), "node.toml: api.prot: unknown field"),
        (('peer_url = "https', 'peer_url = "http'), "node.toml: api.peer_url: expected an https://HOST:PORT URL"),
        (("[kme]", "[kme"), "node.toml: invalid TOML"),
    ],
)
def test_each_problem_is_one_line_naming_file_and_field(tmp_path: Path, edit: tuple[str, str], line: str) -> None:
    assert edit[0] in GOOD
    with pytest.raises(ConfigError) as err:
        load_node_config(write(tmp_path, GOOD.replace(edit[0], edit[1], 1)))
    assert err.value.lines[0].startswith(f"{tmp_path}/{line}"), err.value.lines


def test_missing_certificate_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    (tmp_path / "a.key").unlink()
    with pytest.raises(ConfigError, match=r"node\.toml: api\.key: cannot read .*a\.key"):
        load_node_config(path)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_node_config(tmp_path / "nope.toml")


def test_parse_from_text_keeps_relative_paths() -> None:
    config = parse_node_config(GOOD)
    assert str(config.kme.db) == "keys.sqlite"
