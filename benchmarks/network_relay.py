"""Key delivery by trusted-node relay against the number of hops (issue 14 item 7), on real processes.

``examples/network/chain5.toml`` (a–b–c–d–e) comes up as ``qkdnet network up`` runs it; once every link's
pools hold enough key, the link emulators are stopped (and the blocks in flight committed), so the pools only
shrink from then on and the key the
relays spend can be read off them. Then, for a slave SAE 1, 2, 3 and 4 hops from SAE_a: ``requests`` pairs of
enc_keys (one 256-bit key, at KME_a) and dec_keys (at the slave's KME) one after another, timed each
(p50/p99 of the pair), then the same with ``clients`` concurrent clients (deliveries per second); every key is
checked to be the same bytes at both ends. "Link key per key bit" is all the key the links lost, over the key
bits delivered: h·(256 + 256)/256 = 2h expected for one 256-bit key per request (each hop: the key or its pad,
and a 256-bit tag key per message; a request of n keys of s bits costs h·(1 + 256/(n·s)) per bit).

Run: ``python benchmarks/network_relay.py [--requests N] [--clients C] [--quick]``.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

from qkdnet.cli.network import plan_from_scenario
from qkdnet.kms.client import EtsiClient
from qkdnet.kms.supervisor import KeyNetwork

CHAIN = Path(__file__).resolve().parents[1] / "examples" / "network" / "chain5.toml"
KEY_BITS = 256


def pool_bytes(network: KeyNetwork) -> int:
    """Unspent key bytes in every pool of the network (both directions of every link, at both ends)."""
    total = 0
    for node in network.plan.nodes:
        conn = sqlite3.connect(f"file:{network.node_dir(node) / 'keys.sqlite'}?mode=ro", uri=True, timeout=10)
        try:
            total += int(conn.execute("SELECT COALESCE(SUM(size_bytes - cursor), 0) FROM halves").fetchone()[0])
        finally:
            conn.close()
    return total


def client(network: KeyNetwork, node: str) -> EtsiClient:
    pki = network.dir / "pki"
    sae = f"SAE_{node}"
    return EtsiClient(network.url(node), cert=pki / f"{sae}.crt", key=pki / f"{sae}.key", ca=pki / "ca.crt")


def deliver(network: KeyNetwork, slave: str, count: int) -> list[float]:
    """``count`` enc_keys + dec_keys pairs, one after another: each pair's seconds."""
    times = []
    with client(network, "a") as kme_a, client(network, slave) as kme_s:
        for _ in range(count):
            t = time.perf_counter()
            (sent,) = kme_a.enc_keys(f"SAE_{slave}", number=1, size_bits=KEY_BITS)
            (got,) = kme_s.dec_keys("SAE_a", [sent.key_id])
            times.append(time.perf_counter() - t)
            assert got.key == sent.key, "the two ends got different keys"
    return times


def concurrent_rate(network: KeyNetwork, slave: str, count: int, clients: int) -> float:
    """Deliveries per second with ``clients`` clients asking at once."""
    threads = [threading.Thread(target=deliver, args=(network, slave, count)) for _ in range(clients)]
    t = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return clients * count / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="enc+dec pairs per hop count (200)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients for the rate (4)")
    parser.add_argument("--quick", action="store_true", help="40 requests, 2 clients")
    args = parser.parse_args()
    requests, clients = (40, 2) if args.quick else (args.requests, args.clients)
    per_link = 2 * (1 + 4) * requests * (1 + clients) * 2 * KEY_BITS // 8  # what the heaviest link will spend
    with tempfile.TemporaryDirectory(prefix="qkdnet-bench-relay-") as tmp:
        network = KeyNetwork(plan_from_scenario(CHAIN, []), Path(tmp) / "net")
        network.prepare()
        try:
            t0 = time.perf_counter()
            network.start()
            network.wait_ready()
            while min(_levels(network).values()) < per_link:
                network.check_alive()
                time.sleep(0.5)
            for link in network.plan.links:  # the pools only shrink from here on
                proc = network.procs[f"link-{link.label}"]
                proc.terminate()
                proc.wait()
            settled = -1  # the nodes still commit the blocks their devices sent before they stopped
            while (level := pool_bytes(network)) != settled:
                settled = level
                time.sleep(3.0)
            print(f"chain5 up and its pools filled in {time.perf_counter() - t0:.1f} s; emulators stopped")
            print(f"{'hops':>4}  {'p50 ms':>7}  {'p99 ms':>7}  {'keys/s 1 client':>15}  "
                  f"{'keys/s ' + str(clients) + ' clients':>17}  {'link key per key bit':>20}")  # fmt: skip
            for hops, slave in enumerate("bcde", start=1):
                before = pool_bytes(network)
                deliver(network, slave, 3)  # connections and first-request costs
                times = deliver(network, slave, requests)
                rate = concurrent_rate(network, slave, requests, clients)
                spent = before - pool_bytes(network)
                delivered = (3 + requests * (1 + clients)) * KEY_BITS // 8
                p50, p99 = statistics.median(times), statistics.quantiles(times, n=100)[98]
                print(f"{hops:>4}  {1000 * p50:>7.1f}  {1000 * p99:>7.1f}  {len(times) / sum(times):>15.1f}  "
                      f"{rate:>17.1f}  {spent / 2 / delivered:>20.2f}")  # fmt: skip
        finally:
            network.stop()
    print("link key per key bit: bytes lost by the links (each hop's bytes leave both of its pools, counted once)")


def _levels(network: KeyNetwork) -> dict[str, int]:
    """Each link's smallest direction, at its Alice end (bytes)."""
    status = network.status()
    out = {}
    for link in network.plan.links:
        doc = status.get(link.alice)
        entry = None if doc is None else doc["links"].get(f"KME_{link.bob}")
        out[link.label] = 0 if entry is None else min(entry["pool_bytes"].values())
    return out


if __name__ == "__main__":
    main()
