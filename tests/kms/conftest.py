"""Two KMEs on real sockets with real mutual TLS, SAEs with their own certificates, and a plain-httpx client.

The PKI is made once per session in a temporary folder (never committed). Each test gets two fresh KMEs
(KME_A, KME_B), each an in-process uvicorn server in its own thread and event loop, each with its own
SQLite pool; ``share_blocks`` commits identical blocks into both pools, standing in for the node daemons.

SAEs: SAE_A1 at KME_A may share keys with SAE_B1 and SAE_B2 (both at KME_B); SAE_A2 at KME_A is entitled to
no one; SAE_X has a certificate from our CA but is in no config; a "rogue" client has a certificate of
another CA.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from qkdnet.kms import NodeConfig, SqliteKeyPool, parse_node_config
from qkdnet.kms.pki import PkiFiles, init_pki

KMES = ("KME_A", "KME_B")


def pytest_configure(config: pytest.Config) -> None:
    """The soak test's marker: ``pytest -m soak`` runs it alone (it also runs in the whole suite)."""
    config.addinivalue_line("markers", "soak: the bounded key-network soak test (about 2 minutes)")


SAES = ("SAE_A1", "SAE_A2", "SAE_B1", "SAE_B2", "SAE_X")
BLOCK_BYTES = 4096


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return init_pki(tmp_path_factory.mktemp("pki"), kme_ids=KMES, sae_ids=SAES)


@pytest.fixture(scope="session")
def rogue_pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    """Another CA with certificates that carry our IDs: KMEs must refuse them at the TLS handshake."""
    return init_pki(tmp_path_factory.mktemp("rogue"), kme_ids=(), sae_ids=("SAE_A1", "KME_B"))


def node_config(pki: PkiFiles, kme: str, db: Path, *, port: int, peer_port: int | None, **api: object) -> NodeConfig:
    peer = KMES[1] if kme == KMES[0] else KMES[0]
    extra = "".join(f"{k} = {v!r}\n" if isinstance(v, str) else f"{k} = {v}\n" for k, v in api.items())
    peer_url = f'peer_url = "https://127.0.0.1:{peer_port}"\n' if peer_port else ""
    text = f"""
[kme]
id = "{kme}"
peer_id = "{peer}"
db = "{db}"

[api]
host = "127.0.0.1"
port = {port}
cert = "{pki[kme].cert}"
key = "{pki[kme].key}"
ca = "{pki.ca}"
{peer_url}max_key_per_request = 64
min_key_size_bits = 64
max_key_size_bits = 1024
key_size_bits = 256
{extra}
[saes.SAE_A1]
kme = "KME_A"
partners = ["SAE_B1", "SAE_B2"]

[saes.SAE_A2]
kme = "KME_A"

[saes.SAE_B1]
kme = "KME_B"

[saes.SAE_B2]
kme = "KME_B"
"""
    return parse_node_config(text, source=f"<{kme}>")


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class KmeServer:
    """One KME: its pool and its uvicorn server, in a thread with its own event loop, on a pre-bound socket."""

    def __init__(self, config: NodeConfig, sock: socket.socket, *, access_log: bool = False) -> None:
        import uvicorn

        from qkdnet.kms.api import create_app
        from qkdnet.kms.server import uvicorn_config

        self.config = config
        self.sock = sock
        self.port = sock.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.pool = SqliteKeyPool(config.kme.db)
        self.app = create_app(config, self.pool)
        self.server = uvicorn.Server(
            # pytest keeps its logging set-up: caplog sees uvicorn's records
            uvicorn_config(self.app, config.api, port=self.port, access_log=access_log, configure_logging=False)
        )
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self) -> KmeServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "KME server did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(timeout=20)
        self.pool.close()


@dataclass
class Network:
    """Two running KMEs and the PKI; ``client(sae, kme)`` is an SAE's HTTPS client of a KME."""

    a: KmeServer
    b: KmeServer
    pki: PkiFiles

    def client(self, sae: str, kme: KmeServer, pki: PkiFiles | None = None) -> httpx.Client:
        return sae_client(pki or self.pki, sae, kme.url, ca=self.pki.ca)

    def share_blocks(self, n_blocks: int, *, seed: int = 7, first: int = 0, block_bytes: int = BLOCK_BYTES) -> bytes:
        """Commit the same ``n_blocks`` random blocks into both pools; return their concatenation."""
        rng = np.random.default_rng(seed)
        blocks = [rng.integers(0, 256, block_bytes, dtype=np.uint8).tobytes() for _ in range(n_blocks)]
        for pool in (self.a.pool, self.b.pool):
            for i, block in enumerate(blocks):
                pool.commit_block(link_id="KME_A|KME_B", block_id=first + i, key=block)
        return b"".join(blocks)


def sae_client(pki: PkiFiles, sae: str, base_url: str, *, ca: Path) -> httpx.Client:
    """A plain httpx client written against the spec: mutual TLS with the SAE's certificate, keep-alive."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    context.load_cert_chain(str(pki[sae].cert), str(pki[sae].key))
    return httpx.Client(base_url=base_url, verify=context, timeout=30)


def start_network(pki: PkiFiles, tmp_path: Path, *, access_log: bool = False, **api: object) -> Network:
    sock_a, sock_b = free_socket(), free_socket()
    port_a, port_b = sock_a.getsockname()[1], sock_b.getsockname()[1]
    a = KmeServer(
        node_config(pki, "KME_A", tmp_path / "a.sqlite", port=port_a, peer_port=port_b, **api),
        sock_a,
        access_log=access_log,
    )
    b = KmeServer(
        node_config(pki, "KME_B", tmp_path / "b.sqlite", port=port_b, peer_port=port_a, **api),
        sock_b,
        access_log=access_log,
    )
    return Network(a.start(), b.start(), pki)


@pytest.fixture
def network(pki: PkiFiles, tmp_path: Path) -> Iterator[Network]:
    net = start_network(pki, tmp_path)
    yield net
    net.a.stop()
    net.b.stop()
