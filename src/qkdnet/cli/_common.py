"""What every subcommand of ``qkdnet`` shares: the one-line usage error, argparse value checkers, JSON output.

Below :mod:`qkdnet.cli.main` (which builds the parser) and every subcommand, so none of them imports another
to reach these.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

if TYPE_CHECKING:
    from rich.console import Console

EXIT_USAGE = 2
T = TypeVar("T")

#: The names of the reconciler registry (:data:`qkdnet.postprocess.RECONCILERS`), sorted, as ``--reconciler``
#: offers them: spelled out so that building a parser does not import post-processing (numba, scipy; ~0.1 s of
#: every command's start-up). A test checks they are the registry's.
RECONCILER_NAMES: tuple[str, ...] = (
    "cascade",
    "cascade-biconf",
    "cascade-option7",
    "cascade-option8",
    "cascade-original",
    "cascade-yanetal",
    "ldpc",
)


class UsageError(Exception):
    """A bad flag or value: reported in one line, exit code 2."""


#: Columns a console lays out in when it writes to a file or a pipe (CI logs, ``> log``): rich's default there is
#: 80, which cut table cells ("deliver…") and split long lines. ``COLUMNS`` in the environment still wins.
PIPE_WIDTH = 200


def make_console(*, stderr: bool = False, **options: Any) -> Console:
    """A rich console for a command's output: the terminal's width on a terminal, :data:`PIPE_WIDTH` otherwise."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if "width" not in options and "COLUMNS" not in os.environ and not stream.isatty():
        options["width"] = PIPE_WIDTH
    return Console(stderr=stderr, **options)


def check_writable(path: Path, flag: str, *, folder: bool = False) -> None:
    """An output path (a file, or with ``folder`` a folder) we can create, checked before any work: its nearest
    existing ancestor is a folder we may write in (missing folders between are made by the command)."""
    if folder and path.exists() and not path.is_dir():
        raise UsageError(f"{flag}: {str(path)!r} exists and is not a folder")
    ancestor = path if folder else path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{flag}: {str(ancestor)!r} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"{flag}: cannot write in {str(ancestor)!r}")


#: The image formats a figure is written in, chosen by the file's suffix.
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def plot_target(value: str | Path, default_name: str) -> Path:
    """Where ``--plot VALUE`` writes its figure, checked before any work, the same in every command: a name
    ending in a figure suffix is that file; an existing folder, or a new name without a suffix (created now),
    gets ``default_name`` inside it. The caption goes beside the figure as ``FILE.caption.txt``."""
    path = Path(value)
    if path.suffix.lower() in FIGURE_SUFFIXES:
        if not path.parent.resolve().is_dir():
            raise UsageError(f"--plot: directory {str(path.parent)!r} does not exist")
        return path
    if path.is_dir():
        return path / default_name
    if path.suffix:
        raise UsageError(f"--plot must end in {', '.join(FIGURE_SUFFIXES)} (or name a folder), got {str(path)!r}")
    if path.exists():
        raise UsageError(f"--plot: {str(path)!r} exists and is not a folder")
    if not path.parent.resolve().is_dir():
        raise UsageError(f"--plot: directory {str(path.parent)!r} does not exist")
    path.mkdir()
    return path / default_name


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so every error is one line, and takes no
    abbreviated option (``--pair 1000`` is an error, not a silent ``--pairs``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

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
_open_fraction = _checked(float, lambda v: math.isfinite(v) and 0.0 < v < 1.0, "a number in (0, 1)")
_positive_int = _checked(lambda t: int(t.replace("_", "")), lambda v: v >= 1, "a positive integer")
_seed = _checked(int, lambda v: v >= 0, "a non-negative integer")
_length_km = _checked(float, lambda v: math.isfinite(v) and v >= 0.0, "a length in km >= 0")
_angle_deg = _checked(float, math.isfinite, "an angle in degrees")
_port = _checked(int, lambda v: 0 <= v <= 65535, "a TCP port in 0-65535")


def _fraction_list(text: str) -> list[float]:
    """Comma-separated numbers in [0, 1], e.g. ``0,0.1,0.25``."""
    try:
        return [_fraction(part) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers in [0, 1], got {text!r}") from None


def print_json(obj: object) -> None:
    """Print one JSON object on stdout."""
    print(json.dumps(obj, indent=2, ensure_ascii=False))
