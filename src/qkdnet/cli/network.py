"""``qkdnet network up|down|status|node``: a whole key network of node processes on loopback.

``up SCENARIO --dir DIR`` reads the scenario's nodes, links and ``[system]`` table, starts everything
(:mod:`qkdnet.kms.supervisor`), writes ``DIR/network.json`` once every KME answers, and runs until Ctrl-C or
``network down --dir DIR``; on a terminal it shows the links and routes live. ``status`` reads the nodes'
status files; ``node`` is one node's process (started by ``up``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qkdnet.cli._common import UsageError, _checked, _positive_int, check_writable, make_console, print_json

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from qkdnet.kms.supervisor import KeyNetwork, NetworkPlan

_interval = _checked(float, lambda v: 0.0 <= v < 3600.0, "seconds in [0, 3600)")
LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s [%(link)s] %(message)s"


def add_network_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """Register ``network`` and its subcommands."""
    network = sub.add_parser(
        "network",
        help="run a whole key network on loopback: node processes, link emulators, KMEs with key relay",
        description="Start, watch and stop a key network of many nodes described by a scenario file.",
    )
    actions = network.add_subparsers(dest="network_command", metavar="ACTION")
    up = actions.add_parser(
        "up",
        help="start every process of the scenario's network; run until Ctrl-C or `network down`",
        description="Write a test PKI and configs in DIR, start one link emulator per link and one node process "
        "per node (its link sessions and its KME), write DIR/network.json once every KME answers.",
    )
    up.add_argument("scenario", type=Path, metavar="SCENARIO.toml", help="nodes, links and the [system] table")
    up.add_argument("--dir", type=Path, required=True, metavar="DIR", help="where PKI, configs, pools and logs go")
    up.add_argument(
        "--eve",
        action="append",
        default=[],
        metavar="LINK=KIND:STRENGTH",
        help="Eve on a link, e.g. b-c=intercept-resend:1 (repeatable)",
    )
    up.add_argument(
        "--pairs-per-block", type=_positive_int, default=400_000, metavar="N", help="pairs per block (400,000)"
    )
    up.add_argument(
        "--block-interval-s",
        type=_interval,
        default=0.0,
        metavar="S",
        help="pause of every link's devices between blocks (0: as fast as the nodes take them)",
    )
    down = actions.add_parser("down", help="stop the network running in DIR", description="Stop every process.")
    down.add_argument("--dir", type=Path, required=True, metavar="DIR")
    status = actions.add_parser(
        "status", help="every link's state, key, QBER and pool, and the routes in use", description="Show status."
    )
    status.add_argument("--dir", type=Path, required=True, metavar="DIR")
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")
    node = actions.add_parser(
        "node", help="run one node of a network (what `network up` starts)", description="Run one network node."
    )
    node.add_argument("--config", type=Path, required=True, metavar="FILE", help="the node's node.toml")
    node.add_argument("--log-level", choices=["debug", "info", "warning"], default="info")


def run_network_command(args: argparse.Namespace) -> int:
    """Dispatch ``network ACTION``."""
    match args.network_command:
        case "up":
            return _up(args)
        case "down":
            return _down(args)
        case "status":
            return _status(args)
        case "node":
            return _node(args)
    raise UsageError("network: an action is required: up, down, status or node")


def plan_from_scenario(
    path: Path, eve: list[str], *, pairs_per_block: int = 400_000, block_interval_s: float = 0.0
) -> NetworkPlan:
    """The supervisor's plan from a scenario file: nodes, links, SAEs and relay policy of its ``[system]``."""
    from qkdnet.attacks import ATTACK_KINDS
    from qkdnet.config import load_scenario
    from qkdnet.kms.supervisor import NetworkPlan, PlannedLink

    scenario = load_scenario(path)
    if not scenario.links:
        raise UsageError(f"{path}: the scenario has no link: a key network needs at least one")
    system = scenario.system
    nodes = tuple(scenario.nodes)
    saes = dict(system.saes) if system is not None and system.saes else {f"SAE_{n}": n for n in nodes}
    links = tuple(PlannedLink(lk.label, *lk.endpoints) for lk in scenario.links)
    if system is not None:
        links += tuple(PlannedLink("-".join(p), p[0], p[-1], tuple(p[1:-1])) for p in system.end_to_end)
    labels = [lk.label for lk in links]
    attacks = {}
    for item in eve:
        label, sep, attack = item.partition("=")
        kind = attack.partition(":")[0]
        if not sep or label not in labels or kind not in ATTACK_KINDS:
            raise UsageError(
                f"--eve: expected LINK=KIND:STRENGTH with LINK one of {', '.join(labels)} and KIND one of "
                f"{', '.join(ATTACK_KINDS)}, got {item!r}"
            )
        attacks[label] = attack
    return NetworkPlan(
        scenario=path.resolve(),
        nodes=nodes,
        links=links,
        saes=saes,
        relay=system.relay if system is not None else "hops",
        ports_base=system.ports_base if system is not None else 28000,
        pairs_per_block=pairs_per_block,
        block_interval_s=block_interval_s,
        eve=attacks,
    )


