"""``qkdnet demo --system``: the whole key network on loopback, as real processes, then again with Eve.

In a throwaway directory: a test PKI (``qkdnet pki``), the link emulator (a pair of time taggers on an
entangled-photon source, their clocks 0.314 s apart and drifting 1.5 ppm, which the nodes find from the clicks
alone), two node daemons that make key over TCP and serve the ETSI GS QKD 014 API,
keys accumulating in both SQLite pools, SAE_A sending a file to SAE_B under a one-time pad (keys by
``enc_keys`` and ``dec_keys``, ciphertext over plain TCP) — and a second run with Eve intercepting every
photon of the nadlinger2022 ion-trap link, where the nodes abort every block and the KMEs have no key to
deliver. Everything stops cleanly.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

import qkdnet

if TYPE_CHECKING:
    from qkdnet.kms.client import EtsiClient

KMES = ("KME_A", "KME_B")
SAES = ("SAE_A", "SAE_B")
PAIRS_PER_BLOCK = 1_000_000
TARGET_BLOCKS = 3
EVE = "intercept-resend:1"
MESSAGE = (
    b"Entanglement shares randomness, never a signal. This file crossed an insecure TCP connection under a "
    b"one-time pad whose key two atoms' worth of physics grew in two SQLite pools. -- SAE_A\n"
)
SCENARIO = """seed = 2022
name = "two ion-trap labs"
description = "Nadlinger et al. 2022: two trapped-ion nodes, 2 m of fiber"
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
#: The honest run's link: the same two labs, with an SPDC source between them and time taggers on their own
#: clocks instead of paired-up records; detectors and source take :mod:`qkdnet.hardware.timetagger`'s defaults.
TIMETAG_SCENARIO = (
    SCENARIO
    + """[links.timetags]
block_s = 1.0
[links.timetags.bob]
clock_offset_ps = 314_100_000_000
clock_drift_ppm = 1.5
clock_wander_ps = 50.0
"""
)
NODE = """[kme]
id = "{kme}"
peer_id = "{peer_kme}"
db = "{role}-keys.sqlite"
[api]
port = {api_port}
cert = "pki/{kme}.crt"
key = "pki/{kme}.key"
ca = "pki/ca.crt"
peer_url = "https://127.0.0.1:{peer_api_port}"
[saes.SAE_A]
kme = "KME_A"
partners = ["SAE_B"]
[saes.SAE_B]
kme = "KME_B"
[node]
role = "{role}"
state = "{role}-state.sqlite"
[peer]
port = {peer_port}{peer_extra}
[device]
socket = "{role}.sock"{device_extra}
[auth]
bootstrap_key_file = "bootstrap.key"
[postprocess]
protocol = "{protocol}"
"""


