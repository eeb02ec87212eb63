"""``qkdnet link-emulator`` and ``qkdnet node``: the long-running processes of a key network on real sockets."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qkdnet.cli._common import UsageError, _checked, _positive_int, _seed
from qkdnet.errors import InvalidParameter

if TYPE_CHECKING:
    from qkdnet.config.schema import Scenario, TimeTagSpec
    from qkdnet.hardware.timetagger import TwoLabRecorder
    from qkdnet.network import HeraldedLink
    from qkdnet.network.repeater_source import RepeaterChainSource
    from qkdnet.qkd import ProtocolSpec

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
_interval = _checked(float, lambda v: 0.0 <= v < 3600.0, "seconds in [0, 3600)")


def add_daemon_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """Register ``link-emulator`` and ``node``."""
    emu = sub.add_parser(
        "link-emulator",
        help="emulate a link's pair of QKD devices: each node gets its own raw records over a local socket",
        description="Sample the scenario's link (and Eve, if asked) block by block and send Alice's records to "
        "Alice's socket and Bob's to Bob's, as a pair of real QKD devices would.",
    )
    emu.add_argument("--scenario", type=Path, required=True, metavar="FILE", help="scenario file (its first link)")
    where = emu.add_mutually_exclusive_group()
    where.add_argument("--link", default=None, metavar="NAME", help="which link of the scenario (default: the first)")
    where.add_argument(
        "--path",
        default=None,
        metavar="A,R,...,B",
        help="emulate repeater nodes instead: end-to-end pairs by entanglement swapping along these nodes",
    )
    emu.add_argument("--eve", default=None, metavar="KIND:STRENGTH", help="Eve on the fiber, e.g. intercept-resend:1")
    emu.add_argument("--protocol", choices=["e91", "bbm92"], default="e91", help="measurement settings (default e91)")
    emu.add_argument("--alice", default="alice.sock", metavar="ADDR", help="Alice's socket path or tcp://HOST:PORT")
    emu.add_argument("--bob", default="bob.sock", metavar="ADDR", help="Bob's socket path or tcp://HOST:PORT")
    emu.add_argument(
        "--pairs-per-block", type=_positive_int, default=1_000_000, metavar="N", help="pairs per block (10^6)"
    )
    emu.add_argument("--interval-s", type=_interval, default=0.0, metavar="S", help="pause between blocks (0)")
    emu.add_argument("--blocks", type=_positive_int, default=None, metavar="N", help="stop after N blocks")
    emu.add_argument("--seed", type=_seed, default=None, metavar="N", help="fixed seed (tests only: repeats keys)")
    emu.add_argument("--log-level", choices=["debug", "info", "warning"], default="info")

    node = sub.add_parser(
        "node",
        help="run a node daemon: sifting, estimation and authenticated post-processing with its peer over TCP",
        description="Read raw records from the device, make key with the peer over TCP (every message "
        "authenticated), commit each block to the key pool on both sides or neither, and serve the ETSI "
        "GS QKD 014 API when qkdnet.kms.api is available.",
    )
    node.add_argument("--config", type=Path, required=True, metavar="FILE", help="node config (TOML)")
    node.add_argument("--no-api", action="store_true", help="do not serve the ETSI API (run `qkdnet kme` beside it)")
    node.add_argument("--log-level", choices=["debug", "info", "warning"], default="info")


def run_daemon_command(args: argparse.Namespace) -> int:
    """Dispatch ``link-emulator`` and ``node``."""
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    if args.command == "link-emulator":
        return _run(_emulator(args))
    return _run(_node(args))


def _run(main: Coroutine[Any, Any, None]) -> int:
    """Run until done or SIGTERM/SIGINT; a stop signal is a clean exit (0)."""

    async def wrapper() -> None:
        task = asyncio.create_task(main)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(wrapper())
    return 0


async def _emulator(args: argparse.Namespace) -> None:
    from qkdnet.attacks import make_attack
    from qkdnet.config import load_scenario
    from qkdnet.kms.emulator import LinkEmulator
    from qkdnet.network import link_from_preset
    from qkdnet.qkd import get_protocol

    scenario = load_scenario(args.scenario)
    if not scenario.links:
        raise UsageError(f"{args.scenario}: the scenario has no link to emulate")
    protocol = get_protocol(args.protocol)
    source: HeraldedLink | RepeaterChainSource | TwoLabRecorder
    if args.path is not None:
        source, label, transmission = _chain(scenario, args.path)
        timetags = None
    else:
        links = [lk for lk in scenario.links if args.link in (None, lk.label)]
        if not links:
            raise UsageError(
                f"--link: no link {args.link!r} in {args.scenario} ({', '.join(lk.label for lk in scenario.links)})"
            )
        spec = links[0]
        link = link_from_preset(spec.preset, length_km=spec.length_km, modes=spec.mode_count)
        source, label = link, f"{spec.label} ({spec.preset}, {spec.length_km:g} km)"
        transmission = link.fiber.transmission
        timetags = spec.timetags
    attack = None
    if args.eve is not None:
        kind, sep, strength = args.eve.partition(":")
        try:
            value = float(strength) if sep else 1.0
        except ValueError:
            raise UsageError(f"--eve: expected KIND:STRENGTH, e.g. intercept-resend:1, got {args.eve!r}") from None
        key_bases = (protocol.key_basis_angle_deg(0), protocol.key_basis_angle_deg(1))
        attack = make_attack(kind, value, key_bases_deg=key_bases, fiber_transmission=transmission)
    block_s = 1.0
    if timetags is not None:
        if attack is not None:
            raise UsageError("--eve: Eve is not emulated on a time-tag link yet (drop [links.timetags] to attack)")
        source, block_s = _recorder(timetags, protocol, args.seed), timetags.block_s
    emulator = LinkEmulator(
        source,
        protocol,
        pairs_per_block=args.pairs_per_block,
        block_s=block_s,
        seed=args.seed,
        attack=attack,
        link_label=label,
        interval_s=args.interval_s,
        max_blocks=args.blocks,
    )
    log = logging.getLogger("qkdnet.emulator")
    log.info(
        "emulating %s: %s pairs per block, %s; Eve: %s",
        emulator.info("alice").link,
        f"{args.pairs_per_block:,}",
        protocol.name,
        args.eve or "none",
    )
    try:
        await emulator.serve({"alice": args.alice, "bob": args.bob})
    finally:
        s = emulator.stats
        log.info("emulator stopped: %d blocks, %s pairs, %s attacked by Eve, %d blocks dropped for a lagging node",
                 s.blocks, f"{s.pairs:,}", f"{s.attacked_pairs:,}", s.dropped)  # fmt: skip


def _chain(scenario: Scenario, path: str) -> tuple[RepeaterChainSource, str, float]:
    """The repeater chain along ``path`` (``A,R,...,B``): its source, its label, its first fiber's transmission.

    The scenario's ``[policies]`` (cutoff, swap efficiency and fidelity) govern the repeaters, as in ``simulate``.
    """
    from qkdnet.config.build import build_network, build_policies
    from qkdnet.network.repeater_source import RepeaterChainSource

    route = tuple(path.split(","))
    network = build_network(scenario)
    for a, b in itertools.pairwise(route):
        if not network.graph.has_edge(a, b):
            raise UsageError(f"--path: no link {a}-{b} in the scenario (the path must follow its links)")
    try:
        source = RepeaterChainSource(network, route, build_policies(scenario))
    except InvalidParameter as exc:
        raise UsageError(f"--path: {exc}") from None
    label = f"{'-'.join(route)} (end to end: {', '.join(route[1:-1])} swap, holding no key)"
    return source, label, network.link(route[0], route[1]).physics.fiber.transmission


def _recorder(spec: TimeTagSpec, protocol: ProtocolSpec, seed: int | None) -> TwoLabRecorder:
    """The two time taggers of ``[links.timetags]``: fields left out keep the model's defaults; each side
    splits its photons evenly over the protocol's settings unless told otherwise."""
    from qkdnet.hardware.timetagger import DetectorSide, EntangledPairSource, TwoLabRecorder

    settings = len(protocol.alice_angles_deg)
    sides = []
    for side in (spec.alice, spec.bob):
        fields = side.model_dump(exclude_none=True)
        fields.setdefault("basis_split", (1.0 / settings,) * settings)
        sides.append(DetectorSide(**fields))
    source = EntangledPairSource(**spec.model_dump(exclude_none=True, exclude={"alice", "bob", "block_s"}))
    angles = (protocol.alice_angles_deg, protocol.bob_angles_deg)
    return TwoLabRecorder(source, sides[0], sides[1], angles_deg=angles, rng=np.random.default_rng(seed))


async def _node(args: argparse.Namespace) -> None:
    from qkdnet.kms import load_node_config
    from qkdnet.kms.node import NodeDaemon
    from qkdnet.kms.status import node_status_served

    config = load_node_config(args.config, check_files=False)  # a missing certificate stops the API, not the node
    daemon = NodeDaemon(config, serve_api=not args.no_api)
    try:
        with node_status_served(config.kme.id, daemon.status):  # its ETSI status says why no key is made
            await daemon.run()
    finally:
        daemon.close()


__all__ = ["add_daemon_commands", "run_daemon_command"]
