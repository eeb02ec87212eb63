"""The SQLite key pool: blocks, halves, takes by position and by ID, concurrency (threads, processes)."""

from __future__ import annotations

import hashlib
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from uuid import UUID

import pytest

from qkdnet.errors import (
    InvalidParameter,
    KeyNotEntitled,
    KeyNotFound,
    KeyNotYetCommitted,
    KeyPoolError,
    KeyPoolExhausted,
)
from qkdnet.kms import DeliveredKey, Direction, KeyPool, SqliteKeyPool, link_id_for
from qkdnet.kms.keyid import KeyPosition

LINK = link_id_for("KME_A", "KME_B")
FWD, BWD = Direction.FIRST_MASTER, Direction.SECOND_MASTER


def block(block_id: int, size: int = 256) -> bytes:
    """Distinct, reproducible block material (every byte position differs between blocks)."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{block_id}/{counter}".encode()).digest()
        counter += 1
    return out[:size]


@pytest.fixture
def pool(tmp_path: Path) -> SqliteKeyPool:
    p = SqliteKeyPool(tmp_path / "pool.sqlite")
    yield p  # type: ignore[misc]
    p.close()


def take(pool: SqliteKeyPool, number: int, size_bits: int = 128, direction: Direction = FWD) -> list[DeliveredKey]:
    return pool.take_new_keys(
        link_id=LINK, direction=direction, master_sae="A1", slave_sae="B1", number=number, size_bits=size_bits
    )


def where(keys: list[DeliveredKey]) -> list[KeyPosition]:
    """The positions the master KME sends with a reservation (key IDs are random and carry none)."""
    positions = [k.position for k in keys if k.position is not None]
    assert len(positions) == len(keys)
    return positions


def test_is_a_keypool_with_wal_and_full_sync(pool: SqliteKeyPool) -> None:
    assert isinstance(pool, KeyPool)
    conn = sqlite3.connect(pool.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert pool._reader.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL, set on every connection


def test_halves_follow_the_contract_split(pool: SqliteKeyPool) -> None:
    key = block(0, 100)
    pool.commit_block(link_id=LINK, block_id=0, key=key)
    first = take(pool, 50, 8, FWD)
    second = take(pool, 50, 8, BWD)
    assert b"".join(k.key for k in first) == key[:50]
    assert b"".join(k.key for k in second) == key[50:]


def test_odd_block_gives_the_extra_byte_to_the_second_direction(pool: SqliteKeyPool) -> None:
    pool.commit_block(link_id=LINK, block_id=0, key=block(0, 9))
    assert pool.stored_key_count(link_id=LINK, direction=FWD, size_bits=8) == 4
    assert pool.stored_key_count(link_id=LINK, direction=BWD, size_bits=8) == 5


def test_keys_never_span_blocks_and_leftovers_serve_smaller_keys(pool: SqliteKeyPool) -> None:
    pool.commit_block(link_id=LINK, block_id=0, key=block(0, 48))  # 24 bytes per direction
    pool.commit_block(link_id=LINK, block_id=1, key=block(1, 48))
    big = take(pool, 2, 128)  # 16-byte keys: one per block
    assert [k.position.block_id for k in big if k.position is not None] == [0, 1]
    assert big[0].key == block(0, 48)[:16] and big[1].key == block(1, 48)[:16]
    with pytest.raises(KeyPoolExhausted):
        take(pool, 1, 128)
    small = take(pool, 2, 64)  # the two 8-byte remainders
    assert [k.key for k in small] == [block(0, 48)[16:24], block(1, 48)[16:24]]


def test_commit_is_idempotent_and_never_overwrites(pool: SqliteKeyPool) -> None:
    assert pool.last_committed_block(LINK) is None
    pool.commit_block(link_id=LINK, block_id=3, key=block(3))
    pool.commit_block(link_id=LINK, block_id=3, key=block(3))
    assert pool.last_committed_block(LINK) == 3
    with pytest.raises(KeyPoolError, match="different key"):
        pool.commit_block(link_id=LINK, block_id=3, key=block(4))
    pool.commit_block(link_id=LINK, block_id=4, key=block(4))
    with pytest.raises(KeyPoolError, match="must increase"):
        pool.commit_block(link_id=LINK, block_id=2, key=block(2))
    assert pool.stored_key_count(link_id=LINK, direction=FWD, size_bits=8) == 256


def test_commit_after_delivery_still_recognises_the_same_block(pool: SqliteKeyPool) -> None:
    pool.commit_block(link_id=LINK, block_id=0, key=block(0))
    take(pool, 8)
    pool.commit_block(link_id=LINK, block_id=0, key=block(0))  # a daemon retrying after a crash
    with pytest.raises(KeyPoolError):
        pool.commit_block(link_id=LINK, block_id=0, key=bytes(256))


def test_delivered_bytes_are_zeroed_on_disk(pool: SqliteKeyPool) -> None:
    key = block(0, 64)
    pool.commit_block(link_id=LINK, block_id=0, key=key)
    take(pool, 2, 128)
    conn = sqlite3.connect(pool.path)
    material = conn.execute("SELECT material FROM halves WHERE direction = 0").fetchone()[0]
    conn.close()
    assert material == bytes(32)
    assert key[:32] not in pool.path.read_bytes()


def test_exhausted_take_changes_nothing(pool: SqliteKeyPool) -> None:
    pool.commit_block(link_id=LINK, block_id=0, key=block(0, 64))
    with pytest.raises(KeyPoolExhausted, match="3 keys of 128 bits asked, 2 available"):
        take(pool, 3, 128)
    assert len(take(pool, 2, 128)) == 2


def test_a_failing_operation_in_a_group_commit_fails_alone(pool: SqliteKeyPool) -> None:
    pool.commit_block(link_id=LINK, block_id=0, key=block(0, 64))  # 4 keys of 8 bytes per direction
    common = {"link_id": LINK, "master_sae": "A1", "slave_sae": "B1", "size_bits": 64}
    futures = [
        pool.submit_take_new_keys(**common, direction=FWD, number=3),  # type: ignore[arg-type]
        pool.submit_take_new_keys(**common, direction=FWD, number=2),  # type: ignore[arg-type]  # only 1 left
        pool.submit_take_new_keys(**common, direction=FWD, number=1),  # type: ignore[arg-type]
        pool.submit_commit_block(link_id=LINK, block_id=0, key=block(9, 64)),
        pool.submit_take_new_keys(**common, direction=BWD, number=4),  # type: ignore[arg-type]
    ]
    assert len(futures[0].result()) == 3
    with pytest.raises(KeyPoolExhausted):
        futures[1].result()
    assert futures[2].result()[0].key == block(0, 64)[24:32]  # the failed take left its bytes in place
    with pytest.raises(KeyPoolError, match="different key"):
        futures[3].result()
    assert b"".join(k.key for k in futures[4].result()) == block(0, 64)[32:]


def test_closed_pool_refuses_work(tmp_path: Path) -> None:
    p = SqliteKeyPool(tmp_path / "x.sqlite")
    p.close()
    p.close()  # idempotent
    with pytest.raises(KeyPoolError, match="closed"):
        p.commit_block(link_id=LINK, block_id=0, key=b"ab")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"number": 0}, "number"),
        ({"size_bits": 12}, "size_bits"),
        ({"size_bits": 0}, "size_bits"),
        ({"link_id": "KME_B|KME_A"}, "link_id"),
    ],
)
def test_bad_arguments_name_the_parameter(pool: SqliteKeyPool, kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "link_id": LINK,
        "direction": FWD,
        "master_sae": "A1",
        "slave_sae": "B1",
        "number": 1,
        "size_bits": 64,
    }
    with pytest.raises(InvalidParameter, match=match):
        pool.take_new_keys(**{**args, **kwargs})  # type: ignore[arg-type]


def test_slave_gets_exactly_the_masters_keys_once(tmp_path: Path) -> None:
    with SqliteKeyPool(tmp_path / "a.sqlite") as alice, SqliteKeyPool(tmp_path / "b.sqlite") as bob:
        for b in range(2):
            alice.commit_block(link_id=LINK, block_id=b, key=block(b))
            bob.commit_block(link_id=LINK, block_id=b, key=block(b))
        sent = alice.take_new_keys(
            link_id=LINK, direction=FWD, master_sae="A1", slave_sae="B1", number=5, size_bits=256
        )
        ids = [k.key_id for k in sent]
        common = {"link_id": LINK, "direction": FWD, "master_sae": "A1"}
        with pytest.raises(KeyNotFound, match="never reserved"):  # unannounced keys are not handed out
            bob.take_keys_by_id(**common, slave_sae="B1", key_ids=ids[:1])
        bob.reserve_keys(**common, slave_sae="B1", key_ids=ids, positions=where(sent))
        bob.reserve_keys(
            **common, slave_sae="B1", key_ids=ids, positions=where(sent)
        )  # a repeated reservation is a no-op
        with pytest.raises(KeyNotEntitled):
            bob.take_keys_by_id(**common, slave_sae="B2", key_ids=ids[:1])
        got = bob.take_keys_by_id(**common, slave_sae="B1", key_ids=ids[::-1])
        assert [(k.key_id, k.key) for k in got] == [(k.key_id, k.key) for k in sent[::-1]]
        with pytest.raises(KeyNotFound):
            bob.take_keys_by_id(**common, slave_sae="B1", key_ids=ids[:1])
        with pytest.raises(KeyPoolError, match="overlaps"):
            bob.reserve_keys(**common, slave_sae="B2", key_ids=ids[:1], positions=where(sent[:1]))


def test_take_by_id_is_all_or_nothing(tmp_path: Path) -> None:
    with SqliteKeyPool(tmp_path / "a.sqlite") as alice, SqliteKeyPool(tmp_path / "b.sqlite") as bob:
        alice.commit_block(link_id=LINK, block_id=0, key=block(0))
        bob.commit_block(link_id=LINK, block_id=0, key=block(0))
        sent = take(alice, 2, 128)
        ids = [k.key_id for k in sent]
        common = {"link_id": LINK, "direction": FWD, "master_sae": "A1", "slave_sae": "B1"}
        bob.reserve_keys(**common, key_ids=ids[:1], positions=where(sent[:1]))
        with pytest.raises(KeyNotFound):
            bob.take_keys_by_id(**common, key_ids=ids)  # the second was never reserved
        assert len(bob.take_keys_by_id(**common, key_ids=ids[:1])) == 1  # the first is still there
        with pytest.raises(KeyNotFound, match="twice"):
            bob.take_keys_by_id(**common, key_ids=[ids[1], ids[1]])


def test_reservation_may_arrive_before_the_block(tmp_path: Path) -> None:
    with SqliteKeyPool(tmp_path / "a.sqlite") as alice, SqliteKeyPool(tmp_path / "b.sqlite") as bob:
        alice.commit_block(link_id=LINK, block_id=0, key=block(0))
        sent = take(alice, 1, 128)
        common = {"link_id": LINK, "direction": FWD, "master_sae": "A1", "slave_sae": "B1"}
        bob.reserve_keys(**common, key_ids=[sent[0].key_id], positions=where(sent))
        with pytest.raises(KeyNotYetCommitted, match="not yet committed"):
            bob.take_keys_by_id(**common, key_ids=[sent[0].key_id])
        bob.commit_block(link_id=LINK, block_id=0, key=block(0))
        assert bob.take_keys_by_id(**common, key_ids=[sent[0].key_id]) == sent
        # The reserved range is spent at bob's side too: were bob ever master in that direction, it skips it.
        assert bob.stored_key_count(link_id=LINK, direction=FWD, size_bits=128) == 7


def test_foreign_and_malformed_key_ids_are_not_found(pool: SqliteKeyPool) -> None:
    """Unknown, another link's and the other direction's key IDs all get the same answer (no oracle)."""
    pool.commit_block(link_id=LINK, block_id=0, key=block(0))
    common = {"link_id": LINK, "direction": FWD, "master_sae": "A1", "slave_sae": "B1"}
    with pytest.raises(KeyNotFound, match="not available"):
        pool.take_keys_by_id(**common, key_ids=[UUID("12345678-1234-4234-8234-123456789abc")])
    other = SqliteKeyPool(pool.path.with_name("other.sqlite"))
    other_link = link_id_for("KME_A", "KME_C")
    other.commit_block(link_id=other_link, block_id=0, key=block(0))
    foreign = other.take_new_keys(
        link_id=other_link, direction=FWD, master_sae="A1", slave_sae="B1", number=1, size_bits=64
    )
    other.close()
    with pytest.raises(KeyNotFound, match="not available"):
        pool.take_keys_by_id(**common, key_ids=[foreign[0].key_id])
    backwards = take(pool, 1, 64, BWD)[0].key_id
    with pytest.raises(KeyNotFound, match="not available"):
        pool.take_keys_by_id(**common, key_ids=[backwards])


def test_repr_hides_key_material(pool: SqliteKeyPool) -> None:
    pool.commit_block(link_id=LINK, block_id=0, key=block(0))
    (k,) = take(pool, 1, 128)
    assert k.key.hex() not in repr(k) and repr(k.key) not in repr(k)
    assert "key_id=" in repr(k)


def test_concurrent_threads_never_overlap(tmp_path: Path) -> None:
    path = tmp_path / "pool.sqlite"
    with SqliteKeyPool(path) as setup:
        for b in range(4):
            setup.commit_block(link_id=LINK, block_id=b, key=block(b, 1024))
    pools = [SqliteKeyPool(path) for _ in range(2)]  # two connections, each shared by four threads
    results: list[list[DeliveredKey]] = [[] for _ in range(8)]
    start = threading.Barrier(8)

    def worker(i: int) -> None:
        start.wait()
        while True:
            try:
                results[i] += take(pools[i % 2], 3, 64)
            except KeyPoolExhausted:
                return

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in pools:
        p.close()
    keys = [k for r in results for k in r]
    assert sum(1 for r in results if r) >= 2  # the takers really ran side by side
    # 4 halves of 512 bytes hold 256 keys of 8 bytes; takes of 3 keys leave exactly one behind.
    assert len(keys) == 255
    positions = [k.position for k in keys if k.position is not None]
    assert len(positions) == len(keys)
    assert len({(p.block_id, p.offset_bytes) for p in positions}) == len(positions)
    for k, pos in zip(keys, positions, strict=True):
        assert k.key == block(pos.block_id, 1024)[pos.offset_bytes : pos.end_bytes]


CHILD = r"""
import sys
import time
from qkdnet.kms import Direction, SqliteKeyPool
from qkdnet.errors import KeyPoolExhausted