def _up(args: argparse.Namespace) -> int:
    from qkdnet.kms.supervisor import MANIFEST, PIDFILE, KeyNetwork, NetworkError, end_orphans, running_supervisor

    plan = plan_from_scenario(
        args.scenario, args.eve, pairs_per_block=args.pairs_per_block, block_interval_s=args.block_interval_s
    )
    directory: Path = args.dir
    check_writable(directory, "--dir", folder=True)
    console = make_console()
    if (directory / MANIFEST).exists():
        if running_supervisor(directory) is not None:
            raise UsageError(f"--dir: {directory / MANIFEST} exists: a network is up there (`qkdnet network down`)")
        ended = end_orphans(directory)  # its supervisor died (kill -9, a crash): the pools are kept, as after down
        console.print(f"{directory / MANIFEST} is stale: its supervisor is gone; {ended} of its processes still ran, "
                      "ended now")  # fmt: skip
        sys.stdout.flush()  # said before anything starts, also when stdout is a log file (block-buffered)
    network = KeyNetwork(plan, directory)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        network.prepare()
        (network.dir / PIDFILE).write_text(f"{os.getpid()}\n")
        network.start()
        t0 = time.monotonic()
        network.wait_ready()
        console.print(
            f"key network {plan.scenario.name}: {len(plan.nodes)} nodes, {len(plan.links)} links, every KME answers "
            f"after {time.monotonic() - t0:.1f} s"
        )
        console.print(f"  network.json: {network.dir / MANIFEST}")
        console.print(f"  logs:         {network.dir / 'logs'}")
        for node in plan.nodes:
            console.print(f"  node {node}: {network.url(node)}  (pool {network.node_dir(node) / 'keys.sqlite'})")
        if plan.eve:
            console.print(f"  Eve on: {', '.join(f'{k} ({v})' for k, v in plan.eve.items())}")
        console.print("  stop with Ctrl-C or `qkdnet network down --dir DIR`")
        sys.stdout.flush()
        _watch(network, console, lambda: stopping)
        return 0
    except NetworkError as exc:
        raise UsageError(str(exc)) from None
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave processes behind
        clean = network.stop()
        (network.dir / PIDFILE).unlink(missing_ok=True)
        console.print(f"key network stopped: {len(network.procs)} processes ended ({'cleanly' if clean else 'killed'})")
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch(network: KeyNetwork, console: Console, stopping: Callable[[], bool]) -> None:
    """Until asked to stop: restart what crashed (saying so), with a live table on a terminal."""
    if console.is_terminal:
        from rich.live import Live

        with Live(_tables(network.status()), console=console, refresh_per_second=1) as live:
            while not stopping():
                for line in network.revive():
                    live.console.print(line)
                live.update(_tables(network.status()))
                time.sleep(1.0)
        return
    while not stopping():
        for line in network.revive():
            console.print(line)
        time.sleep(0.5)


def _down(args: argparse.Namespace) -> int:
    from qkdnet.kms.supervisor import NetworkError, stop_running

    try:
        pid = stop_running(args.dir)
    except NetworkError as exc:
        raise UsageError(str(exc)) from None
    print(f"key network in {args.dir} stopped (supervisor pid {pid} and every process it started)")
    return 0


def _status(args: argparse.Namespace) -> int:
    from qkdnet.kms.supervisor import read_status

    if not (args.dir / "nodes").is_dir():
        raise UsageError(f"--dir: {args.dir} holds no key network (no nodes/ folder)")
    status = read_status(args.dir)
    if args.json:
        print_json(status)
        return 0
    make_console().print(_tables(status))
    return 0


def _tables(status: dict[str, Any]) -> Table:
    """Links (one row per link end) and routes, in one table each, in a grid."""
    from rich.table import Table

    links = Table(title="links", title_justify="left")
    for column in ("node", "peer", "state", "blocks", "key bytes", "QBER", "S", "pool (mine/theirs)", "last abort"):
        links.add_column(column)
    routes: dict[str, int] = {}
    relayed = []
    for node, doc in status.items():
        if doc is None:
            links.add_row(node, "?", "no status yet", "", "", "", "", "", "")
            continue
        for peer, link in doc["links"].items():
            qber = "" if link["qber"] is None else f"{100 * link['qber']:.2f} %"
            chsh = "" if link["chsh_s"] is None else f"{link['chsh_s']:.3f}"
            pool = link["pool_bytes"]
            links.add_row(
                node,
                peer,
                link["state"] if link["reason"] is None else f"{link['state']}: {link['reason']}",
                str(link["committed_blocks"]),
                f"{link['key_bytes']:,}",
                qber,
                chsh,
                f"{pool['sent_by_me']:,} / {pool['sent_by_peer']:,}",
                (link["last_abort"] or "")[:60],
            )
        for route, count in doc.get("routes", {}).items():
            routes[route] = max(routes.get(route, 0), count)
        if doc.get("relayed_keys"):
            relayed.append(f"{doc['kme_id']} {doc['relayed_keys']}")
    grid = Table.grid(padding=(1, 0))
    grid.add_row(links)
    table = Table(title="routes in use (keys delivered; every KME between the ends saw them in the clear)",
                  title_justify="left")  # fmt: skip
    table.add_column("path")
    table.add_column("keys")
    for route, count in sorted(routes.items()):
        table.add_row(route.replace(">", " → "), str(count))
    grid.add_row(table)
    if relayed:
        grid.add_row(f"keys relayed in the clear by trusted nodes: {', '.join(relayed)}")
    return grid


def _node(args: argparse.Namespace) -> int:
    from qkdnet.kms.network_config import load_network_node_config
    from qkdnet.kms.network_node import LinkLabel, NetworkNode

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(LinkLabel())
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    node = NetworkNode(load_network_node_config(args.config))

    async def main() -> None:
        task = asyncio.create_task(node.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(main())
    finally:
        node.close()
    return 0


__all__ = ["add_network_commands", "plan_from_scenario", "run_network_command"]
