"""Runners for the sweep tests, importable by worker processes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The link length at which :func:`ctrl_c_at_one_km` presses Ctrl-C.
STOP_KM = 1.0


def ctrl_c_at_one_km(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """A constant, but a KeyboardInterrupt on the 1 km point (in whichever process runs it)."""
    length = config["links"][0]["length_km"]
    if length == STOP_KM:
        raise KeyboardInterrupt
    return {"value": float(length) + seed % 7}
