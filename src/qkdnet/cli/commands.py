"""The ``e91`` and ``bbm92`` commands: one key run on a link, as a table or one JSON object."""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from qkdnet._display import human_duration
from qkdnet.attacks import InterceptResend
from qkdnet.cli._common import make_console, print_json
from qkdnet.network import WernerSource, link_from_preset
from qkdnet.qkd import KeyRunConfig, KeyRunResult, PairSource, get_protocol, run_key_exchange
from qkdnet.qkd.config import Security
from qkdnet.qkd.pipeline import ProgressCallback


@contextmanager
def progress_bar(console: Console, label: str, enabled: bool) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on stderr while pairs are simulated (none for --json or a non-terminal)."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def build_source(preset: str, length_km: float | None, visibility: float | None) -> PairSource:
    """The preset's link at the chosen length, or ideal Werner pairs at the link's attempt rate."""
    link = link_from_preset(preset, length_km=length_km)
    if visibility is None:
        return link
    return WernerSource(visibility=visibility, pair_rate_hz=link.attempt_rate_hz)


def source_fields(
    preset: str, length_km: float | None, visibility: float | None, source: PairSource
) -> dict[str, object]:
    """The JSON fields that say where a run's pairs came from: the preset's link, or Werner pairs that keep only
    the preset's attempt rate (then ``preset`` is null, so no one reads the run as that experiment's)."""
    if visibility is None:
        length = getattr(source, "length_km", length_km)
        return {"pair_source": "link", "preset": preset, "length_km": length, "visibility": None}
    return {"pair_source": "werner", "preset": None, "rate_preset": preset, "length_km": None, "visibility": visibility}


def run_protocol_command(args: argparse.Namespace) -> int:
    """``qkdnet e91`` / ``qkdnet bbm92``."""
    protocol = get_protocol(args.command)
    source = build_source(args.preset, args.length_km, args.visibility)
    security: Security = "device-independent" if getattr(args, "device_independent", False) else "trusted"
    attack = InterceptResend(args.eve) if args.eve > 0 else None
    err = make_console(stderr=True)
    sample = {} if args.sample_fraction is None else {"sample_fraction": args.sample_fraction}
    config = KeyRunConfig(
        security=security,
        reconciler=args.reconciler,
        key_length=args.key_length,
        test_probability=getattr(args, "test_probability", None),
        **sample,
    )
    with progress_bar(err, "simulating pairs", not args.json and err.is_terminal) as update:
        result = run_key_exchange(
            source,
            protocol,
            args.pairs,
            seed=args.seed,
            config=config,
            attack=attack,
            progress=update,
        )
    summary = result.summary()
    summary.update(source_fields(args.preset, args.length_km, args.visibility, source))
    summary.update(eve_fraction=args.eve, seed=args.seed)
    if args.json:
        print_json(summary)
    else:
        print_result(make_console(), result)
    return 0


def pm(value: float | None, err: float | None, scale: float = 1.0, digits: int = 3) -> str:
    """'v ± e' with a scale (100 for percent), or 'n/a'."""
    if value is None or err is None or not math.isfinite(value):
        return "n/a"
    return f"{value * scale:.{digits}f} ± {err * scale:.{digits}f}"


def print_result(console: Console, r: KeyRunResult) -> None:
    """A short human-readable account of one key run."""
    console.print(
        f"[bold]{r.protocol.upper()}[/bold] over {r.pairs:,} pairs "
        f"({human_duration(r.duration_s)} of link time), security: {r.security}"
    )
    console.print(f"  sifted key bits   {r.sifted_bits:,} (of which {r.sample_bits:,} disclosed to estimate errors)")
    console.print(f"  QBER              {pm(r.qber, r.qber_stderr, 100, 2)} %")
    console.print(f"  phase error       {pm(r.phase_error, r.phase_error_stderr, 100, 2)} %")
    if r.chsh_s is not None:
        console.print(f"  CHSH S            {pm(r.chsh_s, r.chsh_s_stderr)} (classical ≤ 2, quantum ≤ 2.828)")
    if r.test_probability is not None:
        console.print(f"  spot-checking     each round a CHSH test with probability {r.test_probability:.4f}")
    di = r.key_fraction_device_independent
    console.print(
        f"  key fraction      trusted {r.key_fraction_trusted:.4f}"
        + (f", device-independent {di:.4f}" if di is not None else "")
    )
    if r.secure:
        console.print(
            f"  [green]secure[/green]: {r.final_key_bits:,} final key bits "
            f"({r.secret_key_rate_bps:.4g} bit/s), {r.round_trips} round trips; {r.key_length_method}-key "
            f"length {r.amplified_key_bits:,}, of which {r.authentication_key_bits:,} refill the authentication keys"
        )
    else:
        console.print(f"  [red]aborted[/red]: {r.abort_reason}; no key handed out")
