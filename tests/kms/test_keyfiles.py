"""Key files are owner-only whatever the umask, and a KME refuses to start on one others can read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from qkdnet.cli.main import main
from qkdnet.errors import ConfigError
from qkdnet.kms import SqliteKeyPool
from qkdnet.kms.keyfiles import prepare_private_sqlite, private_dir, write_private
from qkdnet.kms.pki import init_pki


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run the test under umask 000, the worst case: every file would otherwise be world-readable."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.usefixtures("open_umask")
def test_pool_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    with SqliteKeyPool(tmp_path / "a-keys.sqlite") as pool:
        pool.commit_block(link_id="KME_A|KME_B", block_id=0, key=bytes(range(256)))
        written = sorted(p.name for p in tmp_path.iterdir())
        assert written == ["a-keys.sqlite", "a-keys.sqlite-shm", "a-keys.sqlite-wal"]
        assert {p.name: mode(p) for p in tmp_path.iterdir()} == dict.fromkeys(written, 0o600)


@pytest.mark.usefixtures("open_umask")
def test_state_db_pki_keys_and_directories_are_owner_only(tmp_path: Path) -> None:
    prepare_private_sqlite(tmp_path / "s-state.sqlite")
    assert mode(tmp_path / "s-state.sqlite") == 0o600
    (tmp_path / "pki").mkdir(mode=0o755)
    (tmp_path / "pki" / "K1.key").write_bytes(b"old")  # an old key file left world-readable
    assert mode(tmp_path / "pki" / "K1.key") == 0o666
    files = init_pki(tmp_path / "pki", kme_ids=["K1"], sae_ids=["S1"])
    assert mode(files["K1"].key) == 0o600 and mode(files["S1"].key) == 0o600
    assert mode(tmp_path / "pki" / "ca.key") == 0o600
    fresh = init_pki(tmp_path / "new" / "pki", kme_ids=["K1"], sae_ids=["S1"])
    assert mode(tmp_path / "new") == 0o700 and mode(tmp_path / "new" / "pki") == 0o700
    assert mode(fresh["S1"].key) == 0o600
    write_private(tmp_path / "pad.bin", b"x")
    assert mode(tmp_path / "pad.bin") == 0o600
    assert mode(private_dir(tmp_path / "a" / "b")) == 0o700 and mode(tmp_path / "a") == 0o700


@pytest.mark.parametrize("name", ["a-keys.sqlite", "a-keys.sqlite-wal"])
def test_pool_readable_by_others_is_refused_with_the_fix(tmp_path: Path, name: str) -> None:
    with SqliteKeyPool(tmp_path / "a-keys.sqlite") as pool:
        pool.commit_block(link_id="KME_A|KME_B", block_id=0, key=bytes(range(256)))
    (tmp_path / name).touch()
    os.chmod(tmp_path / name, 0o644)
    with pytest.raises(ConfigError) as caught:
        SqliteKeyPool(tmp_path / "a-keys.sqlite")
    assert caught.value.lines == (
        f"{tmp_path / name}: holds key material but other users may access it (mode -rw-r--r--); "
        f"fix with: chmod 600 {tmp_path / name}",
    )


def test_kme_refuses_to_start_on_a_readable_tls_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = init_pki(tmp_path / "pki", kme_ids=["KME_A", "KME_B"], sae_ids=["SAE_A"])
    os.chmod(files["KME_A"].key, 0o640)
    config = tmp_path / "a.toml"
    config.write_text(
        f'[kme]\nid = "KME_A"\npeer_id = "KME_B"\ndb = "a.sqlite"\n'
        f'[api]\nport = 0\ncert = "{files["KME_A"].cert}"\nkey = "{files["KME_A"].key}"\nca = "{files.ca}"\n'
    )
    assert main(["kme", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{files['KME_A'].key}: holds key material" in err and f"chmod 600 {files['KME_A'].key}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a.sqlite").exists()  # refused before anything was opened
