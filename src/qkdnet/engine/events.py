"""Events of the discrete-event kernel: plain events, timeouts, processes and all-of/any-of conditions.

Modelled on SimPy's ``events.py`` (https://simpy.readthedocs.io): an event is *pending*, then *triggered*
(succeeded or failed, and queued), then *processed* (its callbacks ran). A process is an event too: it
wraps a generator that yields events (or an ``int`` delay in picoseconds) and resumes when they are
processed; it succeeds with the generator's return value or fails with its exception.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from heapq import heappush
from operator import index
from typing import Any, Protocol

from qkdnet.errors import InvalidParameter, QkdnetError, SimulationError

#: Priorities at equal times: lower goes first. Interrupts and process starts are URGENT.
URGENT = 0
NORMAL = 1


class Scheduler(Protocol):
    """What events need of the environment that processes them (:class:`qkdnet.engine.Environment`).

    A protocol rather than an import, so the kernel's two modules do not import each other.
    """

    _active_process: Process | None

    @property
    def _queue(self) -> list[tuple[int, int, int, Event]]: ...

    @property
    def _now(self) -> int: ...

    @property
    def _seq(self) -> Iterator[int]: ...

    @property
    def now(self) -> int: ...

    @property
    def active_process(self) -> Process | None: ...

    def schedule(self, event: Event, priority: int = ..., delay_ps: int = ...) -> None: ...


class _Pending:
    """Marker value of an event that has not been triggered yet."""

    def __repr__(self) -> str:
        return "PENDING"


PENDING: Any = _Pending()

Callback = Callable[["Event"], None]
ProcessGenerator = Generator[Any, Any, Any]


_ORIGIN = "raised in process "


def origin_of(exc: BaseException) -> str | None:
    """Where a process failure began (``raised in process 'name' at t = ... ps``), if it began in a process."""
    return next((n for n in getattr(exc, "__notes__", ()) if n.startswith(_ORIGIN)), None)


class Interrupt(QkdnetError):
    """Thrown into a process by :meth:`Process.interrupt`; ``cause`` says why. Catch it to go on."""

    @property
    def cause(self) -> object:
        """What the interrupter passed (``None`` if nothing)."""
        return self.args[0] if self.args else None


class Event:
    """Something that happens at one instant: processes wait for it, callbacks run when it is processed."""

    __slots__ = ("_defused", "_ok", "_value", "callbacks", "env")

    def __init__(self, env: Scheduler) -> None:
        self.env = env
        self.callbacks: list[Callback] | None = []
        self._value: Any = PENDING
        self._ok = True
        self._defused = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._state()}>"

    def _state(self) -> str:
        if self._value is PENDING:
            return "pending"
        outcome = "ok" if self._ok else "failed"
        return f"{outcome}, {'processed' if self.callbacks is None else 'queued'}"

    @property
    def triggered(self) -> bool:
        """True once the event has succeeded or failed (it may still wait in the queue)."""
        return self._value is not PENDING

    @property
    def processed(self) -> bool:
        """True once its callbacks have run."""
        return self.callbacks is None

    @property
    def ok(self) -> bool:
        """True if the event succeeded; raises while it is pending."""
        if self._value is PENDING:
            raise SimulationError(f"{self!r} has no outcome yet")
        return self._ok

    @property
    def value(self) -> Any:
        """The success value, or the exception of a failed event; raises while pending."""
        if self._value is PENDING:
            raise SimulationError(f"{self!r} has no value yet")
        return self._value

    @property
    def defused(self) -> bool:
        """True if a failure was handled (a waiting process received it), so the run does not stop."""
        return self._defused

    @defused.setter
    def defused(self, value: bool) -> None:
        self._defused = value

    def succeed(self, value: Any = None, *, priority: int = NORMAL) -> Event:
        """Trigger the event now with ``value``; waiting processes resume in this instant."""
        if self._value is not PENDING:
            raise SimulationError(f"{self!r} has already been triggered")
        self._ok = True
        self._value = value
        env = self.env
        heappush(env._queue, (env._now, priority, next(env._seq), self))
        return self

    def fail(self, exception: BaseException, *, priority: int = NORMAL) -> Event:
        """Trigger the event now as failed: waiting processes get ``exception`` thrown in."""
        if self._value is not PENDING:
            raise SimulationError(f"{self!r} has already been triggered")
        if not isinstance(exception, BaseException):
            raise InvalidParameter(f"fail() needs an exception instance, got {exception!r}")
        self._ok = False
        self._value = exception
        self.env.schedule(self, priority)
        return self


class Timeout(Event):
    """An event that succeeds ``delay_ps`` picoseconds after it is made."""

    __slots__ = ("delay_ps",)

    def __init__(self, env: Scheduler, delay_ps: int, value: Any = None, priority: int = NORMAL) -> None:
        if type(delay_ps) is not int or delay_ps < 0:
            delay_ps = _delay(delay_ps)
        self.env = env
        self.callbacks = []
        self._value = value
        self._ok = True
        self._defused = False
        self.delay_ps = delay_ps
        heappush(env._queue, (env._now + delay_ps, priority, next(env._seq), self))

    def _state(self) -> str:
        return f"delay {self.delay_ps} ps, {'processed' if self.callbacks is None else 'queued'}"


def _delay(delay_ps: object) -> int:
    """An integer, non-negative delay in picoseconds (floats are refused: simulated time is exact)."""
    if isinstance(delay_ps, (bool, float)):
        raise InvalidParameter(f"delay_ps must be an integer number of picoseconds, got {delay_ps!r}")
    try:
        delay = index(delay_ps)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidParameter(f"delay_ps must be an integer number of picoseconds, got {delay_ps!r}") from None
    if delay < 0:
        raise InvalidParameter(f"delay_ps must be >= 0, got {delay}")
    return delay


class Process(Event):
    """A generator run as a simulated activity; as an event it succeeds with the generator's return value."""

    __slots__ = ("_generator", "_resume_cb", "_target", "name")

    def __init__(self, env: Scheduler, generator: ProcessGenerator, name: str | None = None) -> None:
        if not hasattr(generator, "throw") or not hasattr(generator, "send"):
            raise InvalidParameter(f"a process needs a generator, got {generator!r}")
        super().__init__(env)
        self._generator = generator
        self.name = name if name is not None else getattr(generator, "__name__", "process")
        self._resume_cb: Callback = self._resume
        start = Event(env)
        start._value = None
        start.callbacks = [self._resume_cb]
        env.schedule(start, URGENT)
        self._target: Event | None = start

    def __repr__(self) -> str:
        return f"<Process {self.name!r} {self._state()}>"

    @property
    def target(self) -> Event | None:
        """The event the process waits for (``None`` once it has finished)."""
        return self._target

    @property
    def is_alive(self) -> bool:
        """True until the generator has returned or raised."""
        return self._value is PENDING

    def interrupt(self, cause: object = None) -> None:
        """Throw :class:`Interrupt` (``cause``) into the process at the current instant, before other events."""
        if self._value is not PENDING:
            raise SimulationError(f"{self!r} has finished and cannot be interrupted")
        if self.env.active_process is self:
            raise SimulationError(f"{self!r} cannot interrupt itself")
        event = Event(self.env)
        event._ok = False
        event._value = Interrupt(cause)
        event._defused = True
        event.callbacks = [self._interrupted]
        self.env.schedule(event, URGENT)

    def _interrupted(self, event: Event) -> None:
        if self._value is not PENDING:
            return  # finished in the same instant, before the interrupt arrived
        target = self._target
        if target is not None and target.callbacks is not None:
            target.callbacks.remove(self._resume_cb)
        self._resume(event)

    def _resume(self, event: Event) -> None:
        """Send the processed event's value into the generator (or throw its exception) until it waits again."""
        env = self.env
        env._active_process = self
        generator = self._generator
        while True:
            try:
                if event._ok:
                    nxt = generator.send(event._value)
                else:
                    event._defused = True
                    nxt = generator.throw(event._value)
            except StopIteration as stop:
                self._target = None
                self._ok = True
                self._value = stop.value
                env.schedule(self, NORMAL)
                break
            except Exception as exc:
                if origin_of(exc) is None:
                    exc.add_note(f"{_ORIGIN}{self.name!r} at t = {env.now} ps")
                self._target = None
                self._ok = False
                self._value = exc
                env.schedule(self, NORMAL)
                break
            if type(nxt) is int:  # the fast path: `yield delay_ps`
                nxt = Timeout(env, nxt)
            try:
                callbacks = nxt.callbacks
                if nxt.env is not env:
                    raise AttributeError
            except AttributeError:
                event = self._bad_yield(nxt)
                continue
            if callbacks is not None:
                callbacks.append(self._resume_cb)
                self._target = nxt
                break
            event = nxt  # already processed: go on at once with its outcome
        env._active_process = None

    def _bad_yield(self, value: object) -> Event:
        """A failed event to throw back into the generator that yielded something it cannot wait for."""
        event = Event(self.env)
        event._ok = False
        if isinstance(value, Event):
            event._value = SimulationError(f"process {self.name!r} yielded an event of another environment")
        else:
            event._value = InvalidParameter(
                f"process {self.name!r} yielded {value!r}; yield an Event or an integer delay in ps"
            )
        return event


