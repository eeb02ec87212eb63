"""``qkdnet network up`` on real processes: metro5's five node processes, six link emulators, five KMEs.

The issue's "done when", as a test: the network comes up, a client that reads ``network.json`` gets a key
as SAE_a for SAE_c and the same bytes as SAE_c, and ``network down`` leaves no process behind. Then the
faults: Eve on a link (its blocks abort, keys route around it) and kill -9 of the relay node at random
moments while a client asks for keys (every key delivered once, identical at both ends, or refused with 503;
the node restarts on its pool and loses no committed key).
"""

from __future__ import annotations

import base64
import os
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from qkdnet.kms.client import EtsiError
from tests.kms.system import Up, alive


def _key_with_retry(
    up: Up, master: str, slave: str, timeout_s: float = 90.0, route: str = "relay"
) -> tuple[list, list]:  # type: ignore[type-arg]
    """enc_keys by ``route`` until the pools hold key (503 meanwhile), then dec_keys at the slave's KME."""
    deadline = time.monotonic() + timeout_s
    with up.client(master) as kme_m, up.client(slave) as kme_s:
        while True:
            try:
                sent = kme_m.enc_keys(slave, number=2, size_bits=256, extension_mandatory=[{"qkdnet_route": route}])
                break
            except EtsiError as exc:
                assert exc.status == 503, exc
                assert time.monotonic() < deadline, f"no key within {timeout_s} s: {exc}"
                time.sleep(0.5)
        got = kme_s.dec_keys(master, [k.key_id for k in sent])
    return sent, got


@pytest.fixture
def honest(tmp_path: Path) -> Iterator[Up]:
    up = Up(tmp_path, "--block-interval-s", "0.5")
    yield up
    up.kill()


def test_network_up_serves_a_relayed_key_to_any_two_saes_and_down_leaves_no_process(honest: Up) -> None:
    manifest = honest.manifest
    assert set(manifest) == {"ca", "nodes", "saes"}
    assert set(manifest["nodes"]) == set("abcde")
    assert set(manifest["saes"]) == {f"SAE_{n}" for n in "abcde"}
    for sae, entry in manifest["saes"].items():
        assert set(entry) == {"node", "kme_url", "cert", "key"} and entry["node"] == sae[-1]
        assert Path(entry["cert"]).is_absolute() and Path(entry["key"]).is_file()
        assert entry["kme_url"] == manifest["nodes"][entry["node"]]["kme_url"]
    assert {n["kme_id"] for n in manifest["nodes"].values()} == {f"KME_{n}" for n in "abcde"}
    sent, got = _key_with_retry(honest, "SAE_a", "SAE_c")
    assert [k.key for k in got] == [k.key for k in sent] and all(len(k.key) == 32 for k in sent)
    swapped, swapped_got = _key_with_retry(honest, "SAE_a", "SAE_c", route="end-to-end")
    assert [k.key for k in swapped_got] == [k.key for k in swapped]
    status = honest.status()
    assert set(status) == set("abcde")
    assert status["a"]["links"]["KME_b"]["state"] in ("up", "connecting")
    routes = status["a"]["routes"]
    assert routes.pop("KME_a>KME_c") == 2  # end to end: over the swapped link a-b-c
    assert sum(routes.values()) == 2 and all(r.startswith("KME_a>") and r.endswith(">KME_c") for r in routes)
    assert status["a"]["links"]["KME_c"]["committed_blocks"] >= 1
    _assert_middle_node_holds_nothing_of(honest, "b", [k.key for k in swapped])
    assert status["b"]["links"]["KME_c"]["committed_blocks"] >= 1 and status["b"]["links"]["KME_c"]["qber"] < 0.05
    for name, pid in honest.pids().items():
        assert alive(pid), name
    stopped = honest.down()
    assert not [pid for pid in stopped if alive(pid)]
    assert not (honest.dir / "network.json").exists()


