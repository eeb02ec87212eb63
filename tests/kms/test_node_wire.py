"""A peer that speaks garbage, forges, replays or truncates frames: refused with one log line, the daemon goes on."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kms.system import FrameProxy, KeyNetwork, free_port


@pytest.fixture
def proxied(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[KeyNetwork, FrameProxy]]:
    """Alice dials a relay in front of Bob; the relay does ``request.param`` to her first connection."""
    relay_port = free_port()
    net = KeyNetwork(tmp_path, alice_dials=relay_port)
    proxy = FrameProxy(net.bob_port, request.param, port=relay_port)
    yield net, proxy
    proxy.close()
    net.stop()


@pytest.mark.parametrize(
    ("proxied", "bob_says"),
    [
        ("forge", r"AuthenticationFailed: tag mismatch: a frame was forged or altered"),
        ("truncate", r"truncated frame: \d+ of \d+ bytes"),
    ],
    indirect=["proxied"],
    ids=["forged", "truncated"],
)
def test_a_forged_or_truncated_frame_is_refused_and_key_making_resumes(
    proxied: tuple[KeyNetwork, FrameProxy], bob_says: str
) -> None:
    net, proxy = proxied
    net.start()
    assert proxy.acted.wait(30), "the relay never saw the frame it should tamper with"
    net.wait_log("bob", bob_says)
    net.wait_blocks("bob", 2)  # after a reconnection, keys are made again
    net.stop()
    net.assert_pools_agree()
    assert all(p.returncode in (0, -15) for p in net.procs.values())


@pytest.mark.parametrize("proxied", ["record"], indirect=True)
def test_replayed_frames_are_refused(proxied: tuple[KeyNetwork, FrameProxy]) -> None:
    """Replay everything Alice said on an earlier connection: its session ids are stale, every frame fails."""
    net, proxy = proxied
    net.start()
    net.wait_blocks("bob", 1)
    replay = bytes(proxy.recorded)
    assert len(replay) > 1000
    with socket.create_connection(("127.0.0.1", net.bob_port)) as s:
        s.sendall(replay)
        time.sleep(0.2)
    net.wait_log("bob", r"alice's handshake proof is wrong")  # Bob's nonce is fresh: refused before any frame
    before = len(net.blocks("bob"))
    net.wait_blocks("bob", before + 2)
    net.stop()
    net.assert_pools_agree()


def test_garbage_from_a_stranger_is_logged_and_ignored(tmp_path: Path) -> None:
    net = KeyNetwork(tmp_path)
    net.start()
    net.wait_blocks("bob", 1)
    for payload in (os.urandom(4096), b"GET / HTTP/1.1\r\n\r\n" + bytes(40), b"QKDN\x01"):
        with socket.create_connection(("127.0.0.1", net.bob_port)) as s:
            s.sendall(payload)
    net.wait_log("bob", r"does not speak the qkdnet node protocol")  # the next two: counted, one line per 5 s
    before = len(net.blocks("bob"))
    net.wait_blocks("bob", before + 2)  # the stranger never disturbed Alice's connection
    net.stop()
    net.assert_pools_agree()
    assert "Traceback" not in net.log("bob")


def test_a_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    net = KeyNetwork(tmp_path)
    net.write_config("alice", (tmp_path / "alice.toml").read_text().replace('role = "alice"', 'role = "carol"'))
    result = net.cli("node", "--config", "alice.toml")
    assert result.returncode == 2
    assert "alice.toml: node.role:" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "bootstrap.key").write_bytes(b"short")
    result = net.cli("node", "--config", "bob.toml")
    assert len(result.stderr.strip().splitlines()) == 1
    assert (
        result.returncode == 2
        and "bootstrap key must be at least 8192 bytes and a multiple of 32, got 5" in result.stderr
    )


def test_a_missing_certificate_stops_the_api_not_the_node(tmp_path: Path) -> None:
    net = KeyNetwork(tmp_path)
    (tmp_path / "pki" / "KME_B.key").unlink()
    net.start()
    net.wait_log("bob", r"ETSI API not served: cannot read api\.key")
    net.wait_blocks("bob", 1)
    net.stop()
    net.assert_pools_agree()


def test_an_api_port_someone_else_holds_stops_the_api_not_the_node(tmp_path: Path) -> None:
    """uvicorn exits the process when its port is taken; the node logs it and goes on making key."""
    import socket

    net = KeyNetwork(tmp_path)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", net.api_ports["alice"]))
        squatter.listen()
        net.start()
        net.wait_log("alice", r"ETSI API not served: it could not start")
        net.wait_blocks("alice", 1)
        net.stop()
    net.assert_pools_agree()


def test_pools_that_cannot_be_reconciled_stop_key_exchange_not_the_node(tmp_path: Path) -> None:
    """Bob's pool holds a block Alice never committed (e.g. a database from another link): both stop making key."""
    from qkdnet.kms import SqliteKeyPool

    net = KeyNetwork(tmp_path)
    with SqliteKeyPool(tmp_path / "bob-keys.sqlite") as pool:
        pool.commit_block(link_id="KME_A|KME_B", block_id=0, key=bytes(64))
    net.start()
    net.wait_log("alice", r"the pools disagree beyond repair: alice's last block None, bob's 0")
    net.wait_log("bob", r"key exchange stops until an operator fixes it")
    time.sleep(1.0)
    assert net.procs["alice"].poll() is None and net.procs["bob"].poll() is None
    assert net.log("alice").count("pools disagree") == 1  # no retries that would spend authentication key
    net.stop()
