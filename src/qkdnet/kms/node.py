"""The node daemon: raw records from the device, sifting, estimation and post-processing with the peer over TCP.

Every block is one authenticated session on the connection (:mod:`qkdnet.kms.wire`); every frame is sealed
with a Wegman–Carter tag (:class:`~qkdnet.postprocess.AuthenticatedChannelEnd`) keyed from the node's
durable reserves (:class:`~qkdnet.kms.node_state.NodeState`). A session runs:

1. **hello** — both report their pool's last committed block, any prepared block and the oldest raw block
   they can offer; a block that Alice committed and Bob only prepared is committed by Bob now, any other
   prepared block is discarded by both; the raw block is the newer of the two offers, recorded as used
   before anything about it is disclosed (it is never processed twice);
2. **block start** — both check they hold the same raw block (records and time tags);
3. **sifting and estimation** — :class:`~qkdnet.qkd.SiftAlice` / :class:`~qkdnet.qkd.SiftBob`, the
   simulator's own parties; an abort (QBER or CHSH) ends the block with no key, and is logged;
4. **post-processing** — :func:`~qkdnet.qkd.postprocess_party` (reconciliation, verification, privacy
   amplification to the finite-key length);
5. **two-phase commit** — Bob durably *prepares* the block and says so; Alice, the coordinator, commits it
   to her pool (her commit is the decision), finalises it and says so; Bob commits it to his. A crash
   anywhere is resolved by the next hello: a block is committed on both sides or on neither. Finalising
   refills the tag-key reserves with what the session used, plus a top-up agreed from both hellos that
   brings them back to the bootstrap level after crashes and aborted blocks (:func:`top_up_slots`).

The CPU-heavy protocol steps run in a worker thread, so the event loop (and an ETSI service in the same
process) keeps answering. Failures — a forged, replayed or truncated frame, garbage, a silent peer, a
reconciliation or verification failure — drop the connection with one log line; the daemon reconnects
and goes on with a fresh raw block. Key material is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np

from qkdnet.errors import ConfigError, ProtocolError, QkdnetError, SecurityAbort
from qkdnet.kms.config import NodeConfig, prepare_key_files
from qkdnet.kms.device import Device, RawBlock, SocketDevice
from qkdnet.kms.node_state import NodeState, PreparedBlock
from qkdnet.kms.pool import KeyPool, SqliteKeyPool
from qkdnet.kms.wire import (
    BlockStart,
    Committed,
    Control,
    Hello,
    Prepared,
    check_proof,
    decode_payload,
    encode_payload,
    encode_preamble,
    handshake_key,
    handshake_proof,
    read_frame,
    read_preamble,
    session_id,
    write_frame,
)
from qkdnet.postprocess import (
    Abort,
    AuthenticatedChannelEnd,
    AuthenticatedFrame,
    AuthenticatedParty,
    Message,
    Party,
    Usage,
)
from qkdnet.postprocess.auth import SLOT_BITS
from qkdnet.qkd import KeyRunConfig, PartyRecord, SiftAlice, SiftBob, get_protocol, postprocess_party
from qkdnet.qkd.coincidence import ClockTracker
from qkdnet.qkd.pairing import PairingAlice, PairingBob
from qkdnet.units import seconds_to_ps

log = logging.getLogger("qkdnet.node")
T = TypeVar("T")
#: Raw blocks a node keeps while its peer catches up (each ~10 bytes per pair).
RAW_BUFFER_BLOCKS: Final = 3
#: Seconds a full raw buffer waits for a session to take a block before it drops its oldest for the device's
#: next one: reading goes on, so a device that went away is noticed (a node whose peer waits for fresh records
#: of a restarted device would otherwise hold stale blocks forever and never reconnect).
STALE_BUFFER_S: Final = 5.0
#: Largest clock offset between the two sides' time taggers that a click stream is searched over (seconds).
CLOCK_SEARCH_S: Final = 1.0
#: Seconds before retrying when the two devices' streams differ (doubling up to 8 s while they do).
RESYNC_WAIT_S: Final = 0.5
#: Seconds allowed for a peer's preamble.
PREAMBLE_TIMEOUT_S: Final = 10.0
#: Seconds between two log lines that count the connections refused before they authenticated.
REFUSED_LOG_S: Final = 5.0
#: Reserve bits below which the node warns that authentication key is running out.
LOW_RESERVE_BITS: Final = 1 << 13
#: Tag-key slots a direction must hold for the node to start a session: a block uses about 60 per direction
#: (the soak test: ~10,000 slots on the wire for 159 blocks and their failed attempts). Below it a session
#: would stop part-way with ``PadExhausted`` and burn what is left, so the node stops making sessions instead.
HALT_RESERVE_SLOTS: Final = 64
#: A seam for tests (e.g. crash points): each is called as ``hook(role, point, block_id)`` when a node reaches
#: ``point`` of a block's commit ("postprocessed", "prepared", "told", "pool", "committed"). The product registers
#: none; the test suite appends its own in a process it starts.
COMMIT_POINT_HOOKS: list[Callable[[str, str, int], None]] = []


class PeerAborted(QkdnetError):
    """The peer sent Abort: it stopped the block (its reason is in the message)."""


class SessionFailed(QkdnetError):
    """The session cannot go on for a reason both sides see (different raw streams, a missing raw block)."""


class ReserveLow(SessionFailed):
    """A tag-key reserve holds fewer than ``HALT_RESERVE_SLOTS`` slots: no session can be paid for."""


class PoolsDisagree(SessionFailed):
    """The two pools' last blocks cannot come from this protocol (e.g. a node started on another's database).

    Key exchange stops (every retry would spend authentication key for nothing); the ETSI service goes on.
    """


@dataclass(slots=True)
class NodeStats:
    """What the daemon did since it started (for logs, tests and the demo)."""

    committed: int = 0
    aborted: int = 0
    failed_sessions: int = 0
    key_bytes: int = 0
    last_abort: str | None = None
    connections: int = 0
    clock_offset_ps: int | None = None
    """Alice, when her device delivers clicks: Bob's clock minus hers, as the last paired block found it."""
    clock_drift_ppm: float | None = None
    coincidence_window_ps: int | None = None
    clock_reacquisitions: int = 0
    aborts_in_a_row: int = 0
    """Blocks aborted since the last commit: a link Eve is on aborts every block (routes avoid it)."""
    last_qber: float | None = None
    """The last block's estimated QBER (committed or aborted), and its CHSH S when the protocol tests one."""
    last_chsh_s: float | None = None

    def abort(self, reason: str) -> None:
        """A block ended without key, for ``reason``."""
        self.aborted += 1
        self.aborts_in_a_row += 1
        self.last_abort = reason

    def commit(self, key_bytes: int) -> None:
        """A block of ``key_bytes`` was committed."""
        self.committed += 1
        self.key_bytes += key_bytes
        self.aborts_in_a_row = 0


