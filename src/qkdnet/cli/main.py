"""Argument parsing and dispatch for the ``qkdnet`` command."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from qkdnet.errors import QkdnetError

EXIT_USAGE = 2
T = TypeVar("T")


class UsageError(Exception):
    """A bad flag or value: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so every error is one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _checked(convert: Callable[[str], T], valid: Callable[[T], bool], expected: str) -> Callable[[str], T]:
    """An argparse type: convert the text, then check it; either failure names what was expected."""

    def parse(text: str) -> T:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_fraction = _checked(float, lambda v: math.isfinite(v) and 0.0 <= v <= 1.0, "a number in [0, 1]")
_positive_int = _checked(lambda t: int(t.replace("_", "")), lambda v: v >= 1, "a positive integer")
_seed = _checked(int, lambda v: v >= 0, "a non-negative integer")
_length_km = _checked(float, lambda v: math.isfinite(v) and v >= 0.0, "a length in km >= 0")


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


def build_parser() -> argparse.ArgumentParser:
    """The ``qkdnet`` argument parser."""
    from qkdnet._version import __version__

    parser = _Parser(prog="qkdnet", description="Quantum networks of single atoms, and the keys they make.")
    parser.add_argument("--version", action="version", version=f"qkdnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    demo = sub.add_parser("demo", help="the seed's story: two atoms, 60 m of fiber, a key and a secret message")
    _add_common(demo, pairs_default=400_000)
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
        if name == "e91":
            p.add_argument(
                "--device-independent",
                action="store_true",
                help="decide security by the device-independent bound from S and Q (Acín et al. 2007)",
            )
    _add_link_commands(sub)
    _add_simulate_command(sub)
    return parser


def _add_simulate_command(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``simulate``: a scenario file on the network simulator."""
    sim = sub.add_parser("simulate", help="run a scenario file (TOML) on the network simulator")
    sim.add_argument("scenario", metavar="SCENARIO.toml", help="the scenario file (see examples/)")
    sim.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    sim.add_argument("--plot", default=None, metavar="DIR", help="write fidelity, delivery and utilisation plots")


def _add_link_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``presets`` and ``link``: the published hardware and what one link delivers."""
    presets = sub.add_parser("presets", help="list the hardware presets with their sources")
    presets.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    link = sub.add_parser("link", help="rate, fidelity, QBER, S and key rate of one preset's link")
    link.add_argument("--preset", required=True, metavar="NAME", help="hardware preset (see qkdnet presets)")
    link.add_argument(
        "--length-km", type=_length_km, default=None, metavar="L", help="fiber length in km (default: the preset's)"
    )
    link.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    link.add_argument("--plot", default=None, metavar="FILE.png", help="draw rate, fidelity and key rate vs length")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qkdnet`` command; returns the process exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError("a command is required: demo, e91, bbm92, presets or link (see qkdnet --help)")
        from qkdnet.cli import commands

        return commands.dispatch(args)
    except UsageError as exc:
        print(f"qkdnet: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except QkdnetError as exc:
        print(f"qkdnet: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("qkdnet: interrupted", file=sys.stderr)
        return 130


def print_json(obj: object) -> None:
    """Print one JSON object on stdout."""
    print(json.dumps(obj, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
