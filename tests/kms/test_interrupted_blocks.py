"""Issue 12: a thousand blocks interrupted at random points leave a link that still commits key, with truthful
reserves. Sans-I/O, on the nodes' own durable state (NodeState: leases, refills, the top-up), so it runs the
real bookkeeping a thousand times in seconds; the process-level soak test adds TCP and kill -9."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np

from qkdnet.errors import SecurityAbort
from qkdnet.kms.node import HALT_RESERVE_SLOTS, top_up_slots
from qkdnet.kms.node_state import MIN_BOOTSTRAP_BYTES, NodeState
from qkdnet.kms.wire import Hello
from qkdnet.postprocess import (
    AuthenticatedFrame,
    AuthenticatedParty,
    LeakageLedger,
    Message,
    PostprocessAlice,
    PostprocessBob,
    Usage,
    run_protocol,
)
from qkdnet.postprocess.auth import SLOT_BITS, FrameHeader

BLOCKS = 1_250  # about 1,050 of them interrupted
KEY_BITS = 8_000  # a short block (the daemon's are ~10x longer): its key still tops up a crash's burned lease
FIRST_FRAMES = 8  # faults strike among the first frames, which every block has (LDPC sends about 8)
FAULTS = ("none", "flip", "drop", "reset", "crash", "bad_key", "flip", "drop", "reset")


class _Wire:
    """The classical channel of one block: applies ``fault`` at frame ``at`` and records every tag's pad."""

    def __init__(self, fault: str, at: int, bit: int, pads: dict[int, Counter[int]]) -> None:
        self.fault, self.at, self.bit, self.pads, self.count = fault, at, bit, pads, 0

    def intercept(self, sender: str, messages: list[Message]) -> list[tuple[str, Message]]:
        out: list[tuple[str, Message]] = []
        for m in messages:
            index, self.count = self.count, self.count + 1
            if self.fault == "reset" and index >= self.at:
                continue  # the connection broke: nothing more arrives
            if index == self.at and self.fault == "drop":
                continue
            assert isinstance(m, AuthenticatedFrame)
            header = FrameHeader.split(m.data)[0]
            if header.tagged:
                self.pads[header.direction][header.pad_index] += 1
            if index == self.at and self.fault == "flip":
                data = bytearray(m.data)
                data[(self.bit // 8) % len(data)] ^= 1 << (self.bit % 8)
                m = AuthenticatedFrame(bytes(data))
            out.append((sender, m))
        return out


def _open(root: Path, side: str) -> NodeState:
    return NodeState(root / f"{side}-state.sqlite", side=side, bootstrap_key_file=root / "bootstrap.key")  # type: ignore[arg-type]


def _restart(states: dict[str, NodeState], root: Path) -> None:
    """kill -9 of both nodes and a restart: everything not on disk is gone."""
    for side in states:
        states[side].close()
        states[side] = _open(root, side)


def _hello(state: NodeState, last: int | None) -> Hello:
    a2b, b2a = state.reserve_levels
    return Hello(last, None, 0, 0, a2b, b2a, state.reserve_target_bits)


def test_a_thousand_interrupted_blocks_leave_a_link_that_commits_key(tmp_path: Path) -> None:
    rng, keys = random.Random(12), np.random.default_rng(12)
    (tmp_path / "bootstrap.key").write_bytes(keys.bytes(MIN_BOOTSTRAP_BYTES))
    states = {side: _open(tmp_path, side) for side in ("alice", "bob")}
    pads: dict[int, Counter[int]] = {0: Counter(), 1: Counter()}
    outcomes: Counter[str] = Counter()
    committed: list[bytes] = []
    for block_id in range(BLOCKS):
        fault = rng.choice(FAULTS)
        alice_key = keys.integers(0, 2, KEY_BITS, dtype=np.uint8)
        bob_key = alice_key.copy()
        bob_key[keys.choice(KEY_BITS, KEY_BITS // 100, replace=False)] ^= 1  # QBER 1 %
        if fault == "bad_key":  # records that do not belong together: reconciliation or verification fails
            bob_key = keys.integers(0, 2, KEY_BITS, dtype=np.uint8)
        reconciler = rng.choice(("cascade", "ldpc"))
        ends = tuple(states[s].tag_keys.channel_end(block_id=block_id) for s in ("alice", "bob"))
        wire = _Wire(fault, rng.randrange(FIRST_FRAMES), rng.randrange(10**6), pads)
        ledger = LeakageLedger()
        alice = PostprocessAlice(alice_key, ledger=ledger.copy(), rng=np.random.default_rng(block_id),
                                 eve_information_bits=1000, reconciler=reconciler)  # fmt: skip
        bob = PostprocessBob(bob_key, qber_estimate=0.01, ledger=ledger, rng=np.random.default_rng(BLOCKS + block_id),
                             eve_information_bits=1000, reconciler=reconciler)  # fmt: skip
        try:
            run_protocol(AuthenticatedParty(alice, ends[0]), AuthenticatedParty(bob, ends[1]), interceptor=wire)
            amplified = {"alice": alice.key, "bob": bob.key}
        except SecurityAbort as exc:
            outcomes[f"{fault}: {type(exc).__name__}"] += 1
        else:
            usage = ends[1].usage
            assert ends[0].usage == usage
            last = len(committed) - 1 if committed else None
            extra = top_up_slots(
                _hello(states["alice"], last), _hello(states["bob"], last),
                spare_bits=int(amplified["bob"].size) - usage.key_bits,
            )  # fmt: skip
            usage = Usage(usage.alice_to_bob + extra[0], usage.bob_to_alice + extra[1])
            prepared = {side: states[side].prepare(block_id, amplified[side], usage) for side in states}
            assert prepared["alice"].net_key == prepared["bob"].net_key
            committed.append(prepared["bob"].net_key)
            if fault == "crash" and rng.random() < 0.5:  # killed between prepare and finalize: after the restart
                outcomes["crash before finalize"] += 1  # the node finalises the block from its durable row
                _restart(states, tmp_path)
                prepared = {side: states[side].prepared() for side in states}  # type: ignore[misc]
                fault = "crashed"
            else:
                outcomes[f"{fault}: committed"] += 1
            for side in ("alice", "bob"):
                block = prepared[side]
                assert block is not None and block.net_key == committed[-1]
                states[side].finalize(block)
        if fault == "crash":  # kill -9 of both nodes: the reserves reload from disk, the senders skip their lease
            _restart(states, tmp_path)
        assert all(n <= 1 for c in pads.values() for n in c.values()), "a tag-key slot was used twice"
        lowest = min(min(state.reserve_levels) for state in states.values())
        assert lowest >= HALT_RESERVE_SLOTS * SLOT_BITS, (block_id, outcomes)  # never low enough to halt

    print(dict(outcomes), "committed", len(committed), "reserves", {s: st.reserve_levels for s, st in states.items()})
    interrupted = sum(n for k, n in outcomes.items() if not k.startswith("none"))  # a fault, or a kill -9
    assert interrupted >= 1_000, outcomes
    assert len(committed) >= BLOCKS // 10 and all(committed), outcomes  # key keeps flowing, block after block
    # Truthful reserves: what each node reports is what the other holds for it (same levels, same slots).
    for direction in range(2):
        name = ("alice_to_bob", "bob_to_alice")[direction]
        reserves = [st._reserves[name].export_unused() for st in states.values()]
        sender = 0 if direction == 0 else 1
        first, data = reserves[sender]
        other_first, other_data = reserves[1 - sender]
        assert first >= other_first  # the receiver may not yet have burned what the sender skipped
        assert other_data[(first - other_first) * 16 :] == data  # and from there on they hold the same slots
    for st in states.values():
        st.close()
