"""Shared by the reference benchmarks: the pinned SeQUeNCe venv, medians, means and rates with their errors.

SeQUeNCe is pinned here, in one place (:data:`SEQUENCE_VERSION`), and installed by the scripts themselves into a
throwaway venv outside the repository (``~/.cache/qkdnet-bench/sequence-<version>``); it is never a qkdnet
dependency. 0.8.5 is the newest release that installs on Python 3.11 (1.x needs Python >= 3.12).
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

SEQUENCE_VERSION = "0.8.5"
DEFAULT_SEQUENCE_VENV = Path.home() / ".cache" / "qkdnet-bench" / f"sequence-{SEQUENCE_VERSION}"
INSTALL_TIMEOUT_S = 900


class ReferenceUnavailable(Exception):
    """SeQUeNCe could not be installed or run; the message is the one-line reason."""


def last_line(text: str) -> str:
    """The last non-blank line of a child's output (its JSON result or its error)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def ensure_sequence_venv(venv: Path = DEFAULT_SEQUENCE_VENV) -> Path:
    """Create (or reuse) ``venv`` with ``sequence==SEQUENCE_VERSION``; return its interpreter."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating virtualenv {venv} ...", file=sys.stderr)
        venv.parent.mkdir(parents=True, exist_ok=True)
        base = getattr(sys, "_base_executable", sys.executable)
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [base, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
        if proc.returncode != 0:
            raise ReferenceUnavailable(f"could not create virtualenv {venv}: {last_line(proc.stderr)}")
    probe = subprocess.run(  # noqa: S603
        [str(python), "-c", "from importlib.metadata import version; print(version('sequence'))"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if probe.returncode != 0 or probe.stdout.strip() != SEQUENCE_VERSION:
        print(f"pip-installing sequence=={SEQUENCE_VERSION} into {venv} ...", file=sys.stderr)
        proc = subprocess.run(  # noqa: S603
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"sequence=={SEQUENCE_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
        if proc.returncode != 0:
            raise ReferenceUnavailable(f"pip install sequence=={SEQUENCE_VERSION} failed: {last_line(proc.stderr)}")
    return python


def median(values: Sequence[float]) -> float:
    """The median of the runs (NaN for none)."""
    return statistics.median(values) if values else math.nan


def mean_and_error(values: Sequence[float]) -> tuple[float, float]:
    """Sample mean and its standard error (NaN error for fewer than two values)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = math.fsum(values) / n
    if n < 2:
        return mean, math.nan
    return mean, statistics.stdev(values) / math.sqrt(n)


def rate_and_error(times_s: Sequence[float], start_s: float = 0.0) -> tuple[float, float]:
    """Pair rate from delivery times: 1 / mean inter-delivery interval, with its delta-method standard error."""
    if len(times_s) < 2:
        return math.nan, math.nan
    ordered = sorted(times_s)
    gaps = [b - a for a, b in zip([start_s, *ordered[:-1]], ordered, strict=True)]
    mean_gap, err_gap = mean_and_error(gaps)
    if mean_gap <= 0:
        return math.nan, math.nan
    return 1.0 / mean_gap, err_gap / mean_gap**2


def agree(a: tuple[float, float], b: tuple[float, float], sigmas: float = 3.0) -> bool:
    """Two (mean, standard error) pairs agree within ``sigmas`` combined errors (exactly, if both errors are 0)."""
    (ma, ea), (mb, eb) = a, b
    if any(math.isnan(x) for x in (ma, mb)):
        return False
    ea = 0.0 if math.isnan(ea) else ea
    eb = 0.0 if math.isnan(eb) else eb
    return abs(ma - mb) <= sigmas * math.hypot(ea, eb) + 1e-9 * max(abs(ma), abs(mb), 1.0)
