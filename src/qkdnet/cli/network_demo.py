"""``qkdnet demo --network``: metro5 as real processes, a key between two SAEs with no direct link, Eve, a reroute.

Five trapped-ion nodes in a ring with a chord (``examples/network/metro5.toml``), each a node process with one
key-exchange session per link and a KME; one pair of emulated devices per link. SAE_a asks its KME for a key
shared with SAE_c, two hops away: the key is relayed by a trusted node under one-time pads of link key. Then
a key for SAE_c end to end, with no trusted node: a and c share a link of their own made by entanglement
swapping at b (the emulator plays b's memories), so b never holds that key. Then Eve intercepts every photon
on b–c: that link aborts block after block, and the next relayed key for SAE_c avoids it. Everything stops
cleanly.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import qkdnet

if TYPE_CHECKING:
    from rich.console import Console

    from qkdnet.kms.supervisor import KeyNetwork, PlannedLink

EVE_LINK = "b-c"
EVE = "intercept-resend:1"


def metro5_path() -> Path:
    """The repository's metro5 scenario."""
    return Path(qkdnet.__file__).resolve().parents[2] / "examples" / "network" / "metro5.toml"


def run_network_demo(console: Console) -> bool:
    """The network's story; True if both keys arrived identical and the second avoided Eve's link."""
    from qkdnet.cli.network import plan_from_scenario
    from qkdnet.kms.supervisor import KeyNetwork, NetworkError

    source = metro5_path()
    if not source.exists():
        console.print(f"[yellow]the network demo needs the repository's {source.name}; skipped[/yellow]")
        return True
    console.print(
        "\n[bold cyan]A key network[/bold cyan]: metro5, five trapped-ion nodes in a ring a–b–c–d–e–a with a "
        "chord b–d, an SAE on every node; keys between any two SAEs by trusted-node relay, and between a and c "
        "end to end by entanglement swapping at b"
    )
    with tempfile.TemporaryDirectory(prefix="qkdnet-network-") as tmp:
        root = Path(tmp)
        network = None
        for base in range(28000, 32000, 250):  # the first ports base with every port free
            scenario = root / "metro5.toml"
            scenario.write_text(source.read_text().replace("ports_base = 28000", f"ports_base = {base}"))
            candidate = KeyNetwork(plan_from_scenario(scenario, [], block_interval_s=0.2), root / "net")
            try:
                candidate.prepare()
            except NetworkError:
                continue
            network = candidate
            break
        if network is None:
            console.print("[red]no free loopback ports for the network[/red]")
            return False
        try:
            return _story(network, console)
        finally:
            clean = network.stop()
            console.print(f"   stopped: {len(network.procs)} processes ended on SIGTERM: {clean}")


def _story(network: KeyNetwork, console: Console) -> bool:
    t0 = time.monotonic()
    network.start()
    network.wait_ready()
    plan = network.plan
    swapped = _swapped_peers(plan.links)
    console.print(
        f"\n[bold]1. Up[/bold] after {time.monotonic() - t0:.1f} s: {len(plan.links)} link emulators and "
        f"{len(plan.nodes)} node processes (each: a session per link, one key pool, one KME on ETSI GS QKD 014 "
        f"over mutual TLS); {network.dir / 'network.json'} lists every KME and SAE"
    )
    _wait(
        network,
        lambda s: all(s[n]["links"] and _min_pool(s[n], swapped.get(n)) > 4096 for n in "abc"),
        90,
        "key on the links",
    )
    status = network.status()
    for node in ("a", "b"):
        for peer, link in status[node]["links"].items():
            if swapped.get(node) == peer:
                continue
            console.print(
                f"   {node}–{peer.removeprefix('KME_')}: {link['committed_blocks']} blocks, "
                f"{link['key_bytes']:,} bytes of key, QBER {100 * (link['qber'] or 0):.2f} %"
            )
    first = _relay(network, console, "2. SAE_a asks KME_a for a key shared with SAE_c by relay (no fiber a–c)")
    _wait(network, lambda s: s["a"]["links"]["KME_c"]["pool_bytes"]["sent_by_me"] > 64, 90, "key end to end")
    link = network.status()["a"]["links"]["KME_c"]
    console.print(
        f"\n   a–c end to end (pairs by entanglement swapping at b, which runs nothing of this link): "
        f"{link['committed_blocks']} blocks, {link['key_bytes']:,} bytes of key, QBER {100 * (link['qber'] or 0):.2f} %"
    )
    direct = _relay(network, console, "3. SAE_a asks for a key with SAE_c end to end", route="end-to-end")
    console.print(f"\n[bold]4. Eve on {EVE_LINK}[/bold] ({EVE}: that link's devices restart with her on the fiber)")
    network.put_eve(EVE_LINK, EVE)
    _wait(network, lambda s: s["c"]["links"]["KME_b"]["routes_avoid"], 90, f"{EVE_LINK} to abort its blocks")
    link = network.status()["c"]["links"]["KME_b"]
    console.print(f"   b–c aborts block after block: {link['last_abort']}")
    second = _relay(network, console, "5. SAE_a asks again by relay")
    avoided = second is not None and "KME_b>KME_c" not in second
    console.print(f"   the key avoided Eve's link: {'[green]yes[/green]' if avoided else '[red]NO[/red]'}")
    return first is not None and direct == "KME_a>KME_c" and avoided


