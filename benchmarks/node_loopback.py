"""The key network on loopback: how fast two node daemons turn the emulator's pairs into committed key.

Starts the link emulator and two node daemons (real processes, as `qkdnet demo --system` does), waits for the
first committed block, then counts the blocks and key bytes committed in Bob's pool during a fixed window, and
reads each block's latency (raw block in → committed) from Alice's log. Everything shares the machine's cores
(emulator, both nodes, their ETSI services idle). Run with `python benchmarks/node_loopback.py [--seconds S]
[--pairs N] [--protocol e91|bbm92]`.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window (20 s)")
    parser.add_argument("--pairs", type=int, default=1_000_000, help="pairs per block (10^6)")
    parser.add_argument("--protocol", choices=["e91", "bbm92"], default="e91")
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


if __name__ == "__main__":
    main()
