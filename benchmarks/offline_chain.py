"""Speed of the offline chain of ``qkdnet postprocess``: recorded time tags in, final key out.

Issue 15 item 6. A recording of both labs (the time-tagger model's defaults: 5·10⁶ pairs/s, Si SPADs, Bob's
clock 0.3141 s ahead, 1.5 ppm fast, wandering 50 ps) is written in the binary format; timed, in one process:
reading both files, finding the clocks and the coincidences (``find_clock`` from scratch), and the key run's
road on the pairs (sifting, estimation, Cascade, verification, privacy amplification). Printed: time tags per
second of finding, and final and sifted key bits per second of the whole chain. Best of a few runs.

Run: ``python benchmarks/offline_chain.py [--seconds S]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from qkdnet.hardware.timetagger import DetectorSide, EntangledPairSource, record_time_tags
from qkdnet.qkd import BBM92
from qkdnet.qkd.recorded import channel_map, default_channels, key_from_time_tags
from qkdnet.tagfiles import read_tags, write_binary
from qkdnet.units import seconds_to_ps

REPEATS = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the recording (default 5 s)")
    args = parser.parse_args()
    bob = DetectorSide(clock_offset_ps=seconds_to_ps(0.3141), clock_drift_ppm=1.5, clock_wander_ps=50.0)
    run = record_time_tags(EntangledPairSource(), DetectorSide(), bob, args.seconds, rng=np.random.default_rng(1))
    channels = channel_map(default_channels(BBM92), BBM92)
    with tempfile.TemporaryDirectory() as tmp:
        files = Path(tmp) / "alice.qtag", Path(tmp) / "bob.qtag"
        write_binary(files[0], run.alice)
        write_binary(files[1], run.bob)
        best: dict[str, float] = {}
        for attempt in range(REPEATS + 1):  # the first run loads numba's cache and scipy: a warm-up
            t0 = time.perf_counter()
            alice, bob_tags = (read_tags(f, channel_names=channels.names) for f in files)
            t1 = time.perf_counter()
            found = key_from_time_tags(alice, bob_tags, BBM92, channels=channels, seed=attempt)
            t2 = time.perf_counter()
            assert found.result.secure and found.result.alice_key is not None
            assert np.array_equal(found.result.alice_key, found.result.bob_key)
            if attempt:
                for name, value in (("read", t1 - t0), ("chain", t2 - t1)):
                    best[name] = min(best.get(name, float("inf")), value)
    tags = len(run.alice) + len(run.bob)
    r = found.result
    whole = best["read"] + best["chain"]
    pairs = found.coincidences.alice_index.size
    print(f"offline chain on {args.seconds:g} s of recording ({tags:,} time tags, {pairs:,} coincidences)")
    print(f"  reading both binary files   {best['read'] * 1e3:8.1f} ms  {tags / best['read'] / 1e6:7.1f} Mtags/s")
    print(f"  coincidences and key road   {best['chain'] * 1e3:8.1f} ms  {tags / best['chain'] / 1e6:7.1f} Mtags/s")
    print(
        f"  whole chain                 {whole * 1e3:8.1f} ms  {r.sifted_bits / whole / 1e6:7.2f} Mbit/s sifted, "
        f"{r.final_key_bits / whole / 1e6:7.3f} Mbit/s final ({r.final_key_bits:,} bits, QBER {100 * r.qber:.2f} %)"
    )


if __name__ == "__main__":
    main()
