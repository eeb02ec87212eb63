"""The key network under a hostile network and crashes, for a bounded time (issue 12 item 7).

Two node daemons and the link emulator run as processes; Alice reaches Bob through :class:`ChaosProxy`, which
flips bits, drops and injects bytes, delays and resets connections at seeded random times. SAEs fetch keys in
both directions through the ETSI API while a seeded schedule kill -9s a random process (Alice, Bob or the
emulator) and restarts it. Then the network runs without faults for a while, and the checks: both pools hold
the same blocks, byte for byte; no key was delivered twice, or under another ID, or differently to the two
SAEs; no tag-key slot was used twice on the wire; every block committed before a crash is still there; both
reserves hold key; key still flows at the end. The figures are printed (run with ``-s``) and written to
``soak-figures.json`` in the test's directory.

Run it alone: ``pytest -m soak -s tests/kms/test_soak.py``.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from qkdnet.kms.client import EtsiClient, EtsiError
from qkdnet.postprocess.auth import FrameHeader
from tests.kms.system import KeyNetwork, free_port, wait_until

SEED = 12
CHAOS_S = 75.0  # faults and crashes
CALM_S = 40.0  # at most this long without faults for key to flow again (it must, within it)
MEAN_FAULT_GAP_S = 2.5
MEAN_KILL_GAP_S = 15.0
KEY_BITS = 256


class ChaosProxy:
    """A TCP relay from Alice to Bob that corrupts the byte stream at seeded random times.

    A fault thread arms one fault at a time (mean gap ``mean_gap_s``); the next chunk relayed in either
    direction carries it: ``flip`` (one bit), ``drop`` (the chunk vanishes: the stream loses bytes), ``inject``
    (random bytes before the chunk), ``delay`` (up to 1.5 s), or ``reset`` (both sides closed at once). The
    clean bytes each node sent are parsed as frames so the test can check that no tag-key slot is used twice.
    """

    KINDS = ("flip", "drop", "inject", "delay", "reset")
    PREAMBLE = 22

    def __init__(self, target_port: int, *, port: int, seed: int, mean_gap_s: float) -> None:
        self.port = port
        self.target_port = target_port
        self.faults: Counter[str] = Counter()
        self.pads: dict[int, Counter[int]] = {0: Counter(), 1: Counter()}  # direction -> pad index -> uses
        self.enabled = threading.Event()
        self.enabled.set()
        self._rng = random.Random(seed)
        self._mean_gap_s = mean_gap_s
        self._armed: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._arm_faults, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._server.close()

    def _arm_faults(self) -> None:
        while not self._stop.wait(self._rng.expovariate(1 / self._mean_gap_s)):
            with self._lock:
                if self.enabled.is_set():
                    self._armed = self._rng.choice(self.KINDS)

    def _take_fault(self) -> tuple[str | None, float]:
        with self._lock:
            kind, self._armed = self._armed, None
            if kind is not None:
                self.faults[kind] += 1
            return kind, self._rng.random()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = (client, upstream)
            threading.Thread(target=self._pump, args=(client, upstream, pair, 0), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair, 1), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair: tuple[socket.socket, ...], direction: int) -> None:
        frames = _FrameParser()
        try:
            while data := src.recv(1 << 16):
                for header in frames.feed(data):
                    if header.direction == direction and header.tagged:  # only a tag uses its pad
                        self.pads[direction][header.pad_index] += 1
                kind, u = self._take_fault()
                if kind == "reset":
                    break
                if kind == "drop":
                    continue
                if kind == "delay":
                    time.sleep(1.5 * u)
                if kind == "flip":
                    i = int(u * len(data))
                    data = data[:i] + bytes([data[i] ^ (1 << (i % 8))]) + data[i + 1 :]
                if kind == "inject":
                    data = self._rng.randbytes(1 + int(64 * u)) + data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


class _FrameParser:
    """The frames of one direction of a connection: preamble, handshake proof, then sealed frames."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = ChaosProxy.PREAMBLE
        self._frames = 0

    def feed(self, data: bytes) -> list[FrameHeader]:
        self._buf += data
        out = []
        if self._skip:
            cut = min(self._skip, len(self._buf))
            del self._buf[:cut]
            self._skip -= cut
        while len(self._buf) >= 4:
            size = int.from_bytes(self._buf[:4], "little")
            if len(self._buf) < 4 + size:
                break
            frame = bytes(self._buf[4 : 4 + size])
            del self._buf[: 4 + size]
            self._frames += 1
            if self._frames > 1:  # the first is the handshake proof, not a sealed frame
                out.append(FrameHeader.split(frame)[0])
        return out


