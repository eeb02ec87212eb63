"""`qkdnet demo --system` (run by `make demo` after the story): the key network, then Eve, then a clean stop."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import qkdnet


def test_system_demo_delivers_the_file_then_catches_eve(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(qkdnet.__file__).parents[1]), "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "qkdnet", "demo", "--system"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    out = " ".join(done.stdout.split())  # rich wraps long lines
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every tag verified" in out and "identical to SAE_A's" in out
    # The nodes found the time taggers' clocks from the clicks alone: 0.3141 s apart, Bob's 1.5 ppm fast.
    clocks = re.findall(r"Bob's clock \+(0\.31410\d+) s from mine, drifting \+?(-?[0-9.]+) ppm", out)
    assert clocks and all(abs(float(drift) - 1.5) < 0.01 for _, drift in clocks), out
    assert "both nodes abort every block: QBER" in out and "no key delivered: yes" in out
    assert out.count("every process ended on SIGTERM: True") == 2
    assert list(tmp_path.iterdir()) == []  # the throwaway directories are gone


def test_network_demo_relays_a_key_then_routes_around_eve(tmp_path: Path) -> None:
    """`qkdnet demo --network`: metro5 up, a key SAE_a → SAE_c by relay, one end to end over the swapped link
    a–b–c, Eve on b–c, the next relayed key avoids b–c."""
    env = {**os.environ, "PYTHONPATH": str(Path(qkdnet.__file__).parents[1]), "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "qkdnet", "demo", "--network"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    out = " ".join(done.stdout.split())
    assert done.returncode == 0, done.stdout + done.stderr
    paths = re.findall(r"relayed along (KME_a(?: → KME_[a-e])+)", out)
    assert len(paths) == 2 and paths[0].endswith("KME_c") and paths[1].endswith("KME_c"), out
    assert "KME_b → KME_c" not in paths[1]
    assert out.count("the same 256 bits at both ends") == 3
    assert "its own link's key: no node between held it" in out and "nobody else held them" in out
    assert "b–c aborts block after block: QBER" in out and "the key avoided Eve's link: yes" in out
    assert "12 processes ended on SIGTERM: True" in out
    assert list(tmp_path.iterdir()) == []
