"""Files that hold key material: created owner-only (0600, directories 0700) whatever the umask, and checked.

Every writer of a pool, a node state, a bootstrap key, a private TLS key, a one-time pad or a decrypted file
goes through :func:`write_private`, :func:`create_private` or :func:`prepare_private_sqlite`; a daemon
refuses to start on such a file that other users may read (:func:`require_private`), with one line naming
the file and the fix. SQLite creates a database's ``-wal``, ``-shm`` and ``-journal`` files with the main
file's permissions, so creating the main file 0600 first covers them; existing ones are checked as well.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from qkdnet.errors import ConfigError

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and missing parents) as 0700 directories; existing directories are left as they are."""
    directory = Path(path)
    missing = []
    for parent in (directory, *directory.parents):
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile: theirs to set
            parent.mkdir(mode=PRIVATE_DIR_MODE)
            os.chmod(parent, PRIVATE_DIR_MODE)  # mkdir's mode passes through the umask
    return directory


def create_private(path: str | os.PathLike[str], flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """Open ``path`` for writing as an owner-only file (also one that existed with wider bits); return the fd."""
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` as an owner-only file (mode 0600 whatever the umask)."""
    with os.fdopen(create_private(path), "wb") as out:
        out.write(data)


def exposed(path: str | os.PathLike[str]) -> str | None:
    """One line saying how ``path`` is open to other users, or None if it is owner-only (or absent)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    if not mode & 0o077:
        return None
    return (
        f"{path}: holds key material but other users may access it (mode {stat.filemode(mode)}); "
        f"fix with: chmod 600 {path}"
    )


def require_private(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Raise ConfigError (one line per file) if any existing file in ``paths`` is open to other users."""
    problems = [line for line in map(exposed, paths) if line is not None]
    if problems:
        raise ConfigError(problems)


def sqlite_files(path: str | os.PathLike[str]) -> list[Path]:
    """A SQLite database's main file and the side files SQLite may keep beside it."""
    main = Path(path)
    return [main, *(main.with_name(main.name + suffix) for suffix in SQLITE_SIDE_FILES)]


def prepare_private_sqlite(path: str | os.PathLike[str]) -> None:
    """Refuse a key database others may read; create a new one 0600 (SQLite then opens it, and says why not)."""
    require_private(sqlite_files(path))
    main = Path(path)
    if not main.exists() and main.parent.is_dir():
        os.close(create_private(main, os.O_WRONLY | os.O_CREAT))


__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "create_private",
    "exposed",
    "prepare_private_sqlite",
    "private_dir",
    "require_private",
    "sqlite_files",
    "write_private",
]
