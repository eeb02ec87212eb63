"""A user's own presets: read and validate preset files, install them, and register them by name.

A preset file has the schema of the shipped ones (:class:`qkdnet.hardware._catalog.PresetFile`); its errors
read like a scenario file's (``FILE: FIELD.PATH: ...``, with the closest valid name), and
:func:`~qkdnet.hardware.presets.check_provenance` runs on it. ``qkdnet presets --add FILE`` installs a file in
:func:`user_preset_dir`; a scenario's ``preset_paths`` names files or directories beside it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pydantic import BaseModel, ValidationError

from qkdnet.config._schema_errors import validation_lines
from qkdnet.config.files import read_toml
from qkdnet.errors import ConfigError, InvalidParameter
from qkdnet.hardware._catalog import PresetFile, PresetNumber, preset_from_document
from qkdnet.hardware.presets import Preset, register_preset


def user_preset_dir() -> Path:
    """Where a user's own presets live: ``$XDG_CONFIG_HOME/qkdnet/presets`` (``~/.config`` by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "qkdnet" / "presets"


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The schema model whose fields live at ``loc`` of a preset file (to list the valid ones after a typo)."""
    match loc:
        case ():
            return PresetFile
        case ("numbers" | "headline", str()):
            return PresetNumber
    return None


def read_preset_file(path: str | os.PathLike[str]) -> Preset:
    """The preset a TOML file describes, validated; :class:`~qkdnet.errors.ConfigError` lists every problem."""
    source = os.fspath(path)
    document = read_toml(source)
    try:
        return preset_from_document(document, source)
    except ValidationError as exc:
        raise ConfigError(validation_lines(source, exc, (), _model_at)) from None
    except InvalidParameter as exc:
        raise ConfigError(str(exc).splitlines()) from None


def load_preset_path(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Register the preset of a file, or of every ``*.toml`` in a directory; the names registered."""
    where = Path(path)
    if not where.exists():
        raise ConfigError([f"{where}: no such preset file or directory"])
    files = sorted(where.glob("*.toml")) if where.is_dir() else [where]
    names = []
    for file in files:
        preset = read_preset_file(file)
        if preset.name != file.stem:
            raise ConfigError([f"{file}: name: the preset {preset.name!r} must be in a file named {preset.name}.toml"])
        register_preset(preset, str(file))
        names.append(preset.name)
    return tuple(names)


def load_user_presets() -> tuple[str, ...]:
    """Register the presets installed in :func:`user_preset_dir` (none if it does not exist)."""
    directory = user_preset_dir()
    return load_preset_path(directory) if directory.is_dir() else ()


def add_preset(path: str | os.PathLike[str]) -> Path:
    """Validate a preset file and install it in :func:`user_preset_dir` (mode 0644: a preset holds no key)."""
    source = Path(path)
    preset = read_preset_file(source)
    register_preset(preset, str(source))  # refuses a shipped name before anything is written
    directory = user_preset_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{preset.name}.toml"
    shutil.copyfile(source, target)
    target.chmod(0o644)
    register_preset(preset, str(target))
    return target


__all__ = ["add_preset", "load_preset_path", "load_user_presets", "read_preset_file", "user_preset_dir"]
