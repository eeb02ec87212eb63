"""Strangers and replayed handshakes never disturb the live session: both nodes prove the shared key first."""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

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


def _load_benchmark() -> ModuleType:
    """benchmarks/node_loopback.py, whose strangers and flood this test shares (it measures the full 60 s)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "node_loopback.py"
    spec = importlib.util.spec_from_file_location("node_loopback", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_benchmark()


def test_garbage_and_a_replayed_handshake_leave_the_live_session_alone(
    recorded: tuple[KeyNetwork, FrameProxy],
) -> None:
    net, proxy = recorded
    net.start()
    net.wait_blocks("bob", 1)
    replay = bytes(proxy.recorded[:HANDSHAKE_BYTES])
    assert len(replay) == HANDSHAKE_BYTES and replay[:4] == b"QKDN"
    bench.stranger(net.bob_port, os.urandom(64))
    time.sleep(0.1)
    bench.stranger(net.bob_port, replay)  # Bob's nonce is fresh, so yesterday's proof is wrong today
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
    flooder = threading.Thread(target=bench.flood, args=(net.bob_port, stop, sent), daemon=True)
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
