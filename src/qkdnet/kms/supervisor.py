"""The supervisor of a whole key network on loopback: what ``qkdnet network up|down|status`` run.

From a :class:`NetworkPlan` (the scenario's nodes, links and ``[system]`` table, read by the CLI) it writes,
in one directory: a test PKI (one KME certificate per node, one SAE certificate per SAE) and a bootstrap
authentication key per link (0600), both kept when ``network up`` runs there again; one node-daemon session
config per link end, one network-node config per node (:mod:`qkdnet.kms.network_config`); then it starts
one link emulator per link (a pair of emulated QKD devices, with Eve on the links asked for; for an
end-to-end link, the repeater nodes too, so that the nodes between its ends run nothing of it and never see
its key) and one node process per node (:mod:`qkdnet.kms.network_node`), waits until every KME answers over
mutual TLS, and writes ``network.json``::

    {"ca": PATH, "nodes": {NODE: {"kme_id": ID, "kme_url": URL}},
     "saes": {SAE_ID: {"node": NODE, "kme_url": URL, "cert": PATH, "key": PATH}}}

with absolute paths. :meth:`KeyNetwork.revive` restarts a process that ended (with a backoff, one line per
restart) and gives up on one that keeps ending; :meth:`KeyNetwork.stop` ends every process it started
(SIGTERM, then SIGKILL after a grace period); ``network.pid`` names the supervisor so that ``qkdnet network
down`` can ask it to stop. Its children follow it (:func:`follow_supervisor`): a supervisor killed leaves
nothing running, and ``network up`` again on the same directory starts over the same pools.
Ports on 127.0.0.1: node i's KME listens on ``ports_base + i``, link j's session on ``ports_base + 100 + j``,
link j's emulated devices on ``ports_base + 200 + 2j`` (Alice's) and the next (Bob's).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qkdnet.errors import QkdnetError
from qkdnet.kms.keyfiles import private_dir, write_private
from qkdnet.kms.relay import RelayPolicy

MANIFEST = "network.json"
PIDFILE = "network.pid"
PROCESSES = "processes.json"
SUPERVISOR_ENV = "QKDNET_SUPERVISOR_PID"
"""Set in a child's environment to the supervisor's pid: the child follows it (:func:`follow_supervisor`)."""
_PR_SET_PDEATHSIG = 1
LINK_PORT_OFFSET = 100
DEVICE_PORT_OFFSET = 200
BOOTSTRAP_KEY_BYTES = 1 << 14
STOP_GRACE_S = 15.0
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
RESTART_BACKOFF_S = 0.5
RESTART_BACKOFF_MAX_S = 8.0


class NetworkError(QkdnetError):
    """The key network could not start or stop as asked (a port taken, a process that died, a stale pidfile)."""


def kme_id(node: str) -> str:
    """The KME of a node: ``KME_<node>``."""
    return f"KME_{node}"


@dataclass(frozen=True, slots=True)
class PlannedLink:
    """A QKD link: its scenario label and its two nodes (``alice`` dials, ``bob`` listens); ``via`` names the
    repeaters of an end-to-end link, whose pairs come by entanglement swapping (the emulator plays them)."""

    label: str
    alice: str
    bob: str
    via: tuple[str, ...] = ()

    @property
    def path(self) -> tuple[str, ...]:
        """The nodes from ``alice`` to ``bob``."""
        return (self.alice, *self.via, self.bob)


@dataclass(frozen=True, slots=True)
class NetworkPlan:
    """What the supervisor starts: nodes, links, SAEs (SAE → node), relay policy, ports, device settings."""

    scenario: Path
    nodes: tuple[str, ...]
    links: tuple[PlannedLink, ...]
    saes: Mapping[str, str]
    relay: RelayPolicy = "hops"
    ports_base: int = 28000
    protocol: str = "bbm92"
    pairs_per_block: int = 400_000
    block_interval_s: float = 0.0
    """Pause of every link's devices between blocks (0: as fast as the nodes take them)."""
    eve: Mapping[str, str] = field(default_factory=dict)
    """Link label → ``KIND:STRENGTH`` of the eavesdropper on it."""


