"""``qkdnet kme`` (serve a node's ETSI GS QKD 014 API) and ``qkdnet pki init`` (a throwaway test PKI)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from qkdnet.cli._common import _port, _positive_int

DEFAULT_KMES = ("KME_A", "KME_B")
DEFAULT_SAES = ("SAE_A", "SAE_B")


def add_kme_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """Register ``kme`` and ``pki init`` on the ``qkdnet`` parser."""
    kme = sub.add_parser(
        "kme",
        help="serve a node's ETSI GS QKD 014 key delivery API over mutual TLS",
        description="Serve the KME of a node config ([kme], [api], [saes]) until interrupted: HTTPS with client "
        "certificates required, the caller's ID taken from its certificate's common name.",
    )
    kme.add_argument("--config", required=True, type=Path, metavar="NODE.toml", help="the node's config file")
    kme.add_argument("--port", type=_port, default=None, metavar="N", help="override [api] port")
    kme.add_argument("--no-access-log", action="store_true", help="do not log each request (method, path, status)")
    pki = sub.add_parser("pki", help="'pki init DIR': a test CA and certificates for KMEs and SAEs")
    nested = pki.add_subparsers(dest="pki_command", metavar="init", parser_class=type(pki))
    init = nested.add_parser(
        "init",
        help="write ca.crt and ID.crt/ID.key for every KME and SAE into DIR (private keys mode 0600)",
        description="A throwaway PKI for tests and demos: ECDSA P-256, CN = the KME or SAE ID; KME certificates "
        "are valid for localhost and 127.0.0.1. A deployment uses its own CA.",
    )
    init.add_argument("directory", type=Path, metavar="DIR")
    init.add_argument("--kme", action="append", default=None, metavar="ID", help=f"a KME ID (default {DEFAULT_KMES})")
    init.add_argument("--sae", action="append", default=None, metavar="ID", help=f"an SAE ID (default {DEFAULT_SAES})")
    init.add_argument("--days", type=_positive_int, default=365, metavar="N", help="validity in days (default 365)")


def run_kme(args: argparse.Namespace) -> int:
    """Load the node config (one clear line per problem) and serve its API."""
    from qkdnet.kms.config import load_node_config
    from qkdnet.kms.server import serve

    config = load_node_config(args.config)
    if args.port is not None:
        config = config.model_copy(update={"api": config.api.model_copy(update={"port": args.port})})
    serve(config, access_log=not args.no_access_log)
    return 0


def run_pki(args: argparse.Namespace) -> int:
    """Write the test PKI and list what was written."""
    from qkdnet.cli._common import UsageError, check_writable
    from qkdnet.kms.pki import init_pki

    if args.pki_command != "init":
        raise UsageError("pki needs a subcommand: qkdnet pki init DIR")
    check_writable(args.directory, "pki init DIR", folder=True)
    files = init_pki(
        args.directory,
        kme_ids=args.kme or DEFAULT_KMES,
        sae_ids=args.sae or DEFAULT_SAES,
        validity_days=args.days,
    )
    print(f"CA certificate: {files.ca}")
    for entity, credential in files.credentials.items():
        print(f"{entity}: {credential.cert} (key {credential.key.name})")
    sys.stdout.flush()
    return 0


__all__ = ["add_kme_commands", "run_kme", "run_pki"]