class Saes:
    """SAE_A and SAE_B fetching keys from their KMEs in both directions; every delivery is recorded."""

    def __init__(self, net: KeyNetwork) -> None:
        self.net = net
        self.enc: dict[str, list[tuple[str, bytes]]] = {"A": [], "B": []}  # master -> (key ID, key)
        self.dec: dict[str, list[tuple[str, bytes]]] = {"A": [], "B": []}  # slave -> (key ID, key)
        self.errors: Counter[str] = Counter()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(m, s), daemon=True) for m, s in (("A", "B"), ("B", "A"))
        ]
        for t in self._threads:
            t.start()

    def _client(self, sae: str) -> EtsiClient:
        pki = self.net.root / "pki"
        role = "alice" if sae == "A" else "bob"
        return EtsiClient(
            self.net.url(role), cert=pki / f"SAE_{sae}.crt", key=pki / f"SAE_{sae}.key", ca=pki / "ca.crt",
            timeout_s=5.0,
        )  # fmt: skip

    def _run(self, master: str, slave: str) -> None:
        while not self._stop.wait(0.3):
            try:
                with self._client(master) as m, self._client(slave) as s:
                    keys = m.enc_keys(f"SAE_{slave}", number=2, size_bits=KEY_BITS)
                    self.enc[master] += [(str(k.key_id), k.key) for k in keys]
                    got = s.dec_keys(f"SAE_{master}", [k.key_id for k in keys], wait_s=5.0)
                    self.dec[slave] += [(str(k.key_id), k.key) for k in got]
            except (EtsiError, OSError) as exc:  # a KME down or out of key: try again
                self.errors[type(exc).__name__ + str(getattr(exc, "status", ""))] += 1
            except Exception as exc:  # httpx's transport errors
                self.errors[type(exc).__name__] += 1

    def fetch_once(self) -> int:
        """One enc/dec round in each direction, after the SAE threads stopped; the keys it delivered."""
        before = sum(len(v) for v in self.dec.values())
        for master, slave in (("A", "B"), ("B", "A")):
            with self._client(master) as m, self._client(slave) as s:
                keys = m.enc_keys(f"SAE_{slave}", number=2, size_bits=KEY_BITS)
                self.enc[master] += [(str(k.key_id), k.key) for k in keys]
                got = s.dec_keys(f"SAE_{master}", [k.key_id for k in keys], wait_s=10.0)
                self.dec[slave] += [(str(k.key_id), k.key) for k in got]
        return sum(len(v) for v in self.dec.values()) - before

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=20)


