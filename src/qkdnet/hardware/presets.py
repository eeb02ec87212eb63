"""Hardware presets: published atom (and ion) links, every number with its source.

A preset is the description of one published link: its scheme (``emission-absorption``, ``state-transfer``,
``two-photon`` or ``single-click``), the two nodes, the fiber between them, the detectors, optional
frequency conversion and Bell-state-measurement details, and the attempt rate, so the link can be rebuilt
at another fiber length with :meth:`Preset.with_length`. Every number the preset sets, down to nested
components (``"emitter.cavity.g_mhz"``), is a :class:`Sourced` record in ``Preset.provenance``;
``confirmed`` is True only for a value read in the cited paper's own text (or abstract). Anything else,
including numbers chosen so that the model reproduces a published result, is an estimate, and says so.
``Preset.headline`` holds the paper's published results; ``Preset.reproduces`` names those the model
is compared with in the tests (:func:`qkdnet.network.model_headline` computes the model's values).

The presets are data: one TOML file each in ``qkdnet/hardware/presets/`` (schema in
:mod:`qkdnet.hardware._catalog`). A user's own lab is registered with :func:`register_preset`; its files are
read at layer 6 by :mod:`qkdnet.config.presets` (``qkdnet presets --add FILE``, a scenario's ``preset_paths``).

>>> preset_names()  # doctest: +NORMALIZE_WHITESPACE
('hofmann2012', 'knaut2024', 'krutyanskiy2023', 'liu2024', 'nadlinger2022', 'nolleke2013', 'ritter2012',
 'stolk2024', 'vanleent2022', 'zhang2022')
>>> p = get_preset("ritter2012")
>>> p.fiber.length_km, p.provenance["fiber.length_km"].status
(0.06, 'estimate')
>>> get_preset("zhang2022").with_length(0.06).fiber.length_km
0.06
"""

from __future__ import annotations

import functools

from qkdnet.errors import InvalidParameter
from qkdnet.hardware._records import (
    MODEL_CHOICE,
    SCHEMES,
    Preset,
    Scheme,
    Sourced,
    check_provenance,
    numbers_of,
)

#: A user's presets registered in this process, by name, with where each came from.
_registered: dict[str, tuple[Preset, str]] = {}


@functools.cache
def _packaged() -> dict[str, Preset]:
    from qkdnet.hardware._catalog import packaged_presets  # pydantic and the files load on first use only

    return packaged_presets()


def packaged_preset_names() -> tuple[str, ...]:
    """Names of the presets shipped with qkdnet, sorted."""
    return tuple(sorted(_packaged()))


def register_preset(preset: Preset, origin: str) -> None:
    """Make a user's preset available by name (after :func:`check_provenance`); ``origin`` says where it came from.

    A shipped name cannot be taken; registering the same name again replaces the earlier preset.
    """
    if preset.name in _packaged():
        raise InvalidParameter(f"{origin}: name: {preset.name!r} is a preset shipped with qkdnet; choose another name")
    _registered[preset.name] = (check_provenance(preset), origin)


def preset_origin(name: str) -> str:
    """``"shipped"`` for a preset of qkdnet, else where the user's preset was read."""
    get_preset(name)
    return "shipped" if name in _packaged() else _registered[name][1]


def _all() -> dict[str, Preset]:
    return {**_packaged(), **{name: preset for name, (preset, _) in _registered.items()}}


def preset_names() -> tuple[str, ...]:
    """Names of the available presets (shipped and registered), sorted."""
    return tuple(sorted(_all()))


def get_preset(name: str) -> Preset:
    """The preset called ``name``; InvalidParameter listing the valid names otherwise."""
    presets = _all()
    try:
        return presets[name]
    except (KeyError, TypeError):
        raise InvalidParameter(f"unknown hardware preset {name!r}; valid names: {', '.join(sorted(presets))}") from None


__all__ = [
    "MODEL_CHOICE",
    "SCHEMES",
    "Preset",
    "Scheme",
    "Sourced",
    "check_provenance",
    "get_preset",
    "numbers_of",
    "packaged_preset_names",
    "preset_names",
    "preset_origin",
    "register_preset",
]
