"""Imported by the forkserver of a process sweep: warm the runners named in ``QKDNET_SWEEP_WARM`` once there,
so every forked worker starts with the lazy imports done and the numba kernels loaded (seconds per worker)."""

from __future__ import annotations

import os

from qkdnet.sweep.runners import warm_up

warm_up(tuple(n for n in os.environ.get("QKDNET_SWEEP_WARM", "").split(",") if n))
