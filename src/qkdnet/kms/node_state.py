"""A node daemon's own durable state: its tag-key reserves, their send leases, and the block it has prepared.

One SQLite file per node (WAL, ``synchronous=FULL``), next to the key pool but separate from it:

- ``reserve``: for each direction, the unused authentication-key slots as of the last committed block
  (their first absolute index and their bytes). The first start loads the pre-shared bootstrap key.
- ``lease``: for the direction this node *sends* in, an index below which every slot may have tagged a
  frame. It is written (and on disk) before a slot at or past it is used, ``LEASE_SLOTS`` at a time, and
  a restarted node resumes sending from it: a one-time tag key is never used twice, even after kill -9.
- ``prepared``: the block this node has finished post-processing but whose commit it has not finalised:
  the privacy-amplified key and the authentication usage that decides the refill of the reserves.
- ``meta``: the last raw device block used, so that a block disclosed in an interrupted attempt is never
  processed again.

Finalising a block refills the reserves from its key (:meth:`PartyTagKeys.refill`) and forgets the prepared
key in one transaction; a crash before that leaves the prepared row, and the daemon finalises it again from
there (the pool's commit is idempotent).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

from qkdnet.errors import ConfigError, InvalidParameter, QkdnetError
from qkdnet.postprocess import PartyTagKeys, TagKeyReserve, Usage
from qkdnet.postprocess.auth import SLOT_BITS

Side = Literal["alice", "bob"]
LEASE_SLOTS: Final = 16
"""Slots leased (and burned by a crash) at a time: a node's block tags about 6 per direction (hello, block start,
one close per protocol stage, prepare or commit), so one durable lease write per ~3 blocks, and a kill -9 costs
16 slots, which the next commits top up."""
#: The smallest bootstrap key a node accepts: 4 KiB (256 slots) per direction, room for a restart's burned
#: lease (``LEASE_SLOTS``) and the frames of a few interrupted blocks before the first commit refills it.
MIN_BOOTSTRAP_BYTES: Final = 8192
_SLOT_BYTES: Final = SLOT_BITS // 8
_DIRECTIONS: Final = ("alice_to_bob", "bob_to_alice")
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS reserve (direction TEXT PRIMARY KEY, first_index INTEGER NOT NULL,"
    " slots BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lease (direction TEXT PRIMARY KEY, next_index INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS prepared (block_id INTEGER PRIMARY KEY, n_bits INTEGER NOT NULL, key BLOB NOT NULL,"
    " alice_to_bob INTEGER NOT NULL, bob_to_alice INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)


class NodeStateError(QkdnetError):
    """The node's state file is unusable or inconsistent with what the daemon is asked to do."""


@dataclass(frozen=True, slots=True, eq=False)
class PreparedBlock:
    """A block whose post-processing finished here: its amplified key and the usage that sets the refill."""

    block_id: int
    amplified: NDArray[np.uint8] = field(repr=False)
    usage: Usage

    @property
    def net_key(self) -> bytes:
        """The key for the pool: what remains after the refill, in whole bytes (the same on both sides)."""
        return net_key_bytes(self.amplified, self.usage)

    @property
    def key_bytes(self) -> int:
        """Length of :attr:`net_key`."""
        return max(0, int(self.amplified.size) - self.usage.key_bits) // 8


def net_key_bytes(amplified: NDArray[np.uint8], usage: Usage) -> bytes:
    """The net key of a block in whole bytes: the amplified key after the refill's ``usage.key_bits`` bits."""
    net = amplified[usage.key_bits :]
    return np.packbits(net[: net.size // 8 * 8]).tobytes()


class _LeasedReserve(TagKeyReserve):
    """A send-side reserve that makes its lease durable before handing out a slot at or past it."""

    def __init__(self, bits: bytes, *, first_index: int, lease: int, state: NodeState, direction: str) -> None:
        super().__init__(_unpack(bits), first_index=first_index)
        self._lease = lease
        self._state = state
        self._direction = direction

    def take(self, index: int) -> bytearray:
        if index >= self._lease:
            self._lease = int(index) + LEASE_SLOTS
            self._state._write_lease(self._direction, self._lease)
        return super().take(index)


def _unpack(data: bytes) -> NDArray[np.uint8]:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))