class Condition(Event):
    """Succeeds when ``evaluate(events, n_done)`` holds; fails as soon as one of its events fails.

    The value is a dict from each processed, successful event to its value, in the order given.
    """

    __slots__ = ("_count", "_evaluate", "_events")

    def __init__(
        self, env: Scheduler, evaluate: Callable[[tuple[Event, ...], int], bool], events: Iterable[Event]
    ) -> None:
        super().__init__(env)
        self._events = tuple(events)
        self._evaluate = evaluate
        self._count = 0
        for e in self._events:
            if not isinstance(e, Event):
                raise InvalidParameter(f"conditions combine events, got {e!r}")
            if e.env is not env:
                raise SimulationError("a condition cannot combine events of different environments")
        if not self._events:
            self.succeed({})
            return
        for e in self._events:
            if e.callbacks is None:
                self._check(e)
            else:
                e.callbacks.append(self._check)

    def _check(self, event: Event) -> None:
        if self._value is not PENDING:
            return
        self._count += 1
        if not event._ok:
            event._defused = True
            self.fail(event._value)
        elif self._evaluate(self._events, self._count):
            self.succeed({e: e._value for e in self._events if e.callbacks is None and e._ok})


def all_events(events: tuple[Event, ...], count: int) -> bool:
    """Condition rule of :func:`AllOf`: every event has been processed."""
    return len(events) == count


def any_event(events: tuple[Event, ...], count: int) -> bool:
    """Condition rule of :func:`AnyOf`: at least one event has been processed."""
    return count > 0 or not events


__all__ = [
    "NORMAL",
    "PENDING",
    "URGENT",
    "Condition",
    "Event",
    "Interrupt",
    "Process",
    "ProcessGenerator",
    "Timeout",
    "all_events",
    "any_event",
    "origin_of",
]
