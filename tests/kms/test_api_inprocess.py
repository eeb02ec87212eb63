"""The handlers in-process through httpx.ASGITransport: identity from the ASGI TLS extension, reservations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from qkdnet.kms import Direction, SqliteKeyPool, encode_key_id
from qkdnet.kms.api import create_app
from qkdnet.kms.keyid import KeyPosition
from qkdnet.kms.pki import PkiFiles
from tests.kms.conftest import node_config

LINK = "KME_A|KME_B"


def as_caller(app: Any, pem: str | None) -> Any:
    """The app as uvicorn + qkdnet.kms.server present it: the caller's certificate in the TLS extension."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if pem is not None and scope["type"] == "http":
            scope.setdefault("extensions", {})["tls"] = {"client_cert_chain": [pem]}
        await app(scope, receive, send)

    return wrapped


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def call(app: Any, pem: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=as_caller(app, pem))
    async with httpx.AsyncClient(transport=transport, base_url="https://kme") as client:
        return await client.request(method, path, **kwargs)


@pytest.fixture
def kme_b(pki: PkiFiles, tmp_path: Path) -> Any:
    config = node_config(pki, "KME_B", tmp_path / "b.sqlite", port=1, peer_port=None)
    pool = SqliteKeyPool(config.kme.db)
    pool.commit_block(link_id=LINK, block_id=0, key=bytes(range(256)))
    yield create_app(config, pool, peer_factory=lambda _: None), pool
    pool.close()


def pem(pki: PkiFiles, entity: str) -> str:
    return pki[entity].cert.read_text()


def key_id(offset: int) -> str:
    return str(encode_key_id(KeyPosition(Direction.FIRST_MASTER, 0, offset, 16), link_id=LINK))


def test_without_a_client_certificate_everything_is_401(kme_b: Any) -> None:
    app, _ = kme_b
    for method, path in (("GET", "/api/v1/keys/SAE_A1/status"), ("GET", "/api/v1/keys/SAE_A1/enc_keys")):
        r = run(call(app, None, method, path))
        assert r.status_code == 401 and r.json()["message"] == "unauthorized"


def test_reservations_answer_per_group(kme_b: Any, pki: PkiFiles) -> None:
    app, pool = kme_b
    groups = [
        {"master_SAE_ID": "SAE_A1", "slave_SAE_ID": "SAE_B1", "key_IDs": [key_id(0), key_id(16)]},
        {"master_SAE_ID": "SAE_A2", "slave_SAE_ID": "SAE_B1", "key_IDs": [key_id(32)]},  # not entitled
        {"master_SAE_ID": "SAE_A1", "slave_SAE_ID": "SAE_B2", "key_IDs": [key_id(8)]},  # overlaps the first
        {"master_SAE_ID": "SAE_A1", "slave_SAE_ID": "SAE_B2", "key_IDs": ["not-a-uuid"]},
    ]
    r = run(call(app, pem(pki, "KME_A"), "POST", "/qkdnet/v1/reservations", json={"reservations": groups}))
    assert r.status_code == 200
    results = r.json()["results"]
    assert results[0] == {"reserved": 2}
    assert "may not share keys" in results[1]["error"]
    assert "overlaps" in results[2]["error"]
    assert "reservation refused" in results[3]["error"]
    # exactly the first group's keys are now there for SAE_B1, and only for it
    got = pool.take_keys_by_id(
        link_id=LINK,
        direction=Direction.FIRST_MASTER,
        master_sae="SAE_A1",
        slave_sae="SAE_B1",
        key_ids=[UUID(key_id(0)), UUID(key_id(16))],
    )
    assert [k.key for k in got] == [bytes(range(16)), bytes(range(16, 32))]


@pytest.mark.parametrize("caller", ["SAE_B1", "KME_B"])
def test_only_the_peer_kme_may_reserve(kme_b: Any, pki: PkiFiles, caller: str) -> None:
    app, _ = kme_b
    group = {"master_SAE_ID": "SAE_A1", "slave_SAE_ID": "SAE_B1", "key_IDs": [key_id(0)]}
    r = run(call(app, pem(pki, caller), "POST", "/qkdnet/v1/reservations", json={"reservations": [group]}))
    assert r.status_code == 401


def test_a_kme_without_peer_refuses_enc_keys_with_503(kme_b: Any, pki: PkiFiles) -> None:
    app, _ = kme_b

    async def go() -> httpx.Response:
        async with app.router.lifespan_context(app):
            return await call(app, pem(pki, "SAE_B1"), "GET", "/api/v1/keys/SAE_A1/enc_keys")

    r = run(go())
    assert r.status_code == 503 and "no peer KME" in r.json()["message"]


def test_openapi_documents_the_spec_paths(kme_b: Any) -> None:
    app, _ = kme_b
    paths = app.openapi()["paths"]
    assert set(paths["/api/v1/keys/{slave_SAE_ID}/enc_keys"]) == {"get", "post"}
    assert set(paths["/api/v1/keys/{master_SAE_ID}/dec_keys"]) == {"get", "post"}
    assert set(paths["/api/v1/keys/{slave_SAE_ID}/status"]) == {"get"}
    for status in ("400", "401", "503"):
        assert status in paths["/api/v1/keys/{slave_SAE_ID}/enc_keys"]["post"]["responses"]
