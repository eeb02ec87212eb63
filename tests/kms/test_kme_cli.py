"""``qkdnet pki init`` and ``qkdnet kme --config``: real processes, real certificates, checked by openssl."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from qkdnet.cli.main import main
from qkdnet.kms import SqliteKeyPool
from qkdnet.kms.pki import PkiFiles
from tests.kms.conftest import free_socket, sae_client

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_pki_init_writes_certificates_openssl_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pki", "init", str(tmp_path), "--kme", "K1", "--kme", "K2", "--sae", "S1"]) == 0
    out = capsys.readouterr().out
    assert "K1" in out and "S1" in out and "PRIVATE" not in out
    for name in ("K1", "K2", "S1", "ca"):
        assert (tmp_path / f"{name}.key").stat().st_mode & 0o077 == 0  # private keys: owner only
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    ca = str(tmp_path / "ca.crt")

    def verify(purpose: str, name: str) -> int:
        args = [openssl, "verify", "-CAfile", ca, "-purpose", purpose, str(tmp_path / f"{name}.crt")]
        return subprocess.run(args, capture_output=True, check=False).returncode

    assert verify("sslserver", "K1") == 0 and verify("sslclient", "K1") == 0  # a KME is server and client
    assert verify("sslclient", "S1") == 0
    assert verify("sslserver", "S1") != 0  # an SAE certificate cannot serve as a KME
    subject = subprocess.run(
        [openssl, "x509", "-noout", "-subject", "-in", str(tmp_path / "S1.crt")], capture_output=True, text=True
    ).stdout
    assert "CN=S1" in subject.replace(" ", "")


def test_pki_init_refuses_duplicate_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pki", "init", str(tmp_path), "--kme", "K1", "--sae", "K1"]) == 2
    assert "unique" in capsys.readouterr().err


def test_kme_with_a_bad_config_says_which_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "node.toml"
    config.write_text('[kme]\nid = "A"\npeer_id = "B"\ndb = "x.sqlite"\n[api]\ncert = "no.crt"\nkey = "k"\nca = "c"\n')
    assert main(["kme", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}: api.cert: cannot read" in err and "Traceback" not in err


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_kme_process_serves_mutual_tls_and_stops_cleanly(pki: PkiFiles, tmp_path: Path, stop: signal.Signals) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    config = tmp_path / "a.toml"
    config.write_text(
        f'[kme]\nid = "KME_A"\npeer_id = "KME_B"\ndb = "a.sqlite"\n'
        f'[api]\nport = {port}\ncert = "{pki["KME_A"].cert}"\nkey = "{pki["KME_A"].key}"\nca = "{pki.ca}"\n'
        '[saes.SAE_A1]\nkme = "KME_A"\npartners = ["SAE_B1"]\n[saes.SAE_B1]\nkme = "KME_B"\n'
    )
    with SqliteKeyPool(tmp_path / "a.sqlite") as pool:
        pool.commit_block(link_id="KME_A|KME_B", block_id=0, key=bytes(range(256)) * 4)
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qkdnet", "kme", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        with sae_client(pki, "SAE_A1", f"https://127.0.0.1:{port}", ca=pki.ca) as a1:
            deadline = time.monotonic() + 30
            while True:
                try:
                    r = a1.get("/api/v1/keys/SAE_B1/status")
                    break
                except httpx.ConnectError:
                    assert proc.poll() is None and time.monotonic() < deadline, "qkdnet kme did not start"
                    time.sleep(0.1)
            assert r.status_code == 200 and r.json()["stored_key_count"] == 512 // 32
            # no peer_url: this KME cannot have keys recorded at a slave KME, so it hands out none
            r = a1.get("/api/v1/keys/SAE_B1/enc_keys")
            assert r.status_code == 503 and "no peer KME" in r.json()["message"]
    finally:
        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "GET /api/v1/keys/SAE_B1/status" in out  # the access log, with no key material (nothing was served)
    assert "Traceback" not in out
