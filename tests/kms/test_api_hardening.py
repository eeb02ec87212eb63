"""The API's doors: body size limit (413), docs off by default (no CDN), TLS 1.2 AEAD-only or TLS 1.3 only."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from qkdnet.kms import SqliteKeyPool
from qkdnet.kms.api import create_app
from qkdnet.kms.pki import PkiFiles, client_context
from qkdnet.kms.server import uvicorn_config
from tests.kms.conftest import node_config
from tests.kms.test_api_inprocess import LINK, call, key_id, pem, run


def app_for(pki: PkiFiles, tmp_path: Path, **api: object) -> Any:
    """A KME_B app on a pool with one block and [api] settings ``api``."""
    config = node_config(pki, "KME_B", tmp_path / "b.sqlite", port=1, peer_port=None, **api)
    pool = SqliteKeyPool(config.kme.db)
    pool.commit_block(link_id=LINK, block_id=0, key=bytes(range(256)))
    return create_app(config, pool, peer_factory=lambda _: None), pool, config


def test_bodies_above_the_limit_get_413_saying_the_limit(pki: PkiFiles, tmp_path: Path) -> None:
    app, pool, _ = app_for(pki, tmp_path, max_body_bytes=4096)
    try:
        caller = pem(pki, "SAE_B1")
        small = run(call(app, caller, "POST", "/api/v1/keys/SAE_A1/dec_keys", json={"key_IDs": []}))
        assert small.status_code == 400  # under the limit: the handler answers
        big = {"key_IDs": [{"key_ID": key_id(0)}] * 200}  # about 10 kB
        r = run(call(app, caller, "POST", "/api/v1/keys/SAE_A1/dec_keys", json=big))
        assert r.status_code == 413 and r.json()["message"] == "request body above the limit of 4096 bytes"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b" " * 1000

        r = run(call(app, caller, "POST", "/api/v1/keys/SAE_A1/dec_keys", content=chunks()))
        assert r.status_code == 413 and "4096 bytes" in r.json()["message"]
    finally:
        pool.close()


def test_another_pairs_key_looks_like_a_missing_key(pki: PkiFiles, tmp_path: Path) -> None:
    from qkdnet.kms import Direction

    app, pool, _ = app_for(pki, tmp_path)
    try:
        pool.reserve_keys(
            link_id=LINK,
            direction=Direction.FIRST_MASTER,
            master_sae="SAE_A1",
            slave_sae="SAE_B1",
            key_ids=[__import__("uuid").UUID(key_id(0))],
        )
        path = "/api/v1/keys/SAE_A1/dec_keys"
        theirs = run(call(app, pem(pki, "SAE_B2"), "POST", path, json={"key_IDs": [{"key_ID": key_id(0)}]}))
        missing = run(call(app, pem(pki, "SAE_B2"), "POST", path, json={"key_IDs": [{"key_ID": key_id(32)}]}))
        assert theirs.status_code == missing.status_code == 400
        assert theirs.json() == missing.json() == {"message": "one or more keys specified are not found on KME"}
        mine = run(call(app, pem(pki, "SAE_B1"), "POST", path, json={"key_IDs": [{"key_ID": key_id(0)}]}))
        assert mine.status_code == 200  # the rightful slave SAE still gets it
    finally:
        pool.close()


@pytest.mark.parametrize("docs", [False, True])
def test_docs_pages_only_when_switched_on(pki: PkiFiles, tmp_path: Path, docs: bool) -> None:
    app, pool, _ = app_for(pki, tmp_path, docs=str(docs).lower())
    try:
        for page in ("/docs", "/redoc", "/openapi.json"):
            r = run(call(app, pem(pki, "SAE_B1"), "GET", page))
            assert r.status_code == (200 if docs else 404), page
        assert "/api/v1/keys/{master_SAE_ID}/dec_keys" in app.openapi()["paths"]  # the schema itself stays
    finally:
        pool.close()


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> str | None:
    """Run a TLS handshake in memory; the negotiated suite, or None if it failed."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    c = client.wrap_bio(c_in, c_out, server_hostname="localhost")
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for name, end in (("c", c), ("s", s)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
                except ssl.SSLError:
                    return None
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            cipher = c.cipher()
            return None if cipher is None else f"{cipher[1]} {cipher[0]}"
    return None


@pytest.mark.parametrize("minimum", ["1.2", "1.3"])
def test_tls_offers_aead_suites_only_and_the_configured_minimum(pki: PkiFiles, tmp_path: Path, minimum: str) -> None:
    app, pool, config = app_for(pki, tmp_path, tls_min_version=minimum)
    try:
        cfg = uvicorn_config(app, config.api, configure_logging=False)
        cfg.load()
        server = cfg.ssl
        assert server is not None
        for suite in server.get_ciphers():
            assert suite["aead"], suite["name"]  # no CBC/SHA-1 suite is even offered
        client = client_context(pki["SAE_B1"].cert, pki["SAE_B1"].key, pki.ca)
        legacy = client_context(pki["SAE_B1"].cert, pki["SAE_B1"].key, pki.ca)
        legacy.maximum_version = ssl.TLSVersion.TLSv1_2
        assert _handshake(server, client) is not None and "TLSv1.3" in str(_handshake(server, client))
        tls12 = _handshake(server, legacy)
        if minimum == "1.3":
            assert tls12 is None
        else:
            assert tls12 is not None and tls12.startswith("TLSv1.2") and ("GCM" in tls12 or "CHACHA20" in tls12)
        cbc = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cbc.load_verify_locations(str(pki.ca))
        cbc.load_cert_chain(str(pki["SAE_B1"].cert), str(pki["SAE_B1"].key))
        cbc.maximum_version = ssl.TLSVersion.TLSv1_2
        cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384")  # the two non-AEAD suites of before
        assert _handshake(server, cbc) is None
    finally:
        pool.close()
