"""Argument parsing and dispatch for the ``qkdnet`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeAlias

from qkdnet.cli._common import (
    EXIT_USAGE,
    RECONCILER_NAMES,
    UsageError,
    _angle_deg,
    _fraction,
    _fraction_list,
    _length_km,
    _open_fraction,
    _Parser,
    _positive_int,
    _seed,
)
from qkdnet.errors import QkdnetError

#: What ``--plot`` takes in every command: a figure file, or a folder that gets the command's figure.
PLOT_METAVAR = "FILE.png|DIR"


def _add_common(p: argparse.ArgumentParser, *, pairs_default: int) -> None:
    p.add_argument(
        "--eve",
        type=_fraction,
        default=0.0,
        metavar="FRACTION",
        help="fraction of photons Eve intercepts and resends (random Z/X basis)",
    )
    p.add_argument(
        "--pairs",
        type=_positive_int,
        default=pairs_default,
        metavar="N",
        help=f"heralded pairs to simulate (default {pairs_default:,})",
    )
    p.add_argument("--seed", type=_seed, default=2012, metavar="N", help="root seed of the run (default 2012)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the story")


def _add_key_length(p: argparse.ArgumentParser) -> None:
    """``--key-length finite|asymptotic``: the bound that fixes the final length (default: the security's own)."""
    p.add_argument(
        "--key-length",
        choices=("finite", "asymptotic"),
        default=None,
        help="final-length bound: finite (TLGR, or entropy accumulation with --device-independent) or "
        "asymptotic (default: finite for trusted devices, asymptotic for device-independent)",
    )


def _add_reconciler(p: argparse.ArgumentParser) -> None:
    """``--reconciler NAME``: the error correction of the run, by its name in the registry.

    The names are the registry's own (:data:`RECONCILER_NAMES`, checked against
    :data:`qkdnet.postprocess.RECONCILERS` by a test), listed without importing the registry; an unknown name
    is one line listing them.
    """
    p.add_argument(
        "--reconciler",
        choices=RECONCILER_NAMES,
        default="cascade",
        metavar="NAME",
        help=f"error correction (default cascade): {', '.join(RECONCILER_NAMES)}",
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``qkdnet`` argument parser; with a known ``command``, only that command's group of subcommands.

    Parsing ``qkdnet bbm92 ...`` then imports nothing that another command needs (the KMS and its pydantic
    models, the daemons' asyncio, the attack catalogue): start-up is part of every run. The help, usage and
    errors of the chosen command are the same either way; ``qkdnet --help`` and unknown commands get the whole
    parser.
    """
    from qkdnet._version import __version__

    parser = _Parser(prog="qkdnet", description="Quantum networks of single atoms, and the keys they make.")
    parser.add_argument("--version", action="version", version=f"qkdnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for names, add in _COMMAND_GROUPS:
        if command is None or command in names:
            add(sub)
    return parser


def _add_demo(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``demo``: the seed's story, or the whole key network on loopback."""
    demo = sub.add_parser("demo", help="the seed's story: two atoms, 60 m of fiber, a key and a secret message")
    # 2·10⁶ pairs: the finite-key bound (ε_sec = 10⁻¹⁰) and the authentication cost leave no key below ~1.5·10⁶
    # pairs on today's hardware (QBER ≈ 7 %); 4·10⁵ was enough only for the asymptotic bound.
    _add_common(demo, pairs_default=2_000_000)
    demo.add_argument(
        "--system",
        action="store_true",
        help="the whole key network on loopback instead: link emulator, node daemons, KMEs, a file under a "
        "one-time pad, then Eve (real processes in a temp dir)",
    )
    demo.add_argument(
        "--network",
        action="store_true",
        help="a key network instead: metro5's five nodes as processes, a key relayed between two SAEs, Eve on "
        "one link and the reroute around it",
    )


def _add_protocols(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``e91`` and ``bbm92``: one key run on a link."""
    for name, title in (("e91", "E91 with a CHSH test"), ("bbm92", "BBM92 in the Z/X bases")):
        p = sub.add_parser(name, help=f"one key run on a link: {title}")
        p.add_argument("--preset", default="ritter2012", metavar="NAME", help="hardware preset (default ritter2012)")
        p.add_argument(
            "--length-km",
            type=_length_km,
            default=None,
            metavar="L",
            help="fiber length in km (default: the preset's)",
        )
        p.add_argument(
            "--visibility",
            type=_fraction,
            default=None,
            metavar="V",
            help="replace the link's pairs by Werner pairs of visibility V on a lossless link",
        )
        _add_common(p, pairs_default=1_000_000)
        _add_reconciler(p)
        _add_key_length(p)
        p.add_argument(
            "--sample-fraction",
            type=_open_fraction,
            default=None,
            metavar="F",
            help="fraction of the sifted key disclosed to estimate the error rate (default 0.1)",
        )
        if name == "e91":
            p.add_argument(
                "--device-independent",
                action="store_true",
                help="decide security by the device-independent bound from S and Q (Acín et al. 2007)",
            )
            p.add_argument(
                "--test-probability",
                type=_open_fraction,
                default=None,
                metavar="P",
                help="with --device-independent: test each round with probability P, key otherwise "
                "(spot-checking; default with --key-length finite: the P that maximises the bound's key)",
            )


def _add_kme(sub: argparse._SubParsersAction[_Parser]) -> None:
    from qkdnet.cli.kme import add_kme_commands

    add_kme_commands(sub)


def _add_network(sub: argparse._SubParsersAction[_Parser]) -> None:
    from qkdnet.cli.network import add_network_commands

    add_network_commands(sub)


def _add_daemons(sub: argparse._SubParsersAction[_Parser]) -> None:
    from qkdnet.cli.daemons import add_daemon_commands

    add_daemon_commands(sub)


def _add_transfer(sub: argparse._SubParsersAction[_Parser]) -> None:
    from qkdnet.cli.otp_transfer import add_transfer_commands

    add_transfer_commands(sub)


def _add_recorded(sub: argparse._SubParsersAction[_Parser]) -> None:
    from qkdnet.cli.recorded import add_recorded_commands

    add_recorded_commands(sub)


def _add_simulate_command(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``simulate``: a scenario file on the network simulator."""
    sim = sub.add_parser("simulate", help="run a scenario file (TOML) on the network simulator")
    sim.add_argument("scenario", metavar="SCENARIO.toml", help="the scenario file (see examples/)")
    sim.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    sim.add_argument("--seed", type=_seed, default=None, metavar="N", help="root seed (default: the scenario's seed)")
    sim.add_argument("--plot", default=None, metavar=PLOT_METAVAR, help="draw fidelities, deliveries and link use")
    sim.add_argument(
        "--event-by-event",
        action="store_true",
        help="turn every shortcut off: one engine event per herald (the slower reference path)",
    )


def _add_link_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``presets`` and ``link``: the published hardware and what one link delivers."""
    presets = sub.add_parser("presets", help="list the hardware presets with their sources")
    presets.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    presets.add_argument("--preset", metavar="NAME", help="one preset: every number with unit, source, where, status")
    presets.add_argument("--add", metavar="FILE", help="validate a preset TOML file and install it as your own")
    link = sub.add_parser("link", help="rate, fidelity, QBER, S and key rate of one preset's link")
    link.add_argument("--preset", required=True, metavar="NAME", help="hardware preset (see qkdnet presets)")
    link.add_argument(
        "--length-km", type=_length_km, default=None, metavar="L", help="fiber length in km (default: the preset's)"
    )
    link.add_argument(
        "--modes",
        type=_positive_int,
        default=1,
        metavar="N",
        help="independent modes per attempt round (multiplexing: a round heralds with 1 − (1 − p)^N; default 1)",
    )
    link.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    link.add_argument(
        "--plot", default=None, metavar=PLOT_METAVAR, help="draw rate, fidelity and key rate against length"
    )


def _add_attack(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``qkdnet attack`` (one run with Eve) and ``qkdnet attack sweep`` (her strength against detection)."""
    from qkdnet.attacks.catalog import ATTACK_KINDS

    kinds = "\n".join(f"  {k.name:<19} {k.summary}\n  {'':<19} strength: {k.strength}" for k in ATTACK_KINDS.values())
    attack = sub.add_parser(
        "attack",
        help="one key run with Eve on the fiber; 'attack sweep' runs her strength against detection",
        description="One key run with an eavesdropper: the fields of `qkdnet e91 --json` plus Eve's information "
        "on the sifted and the final key.",
        epilog=f"attack kinds:\n{kinds}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    nested = attack.add_subparsers(dest="attack_command", metavar="sweep", parser_class=_Parser)
    sweep = nested.add_parser(
        "sweep",
        help="every strength with several seeds: QBER, S, aborts and Eve's information (table, JSON or figure)",
        epilog=f"attack kinds:\n{kinds}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Pairs per run: on the default honest channel (Werner V = 0.98, Q = 1 %) the finite-key bound (ε_sec = 10⁻¹⁰)
    # and the authentication cost leave a key on 100 of 100 seeds from 3.2·10⁵ pairs for E91 and 1.4·10⁵ for
    # BBM92. 10⁶ (as `qkdnet e91`) also keeps a key under weak attacks (Q ≲ 6 %); a sweep's 33 runs of 6·10⁵
    # take about 12 s of one core (intercept-resend, E91) and still show keys up to p = 0.1–0.2.
    for p, pairs in ((attack, 1_000_000), (sweep, 600_000)):
        p.add_argument(
            "--kind",
            choices=list(ATTACK_KINDS),
            default=None,
            metavar="KIND",
            help="the attack (the kinds: qkdnet attack --help)",
        )
        p.add_argument("--protocol", choices=["e91", "bbm92"], default="e91", help="key protocol (default e91)")
        p.add_argument("--preset", default="ritter2012", metavar="NAME", help="hardware preset (default ritter2012)")
        p.add_argument("--length-km", type=_length_km, default=None, metavar="L", help="fiber length in km")
        link = p.add_mutually_exclusive_group()
        link.add_argument(
            "--visibility",
            type=_fraction,
            default=0.98,
            metavar="V",
            help="honest channel: Werner pairs of visibility V at the preset's attempt rate (default 0.98, Q = 1 %%)",
        )
        link.add_argument(
            "--physical-link", action="store_true", help="use the preset's own link (its noise and timing) instead"
        )
        p.add_argument(
            "--eve-angle", type=_angle_deg, default=None, metavar="DEG", help="Eve's basis for intercept-fixed (0 = Z)"
        )
        p.add_argument("--device-independent", action="store_true", help="decide security from S and Q (E91 only)")
        _add_reconciler(p)
        p.add_argument("--pairs", type=_positive_int, default=pairs, metavar="N", help=f"pairs per run ({pairs:,})")
        p.add_argument("--seed", type=_seed, default=2012, metavar="N", help="root seed (default 2012)")
        p.add_argument("--json", action="store_true", help="print one JSON object")
    attack.add_argument("--strength", type=_fraction, default=None, metavar="X", help="attack strength (see kinds)")
    sweep.add_argument("--strengths", type=_fraction_list, default=None, metavar="LIST", help="e.g. 0,0.1,0.25")
    sweep.add_argument("--points", type=_positive_int, default=11, metavar="N", help="evenly spaced strengths (11)")
    sweep.add_argument("--seeds", type=_positive_int, default=3, metavar="N", help="seeds per strength (default 3)")
    sweep.add_argument("--plot", default=None, metavar=PLOT_METAVAR, help="draw QBER, S and Eve's information")


#: The figures of ``qkdnet plot`` (qkdnet.report.PLOT_KINDS, named here so that parsing imports no plotting code).
PLOT_KIND_NAMES = ["key-rate", "attack", "memory", "purification", "network", "design"]


def _add_sweep_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``sweep`` (a grid of runs into a Parquet table, or ``sweep merge``), ``plot`` and ``report``."""
    sweep = sub.add_parser(
        "sweep",
        help="a grid of runs of a scenario into a resumable Parquet table (or: sweep merge A B --out C)",
        usage="qkdnet sweep SCENARIO.toml --vary FIELD=VALUES [--vary ...] --out RESULTS.parquet [options]\n"
        "       qkdnet sweep --list-fields SCENARIO.toml\n"
        "       qkdnet sweep merge A.parquet B.parquet [...] --out C.parquet",
        description="Run every combination of the --vary values; each run is keyed by the SHA-256 of its full "
        "configuration, so runs already in the table are skipped (resume) and tables merge by key.",
        epilog="VALUES: start:stop:count (both ends included), start:stop:count:log, or a comma list 0,0.1,0.2.\n"
        "Runners: link (the scenario's one link, analytic), key (a key run with Eve from [eve]),\n"
        "network (the whole scenario on the network simulator, as qkdnet simulate), null (a constant).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sweep.add_argument("scenario", metavar="SCENARIO.toml", help="scenario or sweep file (or 'merge')")
    sweep.add_argument("inputs", nargs="*", metavar="TABLE.parquet", help=argparse.SUPPRESS)
    sweep.add_argument("--vary", action="append", default=[], metavar="FIELD=VALUES", help="a field and its values")
    sweep.add_argument("--runner", default=None, metavar="NAME", help="link, key, network, null (default: see below)")
    sweep.add_argument("--out", type=Path, default=None, metavar="RESULTS.parquet", help="the results table")
    sweep.add_argument("--workers", type=_positive_int, default=None, metavar="N", help="local worker processes")
    sweep.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786", help="run on this Dask cluster")
    sweep.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="stop after N new runs")
    sweep.add_argument("--retry-errors", action="store_true", help="run again the runs that failed before")
    sweep.add_argument("--list-fields", action="store_true", help="list the fields --vary can address")
    sweep.add_argument("--dry-run", action="store_true", help="check the sweep and count its runs; run nothing")
    plot = sub.add_parser("plot", help="draw a figure of a results table (qkdnet plot KIND RESULTS --out FILE)")
    plot.add_argument("kind", choices=PLOT_KIND_NAMES, metavar="KIND", help=", ".join(PLOT_KIND_NAMES))
    plot.add_argument("results", type=Path, metavar="RESULTS.parquet")
    plot.add_argument("--out", type=Path, required=True, metavar="FILE.png|svg|pdf")
    report = sub.add_parser("report", help="one self-contained HTML file: figures, tables, every run's config")
    report.add_argument("results", type=Path, metavar="RESULTS.parquet")
    report.add_argument("--out", type=Path, required=True, metavar="REPORT.html")
    report.add_argument("--title", default=None, help="the report's title (default: from the scenarios)")


def _add_design(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``design``: search a study for the least-improved hardware whose chain beats the PLOB bound."""
    design = sub.add_parser(
        "design",
        help="search for the least-improved hardware whose repeater chain beats the PLOB bound",
        description="Differential evolution over improvement factors of a preset's hardware, each point a chain "
        "on the network simulator; every evaluation is a row of --out (qkdnet report and qkdnet plot design "
        "read it; a second run of the same study reuses the rows it finds).",
    )
    design.add_argument("study", type=Path, metavar="STUDY.toml", help="the design study (examples/design/)")
    design.add_argument("--out", type=Path, required=True, metavar="RESULTS.parquet", help="the results table")
    design.add_argument("--workers", type=_positive_int, default=None, metavar="N", help="local worker processes")
    design.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786", help="run on this Dask cluster")
    design.add_argument(
        "--evaluations", type=_positive_int, default=None, metavar="N", help="search budget (default: the study's)"
    )
    design.add_argument("--seed", type=_seed, default=None, metavar="N", help="search seed (default: the study's)")
    design.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


_AddCommands: TypeAlias = "Callable[[argparse._SubParsersAction[_Parser]], None]"

#: Each group of subcommands and what adds it to the parser, in the order of ``qkdnet --help``.
_COMMAND_GROUPS: tuple[tuple[tuple[str, ...], _AddCommands], ...] = (
    (("demo",), _add_demo),
    (("e91", "bbm92"), _add_protocols),
    (("presets", "link"), _add_link_commands),
    (("attack",), _add_attack),
    (("simulate",), _add_simulate_command),
    (("kme", "pki"), _add_kme),
    (("link-emulator", "node"), _add_daemons),
    (("network",), _add_network),
    (("send", "receive"), _add_transfer),
    (("sweep", "plot", "report"), _add_sweep_commands),
    (("design",), _add_design),
    (("postprocess", "timetags"), _add_recorded),
)
COMMANDS = tuple(name for names, _ in _COMMAND_GROUPS for name in names)
"""Every subcommand of ``qkdnet``."""

_COMMAND_LIST = (
    "demo, e91, bbm92, presets, link, attack, simulate, sweep, plot, report, design, kme, pki, link-emulator, node, "
    "network, send, receive, postprocess or timetags"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qkdnet`` command; returns the process exit code."""
    args_list = sys.argv[1:] if argv is None else list(argv)
    first = args_list[0] if args_list else None
    parser = build_parser(first if first in COMMANDS else None)
    try:
        if "QKDNET_SUPERVISOR_PID" in os.environ:  # supervisor.SUPERVISOR_ENV: a child of `network up`
            from qkdnet.kms.supervisor import follow_supervisor

            follow_supervisor()
        args = parser.parse_args(args_list)
        if args.command is None:
            raise UsageError(f"a command is required: {_COMMAND_LIST} (see qkdnet --help)")
        from qkdnet.cli.dispatch import dispatch

        return dispatch(args)
    except UsageError as exc:
        print(f"qkdnet: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except QkdnetError as exc:
        print(f"qkdnet: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("qkdnet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
