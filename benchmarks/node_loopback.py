"""The key network on loopback: how fast two node daemons turn the emulator's pairs into committed key.

Starts the link emulator and two node daemons (real processes, as `qkdnet demo --system` does), waits for the
first committed block, then counts the blocks and key bytes committed in Bob's pool during a fixed window, and
reads each block's latency (raw block in → committed) from Alice's log. Everything shares the machine's cores
(emulator, both nodes, their ETSI services idle). With `--flood`, a second window of the same length follows in
which strangers connect to Bob's peer port once every 10 ms (random bytes, or a well-formed preamble with a
wrong proof), and the key rate of the two windows is compared: issue 12's target is a loss under 5 %.
Run with `python benchmarks/node_loopback.py [--seconds S] [--pairs N] [--protocol e91|bbm92] [--flood]`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from qkdnet.cli.system_demo import LoopbackSystem


def _latencies_s(log: str) -> list[float]:
    """Per block: seconds from 'raw block' to 'committed' in one node's log."""
    started: dict[int, datetime] = {}
    out = []
    for line in log.splitlines():
        m = re.match(r"(\S+ \S+) qkdnet\.node INFO block (\d+)(: raw block| committed)", line)
        if not m:
            continue
        t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
        block = int(m.group(2))
        if m.group(3) == ": raw block":
            started[block] = t
        elif block in started:
            out.append((t - started[block]).total_seconds())
    return out


#: A well-formed preamble (protocol v2, a zero nonce) followed by a 32-byte handshake proof that is wrong.
FORGED_PREAMBLE = b"QKDN\x02\x00" + bytes(16) + (32).to_bytes(4, "little") + bytes(32)


def stranger(port: int, payload: bytes) -> None:
    """One unauthenticated connection: send ``payload``, read for a moment, hang up."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
        s.sendall(payload)
        s.settimeout(0.05)
        s.recv(4096)


def flood(port: int, stop: threading.Event, sent: list[int]) -> None:
    """Start one stranger every 10 ms, alternating garbage and a forged preamble, until ``stop``; ``sent[0]``
    counts them (tests/kms/test_node_handshake.py floods the same way)."""
    while not stop.is_set():
        payload = FORGED_PREAMBLE if sent[0] % 2 else os.urandom(40)
        threading.Thread(target=stranger, args=(port, payload), daemon=True).start()
        sent[0] += 1
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window (20 s)")
    parser.add_argument("--pairs", type=int, default=1_000_000, help="pairs per block (10^6)")
    parser.add_argument("--protocol", choices=["e91", "bbm92"], default="e91")
    parser.add_argument("--flood", action="store_true", help="then a window with a stranger every 10 ms")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qkdnet-bench-") as tmp:
        root = Path(tmp) / "net"
        root.mkdir()
        system = LoopbackSystem(root, pairs_per_block=args.pairs, protocol=args.protocol)
        t0 = time.monotonic()
        system.start(eve=None)
        try:
            system.wait(lambda: system.blocks("bob")[0] >= 1, 120, "the first block")
            first_s = time.monotonic() - t0
            blocks0, bytes0 = system.blocks("bob")
            time.sleep(args.seconds)
            blocks1, bytes1 = system.blocks("bob")
            latencies = _latencies_s(system.log("alice"))[1:]  # the first block includes the warm-up
            if args.flood:
                stop, sent = threading.Event(), [0]
                flooder = threading.Thread(target=flood, args=(system.peer_port, stop, sent), daemon=True)
                flooder.start()
                time.sleep(args.seconds)
                stop.set()
                flooder.join()
                blocks2, bytes2 = system.blocks("bob")
        finally:
            system.stop()
    n = blocks1 - blocks0
    print(f"node loopback ({args.protocol}, {args.pairs:,} pairs per block, nadlinger2022 link, {args.seconds:g} s):")
    print(f"  first block committed {first_s:.1f} s after the processes started")
    print(f"  {n / args.seconds:.2f} blocks/s = {n * args.pairs / args.seconds:,.0f} pairs/s processed")
    print(f"  {(bytes1 - bytes0) / args.seconds / 1024:.1f} KiB/s of key committed in both pools")
    if latencies:
        print(f"  block latency (raw block in → committed): median {statistics.median(latencies):.2f} s, "
              f"max {max(latencies):.2f} s over {len(latencies)} blocks")  # fmt: skip
    if args.flood:
        calm, flooded = (bytes1 - bytes0) / args.seconds, (bytes2 - bytes1) / args.seconds
        print(f"  under a flood of {sent[0]:,} stranger connections ({sent[0] / args.seconds:.0f}/s): "
              f"{blocks2 - blocks1} blocks, {flooded / 1024:.1f} KiB/s of key, key rate "
              f"{100 * (flooded / calm - 1):+.1f} % against the calm window (target: no worse than -5 %)")  # fmt: skip


if __name__ == "__main__":
    main()
