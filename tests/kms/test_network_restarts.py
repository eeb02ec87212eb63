"""Restarts of every process kind of ``qkdnet network up``, as faults on real processes.

One metro5 network takes seeded random rounds: a process kind (a node process: its link sessions and its
KME on one pool; or a link emulator: a link's two devices, and for the end-to-end link its repeaters), a
victim of that kind and a moment, then kill -9, while a client asks for keys between random SAEs. The
supervisor restarts the victim; then every key committed before the kill is still in every pool (no block
lost or changed, no unspent byte changed, no byte spent without a key that spent it), every link the victim
served makes key again within a bounded time and ``network status --json`` shows it up. Every key delivered
is identical at both ends and delivered once. Then ``network down`` and ``network up`` on the same ``--dir``
keep every pool's committed key, the PKI, and a relayed key still waiting for its slave SAE; so do a kill -9
of the supervisor itself (its processes follow it) and ``network up`` again at once. The supervisor's backoff, and
what it ends over a dead supervisor, are in ``test_supervisor_restarts.py`` (no network needed). CI takes
4 rounds; ``QKDNET_RESTART_ROUNDS`` and ``QKDNET_RESTART_SEED`` make a longer soak with other draws.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from qkdnet.kms.client import EtsiError
from qkdnet.kms.keyid import link_id_for
from qkdnet.kms.supervisor import kme_id
from tests.kms.system import Up, alive, wait_until

NODES = tuple("abcde")
LINKS = {"a-b": "ab", "b-c": "bc", "c-d": "cd", "d-e": "de", "e-a": "ea", "b-d": "bd", "a-b-c": "ac"}
"""Every link emulator of metro5 and the two nodes whose link it feeds (a-b-c: the swapped link a–c)."""
ROUNDS = int(os.environ.get("QKDNET_RESTART_ROUNDS", "4"))  # a soak run: QKDNET_RESTART_ROUNDS=40
SEED = int(os.environ.get("QKDNET_RESTART_SEED", "1405"))  # and another draw of victims and moments
RECOVER_S = 60.0
"""A link makes a block every few seconds (after a restart: within ten): a minute is a link stuck."""


@dataclass(frozen=True, slots=True)
class PoolView:
    """A pool's content, read in one transaction: block digests, each half's cursor and bytes, keys, relayed."""

    blocks: dict[tuple[str, int], bytes]
    halves: dict[tuple[str, int, int], tuple[int, bytes]]
    keys: dict[tuple[str, int, int, int], tuple[int, str, str]]
    relayed: dict[str, str]


def read_pool(path: Path) -> PoolView:
    """Read a pool read-only (its node may be running, or dead)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        conn.execute("BEGIN")
        blocks = {(lk, b): bytes(d) for lk, b, d in conn.execute("SELECT link_id, block_id, digest FROM blocks")}
        halves = {
            (lk, d, b): (c, bytes(m))
            for lk, d, b, c, m in conn.execute("SELECT link_id, direction, block_id, cursor, material FROM halves")
        }
        keys = {
            (lk, d, b, o): (s, k, st)
            for lk, d, b, o, s, k, st in conn.execute(
                "SELECT link_id, direction, block_id, offset_bytes, size_bytes, key_id, state FROM keys"
            )
        }
        relayed = dict(conn.execute("SELECT key_id, state FROM relayed").fetchall())
    finally:
        conn.close()
    return PoolView(blocks, halves, keys, relayed)


def read_pools(up: Up) -> dict[str, PoolView]:
    return {node: read_pool(up.dir / "nodes" / node / "keys.sqlite") for node in NODES}