class RawBuffer:
    """The raw blocks a node holds: read from the device in order, bounded (reading pauses when full).

    A pause lasts at most ``stale_s``: then the oldest block is dropped for the new one, so that reading, and
    noticing the end of the device's stream, never stops for good.
    """

    def __init__(self, capacity: int = RAW_BUFFER_BLOCKS, *, stale_s: float = STALE_BUFFER_S) -> None:
        self._blocks: deque[RawBlock] = deque()
        self._capacity = capacity
        self._stale_s = stale_s
        self._epoch: int | None = None
        self._floor: tuple[int, int] | None = None  # (epoch, seq) already used: never offered again
        self._changed = asyncio.Condition()

    def set_floor(self, used: tuple[int, int] | None) -> None:
        """Never offer a block at or before ``used`` (epoch, seq)."""
        self._floor = used

    async def put(self, epoch: int, block: RawBlock) -> None:
        """Add the device's next block (a new epoch drops the old stream); waits while the buffer is full.

        After ``stale_s`` of waiting the oldest block held is dropped to make room.
        """
        async with self._changed:
            if epoch != self._epoch:
                self._blocks.clear()
                self._epoch = epoch
            if self._floor is not None and self._floor[0] == epoch and block.seq <= self._floor[1]:
                return
            try:
                async with asyncio.timeout(self._stale_s):
                    await self._changed.wait_for(lambda: len(self._blocks) < self._capacity)
            except TimeoutError:
                self._blocks.popleft()
            self._blocks.append(block)
            self._changed.notify_all()

    def offer(self) -> tuple[int, int] | None:
        """(epoch, seq) of the oldest block held, or None."""
        if not self._blocks or self._epoch is None:
            return None
        return self._epoch, self._blocks[0].seq

    async def drop_all(self) -> None:
        """Forget every block held (the peer cannot have them); the device stream resumes."""
        async with self._changed:
            self._blocks.clear()
            self._changed.notify_all()

    async def wait_for_any(self, timeout_s: float) -> bool:
        """Wait until a block is held; False on timeout."""
        async with self._changed:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._changed.wait_for(lambda: bool(self._blocks))
            except TimeoutError:
                return False
            return True

    async def take(self, epoch: int, seq: int, timeout_s: float) -> RawBlock | None:
        """Drop every block before ``seq`` and return block ``seq`` (None if it is gone or does not come)."""

        def ready() -> bool:
            while self._blocks and (self._epoch != epoch or self._blocks[0].seq < seq):
                self._blocks.popleft()
            self._changed.notify_all()
            return self._epoch != epoch or bool(self._blocks)

        async with self._changed:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._changed.wait_for(ready)
            except TimeoutError:
                return None
            if self._epoch != epoch or self._blocks[0].seq != seq:
                return None
            block = self._blocks.popleft()
            self._changed.notify_all()
            return block


