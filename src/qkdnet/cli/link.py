"""``qkdnet presets`` and ``qkdnet link``: the published links, and what one of them delivers at a length.

``link`` reports the effective attempt rate (bounded by the herald's round trip), the herald probability per
attempt, heralded pairs per second, the pairs' fidelity with Φ+, the QBER a BBM92 run sees (mean of the Z and
X bases), the CHSH value at the E91 angles, and the asymptotic BBM92 secret key rate with trusted devices,
r = pairs/s · ½ · (1 − h(Q_Z) − h(Q_X)) (Shor & Preskill, PRL 85, 441 (2000)). ``--plot`` draws pair rate,
fidelity and key rate against fiber length, the key rate beside the PLOB bound −log₂(1 − η) per channel use
(Pirandola et al., Nat. Commun. 8, 15043 (2017)) times the attempts per second. ``--modes N`` multiplexes the
link: N independent modes per attempt round into one memory, so a round heralds with 1 − (1 − p)^N.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping

from rich.table import Table

from qkdnet.cli._common import make_console, plot_target, print_json
from qkdnet.hardware.presets import MODEL_CHOICE, Preset, Sourced, get_preset, preset_names, preset_origin
from qkdnet.network import HeraldedLink, link_from_preset
from qkdnet.units import PS_PER_S

#: Exactly the fields of ``qkdnet link --json``.
LINK_FIELDS = ("attempt_rate_hz", "success_probability", "pair_rate_hz", "fidelity", "qber", "chsh_s", "key_rate_bps")


def link_figures(link: HeraldedLink) -> dict[str, float]:
    """The numbers ``qkdnet link`` reports, keyed as in its JSON."""
    return {
        "attempt_rate_hz": PS_PER_S / link.attempt_period_ps,
        "success_probability": link.success_probability,
        "pair_rate_hz": link.expected_pair_rate_hz,
        "fidelity": link.expected_fidelity,
        "qber": link.expected_qber,
        "chsh_s": link.expected_chsh,
        "key_rate_bps": link.expected_key_rate_bps,
    }


def _number_rows(records: Mapping[str, Sourced]) -> list[dict[str, object]]:
    """Each number as a JSON object (an infinite value as the string ``"inf"``: JSON has no infinity)."""
    return [
        {
            "key": key,
            "value": r.value if math.isfinite(r.value) else str(r.value),
            "unit": r.unit,
            "source": r.source,
            "where": r.where,
            "status": r.kind,
        }
        | {"note": r.note, "uncertainty": r.uncertainty}
        for key, r in records.items()
    ]


def run_presets(args: argparse.Namespace) -> int:
    """``qkdnet presets``: every preset with its scheme, length and source (``--preset``: its every number)."""
    from qkdnet.config.presets import add_preset, load_user_presets

    if args.add:
        target = add_preset(args.add)
        print(f"installed preset {target.stem!r} as {target}")
        return 0
    load_user_presets()
    names = preset_names() if args.preset is None else (get_preset(args.preset).name,)
    rows = []
    for name in names:
        p = get_preset(name)
        rows.append(
            {
                "name": name,
                "scheme": p.scheme,
                "length_km": p.fiber.length_km,
                "title": p.title,
                "source": p.reference,
                "estimates": len(p.estimates),
                "numbers": len(p.provenance),
                "origin": preset_origin(name),
                "calibrated": sum(r.calibrated for r in p.provenance.values()),
                "parameters": _number_rows(p.provenance),
                "headline": _number_rows(p.headline),
            }
        )
    if args.json:
        print_json(rows)
        return 0
    if args.preset is not None:
        _print_numbers(get_preset(args.preset))
        return 0
    table = Table(title="hardware presets (every number cited; see `qkdnet presets --preset NAME`)")
    for column in ("name", "scheme", "fiber", "conf/est/cal", "source"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            str(row["name"]),
            str(row["scheme"]),
            f"{row['length_km']:g} km",
            _status_counts(get_preset(str(row["name"]))),
            str(row["source"]),
        )
    make_console().print(table)
    return 0


def _status_counts(preset: Preset) -> str:
    """How many of the preset's numbers are confirmed/estimates/calibrated (modeling defaults left out): ``0/16/6``."""
    kinds = [r.kind for r in preset.provenance.values() if r.source != MODEL_CHOICE]
    return "/".join(str(kinds.count(k)) for k in ("confirmed", "estimate", "calibrated"))


def _print_numbers(preset: Preset) -> None:
    """One table per preset: each number with its value, unit, source, where in the source and status."""
    table = Table(title=f"{preset.name}: {preset.title}")
    for column in ("number", "value", "unit", "status", "source", "where", "note"):
        table.add_column(column, overflow="fold")
    for label, records in (("", preset.provenance), ("published ", preset.headline)):
        for key, r in records.items():
            pm = "" if r.uncertainty is None else f" ± {r.uncertainty:g}"
            table.add_row(label + key, f"{r.value:g}{pm}", r.unit, r.kind, r.source, r.where, r.note)
    make_console().print(table)


def run_link(args: argparse.Namespace) -> int:
    """``qkdnet link``: one preset's link at its published length or at ``--length-km``."""
    plot = None if args.plot is None else plot_target(args.plot, f"link_{args.preset}.png")
    link = link_from_preset(args.preset, length_km=args.length_km, modes=args.modes)
    figures = link_figures(link)
    if plot is not None:
        from qkdnet.report.link_plot import link_figure

        link_figure(link, name=args.preset).save(plot)
    if args.json:
        print_json({k: figures[k] for k in LINK_FIELDS})
        return 0
    console = make_console(highlight=False)
    console.print(f"[bold]{args.preset}[/bold]: {link.description}")
    console.print(f"  scheme            {link.scheme}, {link.length_km:g} km of fiber")
    console.print(
        f"  attempt rate      {figures['attempt_rate_hz']:,.4g} /s (configured {link.attempt_rate_hz:,.4g} /s; "
        "a node waits for its herald)"
    )
    if link.modes > 1:
        console.print(
            f"  modes             {link.modes} per round (p = {link.mode_success_probability:.4g} per mode; "
            f"{link.mean_heralded_modes_per_round:.4g} heralding modes per round, one pair stored)"
        )
    console.print(f"  success per try   {figures['success_probability']:.4g}")
    console.print(f"  heralded pairs    {figures['pair_rate_hz']:.4g} /s")
    console.print(f"  pair fidelity     {figures['fidelity']:.4f}")
    console.print(
        f"  expected QBER     {100 * figures['qber']:.2f} % (Z {100 * link.expected_qber_z:.2f} %, "
        f"X {100 * link.expected_qber_x:.2f} %)"
    )
    console.print(f"  CHSH S            {figures['chsh_s']:.3f} (E91 angles; classical ≤ 2)")
    console.print(f"  secret key rate   {figures['key_rate_bps']:.4g} bit/s (asymptotic BBM92, trusted devices)")
    if plot is not None:
        console.print(f"  plot written to   {plot} (caption beside it)", soft_wrap=True)
    return 0


__all__ = ["LINK_FIELDS", "link_figures", "run_link", "run_presets"]
