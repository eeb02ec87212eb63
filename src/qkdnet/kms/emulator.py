"""The link emulator: a pair of QKD devices made of qkdnet's physics, serving each node its own records only.

It samples heralded pairs from a link (:func:`~qkdnet.network.link_from_preset`), or end-to-end pairs of a
repeater chain whose repeaters it plays (:class:`~qkdnet.network.repeater_source.RepeaterChainSource`), lets
Eve attack them if asked (:func:`~qkdnet.attacks.make_attack`), measures them with each party's own random settings
(:func:`~qkdnet.qkd.pipeline.measure_block`, the simulator's code) and sends Alice's records to Alice's socket
and Bob's to Bob's, in blocks (:mod:`qkdnet.kms.device`). Like real devices, it produces only while both ends
are connected, and a node that reconnects gets the blocks made from then on. Writes wait for the nodes to
read (socket back-pressure), so the emulator never runs far ahead of them.

With a :class:`~qkdnet.hardware.timetagger.TwoLabRecorder` instead of a pair source it is a pair of time
taggers: each block is ``block_s`` of both sides' clicks, each on its own clock, unpaired; the nodes find the
coincidences themselves.

Randomness: every run draws a fresh seed from the operating system unless one is given; a seeded emulator
repeats its records (and hence its keys) on every start, so a fixed seed is for tests only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from qkdnet.attacks import Attack
from qkdnet.errors import InvalidParameter
from qkdnet.hardware.timetagger import TwoLabRecorder
from qkdnet.kms.device import TAG_WRAP_PS, DeviceInfo, RawBlock, encode_block, encode_hello
from qkdnet.qkd import ProtocolSpec
from qkdnet.qkd.pipeline import measure_block
from qkdnet.quantum import PairStates
from qkdnet.rng import SeedTree

log = logging.getLogger("qkdnet.emulator")
PARTIES = ("alice", "bob")
#: The next block is made when some node has at most this many blocks unread in its socket buffer.
PACE_BACKLOG_BLOCKS = 1
#: A node with more blocks than this unread loses the new ones (its peer must not wait for it).
DROP_BACKLOG_BLOCKS = 6


class TaggedBlock(Protocol):
    """A block of pairs with the time tags a device reports: a 64-bit picosecond counter that wraps."""

    @property
    def states(self) -> PairStates: ...

    @property
    def last_herald_ps(self) -> int: ...

    def wrapped_herald_times_ps(self) -> NDArray[np.int64]: ...


class TaggedPairSource(Protocol):
    """A pair source whose blocks carry time tags (a link, or an idealised source)."""

    def generate(self, n_pairs: int, *, rng: np.random.Generator) -> TaggedBlock: ...


@dataclass(slots=True)
class EmulatorStats:
    """What the emulator has produced so far."""

    blocks: int = 0
    pairs: int = 0
    attacked_pairs: int = 0
    dropped: int = 0
    """Blocks not sent to a node that had fallen too far behind."""


class LinkEmulator:
    """Samples blocks of pairs and deals each party its own records (see the module docstring)."""

    def __init__(
        self,
        source: TaggedPairSource | TwoLabRecorder,
        protocol: ProtocolSpec,
        *,
        pairs_per_block: int = 1,
        block_s: float = 1.0,
        seed: int | None = None,
        attack: Attack | None = None,
        link_label: str = "",
        interval_s: float = 0.0,
        max_blocks: int | None = None,
    ) -> None:
        if isinstance(pairs_per_block, bool) or not isinstance(pairs_per_block, int) or pairs_per_block < 1:
            raise InvalidParameter(f"pairs_per_block must be a positive integer, got {pairs_per_block!r}")
        if not interval_s >= 0.0:
            raise InvalidParameter(f"interval_s must be >= 0, got {interval_s!r}")
        if not block_s > 0.0:
            raise InvalidParameter(f"block_s must be > 0, got {block_s!r}")
        self._block_s = block_s
        self._source = source
        self._protocol = protocol
        self._pairs = pairs_per_block
        self._attack = attack
        tree = SeedTree(secrets.randbits(128) if seed is None else seed)
        self._rngs = {name: tree.generator(name) for name in ("link", "alice", "bob", "nature", "eve")}
        self._epoch = secrets.randbits(63)
        self._label = link_label
        self._interval_s = interval_s
        self._max_blocks = max_blocks
        self._writers: dict[str, asyncio.StreamWriter] = {}
        self._both = asyncio.Event()
        self._elapsed_ps = 0
        self.stats = EmulatorStats()

    def info(self, party: str) -> DeviceInfo:
        """The hello this emulator sends to ``party``."""
        clicks = isinstance(self._source, TwoLabRecorder)
        return DeviceInfo(party, self._protocol.name, self._epoch, self._label, clicks)

    def sample(self, seq: int) -> tuple[RawBlock, RawBlock]:
        """Sample block ``seq``: Alice's and Bob's records of the same heralded pairs, or their clicks."""
        if isinstance(self._source, TwoLabRecorder):
            return self._sample_clicks(seq, self._source)
        block = self._source.generate(self._pairs, rng=self._rngs["link"])
        tags = np.asarray(block.wrapped_herald_times_ps(), dtype=np.int64)
        n_pairs = len(tags)  # a repeater chain may deliver fewer than asked
        alice, bob, eve = measure_block(
            self._protocol,
            block.states,
            n_pairs,
            attack=self._attack,
            rng_alice=self._rngs["alice"],
            rng_bob=self._rngs["bob"],
            rng_nature=self._rngs["nature"],
            rng_eve=self._rngs["eve"],
        )
        start = self._elapsed_ps
        self._elapsed_ps = (self._elapsed_ps + block.last_herald_ps) % TAG_WRAP_PS
        self.stats.blocks += 1
        self.stats.pairs += n_pairs
        if eve is not None:
            self.stats.attacked_pairs += int(eve.attacked.sum())
        return (
            RawBlock(seq, start, tags, alice.settings, alice.outcomes),
            RawBlock(seq, start, tags, bob.settings, bob.outcomes),
        )

    def _sample_clicks(self, seq: int, recorder: TwoLabRecorder) -> tuple[RawBlock, RawBlock]:
        """Block ``seq`` of a pair of time taggers: ``block_s`` of each side's clicks on its own clock; channel
        ``2·setting + outcome`` gives the setting and the outcome of the detector that clicked."""
        run = recorder.record(self._block_s)
        self.stats.blocks += 1
        self.stats.pairs += run.pairs_seen_by_both
        blocks = []
        for tags in (run.alice, run.bob):
            channel = tags.channels
            blocks.append(
                RawBlock(seq, 0, tags.times_ps, (channel >> 1).astype(np.uint8), (channel & 1).astype(np.uint8))
            )
        return blocks[0], blocks[1]

    async def _on_connect(self, party: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        old = self._writers.get(party)
        if old is not None:
            old.close()
        writer.write(encode_hello(self.info(party)))
        self._writers[party] = writer
        log.info("%s's node connected", party)
        if all(p in self._writers for p in PARTIES):
            self._both.set()
        with contextlib.suppress(ConnectionError, OSError):
            await reader.read()  # nodes send nothing: this returns when the node goes away
        if self._writers.get(party) is writer:
            del self._writers[party]
            self._both.clear()
            log.info("%s's node disconnected", party)
        writer.close()

    async def _start_server(self, party: str, address: str) -> asyncio.Server:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(asyncio.CancelledError):  # shutting down
                await self._on_connect(party, reader, writer)

        if address.startswith("tcp://"):
            host, _, port = address[len("tcp://") :].rpartition(":")
            return await asyncio.start_server(handle, host or "127.0.0.1", int(port))
        path = Path(address)
        if path.exists() or path.is_symlink():
            path.unlink()
        server = await asyncio.start_unix_server(handle, os.fspath(path))
        path.chmod(0o600)
        return server

    async def serve(self, addresses: dict[str, str], *, ready: Callable[[], None] | None = None) -> None:
        """Listen on ``addresses[party]`` (unix socket path or ``tcp://HOST:PORT``) and deal blocks until stopped."""
        if set(addresses) != set(PARTIES):
            raise InvalidParameter(f"addresses must name exactly {PARTIES}, got {sorted(addresses)}")
        servers = [await self._start_server(p, addresses[p]) for p in PARTIES]
        if ready is not None:
            ready()
        try:
            seq = 0
            while self._max_blocks is None or seq < self._max_blocks:
                await self._both.wait()
                alice, bob = await asyncio.to_thread(self.sample, seq)
                await self._deal({"alice": alice, "bob": bob})
                log.debug("block %d dealt: %d pairs", seq, len(alice.settings))
                seq += 1
                if self._interval_s:
                    await asyncio.sleep(self._interval_s)
        finally:
            for server in servers:
                server.close()
            for writer in list(self._writers.values()):
                writer.close()

    async def _deal(self, blocks: dict[str, RawBlock]) -> None:
        """Send each node its block, then wait until some node can take more.

        A node that reads nothing while its peer goes on (it restarted and the other still holds old blocks, or
        it hangs) does not stall the link: past ``DROP_BACKLOG_BLOCKS`` unread blocks, its records are dropped,
        as a real device's buffer would overflow.
        """
        size = len(encode_block(next(iter(blocks.values())))) if blocks else 0
        for party, block in blocks.items():
            writer = self._writers.get(party)
            if writer is None:
                continue  # that node left while the block was sampled: its records are lost, as on a real device
            if writer.transport.get_write_buffer_size() > DROP_BACKLOG_BLOCKS * size:
                self.stats.dropped += 1
                log.debug(
                    "%s's node is %d blocks behind: block %d dropped for it", party, DROP_BACKLOG_BLOCKS, block.seq
                )
                continue
            try:
                writer.write(encode_block(block))
            except (ConnectionError, OSError):
                log.info("%s's node went away while receiving block %d", party, block.seq)

        def some_node_keeps_up() -> bool:
            sizes = [w.transport.get_write_buffer_size() for w in self._writers.values() if not w.is_closing()]
            return not sizes or min(sizes) <= PACE_BACKLOG_BLOCKS * size

        while not some_node_keeps_up():
            await asyncio.sleep(0.01)


__all__ = ["DROP_BACKLOG_BLOCKS", "PACE_BACKLOG_BLOCKS", "PARTIES", "EmulatorStats", "LinkEmulator"]
