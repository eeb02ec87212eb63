"""The ``qkdnet`` command: ``demo``, ``e91`` and ``bbm92``. Bad flags give one line on stderr and exit code 2."""

from qkdnet.cli.main import main

__all__ = ["main"]
