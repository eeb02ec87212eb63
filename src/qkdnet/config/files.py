"""Reading a configuration file's text or TOML, with the one-line errors every qkdnet file reader gives."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from qkdnet.errors import ConfigError


def read_text(path: str | os.PathLike[str]) -> str:
    """The file's UTF-8 text, or a :class:`ConfigError` naming the file and what kept it from being read."""
    source = os.fspath(path)
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read the file: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{source}: cannot read the file: not UTF-8 text"]) from None


def parse_toml(text: str, *, source: str) -> dict[str, Any]:
    """TOML ``text`` parsed, or a :class:`ConfigError` ``SOURCE: invalid TOML: ...``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: invalid TOML: {exc}"]) from None


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A TOML file parsed (:func:`read_text`, then :func:`parse_toml`)."""
    return parse_toml(read_text(path), source=os.fspath(path))


__all__ = ["parse_toml", "read_text", "read_toml"]
