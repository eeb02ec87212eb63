"""Physical component models and published hardware presets (layer 2: uses quantum and layer 0 only).

Components turn parameters into probabilities, delays and noise strengths; presets bundle them with
the source of every number.

>>> from qkdnet.hardware import Fiber, get_preset
>>> round(Fiber(length_km=10.0, attenuation_db_per_km=0.2).transmission, 4)
0.631
>>> get_preset("ritter2012").emitter.name
'A'
"""

from qkdnet.hardware import noise
from qkdnet.hardware.cavity import CavityQED
from qkdnet.hardware.components import (
    DEFAULT_GROUP_INDEX,
    FIBER_ATTENUATION_DB_PER_KM,
    AtomCavityNode,
    Detector,
    Fiber,
    fiber_attenuation_db_per_km,
    werner_visibility,
)
from qkdnet.hardware.memory import DynamicalDecoupling, QuantumMemory
from qkdnet.hardware.photonics import BellStateMeasurement, FrequencyConverter, HeraldProbabilities
from qkdnet.hardware.presets import Preset, Sourced, get_preset, preset_names

__all__ = [
    "DEFAULT_GROUP_INDEX",
    "FIBER_ATTENUATION_DB_PER_KM",
    "AtomCavityNode",
    "BellStateMeasurement",
    "CavityQED",
    "Detector",
    "DynamicalDecoupling",
    "Fiber",
    "FrequencyConverter",
    "HeraldProbabilities",
    "Preset",
    "QuantumMemory",
    "Sourced",
    "fiber_attenuation_db_per_km",
    "get_preset",
    "noise",
    "preset_names",
    "werner_visibility",
]
