"""Key networks of real processes in a temp dir, for tests: two node daemons and their link emulator, or metro5's
``qkdnet network up`` (:class:`Up`)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import qkdnet
from qkdnet.cli.system_demo import SCENARIO, node_config
from qkdnet.kms.client import EtsiClient
from qkdnet.kms.keyfiles import write_private

LINK_ID = "KME_A|KME_B"

#: ``python -c`` this with ``ROLE:POINT[:BLOCK] node --config FILE``: a node that kills itself (SIGKILL) when it
#: reaches POINT of a block's commit (of block BLOCK, or of any block), through the node's test seam.
CRASHING_NODE = """
import logging, os, signal, sys
from qkdnet.cli.main import main
from qkdnet.kms import node
role, point, *block = sys.argv[1].split(":")

def crash(at_role, at_point, block_id):
    if (at_role, at_point) == (role, point) and (not block or int(block[0]) == block_id):
        logging.getLogger("qkdnet.node").warning("test seam: killing this node at %s of block %d", point, block_id)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)

node.COMMIT_POINT_HOOKS.append(crash)
sys.exit(main(sys.argv[2:]))
"""


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

    def __init__(
        self,
        root: Path,
        *,
        protocol: str = "bbm92",
        pairs_per_block: int = 200_000,
        seed: int = 7,
        alice_dials: int | None = None,
    ) -> None:
        from qkdnet.kms.pki import init_pki

        self.root = root
        self.protocol = protocol
        self.pairs_per_block = pairs_per_block
        self.seed = seed
        self.bob_port = free_port()
        self.api_ports = {"alice": free_port(), "bob": free_port()}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        init_pki(root / "pki", kme_ids=("KME_A", "KME_B"), sae_ids=("SAE_A", "SAE_B"))
        (root / "link.toml").write_text(SCENARIO)
        write_private(root / "bootstrap.key", os.urandom(1 << 14))  # a key file: 0600 or the node refuses
        for role, kme, peer, other in (("alice", "KME_A", "KME_B", "bob"), ("bob", "KME_B", "KME_A", "alice")):
            port = alice_dials if role == "alice" and alice_dials else self.bob_port
            text = node_config(
                role=role,
                kme=kme,
                peer_kme=peer,
                peer_port=port,
                protocol=protocol,
                api_port=self.api_ports[role],
                peer_api_port=self.api_ports[other],
                io_timeout_s=20.0,  # the tests' only difference from the demo: patient peers on a loaded machine
                device_wait_s=20.0,
            )
            self.write_config(role, text)

    def url(self, role: str) -> str:
        """The ETSI API of ``role``'s KME."""
        return f"https://127.0.0.1:{self.api_ports[role]}"

    def cli(
        self, *args: str, env: dict[str, str] | None = None, timeout_s: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run ``qkdnet ARGS`` in the network's directory and wait for it."""
        full_env = {**os.environ, "PYTHONPATH": str(Path(qkdnet.__file__).parents[1]), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "qkdnet", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout_s,
            check=False,
        )

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start ``qkdnet ARGS`` in the background (output in NAME.log)."""
        return self._spawn(name, list(args))

    def write_config(self, role: str, text: str) -> None:
        (self.root / f"{role}.toml").write_text(text)

    def _spawn(self, name: str, args: list[str], *, prefix: list[str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.log").open("ab")
        # The subprocess runs in the temp dir: give it this checkout's source tree, not a relative PYTHONPATH.
        full_env = {**os.environ, "PYTHONPATH": str(Path(qkdnet.__file__).parents[1])}
        command = [sys.executable, *(prefix or ["-m", "qkdnet"]), *args]
        proc = subprocess.Popen(command, cwd=self.root, stdout=log, stderr=log, env=full_env)
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
        """Start ``role``'s node; ``crash_at`` ("ROLE:POINT[:BLOCK]") makes it kill itself there (CRASHING_NODE)."""
        prefix = ["-c", CRASHING_NODE, crash_at] if crash_at else None
        return self._spawn(role, ["node", "--config", f"{role}.toml"], prefix=prefix)

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


class FrameProxy:
    """A TCP relay between Alice and Bob that can forge, truncate or record the frames Alice sends.

    ``mode`` acts on the first connection only: ``forge`` flips a byte inside frame ``frame``; ``truncate``
    relays half of it and closes both sides; ``record`` keeps every byte Alice sent in :attr:`recorded`.
    """

    PREAMBLE = 22

    def __init__(self, target_port: int, mode: str, *, port: int, frame: int = 3) -> None:
        self.port = port
        self.target_port = target_port
        self.mode = mode
        self.frame = frame
        self.recorded = bytearray()
        self.acted = threading.Event()
        self._connections = 0
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:  # Bob is not listening yet: this connection does not count
                client.close()
                continue
            first = self._connections == 0
            self._connections += 1
            threading.Thread(target=self._pump_frames, args=(client, upstream, first), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(1 << 16):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def _pump_frames(self, src: socket.socket, dst: socket.socket, first: bool) -> None:
        def exact(n: int) -> bytes:
            buf = b""
            while len(buf) < n:
                part = src.recv(n - len(buf))
                if not part:
                    raise ConnectionError
                buf += part
            return buf

        try:
            data = exact(self.PREAMBLE)
            if first and self.mode == "record":
                self.recorded += data
            dst.sendall(data)
            index = 0
            while True:
                head = exact(4)
                body = exact(int.from_bytes(head, "little"))
                if first and self.mode == "record":
                    self.recorded += head + body
                if first and index == self.frame and self.mode == "forge":
                    body = body[:50] + bytes([body[50] ^ 1]) + body[51:]
                    self.acted.set()
                if first and index == self.frame and self.mode == "truncate":
                    dst.sendall(head + body[: len(body) // 2])
                    self.acted.set()
                    raise ConnectionError
                dst.sendall(head + body)
                index += 1
        except (OSError, ConnectionError):
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


ROOT = Path(__file__).resolve().parents[2]
METRO5 = ROOT / "examples" / "network" / "metro5.toml"


def _ports_base() -> int:
    """A base no other test (nor a second worker) is likely to share: metro5 takes base .. base + 213, all
    below Linux's ephemeral range (32768 and up), where a client connection's own port could take one."""
    return 20_000 + 300 * random.SystemRandom().randrange(40)


class Up:
    """A ``qkdnet network up`` subprocess on a copy of metro5 with its own ports; :meth:`up` again after down."""

    def __init__(self, tmp_path: Path, *extra: str) -> None:
        text = METRO5.read_text().replace("ports_base = 28000", f"ports_base = {_ports_base()}")
        self.scenario = tmp_path / "metro5.toml"
        self.scenario.write_text(text)
        self.extra = extra
        self.dir = tmp_path / "net"
        self.log = tmp_path / "up.log"
        self.up()

    def up(self) -> None:
        """Start ``network up`` on this directory (its output appended to ``up.log``); wait for its network.json
        (a new file: a stale one, left by a supervisor killed, does not count)."""
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        command = [sys.executable, "-m", "qkdnet", "network", "up", str(self.scenario), "--dir", str(self.dir)]
        manifest = self.dir / "network.json"
        stale = manifest.stat().st_ino if manifest.exists() else None
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([*command, *self.extra], stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 180
        while not manifest.exists() or manifest.stat().st_ino == stale:
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "network.json never appeared:\n" + self.log.read_text()
            time.sleep(0.2)
        self.manifest = json.loads((self.dir / "network.json").read_text())

    def client(self, sae: str) -> EtsiClient:
        entry = self.manifest["saes"][sae]
        return EtsiClient(
            entry["kme_url"], cert=Path(entry["cert"]), key=Path(entry["key"]), ca=Path(self.manifest["ca"])
        )

    def pids(self) -> dict[str, int]:
        return {k: int(v) for k, v in json.loads((self.dir / "processes.json").read_text()).items()}

    def status(self) -> dict:  # type: ignore[type-arg]
        out = subprocess.run(
            [sys.executable, "-m", "qkdnet", "network", "status", "--dir", str(self.dir), "--json"],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )  # fmt: skip
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    def down(self) -> list[int]:
        """``network down``; the pids it should have stopped."""
        pids = [*self.pids().values(), self.proc.pid]
        done = subprocess.run(
            [sys.executable, "-m", "qkdnet", "network", "down", "--dir", str(self.dir)],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, timeout=90,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        self.proc.wait(timeout=30)
        return pids

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
