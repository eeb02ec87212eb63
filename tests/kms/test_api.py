"""The ETSI GS QKD 014 service between two real KMEs (uvicorn, mutual TLS, SQLite), driven by plain httpx.

Expected values come from the spec (field names, status codes, messages) and from the blocks the test itself
commits into both pools, never from the service under test.
"""

from __future__ import annotations

import base64
import itertools
import logging
import ssl
import threading
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from qkdnet.kms.pki import PkiFiles
from tests.kms.conftest import BLOCK_BYTES, Network, sae_client, start_network

STATUS_FIELDS = {
    "source_KME_ID",
    "target_KME_ID",
    "master_SAE_ID",
    "slave_SAE_ID",
    "key_size",
    "stored_key_count",
    "max_key_count",
    "max_key_per_request",
    "max_key_size",
    "min_key_size",
    "max_SAE_ID_count",
}
LINK = "KME_A|KME_B"


def keys_of(response: httpx.Response) -> dict[str, bytes]:
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"keys"}
    return {k["key_ID"]: base64.b64decode(k["key"], validate=True) for k in response.json()["keys"]}


def dec(client: httpx.Client, master: str, ids: list[str]) -> httpx.Response:
    return client.post(f"/api/v1/keys/{master}/dec_keys", json={"key_IDs": [{"key_ID": i} for i in ids]})


def test_status_is_the_spec_object(network: Network) -> None:
    network.share_blocks(2)
    with network.client("SAE_A1", network.a) as a1:
        r = a1.get("/api/v1/keys/SAE_B1/status")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == STATUS_FIELDS
    assert body["source_KME_ID"] == "KME_A" and body["target_KME_ID"] == "KME_B"
    assert body["master_SAE_ID"] == "SAE_A1" and body["slave_SAE_ID"] == "SAE_B1"
    assert body["key_size"] == 256 and body["min_key_size"] == 64 and body["max_key_size"] == 1024
    assert body["stored_key_count"] == 2 * (BLOCK_BYTES // 2) // 32  # KME_A's halves of both blocks, 32-byte keys
    assert body["max_key_per_request"] == 64 and body["max_SAE_ID_count"] == 0


def test_master_and_slave_get_the_same_keys_once(network: Network) -> None:
    shared = network.share_blocks(2)
    with (
        network.client("SAE_A1", network.a) as a1,
        network.client("SAE_B1", network.b) as b1,
        network.client("SAE_B2", network.b) as b2,
    ):
        sent = keys_of(a1.post("/api/v1/keys/SAE_B1/enc_keys", json={"number": 3, "size": 512}))
        simple = keys_of(a1.get("/api/v1/keys/SAE_B1/enc_keys"))  # GET: 1 key of key_size
        sized = keys_of(a1.get("/api/v1/keys/SAE_B1/enc_keys", params={"number": 2, "size": 64}))
        assert [len(k) for k in sent.values()] == [64] * 3
        assert [len(k) for k in simple.values()] == [32] and [len(k) for k in sized.values()] == [8, 8]
        everything = {**sent, **simple, **sized}
        assert len(everything) == 6  # no key ID twice
        # Key IDs are random (version 4), carrying no position; the keys come from the front of KME_A's halves
        assert all(UUID(kid).version == 4 for kid in everything)
        assert b"".join(everything.values()) == shared[: 3 * 64 + 32 + 2 * 8]
        # The slave SAE, at its own KME, gets exactly those bytes: by POST, and by GET ?key_ID=
        got = keys_of(dec(b1, "SAE_A1", list(sent)))
        assert got == sent
        (kid,) = simple
        assert keys_of(b1.get("/api/v1/keys/SAE_A1/dec_keys", params={"key_ID": kid})) == simple
        # ... once: a second time the keys are gone
        again = dec(b1, "SAE_A1", list(sent)[:1])
        assert again.status_code == 400
        assert again.json()["message"] == "one or more keys specified are not found on KME"
        # another slave SAE, even one entitled to SAE_A1, cannot take keys issued to SAE_B1
        other = dec(b2, "SAE_A1", list(sized))
        assert other.status_code == 400  # the same answer as a key that does not exist (issue 12 item 6)
        assert keys_of(dec(b1, "SAE_A1", list(sized))) == sized


@pytest.mark.parametrize(
    ("sae", "kme", "method", "path"),
    [
        ("SAE_A2", "a", "GET", "/api/v1/keys/SAE_B1/status"),  # SAE_A2 is entitled to no one
        ("SAE_A2", "a", "POST", "/api/v1/keys/SAE_B1/enc_keys"),
        ("SAE_A1", "a", "GET", "/api/v1/keys/SAE_NOBODY/enc_keys"),  # unknown slave
        ("SAE_A1", "a", "GET", "/api/v1/keys/SAE_A2/status"),  # slave at the same KME
        ("SAE_B1", "a", "GET", "/api/v1/keys/SAE_A1/enc_keys"),  # an SAE of the other KME
        ("SAE_A1", "b", "POST", "/api/v1/keys/SAE_A1/dec_keys"),  # the master at the slave's KME
        ("SAE_X", "a", "GET", "/api/v1/keys/SAE_B1/status"),  # our CA, but in no config
        ("SAE_B1", "b", "POST", "/api/v1/keys/SAE_A2/dec_keys"),  # a master it is not paired with
        ("SAE_A1", "b", "POST", "/qkdnet/v1/reservations"),  # only the peer KME may reserve
    ],
)
def test_unentitled_callers_get_401(network: Network, sae: str, kme: str, method: str, path: str) -> None:
    network.share_blocks(1)
    body = {"key_IDs": [{"key_ID": "00000000-0000-8000-8000-000021c56a25"}]} if "dec_keys" in path else {}
    if "reservations" in path:
        group = {"master_SAE_ID": "SAE_A1", "slave_SAE_ID": "SAE_B1", "key_IDs": [str(UUID(int=1))]}
        body = {"reservations": [group]}
    with network.client(sae, getattr(network, kme)) as client:
        r = client.request(method, path, json=body if method == "POST" else None)
    assert r.status_code == 401, r.text
    assert r.json()["message"] == "unauthorized"
    assert network.a.pool.stored_key_count(link_id=LINK, direction=0, size_bits=256) == BLOCK_BYTES // 2 // 32


def test_a_certificate_of_another_ca_is_refused_at_the_handshake(network: Network, rogue_pki: PkiFiles) -> None:
    with (
        sae_client(rogue_pki, "SAE_A1", network.a.url, ca=network.pki.ca) as rogue,
        pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)),
    ):
        rogue.get("/api/v1/keys/SAE_B1/status")


