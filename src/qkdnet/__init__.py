"""qkdnet: quantum networks of single atoms linked by photons, and the secret keys they make."""

from qkdnet._version import __version__

__all__ = ["__version__"]