def lost_key(before: dict[str, PoolView], after: dict[str, PoolView]) -> list[str]:
    """What committed key ``before`` held that ``after`` lost or changed (positions only, never key bytes).

    A byte spent between the two (its half's cursor moved past it) must lie in a key that one end of its link
    recorded (delivered, reserved, or a relay's pad or tag key); bytes not spent are unchanged.
    """
    lost = []
    recorded: dict[tuple[str, int, int], list[tuple[int, int]]] = {}
    for view in after.values():
        for (link, direction, block, offset), (size, _, _) in view.keys.items():
            recorded.setdefault((link, direction, block), []).append((offset, offset + size))
    for node, old in before.items():
        new = after[node]
        lost += [f"{node}: block {b} of {lk} vanished or changed" for (lk, b), d in old.blocks.items()
                 if new.blocks.get((lk, b)) != d]  # fmt: skip
        for half, (cursor, material) in old.halves.items():
            if half not in new.halves:
                lost.append(f"{node}: half {half} vanished")
                continue
            now, kept = new.halves[half]
            if now < cursor or kept[now:] != material[now:]:
                lost.append(f"{node}: half {half}: unspent bytes from {min(now, cursor)} changed")
            spent = sorted(recorded.get(half, []))
            edge = cursor
            for start, end in spent:
                if start <= edge < end:
                    edge = end
            if edge < now:
                lost.append(f"{node}: half {half}: bytes {edge}..{now} spent without a key recorded at either end")
        for place, (size, key_id, state) in old.keys.items():
            got = new.keys.get(place)
            if got is None or got[:2] != (size, key_id) or (state == "delivered" and got[2] != "delivered"):
                lost.append(f"{node}: key {key_id} at {place} vanished or went back from {state}")
        lost += [f"{node}: relayed key {k} vanished or went back" for k, state in old.relayed.items()
                 if new.relayed.get(k) not in ({state, "delivered"} if state == "reserved" else {state})]  # fmt: skip
    return lost


def committed_bytes(pools: dict[str, PoolView]) -> int:
    """All the key ever committed in these pools, spent or not (bytes)."""
    return sum(len(material) for view in pools.values() for _, material in view.halves.values())


def assert_ends_agree(pools: dict[str, PoolView]) -> None:
    """Both ends of every link hold the same key in every block they both committed (equal digests)."""
    for label, ends in LINKS.items():
        link = link_id_for(kme_id(ends[0]), kme_id(ends[1]))
        first, second = ({b: d for (lk, b), d in pools[n].blocks.items() if lk == link} for n in ends)
        assert first and second, f"link {label} holds no key"
        assert all(first[b] == second[b] for b in set(first) & set(second)), f"link {label}: different keys"


def newest_blocks(pools: dict[str, PoolView]) -> dict[str, int]:
    """Every link's newest block at either end (-1: none yet)."""
    out = {}
    for label, ends in LINKS.items():
        link = link_id_for(kme_id(ends[0]), kme_id(ends[1]))
        out[label] = max((b for n in ends for (lk, b) in pools[n].blocks if lk == link), default=-1)
    return out


def newest_block(up: Up, node: str, link: str) -> int:
    """The newest block of ``link`` in ``node``'s pool (-1: none yet)."""
    conn = sqlite3.connect(f"file:{up.dir / 'nodes' / node / 'keys.sqlite'}?mode=ro", uri=True, timeout=30)
    try:
        (newest,) = conn.execute("SELECT MAX(block_id) FROM blocks WHERE link_id = ?", (link,)).fetchone()
    finally:
        conn.close()
    return -1 if newest is None else int(newest)


def links_made_key_past(up: Up, labels: list[str], newest: dict[str, int]) -> bool:
    """Whether both ends of every link in ``labels`` committed a block newer than ``newest`` had."""
    return all(
        newest_block(up, node, link_id_for(kme_id(LINKS[label][0]), kme_id(LINKS[label][1]))) > newest[label]
        for label in labels
        for node in LINKS[label]
    )


def device_connections(up: Up, label: str) -> int:
    """How many times the two nodes of link ``label`` connected to its devices (their logs say so)."""
    link = link_id_for(kme_id(LINKS[label][0]), kme_id(LINKS[label][1]))
    logs = [(up.dir / "logs" / f"node-{node}.log").read_text(errors="replace") for node in LINKS[label]]
    return sum(text.count(f"[{link}] device connected") for text in logs)


def served_by(victim: str) -> list[str]:
    """The links whose key a process makes: a node's links, or a link emulator's own link."""
    kind, _, name = victim.partition("-")
    return [name] if kind == "link" else [label for label, ends in LINKS.items() if name in ends]


