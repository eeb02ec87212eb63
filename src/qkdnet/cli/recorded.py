"""``postprocess`` (recorded time tags in, key out) and ``timetags`` (simulate a recording, convert its format)."""

from __future__ import annotations

import argparse
import math
import secrets
from dataclasses import replace
from pathlib import Path

import numpy as np

from qkdnet.cli._common import (
    RECONCILER_NAMES,
    UsageError,
    _checked,
    _fraction,
    _Parser,
    _seed,
    check_writable,
    make_console,
    print_json,
)

_seconds = _checked(float, lambda v: math.isfinite(v) and v > 0.0, "a positive number of seconds")
_offset_s = _checked(float, lambda v: math.isfinite(v) and abs(v) <= 1e3, "an offset in seconds, at most 1000 in size")
_drift_ppm = _checked(float, lambda v: math.isfinite(v) and abs(v) <= 1e3, "a drift in ppm, at most 1000 in size")
_rate_hz = _checked(float, lambda v: math.isfinite(v) and 0.0 < v <= 1e8, "a rate in Hz in (0, 10⁸]")


def _channel_list(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated channel names like Z0,Z1,X0,X1, got {text!r}")
    return names


def add_recorded_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """``qkdnet postprocess`` and ``qkdnet timetags simulate|convert``."""
    post = sub.add_parser(
        "postprocess",
        help="recorded time tags of both sides in, secret key out: coincidences, sifting, estimation, key",
        description="Find the coincidences of two time-tag recordings (clock offset, drift and wander found from "
        "scratch), then run sifting, estimation, the security decision, reconciliation, verification and "
        "privacy amplification. Files: CSV 'time_ps,channel' or the binary format (see the README).",
    )
    post.add_argument("--alice", type=Path, required=True, metavar="FILE", help="Alice's recording (CSV or .qtag)")
    post.add_argument("--bob", type=Path, required=True, metavar="FILE", help="Bob's recording (CSV or .qtag)")
    post.add_argument(
        "--channels",
        type=_channel_list,
        default=None,
        metavar="LIST",
        help="what channels 0, 1, ... are (default Z0,Z1,X0,X1 for bbm92; A0,A1,B0,B1,C0,C1 for e91)",
    )
    post.add_argument("--protocol", choices=["bbm92", "e91"], default="bbm92", help="key protocol (default bbm92)")
    post.add_argument("--out", type=Path, default=None, metavar="DIR", help="write DIR/alice.key and DIR/bob.key")
    post.add_argument(
        "--max-offset-s",
        type=_seconds,
        default=1.0,
        metavar="S",
        help="largest clock offset between the sides to search (default 1 s)",
    )
    post.add_argument(
        "--reconciler",
        choices=RECONCILER_NAMES,
        default="cascade",
        metavar="NAME",
        help=f"error correction: {', '.join(RECONCILER_NAMES)}",
    )
    post.add_argument(
        "--seed", type=_seed, default=None, metavar="N", help="seed of the road's random choices (default: fresh)"
    )
    post.add_argument("--json", action="store_true", help="print one JSON object instead of the story")

    tags = sub.add_parser("timetags", help="simulate a two-sided time-tag recording, or convert a file's format")
    nested = tags.add_subparsers(dest="timetags_command", metavar="simulate|convert", parser_class=_Parser)
    sim = nested.add_parser(
        "simulate",
        help="what two labs' time taggers record from an entangled-photon source (DIR/alice.csv, DIR/bob.csv)",
    )
    sim.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the two recordings")
    sim.add_argument("--seconds", type=_seconds, default=3.0, metavar="S", help="recording length (default 3 s)")
    sim.add_argument("--offset-s", type=_offset_s, default=0.3141, metavar="S", help="Bob's clock offset (0.3141 s)")
    sim.add_argument("--drift-ppm", type=_drift_ppm, default=1.5, metavar="PPM", help="Bob's clock drift (1.5 ppm)")
    sim.add_argument("--pair-rate-hz", type=_rate_hz, default=5e6, metavar="R", help="pairs emitted per second (5e6)")
    sim.add_argument("--visibility", type=_fraction, default=0.97, metavar="V", help="pair visibility (0.97)")
    sim.add_argument("--format", choices=["csv", "qtag"], default="csv", help="file format (default csv)")
    sim.add_argument(
        "--channels",
        type=_channel_list,
        default=None,
        metavar="LIST",
        help="how the detectors are wired to channels 0-3 (default Z0,Z1,X0,X1)",
    )
    sim.add_argument("--seed", type=_seed, default=2012, metavar="N", help="root seed (default 2012)")
    conv = nested.add_parser("convert", help="CSV to the binary format, or back (by the input's content)")
    conv.add_argument("input", type=Path, metavar="IN", help="a CSV or binary time-tag file")
    conv.add_argument("output", type=Path, metavar="OUT", help="the converted file")


def run_recorded_command(args: argparse.Namespace) -> int:
    """Dispatch ``postprocess`` and ``timetags``."""
    if args.command == "postprocess":
        return _postprocess(args)
    if args.timetags_command == "simulate":
        return _simulate(args)
    if args.timetags_command == "convert":
        return _convert(args)
    raise UsageError("timetags needs a subcommand: simulate or convert")


def _postprocess(args: argparse.Namespace) -> int:
    from qkdnet.qkd import KeyRunConfig, get_protocol
    from qkdnet.qkd.recorded import channel_map, default_channels, key_from_time_tags
    from qkdnet.tagfiles import read_tags
    from qkdnet.units import seconds_to_ps

    protocol = get_protocol(args.protocol)
    channels = channel_map(args.channels or default_channels(protocol), protocol)
    if args.out is not None:
        check_writable(args.out, "--out", folder=True)
    alice = read_tags(args.alice, channel_names=channels.names)
    bob = read_tags(args.bob, channel_names=channels.names)
    seed = args.seed if args.seed is not None else secrets.randbits(63)
    run = key_from_time_tags(
        alice,
        bob,
        protocol,
        channels=channels,
        seed=seed,
        max_offset_ps=seconds_to_ps(args.max_offset_s),
        config=KeyRunConfig(reconciler=args.reconciler),
    )
    written = _write_keys(args.out, run.result.alice_key, run.result.bob_key) if args.out is not None else None
    if args.json:
        fields = run.summary()
        fields["key_files"] = written
        print_json(fields)
        return 0
    console = make_console()
    found = run.coincidences
    console.print(
        f"[bold]{len(alice):,}[/bold] events at Alice, [bold]{len(bob):,}[/bold] at Bob over {found.duration_s:.3g} s"
    )
    console.print(f"  Bob's clock       {run.offset_ps / 1e12:+.12f} s from Alice's, drifting {run.drift_ppm:+.4f} ppm")
    console.print(
        f"  coincidences      {found.alice_index.size:,} in a {run.clock.estimate.window_ps:,} ps window "
        f"(jitter σ {run.clock.estimate.jitter_ps:.0f} ps), ~{found.accidentals_expected:,.0f} of them accidental"
    )
    from qkdnet.cli.commands import print_result

    print_result(console, run.result)
    if written:
        console.print(f"  keys written to {written['alice']} and {written['bob']} (owner-only)")
    return 0


def _write_keys(out: Path, alice_key: np.ndarray | None, bob_key: np.ndarray | None) -> dict[str, str] | None:
    """Both final keys as raw bytes (whole bytes; a last partial byte is dropped), owner-only; None without key."""
    if alice_key is None or bob_key is None:
        return None
    from qkdnet.kms.keyfiles import private_dir, write_private

    private_dir(out)
    paths = {}
    for name, key in (("alice", alice_key), ("bob", bob_key)):
        whole = key[: key.size - key.size % 8]
        path = out / f"{name}.key"
        write_private(path, np.packbits(whole).tobytes())
        paths[name] = str(path.resolve())
    return paths


def _simulate(args: argparse.Namespace) -> int:
    from qkdnet.hardware.timetagger import DetectorSide, EntangledPairSource, record_time_tags
    from qkdnet.kms.keyfiles import private_dir
    from qkdnet.qkd import BBM92
    from qkdnet.qkd.recorded import channel_map, default_channels
    from qkdnet.tagfiles import write_binary, write_csv
    from qkdnet.units import seconds_to_ps

    wiring = channel_map(args.channels or default_channels(BBM92), BBM92)
    check_writable(args.out, "--out", folder=True)
    run = record_time_tags(
        EntangledPairSource(pair_rate_hz=args.pair_rate_hz, visibility=args.visibility),
        DetectorSide(),
        DetectorSide(
            clock_offset_ps=seconds_to_ps(args.offset_s), clock_drift_ppm=args.drift_ppm, clock_wander_ps=50.0
        ),
        args.seconds,
        rng=np.random.default_rng(args.seed),
    )
    private_dir(args.out)
    write = write_csv if args.format == "csv" else write_binary
    # The model's channel 2·basis + outcome is the detector named so; the file numbers it as wired.
    number_of = np.empty(wiring.settings.size, dtype=np.uint8)
    number_of[2 * wiring.settings + wiring.outcomes] = np.arange(wiring.settings.size, dtype=np.uint8)
    for name, tags in (("alice", run.alice), ("bob", run.bob)):
        write(args.out / f"{name}.{args.format}", replace(tags, channels=number_of[tags.channels]))
    console = make_console()
    console.print(
        f"{run.pairs_emitted:,} pairs emitted in {args.seconds:g} s, {run.pairs_seen_by_both:,} seen on both sides; "
        f"{len(run.alice):,} events at Alice and {len(run.bob):,} at Bob written to {args.out}/alice.{args.format} "
        f"and bob.{args.format} (channels {','.join(wiring.names)})"
    )
    return 0


def _convert(args: argparse.Namespace) -> int:
    from qkdnet.tagfiles import is_binary, read_tags, write_binary, write_csv

    check_writable(args.output, "OUT")
    if args.output.resolve() == args.input.resolve():
        raise UsageError("IN and OUT are the same file")
    tags = read_tags(args.input, channel_names=tuple(str(c) for c in range(256)))
    binary_in = is_binary(args.input)
    (write_csv if binary_in else write_binary)(args.output, tags)
    kind = "CSV" if binary_in else "binary"
    make_console().print(f"{len(tags):,} events written to {args.output} ({kind})")
    return 0
