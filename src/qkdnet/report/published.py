"""Published experimental points for the figures, read from the presets' ``headline`` records.

Each point sits at the preset's published fiber length and carries its source. Pair rates are drawn on the
key-rate axes as upper bounds (a heralded qubit pair gives at most one secret bit). Key points:

* Zhang et al., Nature 607, 687 (2022): 0.07 bit per event, asymptotic DIQKD (``secret_key_bits_per_event``).
* Nadlinger et al., Nature 607, 682 (2022): 95,628 key bits from 1.5 million Bell pairs (abstract), i.e.
  0.064 bit per pair, and at their 52 pairs/s (``pair_rate_hz``) 3.3 bit/s.

>>> [(p.preset, round(p.value, 2)) for p in key_points()]
[('nadlinger2022', 3.32)]
>>> round(next(p for p in key_per_pair_points() if p.preset == "nadlinger2022").value, 4)
0.0638
"""

from __future__ import annotations

from dataclasses import dataclass

from qkdnet.hardware import Preset, get_preset, preset_names

#: Bell pairs behind Nadlinger et al.'s 95,628 key bits ("1.5 million Bell pairs", abstract, Nature 607, 682).
NADLINGER2022_PAIRS = 1.5e6


@dataclass(frozen=True, slots=True)
class PublishedPoint:
    """One published number at one fiber length, with its uncertainty (or None) and its source."""

    preset: str
    length_km: float
    value: float
    uncertainty: float | None
    source: str
    note: str


def _point(preset: Preset, value: float, uncertainty: float | None, source: str, note: str) -> PublishedPoint:
    length = preset.published_length_km if preset.published_length_km is not None else preset.fiber.length_km
    return PublishedPoint(preset.name, float(length), float(value), uncertainty, source, note)


def pair_rate_points() -> list[PublishedPoint]:
    """Every preset's published heralded pair rate (pairs/s)."""
    out = []
    for name in preset_names():
        p = get_preset(name)
        record = p.headline.get("pair_rate_hz")
        if record is not None:
            out.append(_point(p, record.value, record.uncertainty, record.source, record.note))
    return out


def key_per_pair_points() -> list[PublishedPoint]:
    """Published secret key per heralded pair (bit): Nadlinger et al. 2022 and Zhang et al. 2022."""
    out = []
    for name in preset_names():
        p = get_preset(name)
        if "key_bits" in p.headline:
            record = p.headline["key_bits"]
            out.append(_point(p, record.value / NADLINGER2022_PAIRS, None, record.source, record.note))
        if "secret_key_bits_per_event" in p.headline:
            record = p.headline["secret_key_bits_per_event"]
            out.append(_point(p, record.value, record.uncertainty, record.source, record.note))
    return out


def key_points() -> list[PublishedPoint]:
    """Published secret key rates (bit/s): key per pair × published pair rate, where both are published."""
    rates = {p.preset: p for p in pair_rate_points()}
    out = []
    for point in key_per_pair_points():
        rate = rates.get(point.preset)
        value = point.value * rate.value if rate is not None else None
        note = f"{point.note}; × {rate.value:g} pairs/s" if rate is not None else point.note
        out.append(PublishedPoint(point.preset, point.length_km, value or 0.0, None, point.source, note))
    return [p for p in out if p.value > 0]


__all__ = [
    "NADLINGER2022_PAIRS",
    "PublishedPoint",
    "key_per_pair_points",
    "key_points",
    "pair_rate_points",
]