class KeyNetwork:
    """One key network in ``directory``: :meth:`prepare`, :meth:`start`, :meth:`wait_ready`, :meth:`stop`."""

    def __init__(self, plan: NetworkPlan, directory: Path) -> None:
        self.plan = plan
        self.dir = directory.resolve()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._args: dict[str, tuple[str, ...]] = {}
        self._restarts: dict[str, list[float]] = {}
        self._ended: dict[str, float] = {}  # a process seen ended, its restart's backoff running: since when
        self.api_ports = {node: plan.ports_base + i for i, node in enumerate(plan.nodes)}
        self.link_ports = {link.label: plan.ports_base + LINK_PORT_OFFSET + j for j, link in enumerate(plan.links)}
        self.device_ports = {
            link.label: plan.ports_base + DEVICE_PORT_OFFSET + 2 * j for j, link in enumerate(plan.links)
        }

    # ---------------------------------------------------------------------------------------------- files
    def url(self, node: str) -> str:
        """The node's KME (ETSI GS QKD 014 over mutual TLS)."""
        return f"https://127.0.0.1:{self.api_ports[node]}"

    def node_dir(self, node: str) -> Path:
        return self.dir / "nodes" / node

    def prepare(self) -> None:
        """Write the PKI, the keys and every config; refuse ports already taken (before any process starts)."""
        from qkdnet.kms.pki import init_pki

        ports = [*self.api_ports.values(), *self.link_ports.values()]
        ports += [port + side for port in self.device_ports.values() for side in (0, 1)]
        taken = [port for port in ports if not _port_free(port)]
        if taken:
            raise NetworkError(
                f"ports {', '.join(map(str, taken[:5]))} are taken on 127.0.0.1: "
                "is another network up? (set [system] ports_base elsewhere)"
            )
        private_dir(self.dir)
        (self.dir / "logs").mkdir(exist_ok=True)
        kmes, saes = [kme_id(n) for n in self.plan.nodes], sorted(self.plan.saes)
        files = ["ca.crt", "ca.key", *(f"{name}.{ext}" for name in (*kmes, *saes) for ext in ("crt", "key"))]
        if not all((self.dir / "pki" / name).is_file() for name in files):  # up again: the SAEs' credentials hold
            init_pki(self.dir / "pki", kme_ids=kmes, sae_ids=saes)
        private_dir(self.dir / "links")
        for link in self.plan.links:
            path = self.dir / "links" / f"{link.label}.key"
            if not path.is_file():  # up again: the key the nodes' state files started from
                write_private(path, os.urandom(BOOTSTRAP_KEY_BYTES))
        for node in self.plan.nodes:
            private_dir(self.node_dir(node))
            self._write_node(node)

    def _write_node(self, node: str) -> None:
        me = kme_id(node)
        here = self.node_dir(node)
        neighbours = []
        for link in self.plan.links:
            if node not in (link.alice, link.bob):
                continue
            peer = link.bob if node == link.alice else link.alice
            session = f"link-{link.label}.toml"
            (here / session).write_text(self._session(node, peer, link))
            via = ", ".join(f'"{kme_id(n)}"' for n in link.via)
            neighbours.append(
                f'[network.neighbours.{kme_id(peer)}]\nurl = "{self.url(peer)}"\nsession = "{session}"\nvia = [{via}]\n'
            )
        edges = ", ".join(f'["{kme_id(k.alice)}", "{kme_id(k.bob)}"]' for k in self.plan.links)
        saes = ", ".join(f'{sae} = "{kme_id(n)}"' for sae, n in sorted(self.plan.saes.items()))
        text = (
            f'[kme]\nid = "{me}"\ndb = "keys.sqlite"\nstatus_file = "status.json"\n\n'
            f'[api]\nport = {self.api_ports[node]}\ncert = "../../pki/{me}.crt"\nkey = "../../pki/{me}.key"\n'
            f'ca = "../../pki/ca.crt"\nmax_body_bytes = 4194304\n\n'
            f'[network]\nrelay = "{self.plan.relay}"\nlinks = [{edges}]\nsaes = {{ {saes} }}\n\n'
            + "\n".join(neighbours)
        )
        (here / "node.toml").write_text(text)

    def _session(self, node: str, peer: str, link: PlannedLink) -> str:
        role = "alice" if node == link.alice else "bob"
        me = kme_id(node)
        return (
            f'[kme]\nid = "{me}"\npeer_id = "{kme_id(peer)}"\ndb = "keys.sqlite"\n'
            f'[api]\ncert = "../../pki/{me}.crt"\nkey = "../../pki/{me}.key"\nca = "../../pki/ca.crt"\n'
            f'[node]\nrole = "{role}"\nstate = "state-{link.label}.sqlite"\n'
            f"[peer]\nport = {self.link_ports[link.label]}\n"
            f'[device]\nsocket = "{self._socket(link, role)}"\n'
            f'[auth]\nbootstrap_key_file = "../../links/{link.label}.key"\n'
            f'[postprocess]\nprotocol = "{self.plan.protocol}"\n'
        )

    def _socket(self, link: PlannedLink, role: str) -> str:
        """Where the link's emulated device serves ``role``'s node: TCP on loopback (a unix socket's path
        under a deep directory can pass the 107 bytes AF_UNIX allows)."""
        return f"tcp://127.0.0.1:{self.device_ports[link.label] + (role == 'bob')}"

    # ------------------------------------------------------------------------------------------ processes
    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start ``python -m qkdnet ARGS`` with its output in ``logs/NAME.log``."""
        with (self.dir / "logs" / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "qkdnet", *args], cwd=self.dir, stdout=log, stderr=log, env=_env()
            )
        self.procs[name] = proc
        self._args[name] = args
        return proc

    def start(self) -> None:
        """One link emulator per link, one node process per node."""
        for link in self.plan.links:
            args = ["link-emulator", "--scenario", str(self.plan.scenario)]
            # an end-to-end link: the emulator plays the repeaters, the nodes between run nothing of it
            args += ["--path", ",".join(link.path)] if link.via else ["--link", link.label]
            args += ["--protocol", self.plan.protocol, "--pairs-per-block", str(self.plan.pairs_per_block)]
            args += ["--interval-s", repr(self.plan.block_interval_s)]
            args += ["--alice", self._socket(link, "alice"), "--bob", self._socket(link, "bob")]
            if link.label in self.plan.eve:
                args += ["--eve", self.plan.eve[link.label]]
            self.spawn(f"link-{link.label}", *args)
        for node in self.plan.nodes:
            self.spawn(f"node-{node}", "network", "node", "--config", str(self.node_dir(node) / "node.toml"))
        self._write_pids()

    def put_eve(self, label: str, attack: str | None) -> None:
        """Restart link ``label``'s devices with Eve on the fiber (``KIND:STRENGTH``), or without her (None)."""
        name = f"link-{label}"
        if name not in self.procs:
            raise NetworkError(f"no link {label!r} in this network ({', '.join(k.label for k in self.plan.links)})")
        proc = self.procs[name]
        proc.terminate()
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        args = list(self._args[name])
        if "--eve" in args:
            del args[args.index("--eve") : args.index("--eve") + 2]
        self.spawn(name, *args, *(["--eve", attack] if attack else []))
        self._write_pids()

    def _write_pids(self) -> None:
        pids = {name: proc.pid for name, proc in self.procs.items()}
        (self.dir / PROCESSES).write_text(json.dumps(pids, indent=1))

    def check_alive(self) -> None:
        """Raise :class:`NetworkError` naming the first process that exited, with its log's tail."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = self.log(name)[-1500:]
                raise NetworkError(f"{name} exited with code {proc.returncode}; its log ends:\n{tail}")

    def revive(self) -> list[str]:
        """Restart every process that ended (a crash, a kill -9) once its backoff has passed: one line each.

        A node restarts on its pool and state files, so no committed key is lost, and its links resume; a link
        emulator restarts its devices and both nodes reconnect. The first restart within
        :data:`RESTART_WINDOW_S` is at once, the next ones wait :func:`restart_backoff_s` (a child that crashes
        at start must not spin); a process that ends :data:`MAX_RESTARTS` times within the window is a fault a
        restart does not cure: :class:`NetworkError`, with its log's tail.
        """
        lines = []
        now = time.monotonic()
        for name, proc in list(self.procs.items()):
            if proc.poll() is None:
                continue
            recent = [t for t in self._restarts.get(name, []) if now - t < RESTART_WINDOW_S]
            if len(recent) >= MAX_RESTARTS:
                tail = self.log(name)[-1500:]
                raise NetworkError(f"{name} ended {len(recent) + 1} times within {RESTART_WINDOW_S:.0f} s; "
                                   f"its log ends:\n{tail}")  # fmt: skip
            noticed = self._ended.setdefault(name, now)
            if now - noticed < restart_backoff_s(len(recent)):
                continue
            del self._ended[name]
            self._restarts[name] = [*recent, now]
            lines.append(
                f"{name} ended (exit code {proc.returncode}); restarted after {now - noticed:.1f} s "
                f"(restart {len(recent) + 1} within {RESTART_WINDOW_S:.0f} s)"
            )
            self.spawn(name, *self._args[name])
        if lines:
            self._write_pids()
        return lines

    def log(self, name: str) -> str:
        path = self.dir / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Until every KME answers a TLS handshake with its own certificate (or a process dies: raise)."""
        deadline = time.monotonic() + timeout_s
        waiting = set(self.plan.nodes)
        while waiting:
            self.check_alive()
            waiting = {node for node in waiting if not self._answers(node)}
            if waiting and time.monotonic() > deadline:
                raise NetworkError(f"KMEs of {', '.join(sorted(waiting))} did not answer within {timeout_s:.0f} s")
            if waiting:
                time.sleep(0.2)
        self.write_manifest()

    def _answers(self, node: str) -> bool:
        from qkdnet.kms.pki import client_context

        sae = next((s for s, n in sorted(self.plan.saes.items()) if n == node), None)
        pki = self.dir / "pki"
        cert, key = (
            (pki / f"{sae}.crt", pki / f"{sae}.key")
            if sae
            else (pki / f"{kme_id(node)}.crt", pki / f"{kme_id(node)}.key")
        )
        context = client_context(cert, key, pki / "ca.crt")
        try:
            address = ("127.0.0.1", self.api_ports[node])
            with (
                socket.create_connection(address, timeout=2) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
            ):
                tls.sendall(b"GET /api/v1/keys/none/status HTTP/1.1\r\nHost: kme\r\nConnection: close\r\n\r\n")
                return tls.recv(12).startswith(b"HTTP/1.1")
        except (OSError, ssl.SSLError):
            return False

    def manifest(self) -> dict[str, Any]:
        """The ``network.json`` document: the CA, every node's KME, every SAE's KME and credentials."""
        pki = self.dir / "pki"
        return {
            "ca": str(pki / "ca.crt"),
            "nodes": {node: {"kme_id": kme_id(node), "kme_url": self.url(node)} for node in self.plan.nodes},
            "saes": {
                sae: {
                    "node": node,
                    "kme_url": self.url(node),
                    "cert": str(pki / f"{sae}.crt"),
                    "key": str(pki / f"{sae}.key"),
                }
                for sae, node in sorted(self.plan.saes.items())
            },
        }

    def write_manifest(self) -> None:
        scratch = self.dir / f"{MANIFEST}.tmp"
        scratch.write_text(json.dumps(self.manifest(), indent=1))
        os.replace(scratch, self.dir / MANIFEST)

    def stop(self) -> bool:
        """SIGTERM every process, SIGKILL those still running after the grace period; True if all ended alone."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        clean = True
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                clean = False
                proc.kill()
                proc.wait()
        (self.dir / MANIFEST).unlink(missing_ok=True)
        (self.dir / PROCESSES).unlink(missing_ok=True)
        return clean

    def status(self) -> dict[str, Any]:
        return read_status(self.dir)


def restart_backoff_s(recent: int) -> float:
    """How long a child that ended waits for its restart, after ``recent`` restarts within the window: 0 the
    first time (a kill -9 is cured at once), then 0.5 s, doubling up to :data:`RESTART_BACKOFF_MAX_S`."""
    return 0.0 if recent == 0 else min(RESTART_BACKOFF_MAX_S, RESTART_BACKOFF_S * 2 ** (recent - 1))


def read_status(directory: Path) -> dict[str, Any]:
    """Every node's last status file (links, pool levels, routes, relayed keys), by node name."""
    out: dict[str, Any] = {}
    for path in sorted((directory / "nodes").glob("*/status.json")):
        try:
            out[path.parent.name] = json.loads(path.read_text())
        except (OSError, ValueError):
            out[path.parent.name] = None
    return out


