"""A node whose tag-key reserve ran out stops once and says why; start-up reports usable slots; SIGTERM is quick."""

from __future__ import annotations

import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qkdnet.kms import load_node_config
from qkdnet.kms.node import HALT_RESERVE_SLOTS, NodeDaemon
from qkdnet.kms.node_state import NodeState
from tests.kms.system import KeyNetwork


@pytest.fixture
def net(tmp_path: Path) -> Iterator[KeyNetwork]:
    network = KeyNetwork(tmp_path)
    yield network
    network.stop()


def _drain_send_reserve(root: Path, role: str) -> None:
    """Leave ``role``'s state as issue 12 found it: its send lease past the end of its reserve (0 usable slots)."""
    path = root / f"{role}-state.sqlite"
    NodeState(path, side=role, bootstrap_key_file=root / "bootstrap.key").close()  # type: ignore[arg-type]
    direction = "alice_to_bob" if role == "alice" else "bob_to_alice"
    conn = sqlite3.connect(path)
    conn.execute("INSERT OR REPLACE INTO lease VALUES (?, ?)", (direction, 1_000_000))
    conn.commit()
    conn.close()
    for file in root.glob(f"{role}-state.sqlite*"):
        file.chmod(0o600)


def test_a_drained_reserve_stops_key_exchange_once_with_the_numbers(net: KeyNetwork) -> None:
    _drain_send_reserve(net.root, "alice")
    net.start()
    net.wait_log("alice", r"key exchange stops")
    time.sleep(3.0)  # long enough for ~15 retries at the old 200 ms pace
    log = net.log("alice")
    assert "usable tag-key slots: alice → bob 0, bob → alice 512" in log  # not "65536 bits in reserve" alone
    assert log.count("key exchange stops") == 1
    assert "alice → bob 0 slots (0 bits) left, 64 slots needed" in log
    assert "PadExhausted" not in log + net.log("bob")
    assert net.procs["alice"].poll() is None  # the node (and its ETSI API) stays up
    assert net.blocks("alice") == {}


def test_status_says_why_a_node_makes_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    KeyNetwork(tmp_path)
    monkeypatch.chdir(tmp_path)
    fresh = NodeDaemon(load_node_config(tmp_path / "bob.toml", check_files=False), serve_api=False)
    assert fresh.status()["key_exchange"] == "running" and fresh.status()["reason"] is None
    fresh.close()
    _drain_send_reserve(tmp_path, "alice")
    daemon = NodeDaemon(load_node_config(tmp_path / "alice.toml", check_files=False), serve_api=False)
    status = daemon.status()
    daemon.close()
    assert status["key_exchange"] == "stopped"
    assert status["reserve_slots"] == {"alice_to_bob": 0, "bob_to_alice": 512}
    assert f"{HALT_RESERVE_SLOTS} slots needed" in status["reason"]


def test_sigterm_ends_a_reconnecting_node_at_once(net: KeyNetwork) -> None:
    """A peer that accepts and never answers: the node sits in its handshake and retries; SIGTERM ends it."""
    silent = socket.create_server(("127.0.0.1", net.bob_port))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(silent.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        net.start_emulator()
        node = net.start_node("alice")
        net.wait_log("alice", r"serving the ETSI")
        time.sleep(1.0)
        started = time.monotonic()
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=10)
        took = time.monotonic() - started
    finally:
        silent.close()
        for conn in held:
            conn.close()
    assert node.returncode == 0
    # Measured 0.1-1.0 s at load average 5-6 on 2 cores and 2.2 s at 26 (the stop line within 0.25 s, then
    # process teardown); a node that waited for its handshake instead would take the peers' 20 s I/O timeout.
    assert took < 5.0, f"SIGTERM took {took:.2f} s"