def test_no_client_certificate_is_refused(network: Network) -> None:
    context = ssl.create_default_context(cafile=str(network.pki.ca))
    with (
        httpx.Client(base_url=network.a.url, verify=context) as anonymous,
        pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)),
    ):
        anonymous.get("/api/v1/keys/SAE_B1/status")


def test_a_forged_reservation_from_a_rogue_kme_certificate_is_refused(network: Network, rogue_pki: PkiFiles) -> None:
    with (
        sae_client(rogue_pki, "KME_B", network.a.url, ca=network.pki.ca) as fake_peer,
        pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)),
    ):
        fake_peer.post("/qkdnet/v1/reservations", json={})


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        ({"json": {"number": 1, "size": 100}}, "size shall be a multiple of 8"),
        ({"params": {"size": 12}}, "size shall be a multiple of 8"),
        (
            {"json": {"extension_mandatory": [{"abc_route_type": "direct"}]}},
            "not all extension_mandatory parameters are supported",
        ),
        ({"json": {"number": 65}}, "number shall not exceed max_key_per_request (64)"),
        ({"params": {"number": 65}}, "number shall not exceed max_key_per_request (64)"),
        ({"json": {"size": 56}}, "size shall be between min_key_size (64) and max_key_size (1024)"),
        ({"json": {"size": 1032}}, "size shall be between min_key_size (64) and max_key_size (1024)"),
        (
            {"json": {"additional_slave_SAE_IDs": ["SAE_B2"]}},
            "additional_slave_SAE_IDs are not supported: max_SAE_ID_count is 0",
        ),
        ({"json": {"number": "2"}}, "bad request format"),
        ({"json": {"number": 0}}, "bad request format"),
        ({"json": {"size": True}}, "bad request format"),
        ({"json": [1, 2]}, "bad request format"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, "bad request format"),
        ({"params": {"number": "many"}}, "bad request format"),
        ({"params": {"number": -1}}, "bad request format"),
    ],
)
def test_bad_key_requests_get_400_with_the_spec_message(
    network: Network, request_kwargs: dict[str, object], message: str
) -> None:
    network.share_blocks(1)
    method = "GET" if "params" in request_kwargs else "POST"
    with network.client("SAE_A1", network.a) as a1:
        r = a1.request(method, "/api/v1/keys/SAE_B1/enc_keys", **request_kwargs)  # type: ignore[arg-type]
    assert r.status_code == 400, r.text
    assert r.json()["message"] == message
    assert set(r.json()) <= {"message", "details"}
    if "extension_mandatory" in str(request_kwargs):
        assert r.json()["details"] == [{"extension_mandatory_unsupported": ["abc_route_type"]}]
    # nothing was taken
    assert network.a.pool.stored_key_count(link_id=LINK, direction=0, size_bits=64) == BLOCK_BYTES // 2 // 8