def running_supervisor(directory: Path) -> int | None:
    """The pid of the ``qkdnet network up`` running in ``directory``, or None (no pidfile, or a stale one)."""
    try:
        pid = int((directory / PIDFILE).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_ours(pid) else None


def follow_supervisor() -> None:
    """In a child of the supervisor: be sent SIGTERM when it dies (Linux's parent-death signal), so that a
    kill -9 of ``network up`` leaves no process holding its ports and pools; stop now if it is gone already."""
    supervisor = int(os.environ.pop(SUPERVISOR_ENV))
    with contextlib.suppress(OSError, AttributeError):  # not Linux: a later `network up` ends the orphans
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor:
        raise NetworkError(f"the supervisor of this process (pid {supervisor}) is gone: not starting")


def end_orphans(directory: Path, *, timeout_s: float = STOP_GRACE_S) -> int:
    """End what a supervisor that died left running in ``directory`` (SIGTERM, SIGKILL after ``timeout_s``):
    the processes of its ``processes.json`` that still run there. How many there were."""
    try:
        pids = [int(pid) for pid in json.loads((directory / PROCESSES).read_text()).values()]
    except (OSError, ValueError, TypeError, AttributeError):
        return 0
    left = [pid for pid in pids if _runs_in(pid, directory)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in [pid for pid in left if _runs_in(pid, directory)]:  # a pid gone since may be reused
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout_s
        while any(_runs_in(pid, directory) for pid in left) and time.monotonic() < deadline:
            time.sleep(0.1)
    return len(left)


def _runs_in(pid: int, directory: Path) -> bool:
    """Whether ``pid`` is a live qkdnet process working in ``directory`` (not a reused pid elsewhere)."""
    try:
        cwd = Path(f"/proc/{pid}/cwd").resolve(strict=True)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return cwd == directory.resolve() and b"qkdnet" in cmdline and stat.rsplit(")", 1)[-1].split()[0] != "Z"


def stop_running(directory: Path, *, timeout_s: float = 60.0) -> int:
    """Ask the supervisor running in ``directory`` to stop (SIGTERM), wait for it; the pid it had."""
    pidfile = directory / PIDFILE
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        raise NetworkError(f"{pidfile}: no network is up in {directory} (no readable pidfile)") from None
    if not _is_ours(pid):
        pidfile.unlink(missing_ok=True)
        raise NetworkError(f"{pidfile}: process {pid} is not a running `qkdnet network up`; stale pidfile removed")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _is_ours(pid):
        if time.monotonic() > deadline:
            raise NetworkError(f"the supervisor (pid {pid}) did not stop within {timeout_s:.0f} s")
        time.sleep(0.1)
    return pid


def _is_ours(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    zombie = stat.rsplit(")", 1)[-1].split()[0] == "Z"
    return not zombie and b"qkdnet" in b" ".join(cmdline) and b"up" in cmdline


def _port_free(port: int) -> bool:
    """Whether a server could listen on the port now (as ours do, past a closed connection's TIME_WAIT)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _env() -> dict[str, str]:
    """A child's environment: this qkdnet's source tree first on the path, the supervisor's pid to follow."""
    import qkdnet

    return {**os.environ, "PYTHONPATH": str(Path(qkdnet.__file__).parents[1]), SUPERVISOR_ENV: str(os.getpid())}


__all__ = [
    "MANIFEST",
    "PIDFILE",
    "SUPERVISOR_ENV",
    "KeyNetwork",
    "NetworkError",
    "NetworkPlan",
    "PlannedLink",
    "end_orphans",
    "follow_supervisor",
    "kme_id",
    "read_status",
    "restart_backoff_s",
    "running_supervisor",
    "stop_running",
]