def shows_up(status: dict[str, Any], labels: list[str], node: str = "", pid: int | None = None) -> bool:
    """Whether ``network status --json`` shows both ends of these links up (and ``node`` run by ``pid``)."""
    ends = [(n, p) for label in labels for n, p in (LINKS[label], LINKS[label][::-1])]
    links_up = all(status[n]["links"][kme_id(p)]["state"] == "up" for n, p in ends)  # written every second
    return links_up and (pid is None or status[node]["pid"] == pid)


def kill_and_recover(up: Up, victim: str) -> str:
    """kill -9 ``victim``, wait for its restart and its links' key; check the pools lost nothing: what it took."""
    ended = up.log.read_text().count(f"{victim} ended")
    links = served_by(victim)
    connected = {label: device_connections(up, label) for label in links}
    before = read_pools(up)
    pid = up.pids()[victim]
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    wait_until(lambda: up.log.read_text().count(f"{victim} ended") > ended, 30, f"{victim}'s restart")
    restarted = time.monotonic() - killed
    assert up.pids()[victim] != pid
    if victim.startswith("link-"):  # a block of the old devices' records may still come: wait for the new ones
        label = links[0]
        wait_until(lambda: device_connections(up, label) >= connected[label] + 2, RECOVER_S, "the new devices")
        newest = {k: v + 1 for k, v in newest_blocks(read_pools(up)).items()}  # one may be of old records still
    else:
        newest = newest_blocks(before)
    wait_until(lambda: links_made_key_past(up, links, newest), RECOVER_S, f"{links} to make key again", 0.25)
    recovered = time.monotonic() - killed
    assert not lost_key(before, read_pools(up)), f"kill -9 of {victim}"
    new_pid = up.pids()[victim] if victim.startswith("node-") else None  # the new process writes the status
    wait_until(lambda: shows_up(up.status(), links, victim[-1], new_pid), 10, f"`network status`: {links} up")
    held = [committed_bytes(before), committed_bytes(read_pools(up))]
    return f"{victim}: restarted after {restarted:.1f} s, key again after {recovered:.1f} s; committed {held}"


class Traffic:
    """A client thread asking for one key at a time between random SAEs, checking each at the slave's end."""

    def __init__(self, up: Up, seed: int) -> None:
        self.up = up
        self.rng = random.Random(seed)
        self.delivered: dict[str, bytes] = {}  # key ID → SHA-256 of the key (never the key)
        self.refused: list[int] = []
        self.lost_in_flight = 0
        self.wrong: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            master, slave = self.rng.sample([f"SAE_{n}" for n in NODES], 2)
            try:
                with self.up.client(master) as kme:
                    (sent,) = kme.enc_keys(slave, number=1, size_bits=256)
            except EtsiError as exc:
                self.refused.append(exc.status)
                time.sleep(0.2)
                continue
            self._collect(master, slave, sent.key_id, sent.key)
            time.sleep(0.3)

    def _collect(self, master: str, slave: str, key_id: UUID, key: bytes) -> None:
        """dec_keys at the slave's KME, through its restarts; the same bytes, once."""
        deadline = time.monotonic() + RECOVER_S
        unreachable = False
        while True:
            try:
                with self.up.client(slave) as kme:
                    (got,) = kme.dec_keys(master, [key_id])
                break
            except EtsiError as exc:
                if exc.status == 400 and unreachable:  # delivered as the KME died, the answer lost: never twice
                    self.lost_in_flight += 1
                    return
                if exc.status not in (0, 503) or time.monotonic() > deadline:
                    self.wrong.append(f"{master}>{slave} {key_id}: enc_keys gave it, dec_keys refused: {exc}")
                    return
                unreachable = unreachable or exc.status == 0
                time.sleep(0.3)
        if got.key != key:
            self.wrong.append(f"{master}>{slave} {key_id}: different bytes at the two ends")
        self.delivered[str(key_id)] = hashlib.sha256(key).digest()

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2 * RECOVER_S)
        assert not self.thread.is_alive()


