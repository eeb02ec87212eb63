"""One node of a key network as one process: a node-daemon session per link, one pool, one network KME.

Why one process per node rather than one per link end: every link of a node commits into the node's one key
pool, and the KME relays between links by taking key from one and handing it to another. In one process the
pool has one writer thread that group-commits for all of them (SQLite serialises writers across processes
with a lock and a retry, costing milliseconds per relay hop), and a five-node ring with a chord runs 5 node
processes instead of 12 daemons and 5 KMEs.

Each session's log lines carry its link (``[KME_a|KME_b]``); the node rewrites ``[kme] status_file`` every
second with what ``qkdnet network status`` shows (no key material: counts, QBER, S, pool levels, routes).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qkdnet.errors import ConfigError
from qkdnet.kms.config import load_node_config
from qkdnet.kms.keyfiles import require_private, sqlite_files
from qkdnet.kms.keyid import direction_for
from qkdnet.kms.network_config import NetworkNodeConfig
from qkdnet.kms.node import NodeDaemon
from qkdnet.kms.pool import SqliteKeyPool

if TYPE_CHECKING:
    pass

log = logging.getLogger("qkdnet.kms.network")
STATUS_INTERVAL_S = 1.0
SUSPECT_ABORTS = 2  # honest blocks abort rarely (a QBER or CHSH fluctuation); Eve's abort every one
_LINK: contextvars.ContextVar[str] = contextvars.ContextVar("qkdnet_link", default="node")


class LinkLabel(logging.Filter):
    """Adds ``record.link``: the link whose session logged the line (``node`` outside any session)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.link = _LINK.get()
        return True


class NetworkNode:
    """The sessions of one node's links and its network KME, on one pool; :meth:`run` until cancelled."""

    def __init__(self, config: NetworkNodeConfig) -> None:
        self.config = config
        me = config.kme.id
        sessions = {}
        for peer, entry in config.network.neighbours.items():
            session = load_node_config(entry.session, check_files=False)
            if (session.kme.id, session.kme.peer_id) != (me, peer):
                raise ConfigError(
                    [f"{entry.session}: kme: expected id {me!r} and peer_id {peer!r}, got "
                     f"{session.kme.id!r} and {session.kme.peer_id!r}"]
                )  # fmt: skip
            if Path(session.kme.db).resolve() != Path(config.kme.db).resolve():
                raise ConfigError([f"{entry.session}: kme.db: expected the node's pool {config.kme.db}"])
            sessions[peer] = session
        require_private([config.api.key, *sqlite_files(config.kme.db)])
        self.pool = SqliteKeyPool(config.kme.db)
        self.daemons = {
            peer: NodeDaemon(session, pool=self.pool, serve_api=False) for peer, session in sessions.items()
        }

    def close(self) -> None:
        """Close every session's state and the pool (after :meth:`run` has returned)."""
        for daemon in self.daemons.values():
            daemon.close()
        self.pool.close()

    async def run(self) -> None:
        """Run every link's session, the KME's API and the status file until cancelled."""
        from qkdnet.kms.network_kme import create_network_app
        from qkdnet.kms.server import embedded_server, uvicorn_config

        app, service = create_network_app(self.config, self.pool, self.suspect_links)
        self.service = service
        api = self.config.api
        server = embedded_server(uvicorn_config(app, api, configure_logging=False, log_level="warning"))
        tasks = [
            asyncio.create_task(_labelled(daemon.link_id, daemon.run()), name=f"link {daemon.link_id}")
            for daemon in self.daemons.values()
        ]
        api_task = asyncio.create_task(server.serve(), name="network-kme")
        status_task = asyncio.create_task(self._write_status_forever(), name="status")
        log.info("network KME %s serving on https://%s:%d (mutual TLS), links to %s", self.config.kme.id,
                 api.host, api.port, ", ".join(self.daemons))  # fmt: skip
        try:
            await asyncio.gather(*tasks, api_task)
        except SystemExit:  # uvicorn could not bind its port
            log.error("network KME %s: the API could not start (port %d taken?)", self.config.kme.id, api.port)
            raise
        finally:
            server.should_exit = True
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(api_task), 5.0)
            for task in (*tasks, status_task):
                task.cancel()
            await asyncio.gather(*tasks, status_task, return_exceptions=True)

    def suspect_links(self) -> list[str]:
        """Neighbours whose link aborted its last :data:`SUSPECT_ABORTS` blocks (Eve on the fiber?)."""
        return [peer for peer, daemon in self.daemons.items() if daemon.stats.aborts_in_a_row >= SUSPECT_ABORTS]

    def status(self) -> dict[str, Any]:
        """Every link's state and the KME's relay figures: what ``qkdnet network status`` shows."""
        me = self.config.kme.id
        links = {}
        for peer, daemon in self.daemons.items():
            s = daemon.stats
            link_id = daemon.link_id
            state = daemon.status()
            links[peer] = {
                "link_id": link_id,
                "role": daemon.role,
                "state": "stopped"
                if state["key_exchange"] == "stopped"
                else "up"
                if daemon.connected
                else "connecting",
                "reason": state["reason"],
                "committed_blocks": s.committed,
                "aborted_blocks": s.aborted,
                "failed_sessions": s.failed_sessions,
                "key_bytes": s.key_bytes,
                "qber": s.last_qber,
                "chsh_s": s.last_chsh_s,
                "last_abort": s.last_abort,
                "aborts_in_a_row": s.aborts_in_a_row,
                "routes_avoid": s.aborts_in_a_row >= SUSPECT_ABORTS,
                "pool_bytes": {
                    "sent_by_me": self.pool.stored_key_count(
                        link_id=link_id, direction=direction_for(link_id, me), size_bits=8
                    ),
                    "sent_by_peer": self.pool.stored_key_count(
                        link_id=link_id, direction=direction_for(link_id, peer), size_bits=8
                    ),
                },
            }
        relay = {} if self.service is None else self.service.snapshot()
        return {"kme_id": me, "pid": os.getpid(), "links": links, **relay}

    async def _write_status_forever(self) -> None:
        path = Path(self.config.kme.status_file)
        while True:
            try:
                text = json.dumps(self.status(), indent=1, sort_keys=True)
                scratch = path.with_suffix(".tmp")
                scratch.write_text(text)
                os.replace(scratch, path)
            except Exception as exc:  # a full disk must not stop the node
                log.warning("status file %s not written: %s", path, exc)
            await asyncio.sleep(STATUS_INTERVAL_S)


async def _labelled(label: str, work: Coroutine[Any, Any, None]) -> None:
    _LINK.set(label)
    await work


__all__ = ["LinkLabel", "NetworkNode"]