pool = SqliteKeyPool(sys.argv[1])
sys.stderr.write("ready\n")
sys.stderr.flush()
sys.stdin.readline()  # start together
while True:
    try:
        keys = pool.take_new_keys(link_id="KME_A|KME_B", direction=Direction.FIRST_MASTER, master_sae="A1",
                                  slave_sae="B1", number=int(sys.argv[2]), size_bits=64)
    except KeyPoolExhausted:
        break
    for k in keys:
        sys.stdout.write(f"{k.key_id} {k.key.hex()}\n")
    sys.stdout.flush()
    time.sleep(0.002)  # an SAE's pace: no child drains the pool before a loaded machine schedules the others
"""


def _child_env() -> dict[str, str]:
    import os

    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_concurrent_processes_never_overlap(tmp_path: Path) -> None:
    path = tmp_path / "pool.sqlite"
    with SqliteKeyPool(path) as setup:
        for b in range(3):
            setup.commit_block(link_id=LINK, block_id=b, key=block(b, 8192))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_child_env(),
        )
        for n in (1, 2, 5)
    ]
    for p in procs:  # every child has imported and opened the pool before any starts taking keys
        assert p.stderr is not None
        assert p.stderr.readline() == "ready\n"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    lines = [line.split() for out in outputs for line in out.splitlines()]
    ids = [UUID(kid) for kid, _ in lines]
    assert len(set(ids)) == len(ids)
    assert sum(1 for out in outputs if out) >= 2  # the processes really took keys side by side
    for kid, hexkey in lines:
        pos = _positions_recorded(path)[UUID(kid)]
        assert bytes.fromhex(hexkey) == block(pos.block_id, 8192)[pos.offset_bytes : pos.end_bytes]
    # Three processes drained the direction exactly: every 8-byte key of the 3·4096 bytes, none twice.
    assert len(ids) == 3 * 4096 // 8


KILLABLE = r"""
import sys, time
from qkdnet.kms import Direction, SqliteKeyPool
from qkdnet.errors import KeyPoolExhausted

