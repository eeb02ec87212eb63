"""``qkdnet demo``: the seed's story, told with the simulation's own numbers.

Two single atoms in optical cavities, 60 m of fiber between two labs (Ritter et al., Nature 484, 195 (2012)).
Entangled pairs are measured again and again; both ends get the same random bits; an eavesdropper shows up
in the statistics; the key becomes a one-time pad; and Bob's statistics prove that no message travelled
through the entanglement itself.
"""

from __future__ import annotations

import argparse
import math

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from qkdnet._display import human_duration, significant
from qkdnet.attacks import InterceptResend
from qkdnet.cli._common import make_console, print_json
from qkdnet.cli.commands import pm, progress_bar
from qkdnet.network import HeraldedLink, link_from_preset
from qkdnet.otp import Ciphertext, PadLedger, decrypt, encrypt, pad_bytes_needed
from qkdnet.qkd import E91, KeyRunResult, run_key_exchange

SEED_PRESET = "ritter2012"
TODAY_PRESET = "zhang2022"
SEED_LENGTH_KM = 0.060
MESSAGE = b"Entanglement shares randomness, never a signal. -- Alice"


def run_demo(args: argparse.Namespace) -> int:
    """Tell the story; with ``--json`` print one object instead; ``--system`` and ``--network`` run the key
    network of one link, or of five nodes, instead."""
    if getattr(args, "network", False):
        from qkdnet.cli.network_demo import run_network_demo

        return 0 if run_network_demo(make_console(highlight=False)) else 1
    if getattr(args, "system", False):
        from qkdnet.cli.system_demo import run_system_demo

        return 0 if run_system_demo(make_console(highlight=False)) else 1
    console = make_console(quiet=args.json, highlight=False)
    attack = InterceptResend(args.eve) if args.eve > 0 else None
    console.print(
        Panel.fit(
            "[bold]qkdnet[/bold]: the first quantum network of single atoms, and a secret key from it\n"
            'Ritter et al., "An elementary quantum network of single atoms in optical cavities", '
            "Nature 484, 195 (2012)",
            border_style="cyan",
        )
    )

    first = _run_on(SEED_PRESET, console, args, attack, chapter="2012 hardware")
    runs = [(SEED_PRESET, first)]
    final_preset, final = SEED_PRESET, first
    if not first.secure and attack is None:
        console.print(
            f"\n[bold yellow]The 2012 hardware cannot yield a secret key.[/bold yellow] Its pairs are too noisy: "
            f"QBER {100 * first.qber:.1f} % is too many errors to correct and still keep a secret "
            f"({first.abort_reason}).\nThe same two labs with today's best published atom hardware:"
        )
        final_preset, final = (
            TODAY_PRESET,
            _run_on(TODAY_PRESET, console, args, attack, chapter="today's hardware"),
        )
        runs.append((final_preset, final))
    elif not first.secure:
        console.print(
            f"\n[bold red]Eve was caught.[/bold red] {first.abort_reason}.\n"
            "The run is aborted and no key is handed out: nothing Eve learned is ever used."
        )

    message_ok = False
    if final.secure:
        message_ok = _one_time_pad(console, final)
    _no_signalling(console, final)

    if args.json:
        out = final.summary()
        out.update(
            preset=final_preset,
            length_km=SEED_LENGTH_KM,
            eve_fraction=args.eve,
            seed=args.seed,
            message_ok=message_ok,
            runs=[{"preset": name, **r.summary()} for name, r in runs],
        )
        print_json(out)
    return 0


def _run_on(
    preset: str, console: Console, args: argparse.Namespace, attack: InterceptResend | None, *, chapter: str
) -> KeyRunResult:
    link = link_from_preset(preset, length_km=SEED_LENGTH_KM)
    _describe_network(console, preset, link, chapter)
    err = make_console(stderr=True)
    with progress_bar(err, "entangling atoms", not args.json and err.is_terminal) as update:
        result = run_key_exchange(link, E91, args.pairs, seed=args.seed, attack=attack, progress=update)
    _describe_measurement(console, result, eve=args.eve)
    return result


def _describe_network(console: Console, preset: str, link: HeraldedLink, chapter: str) -> None:
    console.print(f"\n[bold]1. The network ({chapter}: preset {preset})[/bold]")
    console.print(
        f"   Alice's atom ── {1000 * link.fiber.length_km:.0f} m of fiber ── Bob's atom   ({link.description})"
    )
    console.print(
        f"   photon arrives after {link.fiber.delay_s * 1e9:.0f} ns; "
        f"{link.attempt_rate_hz:,.0f} attempts/s, each heralds a pair with probability "
        f"{link.success_probability:.2e} → {significant(link.expected_pair_rate_hz)} pairs/s"
    )
    console.print(
        f"   entanglement fidelity of a heralded pair F = {link.expected_fidelity:.3f} "
        f"(Werner visibility {(4 * link.expected_fidelity - 1) / 3:.3f})"
    )
    source, *rest = link.provenance_lines()
    params = [
        line.replace(" (estimate)", "*").replace(" (confirmed)", "")
        for line in rest
        if not line.startswith("published")
    ]
    console.print(f"   [dim]{source}[/dim]")
    console.print(f"   [dim]model numbers (* = estimate, not confirmed from the paper): {'; '.join(params)}[/dim]")
    for line in rest:
        if line.startswith("published"):
            console.print(f"   [dim]{line}[/dim]")


