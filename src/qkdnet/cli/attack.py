"""``qkdnet attack``: one key run with Eve on the fiber, and ``qkdnet attack sweep``: her strength against detection.

A run reports what ``qkdnet e91 --json`` reports, plus Eve's information on the sifted key and on the final
key. A sweep runs every strength with several seeds and tabulates (or plots) QBER, S, the abort rate and Eve's
information before and after privacy amplification, with the security thresholds marked.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from rich.console import Console
from rich.table import Table

from qkdnet.attacks import ATTACK_KINDS, Attack, ManInTheMiddle, make_attack
from qkdnet.cli._common import UsageError, make_console, plot_target, print_json
from qkdnet.cli.commands import build_source, pm, print_result, progress_bar, source_fields
from qkdnet.network import link_from_preset
from qkdnet.qkd import (
    DetectionPoint,
    EveReport,
    KeyRunConfig,
    PairSource,
    ProtocolSpec,
    detection_sweep,
    eve_report,
    eve_summary,
    get_protocol,
    run_key_exchange,
)
from qkdnet.qkd.config import Security

#: Werner visibility of the default honest channel of an attack run: Q = 1 %.
DEFAULT_VISIBILITY = 0.98


def _setup(args: argparse.Namespace) -> tuple[ProtocolSpec, PairSource, KeyRunConfig, float]:
    """Protocol, pair source, run configuration and the fiber's transmission (Eve's loss budget is 1 − T)."""
    if args.kind is None:
        raise UsageError(f"--kind is required, one of: {', '.join(ATTACK_KINDS)}")
    if args.eve_angle is not None and args.kind != "intercept-fixed":
        raise UsageError("--eve-angle applies to --kind intercept-fixed only")
    protocol = get_protocol(args.protocol)
    visibility = None if args.physical_link else args.visibility
    source = build_source(args.preset, args.length_km, visibility)
    security: Security = "device-independent" if args.device_independent else "trusted"
    transmission = link_from_preset(args.preset, length_km=args.length_km).fiber.transmission
    return protocol, source, KeyRunConfig(security=security, reconciler=args.reconciler), transmission


def _key_bases(protocol: ProtocolSpec) -> tuple[float, float]:
    """The protocol's two key-basis angles (they place Breidbart's basis)."""
    return protocol.key_basis_angle_deg(0), protocol.key_basis_angle_deg(1)


def _attack(args: argparse.Namespace, strength: float, key_bases: tuple[float, float], transmission: float) -> Attack:
    return make_attack(
        args.kind,
        strength,
        key_bases_deg=key_bases,
        fiber_transmission=transmission,
        eve_angle_deg=0.0 if args.eve_angle is None else args.eve_angle,
    )


def run_attack_command(args: argparse.Namespace) -> int:
    """``qkdnet attack`` and ``qkdnet attack sweep``."""
    if args.attack_command == "sweep":
        return run_sweep(args)
    if args.strength is None:
        raise UsageError("--strength is required (or run: qkdnet attack sweep --kind KIND)")
    protocol, source, config, transmission = _setup(args)
    key_bases = _key_bases(protocol)
    attack = _attack(args, args.strength, key_bases, transmission)
    err = make_console(stderr=True)
    with progress_bar(err, "simulating pairs", not args.json and err.is_terminal) as update:
        result = run_key_exchange(
            source, protocol, args.pairs, seed=args.seed, config=config, attack=attack, progress=update
        )
    report = eve_report(result)
    tampered = attack.manipulated if isinstance(attack, ManInTheMiddle) else None
    if args.json:
        out = result.summary()
        about: dict[str, object] = {
            "kind": args.kind,
            "strength": args.strength,
            "strength_means": ATTACK_KINDS[args.kind].strength,
        }
        if tampered is not None:
            about["messages_manipulated"] = len(tampered)
        out.update(source_fields(args.preset, args.length_km, None if args.physical_link else args.visibility, source))
        out.update(eve_fraction=result.observer.eve_attacked_pairs / result.pairs, seed=args.seed, attack=about)
        out.update(eve_summary(report))
        print_json(out)
    else:
        console = make_console(highlight=False)
        console.print(f"Eve: [bold]{args.kind}[/bold] at strength {args.strength:g} (see qkdnet attack --help)")
        if tampered is not None:
            first = f", first: {tampered[0]}" if tampered else ""
            console.print(f"  Eve on the classical channel manipulated {len(tampered)} message(s){first}")
        print_result(console, result)
        print_eve(console, report)
    return 0


def print_eve(console: Console, report: EveReport) -> None:
    """Eve's guessing accuracy and information, on the sifted key and on the final key."""
    s = report.sifted
    console.print(
        f"  Eve, sifted key   right on {pm(s.guess_accuracy.value, s.guess_accuracy.stderr, 100, 2)} % "
        f"of {s.bits:,} bits; I_E {s.mutual_information.bits:.4f} bit/bit"
    )
    if report.intercepted.bits:
        h = report.intercepted
        console.print(f"                    on the pairs she touched: {100 * h.guess_accuracy.value:.2f} %")
    f = report.final
    if f is None:
        console.print("  Eve, final key    there is none: nothing she learned is ever used")
    else:
        verdict = "[red]beats chance[/red]" if f.beats_chance() else "[green]a coin[/green]"
        console.print(
            f"  Eve, final key    right on {pm(f.guess_accuracy.value, f.guess_accuracy.stderr, 100, 2)} % "
            f"of {f.bits:,} bits: {verdict}"
        )