def _assert_middle_node_holds_nothing_of(up: Up, node: str, keys: list[bytes]) -> None:
    """The repeater of an end-to-end link ran nothing of it: no session, no pool rows, no byte of its keys in
    its process's files (pool, state, logs, status), raw, hex or base64."""
    here = up.dir / "nodes" / node
    assert "a-b-c" not in (here / "node.toml").read_text() and not list(here.glob("*a-b-c*"))
    conn = sqlite3.connect(f"file:{here / 'keys.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        links = {row[0] for row in conn.execute("SELECT DISTINCT link_id FROM blocks")}
    finally:
        conn.close()
    assert links and "KME_a|KME_c" not in links
    files = [*here.iterdir(), up.dir / "logs" / f"node-{node}.log"]
    contents = b"".join(path.read_bytes() for path in files if path.is_file())
    for key in keys:
        for form in (key, key.hex().encode(), base64.b64encode(key), key[:8]):
            assert form not in contents


def _blocks(pool: Path) -> int:
    conn = sqlite3.connect(f"file:{pool}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM blocks").fetchone()[0])
    finally:
        conn.close()


def test_eve_and_a_relay_node_killed_at_random_keys_route_around_once_and_identical(tmp_path: Path) -> None:
    up = Up(tmp_path, "--eve", "b-c=intercept-resend:1", "--block-interval-s", "0.5")
    pids: dict[str, int] = {}
    try:
        _key_with_retry(up, "SAE_a", "SAE_c")  # the network makes key
        delivered: list[tuple[UUID, bytes]] = []
        refused: list[int] = []
        wrong: list[str] = []
        stop = threading.Event()

        relay = [{"qkdnet_route": "relay"}]

        def ask() -> None:
            with up.client("SAE_a") as kme_a, up.client("SAE_c") as kme_c:
                while not stop.is_set():
                    try:  # by relay: the swapped link a-b-c would bypass b and Eve
                        sent = kme_a.enc_keys("SAE_c", number=1, size_bits=256, extension_mandatory=relay)
                    except EtsiError as exc:
                        refused.append(exc.status)
                        time.sleep(0.2)
                        continue
                    try:
                        (got,) = kme_c.dec_keys("SAE_a", [sent[0].key_id])  # a 200 means the key waits at c
                    except EtsiError as exc:
                        wrong.append(f"enc_keys gave {sent[0].key_id}, dec_keys refused it: {exc}")
                        continue
                    if got.key != sent[0].key:
                        wrong.append(f"{sent[0].key_id}: different bytes at the two ends")
                    delivered.append((sent[0].key_id, sent[0].key))

        client = threading.Thread(target=ask, daemon=True)
        client.start()
        rng = random.Random(14)
        pool_b = up.dir / "nodes" / "b" / "keys.sqlite"
        for kill in range(1, 4):
            time.sleep(rng.uniform(1.0, 4.0))
            before = _blocks(pool_b)
            os.kill(up.pids()["node-b"], signal.SIGKILL)  # b relays a's keys (a-b-d-c): mid-relay or between
            deadline = time.monotonic() + 60
            while up.log.read_text().count("node-b ended") < kill:
                assert time.monotonic() < deadline, up.log.read_text()
                time.sleep(0.2)
            time.sleep(rng.uniform(0.5, 2.0))
            assert _blocks(pool_b) >= before  # the restarted node keeps every committed block
        time.sleep(3.0)
        stop.set()
        client.join(timeout=60)
        assert not client.is_alive()
        assert not wrong, wrong[:3]
        assert len(delivered) >= 5, refused[-3:]
        assert set(refused) <= {503}  # a refusal says "not now", never a client error or a crash
        assert len({key_id for key_id, _ in delivered}) == len(delivered)  # never twice
        with up.client("SAE_c") as kme_c, pytest.raises(EtsiError) as again:  # nor again afterwards
            kme_c.dec_keys("SAE_a", [delivered[0][0]])
        assert again.value.status == 400
        status = up.status()
        c_to_b = status["c"]["links"]["KME_b"]  # c was never killed: its counts cover the whole run
        assert c_to_b["committed_blocks"] == 0 and c_to_b["aborted_blocks"] >= 1 and c_to_b["last_abort"]
        routes = {r for doc in status.values() for r in doc["routes"]}
        assert routes and not any("KME_b>KME_c" in r for r in routes)  # Eve's link carried no key
        pids = up.pids()
    finally:
        up.kill()
    assert not [name for name, pid in pids.items() if alive(pid)]