def test_extension_optional_is_ignored(network: Network) -> None:
    network.share_blocks(1)
    with network.client("SAE_A1", network.a) as a1:
        r = a1.post("/api/v1/keys/SAE_B1/enc_keys", json={"extension_optional": [{"abc_route_type": "direct"}]})
    assert len(keys_of(r)) == 1


@pytest.mark.parametrize(
    "key_ids",
    [
        ["00000000-0000-8000-8000-000021c56a25"],  # a well-formed qkdnet ID never announced
        ["550e8400-e29b-41d4-a716-446655440000"],  # the spec's example UUID (version 4)
        ["not-a-uuid"],
    ],
)
def test_unknown_key_ids_get_400_keys_not_found(network: Network, key_ids: list[str]) -> None:
    network.share_blocks(1)
    with network.client("SAE_B1", network.b) as b1:
        r = dec(b1, "SAE_A1", key_ids)
        g = b1.get("/api/v1/keys/SAE_A1/dec_keys", params={"key_ID": key_ids[0]})
    for response in (r, g):
        assert response.status_code == 400
        assert response.json()["message"] == "one or more keys specified are not found on KME"


def test_bad_key_ids_bodies_get_400(network: Network) -> None:
    with network.client("SAE_B1", network.b) as b1:
        for body in ({}, {"key_IDs": []}, {"key_IDs": [{"key": "x"}]}, {"key_IDs": "x"}):
            r = b1.post("/api/v1/keys/SAE_A1/dec_keys", json=body)
            assert r.status_code == 400 and r.json()["message"] == "bad request format", body
        too_many = [str(UUID(int=i)) for i in range(65)]
        r = dec(b1, "SAE_A1", too_many)
        assert r.status_code == 400
        assert r.json()["message"] == "number of key_IDs shall not exceed max_key_per_request (64)"
        assert b1.get("/api/v1/keys/SAE_A1/dec_keys").status_code == 400  # key_ID missing


