"""The ``qkdnet`` command: ``demo``, ``e91``, ``bbm92``, ``presets``, ``link`` and ``simulate``.

Bad flags give one line on stderr and exit code 2.
"""

from qkdnet.cli.main import main

__all__ = ["main"]
