"""Which module runs each ``qkdnet`` command: imported on demand, so a command loads only what it needs."""

from __future__ import annotations

import argparse


def dispatch(args: argparse.Namespace) -> int:
    """Run the chosen command; return its exit code."""
    preset = getattr(args, "preset", None)
    if args.command != "presets" and isinstance(preset, str):
        from qkdnet.hardware import preset_names

        # A --preset may name the user's own lab (qkdnet presets --add). A shipped name cannot be a user's, so
        # the user's files (and the pydantic that validates them) are read only for a name qkdnet lacks.
        if preset not in preset_names():
            from qkdnet.config.presets import load_user_presets

            load_user_presets()
    if args.command == "demo":
        from qkdnet.cli.demo import run_demo

        return run_demo(args)
    if args.command in ("presets", "link"):
        from qkdnet.cli.link import run_link, run_presets

        return run_presets(args) if args.command == "presets" else run_link(args)
    if args.command in ("send", "receive"):
        from qkdnet.cli.otp_transfer import run_transfer_command

        return run_transfer_command(args)
    if args.command in ("link-emulator", "node"):
        from qkdnet.cli.daemons import run_daemon_command

        return run_daemon_command(args)
    if args.command == "network":
        from qkdnet.cli.network import run_network_command

        return run_network_command(args)
    if args.command == "attack":
        from qkdnet.cli.attack import run_attack_command

        return run_attack_command(args)
    if args.command == "simulate":
        from qkdnet.cli.simulate import run_simulate

        return run_simulate(args)
    if args.command in ("kme", "pki"):
        from qkdnet.cli.kme import run_kme, run_pki

        return run_kme(args) if args.command == "kme" else run_pki(args)
    if args.command in ("sweep", "plot", "report"):
        from qkdnet.cli.sweep import run_plot_command, run_report_command, run_sweep_command

        commands = {"sweep": run_sweep_command, "plot": run_plot_command, "report": run_report_command}
        return commands[args.command](args)
    if args.command == "design":
        from qkdnet.cli.design import run_design_command

        return run_design_command(args)
    if args.command in ("postprocess", "timetags"):
        from qkdnet.cli.recorded import run_recorded_command

        return run_recorded_command(args)
    from qkdnet.cli.commands import run_protocol_command

    return run_protocol_command(args)
