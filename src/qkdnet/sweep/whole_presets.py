"""Presets stay whole in a sweep: varying a link's preset brings the preset's heralding scheme and node hardware.

A preset describes one published experiment: its link, its scheme and its atoms. Sweeping ``link.preset``
over a scenario written for another preset would otherwise keep the scenario's scheme and nodes and model
hardware that exists nowhere (nolleke2013's atoms heralded by ritter2012's emission-absorption). A hybrid is
still possible when asked for explicitly, by varying the scheme or a node's preset in the same sweep, and
:func:`hybrid_parts` names what it mixes so tables and figures can label it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from qkdnet.sweep.document import Scalar, SweepDocument, set_field

_LINK_PRESET = re.compile(r"^links\[(?P<index>\d+)\]\.preset$")


def _scheme(preset: str) -> str:
    from qkdnet.hardware import get_preset

    return get_preset(preset).scheme


def keep_presets_whole(doc: SweepDocument, values: Mapping[str, Scalar]) -> SweepDocument:
    """``doc`` with every link whose preset ``values`` sets heralded by that preset's scheme and its two end
    nodes on that preset's hardware, except where ``values`` sets those fields too (an explicit hybrid)."""
    links = doc.scenario.get("links") or []
    for field, preset in values.items():
        match = _LINK_PRESET.match(field)
        if match is None or not isinstance(preset, str):
            continue
        index = int(match["index"])
        heralding = f"links[{index}].heralding"
        if heralding not in values:
            doc = set_field(doc, heralding, _scheme(preset))
        for node in links[index].get("endpoints", ()):
            node_preset = f"nodes.{node}.preset"
            if node_preset not in values and node in (doc.scenario.get("nodes") or {}):
                doc = set_field(doc, node_preset, preset)
    return doc


def hybrid_parts(config: Mapping[str, Any]) -> list[str]:
    """What a resolved configuration mixes into its links' presets: a scheme or end-node hardware of another
    preset, one phrase each (empty for hardware that was built)."""
    nodes = config.get("nodes") or {}
    parts = []
    for link in config.get("links") or []:
        preset = link.get("preset")
        if not isinstance(preset, str):
            continue
        heralding = link.get("heralding")
        if heralding is not None and heralding != _scheme(preset):
            parts.append(f"{heralding} heralding")
        for node in link.get("endpoints", ()):
            other = (nodes.get(node) or {}).get("preset")
            if other is not None and other != preset:
                parts.append(f"{node}: {other}")
    return parts


__all__ = ["hybrid_parts", "keep_presets_whole"]