def _strengths(args: argparse.Namespace) -> list[float]:
    top = ATTACK_KINDS[args.kind].max_strength
    if args.strengths is not None:
        values: list[float] = args.strengths
        bad = [v for v in values if not 0.0 <= v <= top]
        if bad:
            raise UsageError(f"{args.kind} strengths must be in [0, {top:g}], got {bad[0]:g}")
        return values
    return [float(v) for v in np.round(np.linspace(0.0, top, args.points), 6)]


def run_sweep(args: argparse.Namespace) -> int:
    """``qkdnet attack sweep``: every strength, several seeds; a table, JSON, or a figure."""
    protocol, source, config, transmission = _setup(args)
    key_bases = _key_bases(protocol)
    plot = None if args.plot is None else plot_target(args.plot, f"attack_sweep_{args.kind}.png")
    strengths = _strengths(args)
    seeds = list(range(args.seed, args.seed + args.seeds))
    err = make_console(stderr=True)
    with progress_bar(err, "runs", not args.json and err.is_terminal) as update:
        points = detection_sweep(
            lambda s: _attack(args, s, key_bases, transmission),
            strengths,
            source=source,
            protocol=protocol,
            n_pairs=args.pairs,
            seeds=seeds,
            config=config,
            progress=update,
        )
    if plot is not None:
        from qkdnet.report.attack_plot import attack_sweep_figure

        attack_sweep_figure(
            points,
            title=f"{args.kind} on {protocol.name.upper()}, {len(seeds)} seeds × {args.pairs:,} pairs",
            xlabel=f"{args.kind} strength: {ATTACK_KINDS[args.kind].strength.split(' (')[0]}",
        ).save(plot)
    if args.json:
        print_json(
            {
                "kind": args.kind,
                "strength_means": ATTACK_KINDS[args.kind].strength,
                "protocol": protocol.name,
                "security": config.security,
                "reconciler": config.reconciler,
                "pairs": args.pairs,
                "seeds": seeds,
                "plot": None if plot is None else str(plot),
                "points": [p.summary() for p in points],
            }
        )
    else:
        print_sweep(make_console(highlight=False), args.kind, protocol, points, config.security)
        if plot is not None:
            make_console(highlight=False).print(f"figure written to {plot} (caption beside it)", soft_wrap=True)
    return 0


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.2f}"


def print_sweep(
    console: Console, kind: str, protocol: ProtocolSpec, points: list[DetectionPoint], security: str
) -> None:
    """The sweep as one table."""
    table = Table(title=f"{kind} on {protocol.name.upper()} ({security}): strength = {ATTACK_KINDS[kind].strength}")
    for col in (
        "strength",
        "QBER %",
        "S",
        "aborts",
        "Eve right, sifted %",
        "I_E sifted",
        "Eve right, final %",
        "I_E final",
    ):
        table.add_column(col, justify="right")
    for p in points:
        final = p.eve_final
        table.add_row(
            f"{p.strength:g}",
            pm(p.qber.value, p.qber.stderr, 100, 2),
            "n/a" if p.chsh_s is None else pm(p.chsh_s.value, p.chsh_s.stderr),
            f"{p.aborts}/{p.runs}",
            _pct(p.eve_sifted.guess_accuracy.value),
            f"{p.eve_sifted.mutual_information.bits:.4f}",
            "no key" if final is None else _pct(final.guess_accuracy.value),
            "no key" if final is None else f"{final.mutual_information.bits:.4f}",
        )
    console.print(table)
