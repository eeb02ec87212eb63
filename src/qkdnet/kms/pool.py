"""The KME's durable key pool: the storage interface and its embedded SQLite implementation.

The node daemon commits each block of final key with :meth:`KeyPool.commit_block` (on both KMEs); the ETSI
GS QKD 014 service only takes keys out. Every block is split in two halves, one per direction
(:func:`~qkdnet.kms.keyid.split_block`); the master KME takes keys from the front of its direction's unused
bytes (:meth:`KeyPool.take_new_keys`), tells the slave KME which key IDs it handed to which pair of SAEs
(:meth:`KeyPool.reserve_keys`), and the slave KME hands exactly those keys to the slave SAE
(:meth:`KeyPool.take_keys_by_id`). Keys never span blocks: a key that does not fit in the rest of a half
starts in the next block, and the rest stays available for smaller keys.

SQLite runs in WAL mode with ``synchronous=FULL``: a transaction is on disk when ``COMMIT`` returns. Writes
run in ``BEGIN IMMEDIATE`` transactions, which take the database's write lock first, so concurrent takers
(threads or processes) are serialised and never get overlapping bytes; a process killed at any point leaves
either the whole take recorded or none of it. One writer thread group-commits the operations that wait
together (one fsync for many takes; an fsync costs milliseconds on a virtual disk). Delivered bytes are
overwritten with zeros inside the same transaction (``secure_delete`` also zeroes freed pages); a digest of
each block, not the block, is kept to check that a repeated commit carries the same key. A batch that handed
key out ends with ``wal_checkpoint(TRUNCATE)`` before anyone is answered, so the WAL's older copies of the
zeroed pages are gone too (what the file system, an SSD or swap may still keep is beyond SQLite's reach).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable
from uuid import UUID, uuid4

from qkdnet.errors import (
    InvalidParameter,
    KeyNotEntitled,
    KeyNotFound,
    KeyNotYetCommitted,
    KeyPoolError,
    KeyPoolExhausted,
)
from qkdnet.kms.keyfiles import prepare_private_sqlite
from qkdnet.kms.keyid import (
    LINK_SEPARATOR,
    MAX_BLOCK_ID,
    MAX_SIZE_BYTES,
    Direction,
    KeyPosition,
    decode_key_id,
    split_block,
)

SCHEMA_VERSION = 1
_BUSY_TIMEOUT_S = 30.0
_DELIVERED = "delivered"
_RESERVED = "reserved"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DeliveredKey:
    """One key handed out of the pool: its random ID, its bytes and its place in the pool (both hidden from repr).

    The ID says nothing about where the key lies (a version-4 UUID, RFC 9562); the master KME sends the
    position to the slave KME with the reservation, over their mutually authenticated channel.
    """

    key_id: UUID
    key: bytes = field(repr=False)
    position: KeyPosition | None = field(default=None, repr=False, compare=False)


@runtime_checkable
class KeyPool(Protocol):
    """Durable storage of the key a KME shares with its peer KME (the contract of /work/notes/kms_interface.md)."""

    def commit_block(self, *, link_id: str, block_id: int, key: bytes) -> None:
        """Durably store one block of final key shared with the peer KME (on disk before return).

        Idempotent: the same (link_id, block_id, key) again is a no-op; a different key for an existing block
        raises KeyPoolError (never overwrites); block IDs increase from one committed block to the next.
        """
        ...

    def last_committed_block(self, link_id: str) -> int | None:
        """The highest committed block ID of the link, or None before the first block."""
        ...

    def stored_key_count(self, *, link_id: str, direction: Direction, size_bits: int) -> int:
        """How many keys of ``size_bits`` :meth:`take_new_keys` could still hand out in this direction."""
        ...

    def take_new_keys(
        self, *, link_id: str, direction: Direction, master_sae: str, slave_sae: str, number: int, size_bits: int
    ) -> list[DeliveredKey]:
        """Master side (enc_keys): atomically take ``number`` keys of ``size_bits`` and mark them delivered.

        Raises KeyPoolExhausted if there are not enough; never returns a byte twice, also under concurrent
        callers and across crashes.
        """
        ...

    def reserve_keys(
        self,
        *,
        link_id: str,
        direction: Direction,
        master_sae: str,
        slave_sae: str,
        key_ids: Sequence[UUID],
        positions: Sequence[KeyPosition] | None = None,
    ) -> None:
        """Slave side, called for the master KME: record that these keys belong to (master_sae, slave_sae).

        ``positions`` says where each key lies (the master's :attr:`DeliveredKey.position`); without it the
        key IDs must be position IDs (:func:`~qkdnet.kms.keyid.encode_key_id`, the format of qkdnet <= 0.x).
        Repeating the same reservation is a no-op; a key ID overlapping any other reserved or delivered key
        raises KeyPoolError.
        """
        ...

    def take_keys_by_id(
        self, *, link_id: str, direction: Direction, master_sae: str, slave_sae: str, key_ids: Sequence[UUID]
    ) -> list[DeliveredKey]:
        """Slave side (dec_keys): return exactly these keys, durably marked delivered (each at most once).

        Unknown, unreserved or already delivered IDs raise KeyNotFound (KeyNotYetCommitted, a subclass, if the
        key's block is not committed here yet); a key reserved for another pair of SAEs raises KeyNotEntitled.
        All or nothing.
        """
        ...


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    # One row per committed block: a digest to check a repeated commit (the key itself lives in the halves).
    "CREATE TABLE IF NOT EXISTS blocks ("
    " link_id TEXT NOT NULL, block_id INTEGER NOT NULL, size_bytes INTEGER NOT NULL, digest BLOB NOT NULL,"
    " PRIMARY KEY (link_id, block_id)) WITHOUT ROWID",
    # One row per direction's half of a block; bytes below `cursor` are spent (delivered, reserved or skipped).
    "CREATE TABLE IF NOT EXISTS halves ("
    " id INTEGER PRIMARY KEY, link_id TEXT NOT NULL, direction INTEGER NOT NULL, block_id INTEGER NOT NULL,"
    " size_bytes INTEGER NOT NULL, cursor INTEGER NOT NULL, material BLOB NOT NULL,"
    " UNIQUE (link_id, direction, block_id))",
    # One row per key handed out (master: delivered) or announced by the master KME (slave: reserved, delivered).
    "CREATE TABLE IF NOT EXISTS keys ("
    " link_id TEXT NOT NULL, direction INTEGER NOT NULL, block_id INTEGER NOT NULL, offset_bytes INTEGER NOT NULL,"
    " size_bytes INTEGER NOT NULL, key_id TEXT NOT NULL, master_sae TEXT NOT NULL, slave_sae TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('reserved', 'delivered')),"
    " PRIMARY KEY (link_id, direction, block_id, offset_bytes)) WITHOUT ROWID",
    # Key IDs are random: the slave side finds a key by its ID.
    "CREATE UNIQUE INDEX IF NOT EXISTS keys_by_id ON keys (link_id, key_id)",
    # Keys that came by relay from another KME (qkdnet.kms.relay), held for dec_keys; zeroed once delivered,
    # the row kept so that the same key ID is never held (nor handed out) again.
    "CREATE TABLE IF NOT EXISTS relayed ("
    " key_id TEXT PRIMARY KEY, master_sae TEXT NOT NULL, slave_sae TEXT NOT NULL, material BLOB NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('reserved', 'delivered'))) WITHOUT ROWID",
)


def _check_link_id(link_id: str) -> None:
    parts = link_id.split(LINK_SEPARATOR) if isinstance(link_id, str) else []
    if len(parts) != 2 or not all(parts) or parts[0] >= parts[1]:
        raise InvalidParameter(f"link_id: expected 'KMEA|KMEB' with the two KME IDs sorted, got {link_id!r}")


def _check_size_bits(size_bits: int) -> int:
    if isinstance(size_bits, bool) or not isinstance(size_bits, int) or size_bits <= 0 or size_bits % 8:
        raise InvalidParameter(f"size_bits: expected a positive multiple of 8, got {size_bits!r}")
    if size_bits // 8 > MAX_SIZE_BYTES:
        raise InvalidParameter(f"size_bits: at most {8 * MAX_SIZE_BYTES} bits per key, got {size_bits}")
    return size_bits // 8


def _block_digest(link_id: str, block_id: int, key: bytes) -> bytes:
    prefix = f"qkdnet.kms.block|{link_id}|{block_id}|".encode()
    return hashlib.sha256(prefix + key).digest()


class _Stop:
    """Tells the writer thread to finish."""


@dataclass(slots=True)
class _Op:
    """One write operation for the writer thread: a function of the open transaction, and its caller's future."""

    run: Callable[[sqlite3.Connection], Any]
    future: Future[Any]
    delivers: bool = False  # hands key out: the batch ends with a checkpoint that wipes it from the WAL


class SqliteKeyPool:
    """The embedded :class:`KeyPool`: one SQLite file per KME (WAL, synchronous=FULL).

    All writes go through one writer thread that *group-commits*: it runs the operations waiting in its queue
    one after another, each inside its own ``SAVEPOINT`` (a failing operation is undone alone), in one
    ``BEGIN IMMEDIATE`` transaction, and answers the callers only after the ``COMMIT`` is on disk. One fsync
    then serves many concurrent takers, and a crash at any moment leaves every operation wholly recorded or
    wholly absent -- never delivered (answered) but unrecorded. The ``submit_*`` methods return a
    :class:`concurrent.futures.Future` for callers that must not block (the ETSI service's event loop).

    Safe to share between threads, and between processes opening the same file (``BEGIN IMMEDIATE`` takes the
    database's write lock first). Do not carry an open pool across ``fork``.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, busy_timeout_s: float = _BUSY_TIMEOUT_S, max_batch: int = 256
    ) -> None:
        self.path = Path(path)
        self._max_batch = max_batch
        prepare_private_sqlite(self.path)
        try:
            self._conn = self._connect(busy_timeout_s)
            self._reader = self._connect(busy_timeout_s)
            self._conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                self._conn.execute(statement)
            self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            version = self._conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()[0]
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise KeyPoolError(f"{self.path}: cannot open the key pool: {exc}") from None
        if version != SCHEMA_VERSION:
            raise KeyPoolError(f"{self.path}: key pool schema version {version}, this qkdnet reads {SCHEMA_VERSION}")
        self._read_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Op | _Stop] = queue.SimpleQueue()
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name=f"keypool-writer:{self.path.name}", daemon=True)
        self._writer.start()

    def _connect(self, busy_timeout_s: float) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise KeyPoolError(f"{self.path}: SQLite refused WAL mode (got {mode!r}); the pool needs WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA secure_delete=ON")
        return conn

    def __repr__(self) -> str:
        return f"SqliteKeyPool(path={str(self.path)!r})"

    def close(self) -> None:
        """Finish the queued writes, stop the writer thread and close the database."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_Stop())
        self._writer.join()
        self._conn.close()
        self._reader.close()

    def __enter__(self) -> SqliteKeyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the writer thread ------------------------------------------------------------------------------------

    def _submit(self, run: Callable[[sqlite3.Connection], T], *, delivers: bool = False) -> Future[T]:
        if self._closed:
            raise KeyPoolError(f"{self.path}: the key pool is closed")
        future: Future[T] = Future()
        self._queue.put(_Op(run, future, delivers))
        return future

    def _write_loop(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if isinstance(first, _Stop):
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Stop):
                    stop = True
                    break
                batch.append(item)
            self._run_batch(batch)

    def _run_batch(self, batch: list[_Op]) -> None:
        """Run a batch in one transaction, each operation in its own savepoint; answer after COMMIT."""
        outcomes: list[tuple[_Op, Any, BaseException | None]] = []
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                if not op.future.set_running_or_notify_cancel():
                    continue
                conn.execute("SAVEPOINT op")
                try:
                    value = op.run(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    if isinstance(exc, sqlite3.Error):
                        exc = KeyPoolError(f"{self.path}: {exc}")
                    outcomes.append((op, None, exc))
                else:
                    conn.execute("RELEASE op")
                    outcomes.append((op, value, None))
            self._commit()
        except Exception as exc:  # the transaction itself failed (disk full, lock timeout...): nothing happened
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            failure = KeyPoolError(f"{self.path}: the key pool could not commit: {exc}")
            for op in batch:
                if op.future.running():
                    op.future.set_exception(failure)
            return
        if any(op.delivers and error is None for op, _, error in outcomes):
            self._wipe_wal()
        for op, value, error in outcomes:
            if error is None:
                op.future.set_result(value)
            else:
                op.future.set_exception(error)

    def _commit(self) -> None:
        self._conn.execute("COMMIT")

    def _wipe_wal(self) -> None:
        """Copy the zeroed pages over the main file and truncate the WAL, so delivered bytes leave the disk.

        The WAL still holds earlier versions of the pages a delivery zeroed; ``wal_checkpoint(TRUNCATE)``
        writes the newest versions over the database's pages and empties the WAL. It runs before the callers
        are answered, so no key handed out remains in any file the pool wrote. Another process reading the
        pool can make it partial (``busy``); the next delivering batch finishes it.
        """
        with self._read_lock, contextlib.suppress(sqlite3.Error):  # our reader holds no snapshot meanwhile
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    def _read(self, sql: str, params: tuple[object, ...]) -> tuple[Any, ...]:
        with self._read_lock:
            row = self._reader.execute(sql, params).fetchone()
        return tuple(row)

    # -- the KeyPool interface ----------------------------------------------------------------------------------

    def commit_block(self, *, link_id: str, block_id: int, key: bytes) -> None:
        """Durably store one block of final key (see :class:`KeyPool`); block IDs must increase."""
        self.submit_commit_block(link_id=link_id, block_id=block_id, key=key).result()

    def submit_commit_block(self, *, link_id: str, block_id: int, key: bytes) -> Future[None]:
        """:meth:`commit_block` without waiting: the future completes when the block is on disk."""
        _check_link_id(link_id)
        if isinstance(block_id, bool) or not isinstance(block_id, int) or not 0 <= block_id <= MAX_BLOCK_ID:
            raise InvalidParameter(f"block_id: expected an integer in [0, {MAX_BLOCK_ID}], got {block_id!r}")
        if not isinstance(key, bytes | bytearray) or not key:
            raise InvalidParameter("key: expected non-empty bytes")
        material = bytes(key)
        digest = _block_digest(link_id, block_id, material)

        def run(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT digest FROM blocks WHERE link_id = ? AND block_id = ?", (link_id, block_id)
            ).fetchone()
            if row is not None:
                if not hmac.compare_digest(row[0], digest):
                    raise KeyPoolError(f"block {block_id} of {link_id} is already committed with a different key")
                return
            last = conn.execute("SELECT MAX(block_id) FROM blocks WHERE link_id = ?", (link_id,)).fetchone()[0]
            if last is not None and block_id < last:
                raise KeyPoolError(f"block {block_id} of {link_id} comes after block {last}: block IDs must increase")
            conn.execute("INSERT INTO blocks VALUES (?, ?, ?, ?)", (link_id, block_id, len(material), digest))
            for direction, half in zip(Direction, split_block(material), strict=True):
                # Keys the master KME announced before this block arrived here are already spent.
                reserved_end = conn.execute(
                    "SELECT MAX(offset_bytes + size_bytes) FROM keys"
                    " WHERE link_id = ? AND direction = ? AND block_id = ?",
                    (link_id, int(direction), block_id),
                ).fetchone()[0]
                conn.execute(
                    "INSERT INTO halves (link_id, direction, block_id, size_bytes, cursor, material)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (link_id, int(direction), block_id, len(half), min(reserved_end or 0, len(half)), half),
                )

        return self._submit(run)

    def last_committed_block(self, link_id: str) -> int | None:
        """The highest committed block ID of the link, or None before the first block."""
        _check_link_id(link_id)
        (last,) = self._read("SELECT MAX(block_id) FROM blocks WHERE link_id = ?", (link_id,))
        return None if last is None else int(last)

    def stored_key_count(self, *, link_id: str, direction: Direction, size_bits: int) -> int:
        """How many keys of ``size_bits`` :meth:`take_new_keys` could still hand out in this direction."""
        _check_link_id(link_id)
        size_bytes = _check_size_bits(size_bits)
        (count,) = self._read(
            "SELECT COALESCE(SUM((size_bytes - cursor) / ?), 0) FROM halves WHERE link_id = ? AND direction = ?",
            (size_bytes, link_id, int(Direction(direction))),
        )
        return int(count)

    def take_new_keys(
        self, *, link_id: str, direction: Direction, master_sae: str, slave_sae: str, number: int, size_bits: int
    ) -> list[DeliveredKey]:
        """Master side: take ``number`` keys of ``size_bits`` from the front of the direction's unused bytes."""
        return self.submit_take_new_keys(
            link_id=link_id,
            direction=direction,
            master_sae=master_sae,
            slave_sae=slave_sae,
            number=number,
            size_bits=size_bits,
        ).result()

    def submit_take_new_keys(
        self, *, link_id: str, direction: Direction, master_sae: str, slave_sae: str, number: int, size_bits: int
    ) -> Future[list[DeliveredKey]]:
        """:meth:`take_new_keys` without waiting: the future holds the keys once their delivery is on disk."""
        _check_link_id(link_id)
        direction = Direction(direction)
        size_bytes = _check_size_bits(size_bits)
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise InvalidParameter(f"number: expected a positive integer, got {number!r}")

        def run(conn: sqlite3.Connection) -> list[DeliveredKey]:
            halves = conn.execute(
                "SELECT id, block_id, size_bytes, cursor FROM halves"
                " WHERE link_id = ? AND direction = ? AND size_bytes - cursor >= ? ORDER BY block_id",
                (link_id, int(direction), size_bytes),
            ).fetchall()
            plan: list[tuple[int, int, int, int]] = []  # (half row, block, first offset, keys taken there)
            left = number
            for row_id, block_id, half_bytes, cursor in halves:
                count = min(left, (half_bytes - cursor) // size_bytes)
                plan.append((row_id, block_id, cursor, count))
                left -= count
                if left == 0:
                    break
            if left:
                raise KeyPoolExhausted(
                    f"{link_id}: {number} keys of {size_bits} bits asked, {number - left} available in this direction"
                )
            delivered: list[DeliveredKey] = []
            for row_id, block_id, start, count in plan:
                material = _spend(conn, row_id, start, count * size_bytes)
                conn.execute("UPDATE halves SET cursor = ? WHERE id = ?", (start + count * size_bytes, row_id))
                for i in range(count):
                    position = KeyPosition(direction, block_id, start + i * size_bytes, size_bytes)
                    key_id = uuid4()  # random: the ID tells an SAE nothing about the pool or other pairs
                    _record(conn, link_id, position, key_id, master_sae, slave_sae, _DELIVERED)
                    piece = material[i * size_bytes : (i + 1) * size_bytes]
                    delivered.append(DeliveredKey(key_id, piece, position))
            return delivered

        return self._submit(run, delivers=True)

    def reserve_keys(
        self,
        *,
        link_id: str,
        direction: Direction,
        master_sae: str,
        slave_sae: str,
        key_ids: Sequence[UUID],
        positions: Sequence[KeyPosition] | None = None,
    ) -> None:
        """Slave side: record the master KME's keys for (master_sae, slave_sae); see :class:`KeyPool`."""
        self.submit_reserve_keys(
            link_id=link_id,
            direction=direction,
            master_sae=master_sae,
            slave_sae=slave_sae,
            key_ids=key_ids,
            positions=positions,
        ).result()

    def submit_reserve_keys(
        self,
        *,
        link_id: str,
        direction: Direction,
        master_sae: str,
        slave_sae: str,
        key_ids: Sequence[UUID],
        positions: Sequence[KeyPosition] | None = None,
    ) -> Future[None]:
        """:meth:`reserve_keys` without waiting: the future completes when the reservation is on disk."""
        _check_link_id(link_id)
        placed = _placed(link_id, Direction(direction), key_ids, positions)

        def run(conn: sqlite3.Connection) -> None:
            for key_id, position in placed:
                row = _row(conn, link_id, position)
                if row is not None:
                    if row == (str(key_id), master_sae, slave_sae, _RESERVED):
                        continue  # the master KME repeated its reservation
                    raise KeyPoolError(f"key {key_id} overlaps a key already reserved or delivered")
                before = conn.execute(
                    "SELECT offset_bytes + size_bytes FROM keys WHERE link_id = ? AND direction = ? AND block_id = ?"
                    " AND offset_bytes < ? ORDER BY offset_bytes DESC LIMIT 1",
                    (link_id, int(position.direction), position.block_id, position.end_bytes),
                ).fetchone()
                if before is not None and before[0] > position.offset_bytes:  # ranges are disjoint and sorted
                    raise KeyPoolError(f"key {key_id} overlaps a key already reserved or delivered")
                _record(conn, link_id, position, key_id, master_sae, slave_sae, _RESERVED)
                conn.execute(
                    "UPDATE halves SET cursor = MIN(size_bytes, MAX(cursor, ?))"
                    " WHERE link_id = ? AND direction = ? AND block_id = ?",
                    (position.end_bytes, link_id, int(position.direction), position.block_id),
                )

        return self._submit(run)

    def take_keys_by_id(
        self, *, link_id: str, direction: Direction, master_sae: str, slave_sae: str, key_ids: Sequence[UUID]
    ) -> list[DeliveredKey]:
        """Slave side: hand out exactly the reserved keys ``key_ids``, each at most once; all or nothing."""
        return self.submit_take_keys_by_id(
            link_id=link_id, direction=direction, master_sae=master_sae, slave_sae=slave_sae, key_ids=key_ids
        ).result()

    def submit_take_keys_by_id(
        self, *, link_id: str, direction: Direction, master_sae: str, slave_sae: str, key_ids: Sequence[UUID]
    ) -> Future[list[DeliveredKey]]:
        """:meth:`take_keys_by_id` without waiting: the future holds the keys once their delivery is on disk."""
        _check_link_id(link_id)
        direction = Direction(direction)
        wanted = _distinct(key_ids)

        def run(conn: sqlite3.Connection) -> list[DeliveredKey]:
            delivered: list[DeliveredKey] = []
            for key_id in wanted:
                position, row = _by_id(conn, link_id, key_id)
                if position is None or row is None or position.direction != direction or row[3] != _RESERVED:
                    raise KeyNotFound(f"key {key_id} is not available: never reserved here or already delivered")
                if not (hmac.compare_digest(row[1], master_sae) and hmac.compare_digest(row[2], slave_sae)):
                    raise KeyNotEntitled(f"key {key_id} was not reserved for {master_sae} -> {slave_sae}")
                half = conn.execute(
                    "SELECT id, size_bytes FROM halves WHERE link_id = ? AND direction = ? AND block_id = ?",
                    (link_id, int(position.direction), position.block_id),
                ).fetchone()
                if half is None or position.end_bytes > half[1]:
                    raise KeyNotYetCommitted(f"key {key_id} lies in a block not yet committed at this KME")
                material = _spend(conn, half[0], position.offset_bytes, position.size_bytes)
                conn.execute(
                    "UPDATE keys SET state = ? WHERE link_id = ? AND direction = ? AND block_id = ?"
                    " AND offset_bytes = ?",
                    (_DELIVERED, link_id, int(position.direction), position.block_id, position.offset_bytes),
                )
                delivered.append(DeliveredKey(key_id, material))
            return delivered

        return self._submit(run, delivers=True)

    # -- keys relayed from other KMEs -------------------------------------------------------------------------

    def submit_hold_relayed(
        self, *, master_sae: str, slave_sae: str, keys: Sequence[tuple[UUID, bytes]]
    ) -> Future[None]:
        """Durably hold keys that came by relay for (master_sae, slave_sae); a key ID seen before is refused."""
        ids = _distinct([key_id for key_id, _ in keys])
        if not all(isinstance(material, bytes) and material for _, material in keys):
            raise InvalidParameter("keys: expected non-empty bytes for every key ID")

        def run(conn: sqlite3.Connection) -> None:
            for key_id, (_, material) in zip(ids, keys, strict=True):
                if conn.execute("SELECT 1 FROM relayed WHERE key_id = ?", (str(key_id),)).fetchone() is not None:
                    raise KeyPoolError(f"relayed key {key_id} was held here before")
                conn.execute(
                    "INSERT INTO relayed VALUES (?, ?, ?, ?, ?)",
                    (str(key_id), master_sae, slave_sae, material, _RESERVED),
                )

        return self._submit(run)

    def submit_take_relayed(
        self, *, master_sae: str, slave_sae: str, key_ids: Sequence[UUID]
    ) -> Future[list[DeliveredKey]]:
        """Hand out relayed keys to the slave SAE they are held for, each once, all or nothing (then zeroed)."""
        wanted = _distinct(key_ids)

        def run(conn: sqlite3.Connection) -> list[DeliveredKey]:
            delivered = []
            for key_id in wanted:
                row = conn.execute(
                    "SELECT master_sae, slave_sae, material, state FROM relayed WHERE key_id = ?", (str(key_id),)
                ).fetchone()
                if row is None or row[3] != _RESERVED:
                    raise KeyNotFound(f"key {key_id} is not available: never relayed here or already delivered")
                if not (hmac.compare_digest(row[0], master_sae) and hmac.compare_digest(row[1], slave_sae)):
                    raise KeyNotEntitled(f"key {key_id} was not relayed for {master_sae} -> {slave_sae}")
                conn.execute(
                    "UPDATE relayed SET material = zeroblob(length(material)), state = ? WHERE key_id = ?",
                    (_DELIVERED, str(key_id)),
                )
                delivered.append(DeliveredKey(key_id, bytes(row[2])))
            return delivered

        return self._submit(run, delivers=True)

    def held_relayed_count(self) -> int:
        """How many relayed keys wait here for their slave SAE."""
        (count,) = self._read("SELECT COUNT(*) FROM relayed WHERE state = ?", (_RESERVED,))
        return int(count)


def _distinct(key_ids: Sequence[UUID]) -> list[UUID]:
    if not key_ids:
        raise InvalidParameter("key_ids: expected at least one key ID")
    for key_id in key_ids:
        if not isinstance(key_id, UUID):
            raise InvalidParameter(f"key_ids: expected UUIDs, got {key_id!r}")
    if len(set(key_ids)) != len(key_ids):
        raise KeyNotFound("the same key ID is asked for twice")
    return list(key_ids)


def _placed(
    link_id: str, direction: Direction, key_ids: Sequence[UUID], positions: Sequence[KeyPosition] | None
) -> list[tuple[UUID, KeyPosition]]:
    """Each key ID with its position: given by the master KME, or decoded from a position ID."""
    ids = _distinct(key_ids)
    if positions is None:
        places = [decode_key_id(key_id, link_id=link_id) for key_id in ids]
    else:
        places = list(positions)
        if len(places) != len(ids) or not all(isinstance(p, KeyPosition) for p in places):
            raise InvalidParameter("positions: expected one KeyPosition per key ID")
    for key_id, position in zip(ids, places, strict=True):
        if position.direction != direction:
            raise KeyNotFound(f"key {key_id} belongs to the other direction of {link_id}")
    return list(zip(ids, places, strict=True))


def _by_id(
    conn: sqlite3.Connection, link_id: str, key_id: UUID
) -> tuple[KeyPosition | None, tuple[str, str, str, str] | None]:
    row = conn.execute(
        "SELECT direction, block_id, offset_bytes, size_bytes, key_id, master_sae, slave_sae, state FROM keys"
        " WHERE link_id = ? AND key_id = ?",
        (link_id, str(key_id)),
    ).fetchone()
    if row is None:
        return None, None
    return KeyPosition(Direction(row[0]), row[1], row[2], row[3]), (row[4], row[5], row[6], row[7])


def _row(conn: sqlite3.Connection, link_id: str, position: KeyPosition) -> tuple[str, str, str, str] | None:
    row = conn.execute(
        "SELECT key_id, master_sae, slave_sae, state FROM keys"
        " WHERE link_id = ? AND direction = ? AND block_id = ? AND offset_bytes = ?",
        (link_id, int(position.direction), position.block_id, position.offset_bytes),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3])


def _record(
    conn: sqlite3.Connection,
    link_id: str,
    position: KeyPosition,
    key_id: UUID,
    master_sae: str,
    slave_sae: str,
    state: str,
) -> None:
    conn.execute(
        "INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            link_id,
            int(position.direction),
            position.block_id,
            position.offset_bytes,
            position.size_bytes,
            str(key_id),
            master_sae,
            slave_sae,
            state,
        ),
    )


def _spend(conn: sqlite3.Connection, half_row: int, offset_bytes: int, size_bytes: int) -> bytes:
    """Read bytes of a half and overwrite them with zeros in the same transaction."""
    with conn.blobopen("halves", "material", half_row) as blob:
        blob.seek(offset_bytes)
        material = blob.read(size_bytes)
        blob.seek(offset_bytes)
        blob.write(bytes(size_bytes))
    return material


__all__ = ["DeliveredKey", "KeyPool", "SqliteKeyPool"]