def _describe_measurement(console: Console, r: KeyRunResult, *, eve: float) -> None:
    console.print(
        "\n[bold]2. Measuring the pairs (E91)[/bold]: Alice at 0°, 22.5°, 45°; Bob at 22.5°, 45°, 67.5°, "
        "each choosing at random"
    )
    if eve > 0:
        console.print(f"   [red]Eve intercepts {100 * eve:.0f} % of the photons[/red] and resends what she measured")
    console.print(f"   {r.pairs:,} entangled pairs measured in {human_duration(r.duration_s)} of link time")
    console.print(
        f"   sifted key: {r.sifted_bits:,} bits where both chose the same angle; "
        f"{r.sample_bits:,} of them disclosed to count errors"
    )
    console.print(f"   QBER = {pm(r.qber, r.qber_stderr, 100, 2)} %   (Eve's intercept-resend would give 25 %)")
    console.print(
        f"   CHSH S = {pm(r.chsh_s, r.chsh_s_stderr)}   (any local, classical story: S ≤ 2; quantum limit 2√2 = 2.828)"
    )
    verdict = "[green]SECURE[/green]" if r.secure else "[red]ABORT[/red]"
    di = r.key_fraction_device_independent
    console.print(
        f"   secret fraction bound: {r.key_fraction_trusted:.3f} (trusted devices)"
        + (f", {di:.3f} (device-independent)" if di is not None and math.isfinite(di) else "")
    )
    if r.secure:
        console.print(
            f"   verdict: {verdict}: after error correction ({r.round_trips} round trips, every message "
            f"authenticated) and finite-key privacy amplification, {r.amplified_key_bits:,} bits; "
            f"{r.authentication_key_bits:,} of them refill the authentication keys, "
            f"{r.final_key_bits:,} secret key bits remain "
            f"({significant(r.secret_key_rate_bps)} bit/s, link and classical channel)"
        )
    else:
        console.print(f"   verdict: {verdict}: {r.abort_reason}; no key is handed out")


def _one_time_pad(console: Console, r: KeyRunResult) -> bool:
    """Encrypt the message with Alice's key, send the ciphertext, decrypt with Bob's key."""
    if r.alice_key is None or r.bob_key is None:
        return False
    console.print("\n[bold]3. A one-time pad[/bold]: message ⊕ key, sent over any insecure network")
    usable = (r.final_key_bits // 8) * 8
    if usable // 8 < pad_bytes_needed(len(MESSAGE)):
        console.print(
            f"   the key ({r.final_key_bits} bits) is too short for the {len(MESSAGE)}-byte message "
            f"plus its 32-byte MAC key: simulate more pairs (--pairs)"
        )
        return False
    alice_pad = PadLedger(r.alice_key[:usable])
    bob_pad = PadLedger(r.bob_key[:usable])
    sent = encrypt(MESSAGE, alice_pad)
    wire = sent.to_bytes()
    console.print(f"   Alice's message : {MESSAGE.decode()}")
    console.print(f"   on the wire     : {wire.hex()}")
    received = decrypt(Ciphertext.from_bytes(wire), bob_pad)
    ok = received == MESSAGE
    console.print(
        f"   Bob decrypts    : {received.decode(errors='replace')}   "
        + ("[green](identical)[/green]" if ok else "[red](garbled)[/red]")
    )
    console.print(f"   pad used        : {pad_bytes_needed(len(MESSAGE))} of {usable // 8} key bytes, never again")
    return ok


def _no_signalling(console: Console, r: KeyRunResult) -> None:
    ns = r.no_signalling
    console.print(
        "\n[bold]4. No signal through entanglement[/bold]: Bob's outcome statistics do not depend on Alice's choice"
    )
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    table.add_column("Alice's angle")
    table.add_column("Bob sees 0 with frequency")
    for angle, f, e in zip(E91.alice_angles_deg, ns.bob_zero_frequency, ns.stderr, strict=True):
        table.add_row(f"{angle:g}°", f"{f:.4f} ± {e:.4f}")
    console.print(table)
    console.print(
        f"   chi-square test of independence: χ² = {ns.chi2:.2f} on {ns.dof} degrees of freedom, "
        f"p = {ns.p_value:.2f}: entanglement shares randomness, never a signal"
    )
