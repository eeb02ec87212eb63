"""A key network of real processes in a temp dir, for tests: link emulator, two node daemons, their pools."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import qkdnet

SCENARIO = """
seed = 2022
name = "two ion-trap labs"
[nodes.alice]
preset = "nadlinger2022"
[nodes.bob]
preset = "nadlinger2022"
[[links]]
endpoints = ["alice", "bob"]
length_km = 0.004
preset = "nadlinger2022"
heralding = "two-photon"
"""

NODE = """
[kme]
id = "{kme}"
peer_id = "{peer_kme}"
db = "{role}-keys.sqlite"
[api]
cert = "{role}.crt"
key = "{role}.key"
ca = "ca.crt"
[node]
role = "{role}"
state = "{role}-state.sqlite"
[peer]
port = {port}
io_timeout_s = 20.0
[device]
socket = "{role}.sock"
wait_s = 20.0
[auth]
bootstrap_key_file = "bootstrap.key"
[postprocess]
protocol = "{protocol}"
"""

LINK_ID = "KME_A|KME_B"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.05) -> None:
    """Poll ``check`` until it holds; fail the test with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


class KeyNetwork:
    """Emulator and nodes as subprocesses of this test, in ``root``; everything is stopped by :meth:`stop`."""

    def __init__(self, root: Path, *, protocol: str = "bbm92", pairs_per_block: int = 200_000, seed: int = 7) -> None:
        self.root = root
        self.protocol = protocol
        self.pairs_per_block = pairs_per_block
        self.seed = seed
        self.bob_port = free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        (root / "link.toml").write_text(SCENARIO)
        (root / "bootstrap.key").write_bytes(os.urandom(1 << 14))
        for role, kme, peer in (("alice", "KME_A", "KME_B"), ("bob", "KME_B", "KME_A")):
            text = NODE.format(role=role, kme=kme, peer_kme=peer, port=self.bob_port, protocol=protocol)
            self.write_config(role, text)

    def write_config(self, role: str, text: str) -> None:
        (self.root / f"{role}.toml").write_text(text)

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.log").open("ab")
        # The subprocess runs in the temp dir: give it this checkout's source tree, not a relative PYTHONPATH.
        full_env = {**os.environ, "PYTHONPATH": str(Path(qkdnet.__file__).parents[1]), **(env or {})}
        proc = subprocess.Popen(
            [sys.executable, "-m", "qkdnet", *args], cwd=self.root, stdout=log, stderr=log, env=full_env
        )
        log.close()
        self.procs[name] = proc
        return proc

    def start_emulator(self, *, eve: str | None = None, blocks: int | None = None) -> None:
        args = ["link-emulator", "--scenario", "link.toml", "--protocol", self.protocol, "--seed", str(self.seed)]
        args += ["--pairs-per-block", str(self.pairs_per_block), "--alice", "alice.sock", "--bob", "bob.sock"]
        if eve:
            args += ["--eve", eve]
        if blocks:
            args += ["--blocks", str(blocks)]
        self._spawn("emulator", args)

    def start_node(self, role: str, *, crash_at: str | None = None) -> subprocess.Popen[bytes]:
        env = {"QKDNET_NODE_CRASH_AT": crash_at} if crash_at else {"QKDNET_NODE_CRASH_AT": ""}
        return self._spawn(role, ["node", "--config", f"{role}.toml"], env)

    def start(self, **emulator: object) -> None:
        self.start_emulator(**emulator)  # type: ignore[arg-type]
        self.start_node("bob")
        self.start_node("alice")

    def kill(self, name: str) -> None:
        """kill -9."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM everything, SIGKILL what does not stop in 10 s."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_log(self, name: str, pattern: str, timeout_s: float = 30.0) -> re.Match[str]:
        found: list[re.Match[str]] = []

        def check() -> bool:
            m = re.search(pattern, self.log(name))
            if m:
                found.append(m)
            return m is not None

        wait_until(check, timeout_s, f"/{pattern}/ in {name}'s log:\n{self.log(name)[-3000:]}")
        return found[0]

    def blocks(self, role: str) -> dict[int, bytes]:
        """Committed block IDs and their digests in ``role``'s pool (equal digests: equal keys)."""
        path = self.root / f"{role}-keys.sqlite"
        if not path.exists():
            return {}
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            rows = conn.execute("SELECT block_id, digest FROM blocks WHERE link_id = ?", (LINK_ID,)).fetchall()
        except sqlite3.OperationalError:
            return {}
        finally:
            conn.close()
        return {int(b): bytes(d) for b, d in rows}

    def wait_blocks(self, role: str, count: int, timeout_s: float = 60.0) -> None:
        def check() -> bool:
            for name, proc in self.procs.items():
                if proc.poll() is not None and name != "emulator":
                    raise AssertionError(f"{name} exited ({proc.returncode}):\n{self.log(name)[-3000:]}")
            return len(self.blocks(role)) >= count

        wait_until(check, timeout_s, f"{count} blocks in {role}'s pool; alice: {self.log('alice')[-2000:]}")

    def assert_pools_agree(self) -> dict[int, bytes]:
        """Both pools hold the same keys; Bob may miss only Alice's newest block (its Committed in flight)."""
        alice, bob = self.blocks("alice"), self.blocks("bob")
        common = set(alice) & set(bob)
        assert all(alice[b] == bob[b] for b in common), "the pools hold different keys for the same block"
        assert set(bob) <= set(alice), f"bob committed blocks alice did not: {sorted(set(bob) - set(alice))}"
        assert len(set(alice) - set(bob)) <= 1 and (not alice or set(alice) - set(bob) <= {max(alice)})
        assert sorted(alice) == list(range(len(alice))), f"alice's block IDs have gaps: {sorted(alice)}"
        return alice
