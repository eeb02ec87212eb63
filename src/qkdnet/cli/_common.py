"""What every subcommand of ``qkdnet`` shares: the one-line usage error, argparse value checkers, JSON output.

Below :mod:`qkdnet.cli.main` (which builds the parser) and every subcommand, so none of them imports another
to reach these.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import NoReturn, TypeVar

EXIT_USAGE = 2
T = TypeVar("T")


class UsageError(Exception):
    """A bad flag or value: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so every error is one line."""

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
_positive_int = _checked(lambda t: int(t.replace("_", "")), lambda v: v >= 1, "a positive integer")
_seed = _checked(int, lambda v: v >= 0, "a non-negative integer")
_length_km = _checked(float, lambda v: math.isfinite(v) and v >= 0.0, "a length in km >= 0")
_angle_deg = _checked(float, math.isfinite, "an angle in degrees")


def _fraction_list(text: str) -> list[float]:
    """Comma-separated numbers in [0, 1], e.g. ``0,0.1,0.25``."""
    try:
        return [_fraction(part) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers in [0, 1], got {text!r}") from None


def print_json(obj: object) -> None:
    """Print one JSON object on stdout."""
    print(json.dumps(obj, indent=2, ensure_ascii=False))
