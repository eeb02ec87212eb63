"""``python -m qkdnet`` runs the ``qkdnet`` command."""

import sys

from qkdnet.cli import main

sys.exit(main())