@pytest.fixture(scope="module")
def metro5(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """metro5 up with small blocks (150,000 pairs) a second apart: key every few seconds, cores left to spare."""
    up = Up(tmp_path_factory.mktemp("restarts"), "--block-interval-s", "1.0", "--pairs-per-block", "150000")
    yield up
    up.kill()


def test_kill_9_of_any_process_at_random_loses_no_key_and_its_links_resume(metro5: Up) -> None:
    up = metro5
    rng = random.Random(SEED)
    restarts = up.log.read_text().count("restarted after")
    traffic = Traffic(up, seed=14)
    measured = []
    try:
        wait_until(lambda: bool(traffic.delivered), RECOVER_S, "the first key", 0.25)  # the pools hold key
        for _ in range(ROUNDS):
            kind = rng.choice(["node", "link"])
            victim = rng.choice([f"node-{n}" for n in NODES] if kind == "node" else [f"link-{k}" for k in LINKS])
            time.sleep(rng.uniform(0.3, 2.0))
            measured.append(kill_and_recover(up, victim))
    finally:
        traffic.finish()
    print("\n".join(measured))
    assert not traffic.wrong, traffic.wrong[:3]
    assert set(traffic.refused) <= {0, 503}, traffic.refused  # unreachable (its KME restarts) or "not now"
    assert len(traffic.delivered) >= ROUNDS, traffic.refused[-5:]
    assert len(set(traffic.delivered.values())) == len(traffic.delivered)  # no key handed out twice
    assert up.log.read_text().count("restarted after") == restarts + ROUNDS  # the victims, no other process
    assert_ends_agree(read_pools(up))
    print(f"{len(traffic.delivered)} keys delivered, {len(traffic.refused)} refused, "
          f"{traffic.lost_in_flight} lost in flight")  # fmt: skip


def test_down_then_up_on_the_same_dir_keeps_every_committed_key(metro5: Up) -> None:
    up = metro5
    wait_until(lambda: links_made_key_past(up, list(LINKS), dict.fromkeys(LINKS, -1)), 90, "key", 0.25)
    with up.client("SAE_a") as kme:  # a key for SAE_d that waits at d's KME across the restart
        deadline = time.monotonic() + RECOVER_S
        while True:
            try:
                (waiting,) = kme.enc_keys("SAE_d", number=1, size_bits=256)
                break
            except EtsiError as exc:
                assert exc.status == 503 and time.monotonic() < deadline, exc
                time.sleep(0.5)
    ca = (up.dir / "pki" / "ca.crt").read_bytes()
    kme_d = up.client("SAE_d")  # its credentials and CA, read before the restart
    stopped = up.down()
    before = read_pools(up)  # every process has ended: the pools are what a restart starts from
    newest = newest_blocks(before)
    up.up()
    assert (up.dir / "pki" / "ca.crt").read_bytes() == ca  # the same PKI: every SAE's credentials still hold
    wait_until(lambda: links_made_key_past(up, list(LINKS), newest), RECOVER_S, "key again", 0.25)
    assert not lost_key(before, read_pools(up))
    assert not set(stopped) & set(up.pids().values())
    with kme_d:
        (got,) = kme_d.dec_keys("SAE_a", [waiting.key_id])
    assert got.key == waiting.key
    wait_until(lambda: shows_up(up.status(), list(LINKS)), 10, "`network status` to show every link up")
    assert_ends_agree(read_pools(up))


def test_kill_9_of_the_supervisor_ends_its_processes_and_up_again_keeps_every_key(metro5: Up) -> None:
    up = metro5
    wait_until(lambda: links_made_key_past(up, list(LINKS), dict.fromkeys(LINKS, -1)), 90, "key", 0.25)
    children = up.pids()
    os.kill(up.proc.pid, signal.SIGKILL)
    up.proc.wait(timeout=10)
    before = read_pools(up)  # its children may still commit as they stop: the pools only grow from here
    up.up()  # at once, as an operator or a service manager would: over the stale network.json
    assert "is stale: its supervisor is gone" in " ".join(up.log.read_text().split())  # rich wraps at 80 columns
    assert not [name for name, pid in children.items() if alive(pid)]  # they followed it, or up ended them
    assert not lost_key(before, read_pools(up))  # the links making key again: see the down-and-up test
