"""Physical component models and published hardware presets (layer 2: uses quantum and layer 0 only).

Components turn parameters into probabilities, delays and noise strengths; presets bundle them with
the source of every number.

>>> from qkdnet.hardware import Fiber, get_preset
>>> round(Fiber(length_km=10.0, attenuation_db_per_km=0.2).transmission, 4)
0.631
>>> get_preset("ritter2012").emitter.name
'A'
"""

from qkdnet.hardware.components import (
    DEFAULT_GROUP_INDEX,
    AtomCavityNode,
    Detector,
    Fiber,
    werner_visibility,
)
from qkdnet.hardware.presets import Preset, Sourced, get_preset, preset_names

__all__ = [
    "DEFAULT_GROUP_INDEX",
    "AtomCavityNode",
    "Detector",
    "Fiber",
    "Preset",
    "Sourced",
    "get_preset",
    "preset_names",
    "werner_visibility",
]
