"""Strangers and replayed handshakes never disturb the live session: both nodes prove the shared key first."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kms.system import FrameProxy, KeyNetwork, free_port

#: Alice's preamble (22 bytes) and her handshake proof (a u32 length and a 32-byte MAC).
HANDSHAKE_BYTES = 22 + 4 + 32


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[KeyNetwork, FrameProxy]]:
    """Alice dials Bob through a relay that records what she sends on her first connection."""
    relay_port = free_port()
    net = KeyNetwork(tmp_path, alice_dials=relay_port)
    proxy = FrameProxy(net.bob_port, "record", port=relay_port)
    yield net, proxy
    proxy.close()
    net.stop()


def _poke(port: int, payload: bytes) -> None:
    """One stranger's connection: send ``payload``, read whatever comes back for a moment, hang up."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
        s.sendall(payload)
        s.settimeout(0.05)
        s.recv(4096)


def test_garbage_and_a_replayed_handshake_leave_the_live_session_alone(
    recorded: tuple[KeyNetwork, FrameProxy],
) -> None:
    net, proxy = recorded
    net.start()
    net.wait_blocks("bob", 1)
    replay = bytes(proxy.recorded[:HANDSHAKE_BYTES])
    assert len(replay) == HANDSHAKE_BYTES and replay[:4] == b"QKDN"
    _poke(net.bob_port, os.urandom(64))
    time.sleep(0.1)
    _poke(net.bob_port, replay)  # Bob's nonce is fresh, so yesterday's proof is wrong today
    net.wait_log("bob", r"handshake proof is wrong: it does not know the shared key|does not speak the qkdnet")
    before = len(net.blocks("bob"))
    net.wait_blocks("bob", before + 2)
    net.stop()
    net.assert_pools_agree()
    bob = net.log("bob")
    assert "replaces the current one" not in bob
    assert bob.count("peer connected") == 1 and net.log("alice").count("peer connected") == 1
    assert "Traceback" not in bob


def _rate(net: KeyNetwork, seconds: float) -> float:
    """Blocks Bob commits per second over the next ``seconds``."""
    start, t0 = len(net.blocks("bob")), time.monotonic()
    time.sleep(seconds)
    return (len(net.blocks("bob")) - start) / (time.monotonic() - t0)


def test_a_flood_of_strangers_barely_slows_key_making(tmp_path: Path) -> None:
    """One garbage or replayed-preamble connection per 10 ms: the live session keeps its key rate."""
    net = KeyNetwork(tmp_path)
    net.start()
    net.wait_blocks("bob", 2)
    baseline = _rate(net, 8.0)
    stop = threading.Event()
    sent = [0]
    fake = b"QKDN\x02\x00" + bytes(16) + (32).to_bytes(4, "little") + bytes(32)

    def flood() -> None:
        while not stop.is_set():
            payload = fake if sent[0] % 2 else os.urandom(40)
            threading.Thread(target=_poke, args=(net.bob_port, payload), daemon=True).start()
            sent[0] += 1
            time.sleep(0.01)

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        flooded = _rate(net, 8.0)
    finally:
        stop.set()
        flooder.join()
    print(f"baseline {baseline:.2f} blocks/s, under flood {flooded:.2f} blocks/s, {sent[0]} connections")
    net.stop()
    net.assert_pools_agree()
    bob = net.log("bob")
    assert sent[0] > 300
    assert "replaces the current one" not in bob and bob.count("peer connected") == 1
    assert bob.count("dropped before authenticating") <= 8.0 / 5.0 + 2  # rate-limited: one line per 5 s
    # The <5 % target is measured and reported; on a loaded shared CI host only a gross slowdown fails here.
    assert flooded >= 0.7 * baseline, (baseline, flooded)
