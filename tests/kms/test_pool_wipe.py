"""No delivered key is left in any file the pool wrote (main DB, -wal, -shm): running, after SIGTERM, after kill -9.

A pool process commits random blocks, hands keys out both ways (master takes, slave takes by ID) and prints
each delivered key; the test then searches every file in the pool's folder for every aligned 8-byte piece of
every delivered key (a key may straddle two overflow pages, so whole keys alone would miss some copies; a
random 8-byte string turns up by chance with probability ~2^-64 per position).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

POOL_PROCESS = r"""
import random, signal, sys, time
from qkdnet.kms import Direction, SqliteKeyPool, link_id_for
from qkdnet.kms.keyid import KeyPosition, encode_key_id

link = link_id_for("KME_A", "KME_B")
rng = random.Random(int(sys.argv[2]))
pool = SqliteKeyPool(sys.argv[1])
signal.signal(signal.SIGTERM, lambda *_: (pool.close(), sys.exit(0)))
for block_id in range(6):
    pool.commit_block(link_id=link, block_id=block_id, key=rng.randbytes(8192))
for round_ in range(40):
    for key in pool.take_new_keys(link_id=link, direction=Direction.FIRST_MASTER, master_sae="SAE_A",
                                  slave_sae="SAE_B", number=1 + round_ % 3, size_bits=256):
        print(key.key.hex(), flush=True)
    ids = [encode_key_id(KeyPosition(Direction.SECOND_MASTER, round_ % 6, 64 * (round_ // 6) + 32 * i, 32),
                         link_id=link) for i in range(2)]
    pool.reserve_keys(link_id=link, direction=Direction.SECOND_MASTER, master_sae="SAE_B", slave_sae="SAE_A",
                      key_ids=ids)
    for key in pool.take_keys_by_id(link_id=link, direction=Direction.SECOND_MASTER, master_sae="SAE_B",
                                    slave_sae="SAE_A", key_ids=ids):
        print(key.key.hex(), flush=True)
print("ready", flush=True)
time.sleep(600)
"""


def _leaks(folder: Path, keys: list[bytes]) -> dict[str, int]:
    """For each file in ``folder``: how many delivered keys have some aligned 8-byte piece in it."""
    found = {}
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        count = sum(any(key[i : i + 8] in data for i in range(0, len(key), 8)) for key in keys)
        if count:
            found[path.name] = count
    return found


@pytest.mark.parametrize("stop", ["running", signal.SIGTERM, signal.SIGKILL])
def test_no_delivered_key_in_any_file_the_pool_wrote(tmp_path: Path, stop: str | signal.Signals) -> None:
    folder = tmp_path / "kme"
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-c", POOL_PROCESS, str(folder / "alice-keys.sqlite"), "2026"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    keys: list[bytes] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "ready":
                break
            keys.append(bytes.fromhex(line.strip()))
        assert len(keys) == 40 * 2 + sum(1 + r % 3 for r in range(40))  # every delivery answered
        assert len(set(keys)) == len(keys)
        names = {p.name for p in folder.iterdir()}
        assert {"alice-keys.sqlite", "alice-keys.sqlite-wal"} <= names  # the files the scan must cover exist
        if stop == "running":
            assert _leaks(folder, keys) == {}
            return
        proc.send_signal(stop)
        proc.wait(timeout=30)
        time.sleep(0.1)
        assert _leaks(folder, keys) == {}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_scan_finds_keys_that_are_still_there(tmp_path: Path) -> None:
    """The oracle can fail: undelivered key material of a committed block is found in the pool's files."""
    from qkdnet.kms import SqliteKeyPool, link_id_for

    key = os.urandom(4096)
    with SqliteKeyPool(tmp_path / "p.sqlite") as pool:
        pool.commit_block(link_id=link_id_for("KME_A", "KME_B"), block_id=0, key=key)
        pieces = [key[i : i + 32] for i in range(0, 4096, 32)]
        assert sum(_leaks(tmp_path, pieces).values()) >= len(pieces)