class NodeState:
    """The durable state of one node (see the module docstring); not thread-safe, one daemon per file."""

    def __init__(self, path: str | os.PathLike[str], *, side: Side, bootstrap_key_file: str | os.PathLike[str]):
        if side not in ("alice", "bob"):
            raise InvalidParameter(f"side must be 'alice' or 'bob', got {side!r}")
        self.path = Path(path)
        self._side: Side = side
        self._send = "alice_to_bob" if side == "alice" else "bob_to_alice"
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA secure_delete=ON")
            with self._transaction() as conn:
                for statement in _SCHEMA:
                    conn.execute(statement)
                if conn.execute("SELECT COUNT(*) FROM reserve").fetchone()[0] == 0:
                    self._bootstrap(conn, Path(bootstrap_key_file))
        except sqlite3.Error as exc:
            raise NodeStateError(f"{self.path}: cannot open the node state: {exc}") from None
        self.tag_keys = self._load_reserves()

    def _bootstrap(self, conn: sqlite3.Connection, key_file: Path) -> None:
        try:
            data = key_file.read_bytes()
        except OSError as exc:
            raise ConfigError([f"{key_file}: cannot read the bootstrap key: {exc.strerror or exc}"]) from None
        if len(data) < MIN_BOOTSTRAP_BYTES or len(data) % (2 * _SLOT_BYTES):
            why = (
                f"the bootstrap key must be at least {MIN_BOOTSTRAP_BYTES} bytes and a multiple of"
                f" {2 * _SLOT_BYTES}, got {len(data)}"
            )
            raise ConfigError([f"{key_file}: {why}"])
        half = len(data) // 2
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('reserve_target_bits', ?)", (8 * half,))
        conn.execute("INSERT INTO reserve VALUES (?, 0, ?)", ("alice_to_bob", data[:half]))
        conn.execute("INSERT INTO reserve VALUES (?, 0, ?)", ("bob_to_alice", data[half:]))

    def _load_reserves(self) -> PartyTagKeys:
        rows = {d: (int(i), bytes(b)) for d, i, b in self._conn.execute("SELECT * FROM reserve")}
        lease_row = self._conn.execute("SELECT next_index FROM lease WHERE direction = ?", (self._send,)).fetchone()
        reserves: dict[str, TagKeyReserve] = {}
        for direction in _DIRECTIONS:
            first, slots = rows[direction]
            if direction == self._send:
                lease = first if lease_row is None else max(first, int(lease_row[0]))
                skip = min(lease - first, len(slots) // _SLOT_BYTES)  # slots a crashed run may have used
                reserves[direction] = _LeasedReserve(
                    slots[skip * _SLOT_BYTES :], first_index=first + skip, lease=lease, state=self, direction=direction
                )
            else:
                reserves[direction] = TagKeyReserve(_unpack(slots), first_index=first)
        self._reserves = reserves
        return PartyTagKeys(self._side, alice_to_bob=reserves["alice_to_bob"], bob_to_alice=reserves["bob_to_alice"])

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _write_lease(self, direction: str, next_index: int) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO lease VALUES (?, ?)", (direction, next_index))

    @property
    def reserve_bits(self) -> int:
        """Unused authentication-key bits in both directions."""
        return self.tag_keys.bits_available

    @property
    def reserve_levels(self) -> tuple[int, int]:
        """Unused authentication-key bits (Alice → Bob, Bob → Alice)."""
        return self._reserves["alice_to_bob"].bits_available, self._reserves["bob_to_alice"].bits_available

    @property
    def reserve_target_bits(self) -> int:
        """The level each direction's reserve is topped up to: half the bootstrap key."""
        row = self._conn.execute("SELECT value FROM meta WHERE name = 'reserve_target_bits'").fetchone()
        return 0 if row is None else int(row[0])

    def prepare(self, block_id: int, amplified: NDArray[np.uint8], usage: Usage) -> PreparedBlock:
        """Durably record a finished block (replacing any older prepared block, which was abandoned)."""
        bits = np.asarray(amplified, dtype=np.uint8)
        with self._transaction() as conn:
            conn.execute("DELETE FROM prepared")
            conn.execute(
                "INSERT INTO prepared VALUES (?, ?, ?, ?, ?)",
                (block_id, int(bits.size), np.packbits(bits).tobytes(), usage.alice_to_bob, usage.bob_to_alice),
            )
        return PreparedBlock(block_id, bits.copy(), usage)

    def prepared(self) -> PreparedBlock | None:
        """The prepared block, if any."""
        row = self._conn.execute("SELECT * FROM prepared").fetchone()
        if row is None:
            return None
        block_id, n_bits, packed, a2b, b2a = row
        amplified = np.unpackbits(np.frombuffer(packed, dtype=np.uint8), count=int(n_bits))
        return PreparedBlock(int(block_id), amplified, Usage(int(a2b), int(b2a)))

    def discard_prepared(self) -> int | None:
        """Forget the prepared block (it was not committed by the coordinator); its ID, or None."""
        block = self.prepared()
        with self._transaction() as conn:
            conn.execute("DELETE FROM prepared")
        return None if block is None else block.block_id

    def finalize(self, block: PreparedBlock) -> None:
        """After the pool committed ``block``: refill the reserves from it and forget its key, atomically."""
        self.tag_keys.refill(block.amplified, block.usage)
        with self._transaction() as conn:
            for direction, reserve in self._reserves.items():
                first, slots = reserve.export_unused()
                conn.execute("INSERT OR REPLACE INTO reserve VALUES (?, ?, ?)", (direction, first, slots))
            conn.execute("DELETE FROM prepared WHERE block_id = ?", (block.block_id,))

    def raw_used(self) -> tuple[int, int] | None:
        """(epoch, seq) of the last raw device block a session started on, or None."""
        rows = dict(self._conn.execute("SELECT name, value FROM meta WHERE name IN ('raw_epoch', 'raw_seq')"))
        return None if len(rows) < 2 else (int(rows["raw_epoch"]), int(rows["raw_seq"]))

    def mark_raw_used(self, epoch: int, seq: int) -> None:
        """Durably record that raw block (epoch, seq) is being used: it is never offered again."""
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('raw_epoch', ?)", (epoch,))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('raw_seq', ?)", (seq,))

    def close(self) -> None:
        """Close the file."""
        self._conn.close()

    def __repr__(self) -> str:
        return f"NodeState(path={str(self.path)!r}, side={self._side!r}, reserve_bits={self.reserve_bits})"


__all__ = ["LEASE_SLOTS", "MIN_BOOTSTRAP_BYTES", "NodeState", "NodeStateError", "PreparedBlock", "net_key_bytes"]
