"""The discrete-event kernel: an integer-picosecond clock, events, generator processes, loud failures.

Layer 1, standard library only: it never imports physics or protocols. Processes are generators that
``yield`` an :class:`Event`, a :class:`Timeout`, a condition (``env.all_of``/``env.any_of``) or a plain
``int`` delay in picoseconds. Modelled on SimPy's core; chosen over SimPy itself by measurement
(``benchmarks/engine.py``).
"""

from qkdnet.engine.core import EmptySchedule, Environment
from qkdnet.engine.events import NORMAL, URGENT, Condition, Event, Interrupt, Process, ProcessGenerator, Timeout

__all__ = [
    "NORMAL",
    "URGENT",
    "Condition",
    "EmptySchedule",
    "Environment",
    "Event",
    "Interrupt",
    "Process",
    "ProcessGenerator",
    "Timeout",
]
