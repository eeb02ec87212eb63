"""The environment: an integer-picosecond clock and a heap of events ordered by (time, priority, sequence).

Modelled on SimPy's ``core.py``. Ties at the same time go to the lower priority value, then to the event
queued first, so a run is a deterministic function of its inputs. A failed event that nothing handled
stops the run at once: :meth:`Environment.run` raises :class:`~qkdnet.errors.ProcessFailed` naming the
process (or :class:`~qkdnet.errors.SimulationError` for a plain event), with the original exception as
its cause. Nothing is swallowed.

>>> env = Environment()
>>> def blink(env, period_ps):
...     while True:
...         yield period_ps
...         log.append(env.now)
>>> log = []
>>> _ = env.process(blink(env, 1_000))
>>> env.run(until=3_500)
>>> log, env.now
([1000, 2000, 3000], 3500)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from heapq import heappop, heappush
from itertools import count
from operator import index
from typing import Any

from qkdnet.engine.events import (
    _ORIGIN,
    NORMAL,
    PENDING,
    Condition,
    Event,
    Process,
    ProcessGenerator,
    Timeout,
    all_events,
    any_event,
    origin_of,
)
from qkdnet.errors import InvalidParameter, ProcessFailed, SimulationError


class EmptySchedule(SimulationError):
    """:meth:`Environment.step` was called with no event left in the queue."""


class Environment:
    """A simulated clock (integer picoseconds) and its event queue; processes run in it."""

    def __init__(self, initial_time_ps: int = 0) -> None:
        start = index(initial_time_ps)
        if start < 0:
            raise InvalidParameter(f"initial_time_ps must be >= 0, got {start}")
        self._now = start
        self._queue: list[tuple[int, int, int, Event]] = []
        self._seq = count()
        self._active_process: Process | None = None
        self.processed_events = 0
        """How many events have been processed so far (for throughput figures)."""

    @property
    def now(self) -> int:
        """The current simulated time in picoseconds."""
        return self._now

    @property
    def active_process(self) -> Process | None:
        """The process whose generator is running right now (``None`` between events)."""
        return self._active_process

    def schedule(self, event: Event, priority: int = NORMAL, delay_ps: int = 0) -> None:
        """Queue a triggered event to be processed ``delay_ps`` (an integer >= 0) from now."""
        if delay_ps < 0:
            raise InvalidParameter(f"delay_ps must be >= 0, got {delay_ps}")
        heappush(self._queue, (self._now + delay_ps, priority, next(self._seq), event))

    def peek(self) -> int | None:
        """Time of the next event, or ``None`` if the queue is empty."""
        return self._queue[0][0] if self._queue else None

    def event(self) -> Event:
        """A new pending event, to be triggered with ``succeed`` or ``fail``."""
        return Event(self)

    def timeout(self, delay_ps: int, value: Any = None, *, priority: int = NORMAL) -> Timeout:
        """An event that succeeds with ``value`` after ``delay_ps`` picoseconds (an integer)."""
        return Timeout(self, delay_ps, value, priority)

    def call_at(self, t_ps: int, callback: Callable[[Event], None], value: Any = None) -> Event:
        """Run ``callback(event)`` at the absolute time ``t_ps`` (an int >= now); ``event.value`` is ``value``.

        The cheapest way to schedule: no process, no generator; for protocols written as callbacks.
        """
        if type(t_ps) is not int or t_ps < self._now:
            t_ps = index(t_ps)
            if t_ps < self._now:
                raise InvalidParameter(f"call_at({t_ps}) lies before the current time {self._now} ps")
        event = Event(self)
        event._value = value
        event.callbacks = [callback]
        heappush(self._queue, (t_ps, NORMAL, next(self._seq), event))
        return event

    def process(self, generator: ProcessGenerator, name: str | None = None) -> Process:
        """Start ``generator`` as a process at the current time; ``name`` appears in failures."""
        return Process(self, generator, name)

    def all_of(self, events: Iterable[Event]) -> Condition:
        """An event that succeeds when every one of ``events`` has succeeded (fails if one fails)."""
        return Condition(self, all_events, events)

    def any_of(self, events: Iterable[Event]) -> Condition:
        """An event that succeeds when the first of ``events`` succeeds (fails if that one fails)."""
        return Condition(self, any_event, events)

    def step(self) -> None:
        """Process the next event: advance the clock to it and run its callbacks."""
        try:
            t, _, _, event = heappop(self._queue)
        except IndexError:
            raise EmptySchedule("no events left to process") from None
        self._now = t
        self.processed_events += 1
        callbacks = event.callbacks
        event.callbacks = None
        for callback in callbacks:  # type: ignore[union-attr]
            callback(event)
        if not event._ok and not event._defused:
            self._raise_failure(event)

    def _raise_failure(self, event: Event) -> None:
        exc = event._value
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        origin = origin_of(exc)
        if origin is not None and not (isinstance(event, Process) and origin.startswith(f"{_ORIGIN}{event.name!r} ")):
            detail += f" ({origin})"
        if isinstance(event, Process):
            raise ProcessFailed(
                f"process {event.name!r} failed at t = {self._now} ps: {detail}",
                process_name=event.name,
                t_ps=self._now,
            ) from exc
        raise SimulationError(f"{event!r} failed at t = {self._now} ps and nothing handled it: {detail}") from exc

    def run(self, until: int | Event | None = None) -> Any:
        """Process events until the queue is empty, the time ``until`` (ps), or the event ``until`` is processed.

        With a time, every event before it is processed, events at exactly ``until`` stay queued, and the
        clock ends at ``until``. With an event, its value is returned.
        """
        if until is None:
            self._process_before(math.inf)
            return None
        if isinstance(until, Event):
            return self._run_until_event(until)
        at = index(until)
        if at < self._now:
            raise InvalidParameter(f"until = {at} ps lies before the current time {self._now} ps")
        self._process_before(at)
        self._now = at
        return None

    def _process_before(self, at: float) -> None:
        """Process every queued event earlier than ``at`` (ps); a failure nobody handled stops the run."""
        queue = self._queue
        n = 0
        try:
            while queue and queue[0][0] < at:
                self._now, _, _, event = heappop(queue)
                n += 1
                callbacks = event.callbacks
                event.callbacks = None
                for callback in callbacks:  # type: ignore[union-attr]
                    callback(event)
                if not event._ok and not event._defused:
                    self._raise_failure(event)
        finally:
            self.processed_events += n

    def _run_until_event(self, until: Event) -> Any:
        if until.env is not self:
            raise SimulationError("run(until=...) got an event of another environment")
        queue = self._queue
        n = 0
        try:
            while until.callbacks is not None:
                if not queue:
                    state = "was never triggered" if until._value is PENDING else "is stuck"
                    raise SimulationError(f"the run ran out of events at t = {self._now} ps, but {until!r} {state}")
                self._now, _, _, event = heappop(queue)
                n += 1
                callbacks = event.callbacks
                event.callbacks = None
                for callback in callbacks:  # type: ignore[union-attr]
                    callback(event)
                if not event._ok and not event._defused:
                    self._raise_failure(event)
        finally:
            self.processed_events += n
        if not until._ok:
            self._raise_failure(until)
        return until._value


__all__ = ["EmptySchedule", "Environment"]