class Paused(SqliteKeyPool):
    # Stops inside (before) or just after the transaction's COMMIT, for the parent to kill -9 us there.
    armed = False

    def _commit(self):
        if not self.armed:
            return super()._commit()
        if sys.argv[2] == "after":
            super()._commit()
        sys.stdout.write(f"paused {sys.argv[2]} commit\n")
        sys.stdout.flush()
        time.sleep(600)

pool = (Paused if sys.argv[2] in ("before", "after") else SqliteKeyPool)(sys.argv[1])
pool.armed = True
while True:
    try:
        keys = pool.take_new_keys(link_id="KME_A|KME_B", direction=Direction.FIRST_MASTER, master_sae="A1",
                                  slave_sae="B1", number=3, size_bits=64)
    except KeyPoolExhausted:
        break
    sys.stdout.write("".join(f"{k.key_id} {k.key.hex()}\n" for k in keys))
    sys.stdout.flush()
"""


def _start(path: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", KILLABLE, str(path), mode], stdout=subprocess.PIPE, text=True, env=_child_env()
    )


def _positions_recorded(path: Path) -> dict[UUID, KeyPosition]:
    """Where the pool recorded each key ID (key IDs are random: the pool's table is the only map)."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT key_id, direction, block_id, offset_bytes, size_bytes FROM keys").fetchall()
    finally:
        conn.close()
    return {UUID(r[0]): KeyPosition(Direction(r[1]), r[2], r[3], r[4]) for r in rows}


def _recorded(path: Path) -> set[UUID]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {UUID(r[0]) for r in conn.execute("SELECT key_id FROM keys WHERE state = 'delivered'")}
    finally:
        conn.close()


@pytest.mark.parametrize("mode", ["before", "after"])
def test_kill_9_inside_a_take_leaves_all_or_nothing(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "pool.sqlite"
    with SqliteKeyPool(path) as setup:
        setup.commit_block(link_id=LINK, block_id=0, key=block(0, 64))
    child = _start(path, mode)
    assert child.stdout is not None
    assert child.stdout.readline() == f"paused {mode} commit\n"
    child.kill()  # SIGKILL
    child.wait(timeout=30)
    recorded = _recorded(path)
    with SqliteKeyPool(path) as pool:
        left = pool.stored_key_count(link_id=LINK, direction=FWD, size_bits=64)
        if mode == "before":  # neither delivered nor recorded: the same three keys, intact, are still there
            assert recorded == set() and left == 4
            again = take(pool, 3, 64)
            assert b"".join(k.key for k in again) == block(0, 64)[:24]
        else:  # recorded (the caller just never saw them): gone for good, never delivered again
            assert len(recorded) == 3 and left == 1
            (last,) = take(pool, 1, 64)
            assert last.key_id not in recorded and last.key == block(0, 64)[24:32]


def test_kill_9_at_random_moments_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    path = tmp_path / "pool.sqlite"
    n_blocks, size = 4, 8192
    with SqliteKeyPool(path) as setup:
        for b in range(n_blocks):
            setup.commit_block(link_id=LINK, block_id=b, key=block(b, size))
    total = n_blocks * size // 2 // 8
    seen: dict[UUID, bytes] = {}
    for round_ in range(4):  # kill after a different number of printed keys each round
        child = _start(path, "loop")
        assert child.stdout is not None
        lines = [child.stdout.readline() for _ in range(90 * (round_ + 1))]
        child.kill()
        assert child.wait(timeout=30) == -signal.SIGKILL  # killed mid-run, not finished
        lines += child.stdout.read().splitlines(keepends=True)  # printed before the kill, not yet read
        for line in lines:
            assert line.endswith("\n")  # one take is one atomic pipe write
            kid, hexkey = line.split()
            assert UUID(kid) not in seen  # never delivered twice, also across restarts
            seen[UUID(kid)] = bytes.fromhex(hexkey)
        recorded = _recorded(path)
        assert set(seen) <= recorded  # everything delivered is recorded
        assert len(recorded - set(seen)) in (0, 3)  # at most the one take committed but not yet printed
        seen.update(dict.fromkeys(recorded - set(seen), b""))  # delivered to nobody, but spent
    with SqliteKeyPool(path) as pool:
        rest = take(pool, pool.stored_key_count(link_id=LINK, direction=FWD, size_bits=64), 64)
    assert not {k.key_id for k in rest} & set(seen)
    assert len(rest) + len(seen) == total  # no committed key lost
    recorded_at = _positions_recorded(path)
    for kid, key in [*seen.items(), *((k.key_id, k.key) for k in rest)]:
        pos = recorded_at[kid]
        assert key in (b"", block(pos.block_id, size)[pos.offset_bytes : pos.end_bytes])