@dataclass(slots=True)
class _Conn:
    """One connection to the peer: its streams, nonces and how many sessions it has carried."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    alice_nonce: bytes
    bob_nonce: bytes
    sessions: int = 0
    peer: str = field(default="")


class NodeDaemon:
    """One node of a QKD link (see the module docstring). ``run()`` until cancelled."""

    def __init__(self, config: NodeConfig, *, pool: KeyPool | None = None, serve_api: bool = True) -> None:
        if config.node is None or config.peer is None or config.device is None or config.auth is None:
            missing = [f"[{n}]" for n in ("node", "peer", "device", "auth") if getattr(config, n) is None]
            raise ConfigError([f"the node config lacks the daemon's sections: {', '.join(missing)}"])
        self.config = config
        self.node, self.peer, self.device = config.node, config.peer, config.device
        self.role = config.node.role
        self.link_id = config.link_id
        self._owns_pool = pool is None
        prepare_key_files(config)  # refuse key files others can read; a new state DB is created 0600
        self.pool: KeyPool = pool if pool is not None else SqliteKeyPool(config.kme.db)
        self._serve_api = serve_api
        self.state = NodeState(config.node.state, side=self.role, bootstrap_key_file=config.auth.bootstrap_key_file)
        try:
            shared = Path(config.auth.bootstrap_key_file).read_bytes()
        except OSError as exc:
            where = config.auth.bootstrap_key_file
            raise ConfigError([f"{where}: cannot read the bootstrap key: {exc.strerror or exc}"]) from None
        self._handshake_key = handshake_key(shared, self.link_id)
        self._refused = 0
        self._refused_logged = 0.0
        pp = config.postprocess
        self.protocol = get_protocol(pp.protocol)
        self.run_config = KeyRunConfig(
            security=pp.security,
            sample_fraction=pp.sample_fraction,
            reconciler=pp.reconciler,
            key_length=pp.key_length,
            eps_sec=pp.eps_sec,
            eps_cor=pp.eps_cor,
        )
        self.raw = RawBuffer()
        self.raw.set_floor(self.state.raw_used())
        self.stats = NodeStats()
        self._clicks = False  # the device delivers a time tagger's clicks (not paired-up records)
        self._tracker: ClockTracker | None = None  # Alice's, following Bob's clock through click blocks
        self._tracker_epoch: int | None = None
        self._io_timeout_s = float(config.peer.io_timeout_s)
        self._resync_s = RESYNC_WAIT_S
        self._device_wait_s = float(config.device.wait_s)
        self._active: asyncio.Task[None] | None = None
        self._active_conn: _Conn | None = None
        self._halted: str | None = None

    # ----------------------------------------------------------------------------------------- startup
    def close(self) -> None:
        """Close the state file, and the pool if this daemon opened it (after :meth:`run` has returned)."""
        s = self.stats
        log.info(
            "node stopped: %d blocks committed here (%s bytes of key), %d aborted, %d sessions failed, %d connections",
            s.committed, f"{s.key_bytes:,}", s.aborted, s.failed_sessions, s.connections,
        )  # fmt: skip
        self.state.close()
        if self._owns_pool and isinstance(self.pool, SqliteKeyPool):
            self.pool.close()

    def reserve_slots(self) -> dict[str, int]:
        """Usable tag-key slots per direction (a sender's leased slots, burned by a restart, excluded)."""
        a2b, b2a = self.state.reserve_levels
        return {"alice_to_bob": a2b // SLOT_BITS, "bob_to_alice": b2a // SLOT_BITS}

    def _reserve_low(self) -> str | None:
        """Why the reserves cannot pay for a session, or None."""
        slots = self.reserve_slots()
        low = {d: n for d, n in slots.items() if n < HALT_RESERVE_SLOTS}
        if not low:
            return None
        what = ", ".join(f"{d.replace('_to_', ' → ')} {n} slots ({n * SLOT_BITS} bits)" for d, n in low.items())
        return f"the tag-key reserve is too low for a session ({what} left, {HALT_RESERVE_SLOTS} slots needed)"

    @property
    def connected(self) -> bool:
        """Whether a session with the peer is open now."""
        return self._active_conn is not None

    def status(self) -> dict[str, Any]:
        """Whether this node makes key, why not if it does not, and its usable tag-key slots (for operators)."""
        reason = self._halted or self._reserve_low()
        return {
            "key_exchange": "running" if reason is None else "stopped",
            "reason": reason,
            "reserve_slots": self.reserve_slots(),
            "committed_blocks": self.stats.committed,
        }

    def _halt(self, reason: str) -> None:
        """Stop making sessions, saying so once (the ETSI service goes on)."""
        if self._halted is None:
            self._halted = reason
            log.error("key exchange stops: %s; the ETSI API goes on serving the pool", reason)

    def recover(self) -> None:
        """Finish what a crash interrupted: finalise a prepared block the pool has; Alice drops an uncommitted one."""
        block = self.state.prepared()
        if block is None:
            return
        last = self.pool.last_committed_block(self.link_id)
        if last is not None and last >= block.block_id:
            self.state.finalize(block)
            log.info("block %d: committed before the restart; its authentication refill is now done", block.block_id)
        elif self.role == "alice":
            self.state.discard_prepared()
            log.info("block %d: prepared but not committed before the restart: discarded", block.block_id)
        else:
            log.info(
                "block %d: prepared before the restart; the peer will say whether it was committed", block.block_id
            )

    async def run(self, *, ready: Callable[[], None] | None = None) -> None:
        """Recover, then read the device and make key with the peer until cancelled."""
        self.recover()
        slots = self.reserve_slots()
        log.info(
            "node %s (%s) of link %s: last committed block %s, usable tag-key slots: alice → bob %d, bob → alice %d"
            " (%s authentication key bits in reserve)",
            self.config.kme.id,
            self.role,
            self.link_id,
            self.pool.last_committed_block(self.link_id),
            slots["alice_to_bob"],
            slots["bob_to_alice"],
            f"{self.state.reserve_bits:,}",
        )
        if (low := self._reserve_low()) is not None:
            self._halt(low)
        # A daemon thread, not the loop's executor: asyncio.run waits for its executor's threads at exit, and a
        # SIGTERM during the warm-up (seconds of imports and compiling on a loaded machine) would wait for it.
        threading.Thread(target=warm_up, args=(self.run_config,), name="warm-up", daemon=True).start()
        tasks = [asyncio.create_task(self._device_loop(), name="device")]
        server: asyncio.Server | None = None
        peer = self.peer
        if self.role == "bob":
            server = await asyncio.start_server(self._accept, peer.host, peer.port, limit=1 << 20)
            log.info("listening for the peer on %s:%d", peer.host, peer.port)
        else:
            tasks.append(asyncio.create_task(self._dial_loop(), name="dial"))
        api = await asyncio.to_thread(self._start_api) if self._serve_api else None  # importing FastAPI takes a while
        api_task = None if api is None else asyncio.create_task(self._serve_api_until_done(api), name="etsi-api")
        if ready is not None:
            ready()
        try:
            await asyncio.gather(*tasks)
        finally:
            if api is not None and api_task is not None:  # let the API finish its requests and its lifespan
                api.should_exit = True
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(api_task), 5.0)
            for task in tasks:
                task.cancel()
            if self._active is not None:
                self._active.cancel()
            if server is not None:
                server.close()

    async def _serve_api_until_done(self, api: Any) -> None:
        """Serve the ETSI API; uvicorn exits the process when it cannot start (its port taken): here that stops
        the API, logged, and key exchange goes on."""
        try:
            await api.serve()
        except SystemExit:
            log.error("ETSI API not served: it could not start (port %s taken?); key exchange goes on",
                      self.config.api.port)  # fmt: skip

    def _start_api(self) -> Any:
        """The ETSI GS QKD 014 service (:mod:`qkdnet.kms.api`) on the pool, or None (logged) if it cannot run."""
        api = self.config.api
        missing = [f"api.{name} ({getattr(api, name)})" for name in ("cert", "key", "ca")
                   if not os.access(getattr(api, name), os.R_OK)]  # fmt: skip
        if missing:
            log.error("ETSI API not served: cannot read %s; key exchange goes on", ", ".join(missing))
            return None
        if not isinstance(self.pool, SqliteKeyPool):
            log.error("ETSI API not served: it needs the SQLite key pool")
            return None
        try:
            from qkdnet.kms.api import create_app
            from qkdnet.kms.server import embedded_server, uvicorn_config
        except ImportError as exc:  # pragma: no cover - fastapi and uvicorn are dependencies
            log.error("ETSI API not served: %s", exc)
            return None
        app = create_app(self.config, self.pool)
        server = embedded_server(uvicorn_config(app, self.config.api, configure_logging=False, log_level="warning"))
        log.info("serving the ETSI GS QKD 014 API on https://%s:%d (mutual TLS)", api.host, api.port)
        return server

    # ------------------------------------------------------------------------------------------ device
    async def _device_loop(self) -> None:
        address = self.device.socket
        delay = 0.2
        while True:
            device: Device | None = None
            try:
                device = await SocketDevice.connect(address)
                info = device.info
                if info.party != self.role or info.protocol != self.protocol.name:
                    log.error(
                        "device at %s is %s's %s device; this node is %s running %s: not using it",
                        address, info.party, info.protocol, self.role, self.protocol.name,
                    )  # fmt: skip
                else:
                    kind = "clicks" if info.clicks else "records"
                    log.info("device connected: %s's %s of %s (%s)", info.party, kind, info.link or "a link", address)
                    self._clicks = info.clicks
                    if info.epoch != self._tracker_epoch:  # a new stream: its clock is found from scratch
                        self._tracker, self._tracker_epoch = None, info.epoch
                    delay = 0.2
                    while True:
                        block = await device.read_block()
                        await self.raw.put(info.epoch, block)
            except (OSError, ProtocolError, TimeoutError) as exc:
                log.debug("device at %s: %s", address, exc)
            finally:
                if device is not None:
                    await device.close()
            await asyncio.sleep(delay)
            delay = min(2 * delay, 2.0)

    # -------------------------------------------------------------------------------------- connections
    async def _dial_loop(self) -> None:
        peer = self.peer
        delay = 0.2
        while self._halted is None:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(peer.host, peer.port, limit=1 << 20), self._io_timeout_s
                )
            except (OSError, TimeoutError) as exc:
                log.debug("peer %s:%d unreachable: %s", peer.host, peer.port, exc)
                await asyncio.sleep(delay)
                delay = min(2 * delay, 2.0)
                continue
            nonce = secrets.token_bytes(16)
            try:
                writer.write(encode_preamble("alice", nonce))
                async with asyncio.timeout(PREAMBLE_TIMEOUT_S):
                    bob_nonce = await read_preamble(reader, expect_role="bob")
                    write_frame(writer, handshake_proof(self._handshake_key, "alice", nonce, bob_nonce))
                    await check_proof(reader, self._handshake_key, "bob", nonce, bob_nonce)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                log.warning("peer at %s:%d closed the handshake (%s)", peer.host, peer.port, exc or "end of stream")
                writer.close()
                await asyncio.sleep(delay)
                delay = min(2 * delay, 2.0)  # a peer that refuses (e.g. it stopped) is not asked 5 times a second
                continue
            except (ProtocolError, OSError, TimeoutError) as exc:
                log.warning("peer at %s:%d: %s; connection dropped", peer.host, peer.port, exc or "timeout")
                writer.close()
                await asyncio.sleep(delay)
                delay = min(2 * delay, 2.0)
                continue
            delay = 0.2
            conn = _Conn(reader, writer, nonce, bob_nonce, peer=f"{peer.host}:{peer.port}")
            self._active = asyncio.current_task()
            await self._serve(conn)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        name = _peer_name(writer)
        if self._halted is not None:
            self._refuse(name, "key exchange stopped (see the line that said why)")
            writer.close()
            return
        nonce = secrets.token_bytes(16)
        try:
            async with asyncio.timeout(PREAMBLE_TIMEOUT_S):
                alice_nonce = await read_preamble(reader, expect_role="alice")
                writer.write(encode_preamble("bob", nonce))
                await check_proof(reader, self._handshake_key, "alice", alice_nonce, nonce)
        except (ProtocolError, OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            self._refuse(name, str(exc) or "no handshake in time")
            writer.close()
            return
        write_frame(writer, handshake_proof(self._handshake_key, "bob", alice_nonce, nonce))
        previous, previous_conn = self._active, self._active_conn
        if previous is not None and not previous.done():
            log.info("a new connection from %s replaces the current one", name)
            if previous_conn is not None:
                previous_conn.writer.transport.abort()  # its session fails at once, whatever it awaits
            previous.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(PREAMBLE_TIMEOUT_S):
                    await asyncio.shield(previous)
        self._active = asyncio.current_task()
        with contextlib.suppress(asyncio.CancelledError):  # replaced by a newer connection, or shutting down
            await self._serve(_Conn(reader, writer, alice_nonce, nonce, peer=name))

    def _refuse(self, name: str, why: str) -> None:
        """Count a connection dropped before it authenticated; log at most one line per REFUSED_LOG_S."""
        self._refused += 1
        now = time.monotonic()
        if now - self._refused_logged >= REFUSED_LOG_S:
            more = f" ({self._refused - 1} more refused since the last such line)" if self._refused > 1 else ""
            log.warning("connection from %s: %s; dropped before authenticating%s", name, why, more)
            self._refused, self._refused_logged = 0, now

    async def _serve(self, conn: _Conn) -> None:
        """Run sessions on a connection until it fails; one line in the log says why it ended."""
        self._active_conn = conn
        self.stats.connections += 1
        log.info("peer connected: %s", conn.peer)
        try:
            while True:
                await self._session(conn)
        except asyncio.CancelledError:
            raise
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("peer %s: connection closed (%s)", conn.peer, exc or "end of stream")
        except TimeoutError:
            log.warning("peer %s: no message within %.0f s; connection dropped", conn.peer, self._io_timeout_s)
        except SecurityAbort as exc:
            self.stats.failed_sessions += 1
            log.warning("peer %s: %s: %s; block discarded, connection dropped", conn.peer, type(exc).__name__, exc)
        except ReserveLow as exc:
            self._halt(str(exc))
        except PoolsDisagree as exc:
            self.stats.failed_sessions += 1
            self._halted = str(exc)
            log.error("peer %s: %s; key exchange stops until an operator fixes it", conn.peer, exc)
        except (ProtocolError, PeerAborted, SessionFailed) as exc:
            self.stats.failed_sessions += 1
            log.warning("peer %s: %s; connection dropped", conn.peer, exc)
        except QkdnetError as exc:
            self.stats.failed_sessions += 1
            log.error("peer %s: %s: %s; connection dropped", conn.peer, type(exc).__name__, exc)
        except Exception as exc:  # a bug or malformed data we did not foresee: keep the daemon alive, say what
            self.stats.failed_sessions += 1
            log.error("peer %s: unexpected %s: %s; connection dropped", conn.peer, type(exc).__name__, exc)
        finally:
            if self._active_conn is conn:
                self._active_conn = None
            conn.writer.close()
            with contextlib.suppress(Exception):
                await conn.writer.wait_closed()
        await asyncio.sleep(0.2)

    # ----------------------------------------------------------------------------------------- sessions
    async def _session(self, conn: _Conn) -> None:
        """One block: hello, block start, sifting and estimation, post-processing, two-phase commit."""
        while not await self.raw.wait_for_any(self._device_wait_s):  # no session (no tag key spent) without data
            log.info("no raw records from the device for %.0f s", self._device_wait_s)
        if (low := self._reserve_low()) is not None:
            raise ReserveLow(low)
        sid = session_id(conn.alice_nonce, conn.bob_nonce, conn.sessions)
        conn.sessions += 1
        end = self.state.tag_keys.channel_end(block_id=sid)
        link = _Link(conn, end, self._io_timeout_s)
        try:
            await self._run_block(link)
        except (SecurityAbort, ProtocolError) as exc:
            if not end.failed:  # tell the peer, unless the channel itself is broken
                with contextlib.suppress(Exception):
                    link.send(Abort(f"{type(exc).__name__}: {exc}"))
                    await link.drain()
            raise
        finally:
            end.close()
        if self.state.reserve_bits < LOW_RESERVE_BITS:
            log.warning("only %d authentication key bits left in reserve", self.state.reserve_bits)

    async def _run_block(self, link: _Link) -> None:
        prepared = self.state.prepared()
        offer = self.raw.offer()
        a2b, b2a = self.state.reserve_levels
        mine = Hello(
            last_committed=self.pool.last_committed_block(self.link_id),
            prepared=None if prepared is None else prepared.block_id,
            raw_epoch=None if offer is None else offer[0],
            raw_seq=None if offer is None else offer[1],
            reserve_a2b_bits=a2b,
            reserve_b2a_bits=b2a,
            reserve_target_bits=self.state.reserve_target_bits,
        )
        theirs = await link.exchange(mine, Hello, first=self.role == "alice")
        alice, bob = (mine, theirs) if self.role == "alice" else (theirs, mine)
        self._resolve(alice, bob)
        block_id = 0 if alice.last_committed is None else alice.last_committed + 1

        if alice.raw_seq is None or bob.raw_seq is None or alice.raw_epoch != bob.raw_epoch:
            # The devices restarted (a new epoch on one side only, for now): the blocks held here can never be
            # matched. Drop them and try again later with fresh ones, backing off so as to spend little tag key.
            await self.raw.drop_all()
            log.info("block %d: the two devices' streams differ; waiting for a common raw block", block_id)
            await asyncio.sleep(self._resync_s)
            self._resync_s = min(2 * self._resync_s, 8.0)
            return
        self._resync_s = RESYNC_WAIT_S
        assert alice.raw_epoch is not None  # noqa: S101 - equal to bob's, and one of them is set
        epoch, seq = alice.raw_epoch, max(alice.raw_seq, bob.raw_seq)
        self.state.mark_raw_used(epoch, seq)  # before anything of it is disclosed: never processed twice
        raw = await self.raw.take(epoch, seq, self._device_wait_s)
        self.raw.set_floor((epoch, seq))
        start = BlockStart(
            block_id,
            epoch,
            seq,
            None if raw is None else raw.records,
            0 if raw is None else raw.first_tag_ps,
            0 if raw is None else raw.last_tag_ps,
        )
        other = await link.exchange(start, BlockStart, first=self.role == "alice")
        if raw is None or other.records is None:
            log.info("block %d: raw block %d is gone on one side; trying a newer one", block_id, seq)
            return
        if self._clicks:  # each side's clicks of the same stretch of time: counts and tags differ
            same = (other.block_id, other.raw_epoch, other.raw_seq) == (start.block_id, start.raw_epoch, start.raw_seq)
        else:
            same = other == start
        if not same:
            raise SessionFailed(f"block {block_id}: the two nodes hold different raw blocks numbered {seq}")
        if self._clicks:
            paired = await self._pair_clicks(link, block_id, raw)
            if paired is None:
                return
            record = PartyRecord(raw.settings[paired], raw.outcomes[paired])
        else:
            log.info("block %d: raw block %d, %s pairs", block_id, seq, f"{raw.records:,}")
            record = PartyRecord(raw.settings, raw.outcomes)
        rng = np.random.default_rng(secrets.randbits(128))
        sifter: SiftAlice | SiftBob = (
            SiftAlice(self.protocol, self.run_config, record)
            if self.role == "alice"
            else SiftBob(self.protocol, self.run_config, record, rng=rng)
        )
        await link.run_party(sifter)
        est = sifter.estimate
        self.stats.last_qber = float(est.qber.value)
        self.stats.last_chsh_s = None if est.chsh_s is None else float(est.chsh_s.value)
        s_text = "" if est.chsh_s is None else f", S = {est.chsh_s.value:.3f}"
        if est.abort_reason is not None:
            self.stats.abort(est.abort_reason)
            log.warning("block %d aborted, no key: %s (QBER %.2f %%%s)", block_id, est.abort_reason,
                        100 * est.qber.value, s_text)  # fmt: skip
            return
        log.info("block %d: QBER %.2f %%%s, %s sifted key bits", block_id, 100 * est.qber.value, s_text,
                 f"{est.key_index.size:,}")  # fmt: skip
        try:
            party = postprocess_party(self.role, est, sifter.key, self.run_config, rng=rng)
        except SecurityAbort as exc:  # the finite-key tolerance: both sides decide the same
            self.stats.abort(str(exc))
            log.warning("block %d aborted, no key: %s", block_id, exc)
            return
        await link.run_party(party)
        if party.failure is not None:
            self.stats.abort(str(party.failure))
            log.warning("block %d: no key: %s", block_id, party.failure)
            return
        self._reached("postprocessed", block_id)
        amplified = party.key
        used = link.end.usage
        used = Usage(used.alice_to_bob + 1, used.bob_to_alice + 1)  # and the Prepared and Committed frames to come
        extra = top_up_slots(alice, bob, spare_bits=int(amplified.size) - used.key_bits)
        usage = Usage(used.alice_to_bob + extra[0], used.bob_to_alice + extra[1])
        await self._commit(link, block_id, amplified, usage)

    async def _pair_clicks(self, link: _Link, block_id: int, raw: RawBlock) -> np.ndarray | None:
        """Find which of this block's clicks have a partner at the peer (:mod:`qkdnet.qkd.pairing`): the indices
        of this side's paired clicks, in pair order, or None when none are (the block makes no key)."""
        pairing: PairingAlice | PairingBob
        if self.role == "alice":
            if self._tracker is None:
                self._tracker = ClockTracker(max_offset_ps=seconds_to_ps(CLOCK_SEARCH_S))
            pairing = PairingAlice(self._tracker, raw.time_tags_ps)
        else:
            pairing = PairingBob(raw.time_tags_ps)
        await link.run_party(pairing)
        if isinstance(pairing, PairingAlice):
            index = pairing.alice_index
            if pairing.block is not None:
                clock = pairing.block.clock
                s = self.stats
                s.clock_offset_ps = clock.offset_at(int(raw.time_tags_ps[0]))
                s.clock_drift_ppm = clock.drift * 1e6
                s.coincidence_window_ps = clock.estimate.window_ps
                s.clock_reacquisitions = self._tracker.reacquisitions if self._tracker else 0
                log.info(
                    "block %d: %s of %s clicks paired; Bob's clock %+.9f s from mine, drifting %+.4f ppm, "
                    "window %d ps%s",
                    block_id, f"{index.size:,}", f"{raw.records:,}", s.clock_offset_ps * 1e-12, s.clock_drift_ppm,
                    s.coincidence_window_ps, " (clock found from scratch)" if pairing.block.reacquired else "",
                )  # fmt: skip
            else:
                log.warning("block %d: no coincidences: %s", block_id, pairing.failure)
        else:
            index = pairing.bob_index
            log.info("block %d: %s of %s clicks paired", block_id, f"{index.size:,}", f"{raw.records:,}")
        if index.size == 0:
            self.stats.abort("no coincidences in the block")
            return None
        return index

    def _resolve(self, alice: Hello, bob: Hello) -> None:
        """Apply the coordinator's decision on an interrupted commit (the same reasoning runs on both sides)."""
        a_last, b_last = alice.last_committed, bob.last_committed
        if a_last == b_last:
            if self.role == "bob" and bob.prepared is not None:
                dropped = self.state.discard_prepared()
                log.info("block %s: prepared but never committed by the peer: discarded", dropped)
            return
        behind = a_last is not None and (b_last is None or a_last > b_last)
        expected = 0 if b_last is None else b_last + 1
        if not behind or a_last != expected or bob.prepared != a_last:
            raise PoolsDisagree(
                f"the pools disagree beyond repair: alice's last block {a_last}, bob's {b_last} "
                f"(bob prepared {bob.prepared}); check that each node uses its own database"
            )
        if self.role == "bob":
            block = self.state.prepared()
            if block is None or block.block_id != a_last:  # pragma: no cover - the hello said otherwise
                raise SessionFailed("the prepared block vanished")
            self._commit_locally(block)
            log.info("block %d: committed by the peer before the connection broke; committed here too", a_last)

    async def _commit(self, link: _Link, block_id: int, amplified: np.ndarray, usage: Usage) -> None:
        if self.role == "bob":
            block = self.state.prepare(block_id, amplified, usage)
            if block.key_bytes == 0:
                self.state.discard_prepared()
                self._no_net_key(block_id)
                return
            self._reached("prepared", block_id)
            link.send(Prepared(block_id, block.key_bytes))
            await link.drain()
            committed = await link.receive(Committed)
            if committed.block_id != block_id:
                raise ProtocolError(f"peer committed block {committed.block_id}, expected {block_id}")
            self._reached("told", block_id)
            self._commit_locally(block)
            return
        size = PreparedBlock(block_id, amplified, usage).key_bytes
        if size == 0:
            self._no_net_key(block_id)
            return
        prepared = await link.receive(Prepared)
        if (prepared.block_id, prepared.key_bytes) != (block_id, size):
            raise ProtocolError(f"peer prepared block {prepared.block_id} of {prepared.key_bytes} bytes, "
                                f"expected block {block_id} of {size}")  # fmt: skip
        block = self.state.prepare(block_id, amplified, usage)
        self._reached("prepared", block_id)
        self._commit_locally(block)
        self._reached("committed", block_id)
        link.send(Committed(block_id))
        await link.drain()

    def _commit_locally(self, block: PreparedBlock) -> None:
        key = block.net_key
        self.pool.commit_block(link_id=self.link_id, block_id=block.block_id, key=key)
        self._reached("pool", block.block_id)
        self.state.finalize(block)
        self.stats.commit(len(key))
        log.info("block %d committed: %s bytes of key (authentication reserve %s bits)", block.block_id,
                 f"{len(key):,}", f"{self.state.reserve_bits:,}")  # fmt: skip

    def _no_net_key(self, block_id: int) -> None:
        self.stats.abort("no net key after the authentication refill")
        log.warning("block %d: no net key: authentication cost as much as privacy amplification made", block_id)

    def _reached(self, point: str, block_id: int) -> None:
        for hook in COMMIT_POINT_HOOKS:
            hook(self.role, point, block_id)


class _Link:
    """A session on a connection: sealed sends, checked receives, timeouts."""

    def __init__(self, conn: _Conn, end: AuthenticatedChannelEnd, timeout_s: float) -> None:
        self.conn = conn
        self.end = end
        self._timeout_s = timeout_s

    def send(self, message: Control | Message) -> None:
        write_frame(self.conn.writer, self.end.seal(encode_payload(message)))

    async def drain(self) -> None:
        async with asyncio.timeout(self._timeout_s):
            await self.conn.writer.drain()

    async def _read_frame(self) -> bytes:
        async with asyncio.timeout(self._timeout_s):
            return await read_frame(self.conn.reader)

    async def receive_any(self) -> Control | Message:
        message = decode_payload(self.end.open(await self._read_frame()))
        if isinstance(message, Abort):
            raise PeerAborted(f"the peer aborted the block: {message.reason}")
        return message

    async def receive(self, kind: type[T]) -> T:
        message = await self.receive_any()
        if not isinstance(message, kind):
            raise ProtocolError(f"expected {kind.__name__}, got {type(message).__name__}")
        return message

    async def exchange(self, mine: T, kind: type[T], *, first: bool) -> T:
        """Alice sends first and Bob answers: each gets the other's message."""
        if first:
            self.send(mine)  # type: ignore[arg-type]
            await self.drain()
            return await self.receive(kind)
        theirs = await self.receive(kind)
        self.send(mine)  # type: ignore[arg-type]
        await self.drain()
        return theirs

    async def run_party(self, party: Party) -> None:
        """Drive a sans-I/O party until it is done, its whole transcript authenticated by one tag per direction
        (:class:`AuthenticatedParty`); its steps run in a worker thread."""
        wrapped = AuthenticatedParty(party, self.end)
        self._write(wrapped.start())
        await self.drain()
        while not wrapped.done:
            frame = AuthenticatedFrame(await self._read_frame())
            self._write(await asyncio.to_thread(wrapped.receive, frame))
            await self.drain()

    def _write(self, frames: list[Message]) -> None:
        for frame in frames:
            assert isinstance(frame, AuthenticatedFrame)  # noqa: S101 - AuthenticatedParty sends nothing else
            write_frame(self.conn.writer, frame.data)


def top_up_slots(alice: Hello, bob: Hello, *, spare_bits: int) -> tuple[int, int]:
    """Extra tag-key slots per direction (Alice → Bob, Bob → Alice) a block deposits beyond what it used.

    Crashes burn leased slots and aborted blocks spend slots they never refill; without a top-up the reserves
    would drain over a long life. Both sides compute this from the two hellos, so they deposit the same: each
    direction is brought back to the lower of the two targets, from at most half of ``spare_bits`` (the key
    left after refilling what the block used), so a block never gives up its whole key. The lower of the two
    reported levels is the true one (a receiver may not yet have burned slots its peer skipped). No top-up in a
    session that settled an interrupted commit: one side's level then lacks that block's refill.
    """
    if alice.last_committed != bob.last_committed:
        return 0, 0
    target = min(alice.reserve_target_bits, bob.reserve_target_bits)
    levels = (
        min(alice.reserve_a2b_bits, bob.reserve_a2b_bits),
        min(alice.reserve_b2a_bits, bob.reserve_b2a_bits),
    )
    budget = max(0, spare_bits) // 2 // SLOT_BITS
    extra = []
    for level in levels:
        slots = min(-(-max(0, target - level) // SLOT_BITS), budget)
        budget -= slots
        extra.append(slots)
    return extra[0], extra[1]


def warm_up(config: KeyRunConfig) -> None:
    """Load now what the first block would load mid-protocol: the compiled reconciler and its codes."""
    from qkdnet.postprocess import LeakageLedger, reconcile_and_amplify

    rng = np.random.default_rng(0)
    alice = rng.integers(0, 2, 20_000, dtype=np.uint8)
    bob = alice ^ (rng.random(alice.size) < 0.02).astype(np.uint8)
    reconcile_and_amplify(
        alice, bob, qber_estimate=0.02, eve_information_bits=4000.0, ledger=LeakageLedger(), rng=rng,
        reconciler=config.reconciler,
    )  # fmt: skip


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)


__all__ = [
    "COMMIT_POINT_HOOKS",
    "NodeDaemon",
    "NodeStats",
    "PeerAborted",
    "PoolsDisagree",
    "RawBuffer",
    "ReserveLow",
    "SessionFailed",
    "top_up_slots",
    "warm_up",
]
