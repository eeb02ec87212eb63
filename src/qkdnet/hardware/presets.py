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

The presets are data: one TOML file each in ``qkdnet/hardware/presets/`` (schema and loader in
:mod:`qkdnet.hardware._catalog`), and a user's own lab in :func:`user_preset_dir` (``qkdnet presets --add FILE``).

>>> preset_names()
('hofmann2012', 'nadlinger2022', 'nolleke2013', 'ritter2012', 'vanleent2022', 'zhang2022')
>>> p = get_preset("ritter2012")
>>> p.fiber.length_km, p.provenance["fiber.length_km"].status
(0.06, 'estimate')
>>> get_preset("zhang2022").with_length(0.06).fiber.length_km
0.06
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from qkdnet.errors import InvalidParameter
from qkdnet.hardware._catalog import PACKAGED_DIR, load_directory, load_preset_file
from qkdnet.hardware._records import (
    MODEL_CHOICE,
    SCHEMES,
    Preset,
    Scheme,
    Sourced,
    check_provenance,
    numbers_of,
)


def user_preset_dir() -> Path:
    """Where a user's own presets live: ``$XDG_CONFIG_HOME/qkdnet/presets`` (``~/.config`` by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "qkdnet" / "presets"


@functools.cache
def _packaged() -> dict[str, Preset]:
    return load_directory(PACKAGED_DIR)


@functools.lru_cache(maxsize=8)
def _user(directory: Path, signature: tuple[tuple[str, int, int], ...]) -> dict[str, Preset]:
    """The user's presets, re-read when a file in the directory changes (``signature``: names, sizes, mtimes)."""
    del signature
    presets = load_directory(directory)
    shadowing = sorted(set(presets) & set(_packaged()))
    if shadowing:
        raise InvalidParameter(f"{directory}: user presets {shadowing} shadow presets shipped with qkdnet; rename them")
    return presets


def _all() -> dict[str, Preset]:
    directory = user_preset_dir()
    files = sorted(directory.glob("*.toml")) if directory.is_dir() else []
    signature = tuple((p.name, (st := p.stat()).st_size, st.st_mtime_ns) for p in files)
    return {**_packaged(), **_user(directory, signature)} if files else _packaged()


def packaged_preset_names() -> tuple[str, ...]:
    """Names of the presets shipped with qkdnet, sorted."""
    return tuple(sorted(_packaged()))


def preset_names() -> tuple[str, ...]:
    """Names of the available presets (shipped and the user's own), sorted."""
    return tuple(sorted(_all()))


def get_preset(name: str) -> Preset:
    """The preset called ``name``; InvalidParameter listing the valid names otherwise."""
    presets = _all()
    try:
        return presets[name]
    except (KeyError, TypeError):
        raise InvalidParameter(f"unknown hardware preset {name!r}; valid names: {', '.join(sorted(presets))}") from None


def add_preset(path: str | os.PathLike[str]) -> Path:
    """Validate a preset file (schema and :func:`check_provenance`) and install it in :func:`user_preset_dir`."""
    source = Path(path)
    preset = load_preset_file(source)
    if preset.name in _packaged():
        raise InvalidParameter(f"{source}: name: {preset.name!r} is a preset shipped with qkdnet; choose another name")
    directory = user_preset_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{preset.name}.toml"
    shutil.copyfile(source, target)
    target.chmod(0o644)  # no key material: readable is fine
    return target


__all__ = [
    "MODEL_CHOICE",
    "SCHEMES",
    "Preset",
    "Scheme",
    "Sourced",
    "add_preset",
    "check_provenance",
    "get_preset",
    "load_preset_file",
    "numbers_of",
    "packaged_preset_names",
    "preset_names",
    "user_preset_dir",
]