def _relay(network: KeyNetwork, console: Console, title: str, route: str = "relay") -> str | None:
    """enc_keys as SAE_a for SAE_c by ``route``, dec_keys as SAE_c; the path the key took, or None."""
    from qkdnet.kms.client import EtsiClient, EtsiError

    console.print(f"\n[bold]{title}[/bold]")
    pki = network.dir / "pki"

    def client(node: str) -> EtsiClient:
        sae = f"SAE_{node}"
        return EtsiClient(network.url(node), cert=pki / f"{sae}.crt", key=pki / f"{sae}.key", ca=pki / "ca.crt")

    before = dict(network.status()["a"]["routes"])
    with client("a") as kme_a, client("c") as kme_c:
        t = time.perf_counter()
        try:
            sent = kme_a.enc_keys("SAE_c", number=1, size_bits=256, extension_mandatory=[{"qkdnet_route": route}])
        except EtsiError as exc:
            console.print(f"   [red]refused: {exc}[/red]")
            return None
        t_enc = time.perf_counter() - t
        got = kme_c.dec_keys("SAE_a", [sent[0].key_id])
        t_dec = time.perf_counter() - t - t_enc
    _wait(network, lambda s: s["a"]["routes"] != before, 10, "the route in KME_a's status")
    after = network.status()["a"]["routes"]
    path = next(route for route, n in after.items() if n != before.get(route, 0))
    same = got[0].key == sent[0].key
    fingerprint = hashlib.sha256(sent[0].key).hexdigest()[:16]
    relays = ", ".join(path.split(">")[1:-1])
    verdict = "[green]the same[/green]" if same else "[red]NOT the same[/red]"
    how = (
        "its own link's key: no node between held it"
        if not relays
        else f"relayed along {path.replace('>', ' → ')}; each hop under a one-time pad of its own link's key"
    )
    console.print(f"   enc_keys at KME_a ({1000 * t_enc:.0f} ms): key {sent[0].key_id}, {how}")
    trust = "nobody else held them" if not relays else f"{relays} held them in the clear on the way (trusted nodes)"
    console.print(
        f"   dec_keys at KME_c ({1000 * t_dec:.0f} ms): {verdict} 256 bits at both ends (SHA-256 {fingerprint}…); "
        f"{trust}"
    )
    return path if same else None


def _swapped_peers(links: Sequence[PlannedLink]) -> dict[str, str]:
    """Each end of an end-to-end (swapped) link and the KME at its other end: ``{"a": "KME_c", "c": "KME_a"}``."""
    return {
        end: f"KME_{other}"
        for link in links
        if link.via
        for end, other in ((link.alice, link.bob), (link.bob, link.alice))
    }


def _min_pool(doc: dict[str, Any], swapped_peer: str | None) -> int:
    """The least key a node's single-fiber links hold (its end-to-end link to ``swapped_peer`` fills more slowly)."""
    links = [link for peer, link in doc["links"].items() if peer != swapped_peer]
    return min(int(link["pool_bytes"]["sent_by_me"]) for link in links)


def _wait(network: KeyNetwork, check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        network.check_alive()
        status = network.status()
        try:
            if all(status.get(n) for n in network.plan.nodes) and check(status):
                return
        except (KeyError, TypeError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.25)


__all__ = ["run_network_demo"]