def node_config(
    *,
    role: str,
    kme: str,
    peer_kme: str,
    api_port: int,
    peer_api_port: int,
    peer_port: int,
    protocol: str,
    io_timeout_s: float | None = None,
    device_wait_s: float | None = None,
) -> str:
    """One node's config file of the loopback key network (the demo's, and the tests' with their timeouts)."""
    return NODE.format(
        role=role,
        kme=kme,
        peer_kme=peer_kme,
        api_port=api_port,
        peer_api_port=peer_api_port,
        peer_port=peer_port,
        protocol=protocol,
        peer_extra="" if io_timeout_s is None else f"\nio_timeout_s = {io_timeout_s!r}",
        device_extra="" if device_wait_s is None else f"\nwait_s = {device_wait_s!r}",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopbackSystem:
    """A key network in ``root``: PKI, configs, then emulator and nodes as processes; :meth:`stop` ends them all."""

    def __init__(
        self, root: Path, *, pairs_per_block: int = PAIRS_PER_BLOCK, protocol: str = "e91", scenario: str = SCENARIO
    ) -> None:
        self.root = root
        self.pairs_per_block = pairs_per_block
        self.protocol = protocol
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.api_ports = {"alice": _free_port(), "bob": _free_port()}
        self.peer_port = peer_port = _free_port()  # Bob listens, Alice dials
        from qkdnet.kms.keyfiles import write_private
        from qkdnet.kms.pki import init_pki

        init_pki(root / "pki", kme_ids=KMES, sae_ids=SAES)
        (root / "link.toml").write_text(scenario)
        write_private(root / "bootstrap.key", os.urandom(1 << 14))  # the pre-shared authentication key, 0600
        for role, kme, peer in (("alice", "KME_A", "KME_B"), ("bob", "KME_B", "KME_A")):
            other = "bob" if role == "alice" else "alice"
            text = node_config(
                role=role,
                kme=kme,
                peer_kme=peer,
                api_port=self.api_ports[role],
                peer_api_port=self.api_ports[other],
                peer_port=peer_port,
                protocol=protocol,
            )
            (root / f"{role}.toml").write_text(text)

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "qkdnet", *args], cwd=self.root, stdout=log, stderr=log, env=_env()
            )
        self.procs[name] = proc
        return proc

    def cli(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "qkdnet", *args]
        return subprocess.run(  # noqa: S603
            command, cwd=self.root, capture_output=True, text=True, timeout=timeout_s, env=_env(), check=False
        )

    def start(self, eve: str | None) -> None:
        emulator = ["link-emulator", "--scenario", "link.toml", "--pairs-per-block", str(self.pairs_per_block)]
        emulator += ["--protocol", self.protocol]
        self.spawn("emulator", *emulator, *(["--eve", eve] if eve else []))
        self.spawn("bob", "node", "--config", "bob.toml")
        self.spawn("alice", "node", "--config", "alice.toml")

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def blocks(self, role: str) -> tuple[int, int]:
        """(blocks, bytes) committed in ``role``'s pool."""
        path = self.root / f"{role}-keys.sqlite"
        if not path.exists():
            return 0, 0
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            try:
                n, size = conn.execute("SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM blocks").fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return 0, 0
        return int(n), int(size)

    def wait(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            for name in ("alice", "bob"):
                if self.procs[name].poll() is not None:
                    raise RuntimeError(f"{name}'s node exited:\n{self.log(name)[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def stop(self) -> bool:
        """SIGTERM every process (SIGKILL after 10 s); True if all ended by themselves."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        clean = True
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                clean = False
                proc.kill()
                proc.wait()
        return clean

    def url(self, role: str) -> str:
        return f"https://127.0.0.1:{self.api_ports[role]}"

    def etsi(self, role: str, sae: str) -> EtsiClient:
        from qkdnet.kms.client import EtsiClient

        pki = self.root / "pki"
        return EtsiClient(self.url(role), cert=pki / f"{sae}.crt", key=pki / f"{sae}.key", ca=pki / "ca.crt")


def _env() -> dict[str, str]:
    """The environment of a child process: this qkdnet's source tree first."""
    return {**os.environ, "PYTHONPATH": str(Path(qkdnet.__file__).parents[1])}


def run_system_demo(console: Console) -> bool:
    """Both runs; True if the honest run delivered the file and Eve's run delivered no key."""
    console.print(
        "\n[bold cyan]The whole system on loopback[/bold cyan]: link emulator, two node daemons, two KMEs "
        "(ETSI GS QKD 014 over mutual TLS), two SAEs"
    )
    with tempfile.TemporaryDirectory(prefix="qkdnet-system-") as tmp:
        honest = _honest_run(Path(tmp) / "honest", console)
    with tempfile.TemporaryDirectory(prefix="qkdnet-system-eve-") as tmp:
        caught = _eve_run(Path(tmp) / "eve", console)
    verdict = "[green]OK[/green]" if honest and caught else "[red]FAILED[/red]"
    console.print(f"\nsystem demo: {verdict} (every process stopped, temp directories removed)")
    return honest and caught


def _honest_run(root: Path, console: Console) -> bool:
    root.mkdir()
    system = LoopbackSystem(root, protocol="bbm92", scenario=TIMETAG_SCENARIO)
    console.print(
        f"\n[bold]1. Start[/bold] (in {root.parent}): a test PKI for {', '.join(KMES + SAES)}; the link emulator "
        "(two time taggers on an entangled-photon source, 1 s of clicks per block, BBM92; Bob's clock 0.3141 s "
        "ahead and 1.5 ppm fast, which nobody tells the nodes); nodes alice (KME_A) and bob (KME_B), each serving "
        "ETSI 014"
    )
    system.start(eve=None)
    ok = False
    try:
        t0 = time.monotonic()

        def enough() -> bool:
            return min(system.blocks("alice")[0], system.blocks("bob")[0]) >= TARGET_BLOCKS

        system.wait(enough, 120, "key blocks")
        a, b = system.blocks("alice"), system.blocks("bob")
        console.print(
            f"\n[bold]2. Keys accumulate[/bold] after {time.monotonic() - t0:.1f} s: KME_A's pool {a[0]} blocks "
            f"({a[1]:,} bytes), KME_B's pool {b[0]} blocks ({b[1]:,} bytes)"
        )
        for line in _node_lines(system.log("alice"))[: 3 * TARGET_BLOCKS]:
            console.print(f"   [dim]alice: {line}[/dim]")
        with system.etsi("alice", "SAE_A") as kme_a:
            status = kme_a.status("SAE_B")
        console.print(
            f"   SAE_A asks KME_A (GET /api/v1/keys/SAE_B/status): {status['stored_key_count']:,} keys of "
            f"{status['key_size']} bits in store for SAE_A → SAE_B"
        )
        ok = _send_file(system, root, console)
        return ok
    finally:
        clean = system.stop()
        a, b = system.blocks("alice"), system.blocks("bob")
        console.print(f"   stopped: KME_A {a[0]} blocks, KME_B {b[0]} blocks; every process ended on SIGTERM: {clean}")


def _send_file(system: LoopbackSystem, root: Path, console: Console) -> bool:
    console.print("\n[bold]3. A file crosses the insecure network under a one-time pad[/bold]")
    (root / "message.txt").write_bytes(MESSAGE)
    port = _free_port()
    pki = ("--pki", "pki")
    listen = ("--listen", f"127.0.0.1:{port}", "--out", "inbox", "--once")
    receiver = system.spawn("receiver", "receive", "--kme", system.url("bob"), *listen, *pki, "--sae", "SAE_B")
    system.wait(lambda: "listening" in system.log("receiver"), 30, "the receiver")
    to = ("--to", "SAE_B", "--peer", f"127.0.0.1:{port}")
    sent = system.cli("send", "message.txt", "--kme", system.url("alice"), *to, *pki, "--sae", "SAE_A")
    receiver.wait(timeout=30)
    console.print(f"   SAE_A: {(sent.stdout or sent.stderr).strip()}")
    for line in system.log("receiver").strip().splitlines():
        console.print(f"   SAE_B: {line}")
    target = root / "inbox" / "message.txt"
    ok = sent.returncode == 0 and target.exists() and target.read_bytes() == MESSAGE
    same = "[green]identical[/green]" if ok else "[red]NOT identical[/red]"
    console.print(f"   the file SAE_B wrote is {same} to SAE_A's ({len(MESSAGE)} bytes)")
    return ok


def _eve_run(root: Path, console: Console) -> bool:
    from qkdnet.kms.client import EtsiError

    root.mkdir()
    system = LoopbackSystem(root)
    console.print(f"\n[bold]4. Again, with Eve on the fiber[/bold] ({EVE}: she measures every photon and resends it)")
    system.start(eve=EVE)
    try:
        aborted = re.compile(r"block \d+ aborted, no key: (.*)")

        def both_aborted() -> bool:
            return all(len(aborted.findall(system.log(role))) >= 2 for role in ("alice", "bob"))

        system.wait(both_aborted, 120, "the nodes to abort")
        console.print(f"   both nodes abort every block: {aborted.findall(system.log('alice'))[0]}")
        a, b = system.blocks("alice"), system.blocks("bob")
        console.print(f"   KME_A's pool: {a[0]} blocks; KME_B's pool: {b[0]} blocks")
        delivered = True
        with system.etsi("alice", "SAE_A") as kme_a:
            try:
                kme_a.enc_keys("SAE_B", number=1, size_bits=256)
            except EtsiError as exc:
                delivered = False
                console.print(f"   SAE_A asks KME_A for a key: {exc}")
        caught = a[0] == 0 and b[0] == 0 and not delivered
        console.print(f"   no key delivered: {'[green]yes[/green]' if caught else '[red]NO[/red]'}")
        return caught
    finally:
        clean = system.stop()
        console.print(f"   stopped; every process ended on SIGTERM: {clean}")


def _node_lines(log: str) -> list[str]:
    out = []
    for line in log.splitlines():
        m = re.search(
            r"qkdnet\.node \w+ (block \d+: QBER.*|block \d+: .* clicks paired;.*|block \d+ committed.*)", line
        )
        if m:
            out.append(m.group(1))
    return out


__all__ = ["LoopbackSystem", "run_system_demo"]