def _reserve_slots(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("SELECT direction, length(slots) FROM reserve").fetchall()
        leases = dict(conn.execute("SELECT direction, next_index FROM lease").fetchall())
        firsts = dict(conn.execute("SELECT direction, first_index FROM reserve").fetchall())
    finally:
        conn.close()
    out = {}
    for direction, size in rows:
        skipped = max(0, leases.get(direction, firsts[direction]) - firsts[direction])
        out[direction] = max(0, size // 16 - skipped)  # what a restart could still use
    return out


@pytest.mark.soak
def test_the_key_network_survives_a_hostile_network_and_kill_9(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    proxy_port = free_port()
    net = KeyNetwork(tmp_path, alice_dials=proxy_port, seed=SEED)
    proxy = ChaosProxy(net.bob_port, port=proxy_port, seed=SEED, mean_gap_s=MEAN_FAULT_GAP_S)
    kills: Counter[str] = Counter()
    snapshots: list[dict[int, bytes]] = []
    saes: Saes | None = None
    started = time.monotonic()
    try:
        net.start()
        net.wait_blocks("bob", 1, timeout_s=60)
        saes = Saes(net)
        chaos_end = time.monotonic() + CHAOS_S
        while (now := time.monotonic()) < chaos_end:
            time.sleep(min(rng.expovariate(1 / MEAN_KILL_GAP_S), chaos_end - now))
            if time.monotonic() >= chaos_end:
                break
            victim = rng.choice(["alice", "bob", "emulator"])
            snapshots.append(net.blocks("alice"))
            net.kill(victim)
            kills[victim] += 1
            time.sleep(rng.uniform(0.0, 2.0))
            if victim == "emulator":
                net.start_emulator()
            else:
                net.start_node(victim)
        proxy.enabled.clear()
        for name, proc in net.procs.items():
            assert proc.poll() is None, f"{name} exited ({proc.returncode}):\n{net.log(name)[-3000:]}"
        at_calm = max(net.blocks("bob"), default=-1)
        wait_until(lambda: max(net.blocks("bob"), default=-1) >= at_calm + 2, CALM_S, "key to flow after the chaos")
        saes.stop()
        final = saes.fetch_once()  # key flows to the SAEs at the end, in both directions
    finally:
        if saes is not None:
            saes.stop()
        net.stop()
        proxy.close()
    wall = time.monotonic() - started

    alice = net.assert_pools_agree()  # equal block for block (Bob may lack only Alice's newest)
    for before in snapshots:
        assert all(alice.get(b) == d for b, d in before.items()), "a committed block changed or vanished"
    enc = saes.enc["A"] + saes.enc["B"]
    dec = saes.dec["A"] + saes.dec["B"]
    ids = [i for i, _ in enc]
    assert len(ids) == len(set(ids)), "a key ID was handed out twice"
    assert len({k for _, k in enc}) == len(enc), "the same key bytes were delivered under two IDs"
    by_id = dict(enc)
    assert all(by_id.get(i) == k for i, k in dec), "a slave SAE got a key its master did not get"
    assert len({i for i, _ in dec}) == len(dec), "a key was delivered twice to a slave"
    assert not ({i for i, _ in saes.enc["A"]} & {i for i, _ in saes.enc["B"]})
    reused = {d: [p for p, n in c.items() if n > 1] for d, c in proxy.pads.items()}
    assert reused == {0: [], 1: []}, f"tag-key slots used twice on the wire: {reused}"
    reserves = {role: _reserve_slots(tmp_path / f"{role}-state.sqlite") for role in ("alice", "bob")}
    assert all(n > 0 for r in reserves.values() for n in r.values()), reserves
    logs = net.log("alice") + net.log("bob")
    figures = {
        "seed": SEED,
        "wall_s": round(wall, 1),
        "chaos_s": CHAOS_S,
        "faults_injected": dict(proxy.faults),
        "faults_total": sum(proxy.faults.values()),
        "kill_9": dict(kills),
        "blocks_committed": len(alice),
        "keys_delivered_to_masters": len(enc),
        "keys_delivered_to_slaves": len(dec),
        "keys_delivered_after_calm": final,
        "sae_errors": dict(saes.errors),
        "tag_key_slots_on_wire": {d: len(c) for d, c in proxy.pads.items()},
        "tag_key_slots_reused": 0,
        "committed_blocks_lost": 0,
        "reserve_slots_at_end": reserves,
        "failed_or_dropped_sessions_logged": logs.count("connection dropped"),
        "pad_exhausted_lines": logs.count("PadExhausted"),
        "tracebacks": logs.count("Traceback"),
    }
    (tmp_path / "soak-figures.json").write_text(json.dumps(figures, indent=2))
    print("\nsoak figures:", json.dumps(figures, indent=2))
    assert figures["tracebacks"] == 0, logs[-3000:]
    assert final == 4 and len(dec) > final