def test_exhausted_pool_gets_503_and_keeps_what_is_left(network: Network) -> None:
    network.share_blocks(1)  # 2048 bytes for KME_A's direction: 64 keys of 256 bits
    with network.client("SAE_A1", network.a) as a1:
        r = a1.post("/api/v1/keys/SAE_B1/enc_keys", json={"number": 64, "size": 1024 // 4})
        assert len(keys_of(r)) == 64
        r = a1.post("/api/v1/keys/SAE_B1/enc_keys", json={"number": 1})
        assert r.status_code == 503
        assert r.json()["message"] == "not enough key: 1 keys of 256 bits asked, 0 stored"
        assert a1.get("/api/v1/keys/SAE_B1/status").json()["stored_key_count"] == 0


def test_peer_kme_down_gets_503_and_the_keys_are_never_delivered(network: Network) -> None:
    network.share_blocks(1)
    network.b.server.should_exit = True
    network.b.thread.join(timeout=20)
    with network.client("SAE_A1", network.a) as a1:
        r = a1.post("/api/v1/keys/SAE_B1/enc_keys", json={"number": 2})
        assert r.status_code == 503
        assert r.json()["message"].startswith("the peer KME could not record the keys")
        assert "keys" not in r.json()
        # the two keys are spent at KME_A (never handed out twice), the rest is still there
        assert a1.get("/api/v1/keys/SAE_B1/status").json()["stored_key_count"] == BLOCK_BYTES // 2 // 32 - 2


def test_key_announced_before_its_block_arrives_gets_503_then_200(network: Network) -> None:
    import numpy as np

    block = np.random.default_rng(3).integers(0, 256, BLOCK_BYTES, dtype=np.uint8).tobytes()
    network.a.pool.commit_block(link_id=LINK, block_id=0, key=block)  # KME_B has not committed it yet
    with network.client("SAE_A1", network.a) as a1, network.client("SAE_B1", network.b) as b1:
        sent = keys_of(a1.post("/api/v1/keys/SAE_B1/enc_keys", json={"number": 1}))
        r = dec(b1, "SAE_A1", list(sent))
        assert r.status_code == 503
        network.b.pool.commit_block(link_id=LINK, block_id=0, key=block)
        assert keys_of(dec(b1, "SAE_A1", list(sent))) == sent


def test_unknown_paths_and_methods_answer_json(network: Network) -> None:
    with network.client("SAE_A1", network.a) as a1:
        assert a1.get("/api/v1/nothing").status_code == 404
        r = a1.delete("/api/v1/keys/SAE_B1/enc_keys")
        assert r.status_code == 405 and "message" in r.json()


def test_32_concurrent_masters_never_get_overlapping_keys(network: Network) -> None:
    shared = network.share_blocks(8)
    results: list[dict[str, bytes]] = [{} for _ in range(32)]
    errors: list[BaseException] = []
    start = threading.Barrier(32)

    def master(i: int) -> None:
        try:
            with network.client("SAE_A1", network.a) as a1:
                start.wait()
                for _ in range(4):
                    slave = "SAE_B1" if i % 2 else "SAE_B2"
                    results[i].update(keys_of(a1.post(f"/api/v1/keys/{slave}/enc_keys", json={"number": 3})))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=master, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    all_ids = [kid for r in results for kid in r]
    assert len(all_ids) == 32 * 4 * 3 == len(set(all_ids))
    # Where each key lies in the shared blocks (the IDs are random and say nothing): in KME_A's halves, disjoint
    starts = sorted(shared.find(key) for r in results for key in r.values())
    assert all(at >= 0 and at % BLOCK_BYTES + 32 <= BLOCK_BYTES // 2 for at in starts)
    assert all(b - a >= 32 for a, b in itertools.pairwise(starts))  # byte ranges disjoint
    with network.client("SAE_B1", network.b) as b1c, network.client("SAE_B2", network.b) as b2c:
        for i, r in enumerate(results):
            slave = b1c if i % 2 else b2c
            assert keys_of(dec(slave, "SAE_A1", list(r))) == r


def test_access_log_shows_no_key_material(pki: PkiFiles, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    net = start_network(pki, tmp_path, access_log=True)
    try:
        net.share_blocks(1)
        with caplog.at_level(logging.DEBUG), net.client("SAE_A1", net.a) as a1, net.client("SAE_B1", net.b) as b1:
            sent = keys_of(a1.post("/api/v1/keys/SAE_B1/enc_keys", json={"number": 4}))
            got = keys_of(b1.get("/api/v1/keys/SAE_A1/dec_keys", params={"key_ID": next(iter(sent))}))
            keys_of(dec(b1, "SAE_A1", list(sent)[1:]))
            a1.post("/api/v1/keys/SAE_B1/enc_keys", json={"number": 1, "size": 12})
    finally:
        net.a.stop()
        net.b.stop()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "enc_keys" in text and "dec_keys" in text  # the access log really was captured
    for key in [*sent.values(), *got.values()]:
        for shown in (key.hex(), base64.b64encode(key).decode(), repr(key), key.hex().upper()):
            assert shown not in text
        assert base64.b64encode(key).decode()[:12] not in text
