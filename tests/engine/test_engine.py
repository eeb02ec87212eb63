"""The event kernel: ordering, exact integer time, loud failures, interrupts, conditions, determinism."""

from __future__ import annotations

import pickle
from collections.abc import Generator
from typing import Any

import numpy as np
import pytest

from qkdnet.engine import NORMAL, URGENT, EmptySchedule, Environment, Event, Interrupt, Process
from qkdnet.errors import InvalidParameter, ProcessFailed, QkdnetError, SimulationError

Gen = Generator[Any, Any, Any]


def _fires(env: Environment, log: list[str], tag: str) -> Event:
    ev = env.event()
    assert ev.callbacks is not None
    ev.callbacks.append(lambda _e: log.append(tag))
    return ev


# --- ordering -----------------------------------------------------------------------------------------------


def test_events_are_processed_in_time_order() -> None:
    env = Environment()
    log: list[tuple[int, str]] = []
    for delay, tag in [(30, "c"), (10, "a"), (20, "b")]:
        t = env.timeout(delay, tag)
        assert t.callbacks is not None
        t.callbacks.append(lambda e: log.append((env.now, e.value)))
    env.run()
    assert log == [(10, "a"), (20, "b"), (30, "c")]


def test_ties_go_to_lower_priority_then_to_insertion_order() -> None:
    env = Environment()
    log: list[str] = []
    _fires(env, log, "normal-1").succeed(priority=NORMAL)
    _fires(env, log, "urgent-1").succeed(priority=URGENT)
    _fires(env, log, "normal-2").succeed(priority=NORMAL)
    _fires(env, log, "late-urgent").succeed(priority=-5)
    _fires(env, log, "urgent-2").succeed(priority=URGENT)
    env.run()
    assert log == ["late-urgent", "urgent-1", "urgent-2", "normal-1", "normal-2"]


def test_timeouts_at_equal_times_keep_insertion_order_across_processes() -> None:
    env = Environment()
    log: list[int] = []

    def proc(i: int) -> Gen:
        yield 100
        log.append(i)

    for i in [3, 1, 2, 0]:
        env.process(proc(i))
    env.run()
    assert log == [3, 1, 2, 0]


def test_priority_of_a_timeout_breaks_ties() -> None:
    env = Environment()
    log: list[str] = []
    for tag, prio in [("b", 2), ("a", 1), ("first", 0)]:
        t = env.timeout(5, tag, priority=prio)
        assert t.callbacks is not None
        t.callbacks.append(lambda e: log.append(e.value))
    env.run()
    assert log == ["first", "a", "b"]


# --- time -----------------------------------------------------------------------------------------------------


def test_integer_time_is_exact_after_many_small_steps() -> None:
    """10⁵ steps of 1 ps after 10¹⁵ ps: a float clock would lose them (10¹⁵ + 1 is not exact in binary64 sums)."""
    env = Environment(initial_time_ps=10**18)

    def tick() -> Gen:
        for _ in range(100_000):
            yield 1

    env.process(tick())
    env.run()
    assert env.now == 10**18 + 100_000
    assert type(env.now) is int
    assert float(10**18) + 1.0 == float(10**18)  # why the clock is an integer


@pytest.mark.parametrize("bad", [1.5, 1.0, -1, "3", None, True])
def test_timeout_refuses_non_integer_or_negative_delays(bad: object) -> None:
    env = Environment()
    with pytest.raises(InvalidParameter, match="delay_ps"):
        env.timeout(bad)  # type: ignore[arg-type]


def test_numpy_integers_are_accepted_as_delays() -> None:
    env = Environment()
    env.timeout(np.int64(7))
    env.run()
    assert env.now == 7


def test_run_until_time_stops_before_events_at_that_time() -> None:
    env = Environment()
    log: list[int] = []

    def proc() -> Gen:
        for _ in range(5):
            yield 10
            log.append(env.now)

    env.process(proc())
    env.run(until=30)
    assert log == [10, 20] and env.now == 30
    env.run(until=31)
    assert log == [10, 20, 30]
    env.run()
    assert log == [10, 20, 30, 40, 50]


def test_run_until_rejects_the_past() -> None:
    env = Environment()
    env.run(until=100)
    with pytest.raises(InvalidParameter, match="before the current time"):
        env.run(until=50)


def test_run_until_event_returns_its_value() -> None:
    env = Environment()

    def worker() -> Gen:
        yield 250
        return "done"

    p = env.process(worker())
    env.timeout(10_000)
    assert env.run(until=p) == "done"
    assert env.now == 250
    assert env.peek() == 10_000


def test_run_until_an_event_that_never_comes_says_so() -> None:
    env = Environment()
    env.timeout(5)
    with pytest.raises(SimulationError, match=r"ran out of events at t = 5 ps, but <Event pending> was never"):
        env.run(until=env.event())


def test_step_on_an_empty_queue_raises() -> None:
    with pytest.raises(EmptySchedule):
        Environment().step()


# --- processes and values ---------------------------------------------------------------------------------------


def test_process_receives_event_values_and_returns_one() -> None:
    env = Environment()
    ev = env.event()

    def waiter() -> Gen:
        got = yield ev
        more = yield env.timeout(3, value=got + 1)
        return more * 10

    def trigger() -> Gen:
        yield 7
        ev.succeed(41)

    p = env.process(waiter())
    env.process(trigger())
    env.run()
    assert (p.ok, p.value, env.now) == (True, 420, 10)


def test_waiting_on_an_already_processed_event_resumes_at_once() -> None:
    env = Environment()
    ev = env.timeout(1, "old")
    env.run()
    seen: list[tuple[int, str]] = []

    def late() -> Gen:
        v = yield ev
        seen.append((env.now, v))

    env.process(late())
    env.run()
    assert seen == [(1, "old")]


def test_a_process_can_wait_for_another() -> None:
    env = Environment()

    def child() -> Gen:
        yield 5
        return "child result"

    def parent() -> Gen:
        got = yield env.process(child())
        return (env.now, got)

    p = env.process(parent())
    env.run()
    assert p.value == (5, "child result")


def test_event_value_before_trigger_raises() -> None:
    ev = Environment().event()
    with pytest.raises(SimulationError, match="no value yet"):
        _ = ev.value
    with pytest.raises(SimulationError, match="no outcome yet"):
        _ = ev.ok


def test_events_trigger_only_once() -> None:
    ev = Environment().event()
    ev.succeed(1)
    with pytest.raises(SimulationError, match="already been triggered"):
        ev.succeed(2)
    with pytest.raises(SimulationError, match="already been triggered"):
        ev.fail(ValueError())


def test_process_needs_a_generator() -> None:
    with pytest.raises(InvalidParameter, match="needs a generator"):
        Environment().process(lambda: None)  # type: ignore[arg-type]


# --- failures -----------------------------------------------------------------------------------------------------


def test_an_exception_in_a_process_stops_the_run_and_names_the_process() -> None:
    env = Environment()
    after: list[int] = []

    def link_alice_bob() -> Gen:
        yield 1_000
        raise ValueError("detector on fire")

    def bystander() -> Gen:
        yield 5_000
        after.append(env.now)

    env.process(link_alice_bob())
    env.process(bystander())
    with pytest.raises(ProcessFailed) as info:
        env.run()
    assert str(info.value) == "process 'link_alice_bob' failed at t = 1000 ps: ValueError: detector on fire"
    assert isinstance(info.value.__cause__, ValueError)
    assert (info.value.process_name, info.value.t_ps) == ("link_alice_bob", 1000)
    assert after == []  # the run stopped at the failure
    assert isinstance(info.value, SimulationError) and isinstance(info.value, QkdnetError)


def test_process_failure_uses_the_given_name() -> None:
    env = Environment()

    def boom() -> Gen:
        raise KeyError("x")
        yield 1

    env.process(boom(), name="swap@node7")
    with pytest.raises(ProcessFailed, match=r"^process 'swap@node7' failed at t = 0 ps: KeyError: 'x'$"):
        env.run()


def test_process_failure_survives_pickling() -> None:
    err = ProcessFailed("process 'a' failed at t = 3 ps: X", process_name="a", t_ps=3)
    back = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own bytes
    assert (str(back), back.process_name, back.t_ps) == (str(err), "a", 3)


def test_a_waiting_process_can_catch_a_child_failure() -> None:
    env = Environment()

    def child() -> Gen:
        yield 2
        raise RuntimeError("child broke")

    def parent() -> Gen:
        try:
            yield env.process(child())
        except RuntimeError as exc:
            return f"handled: {exc}"
        return "not reached"

    p = env.process(parent())
    env.run()
    assert p.value == "handled: child broke"


def test_an_uncaught_child_failure_fails_the_parent_which_is_then_named() -> None:
    env = Environment()

    def child() -> Gen:
        yield 2
        raise RuntimeError("child broke")

    def parent() -> Gen:
        yield env.process(child())

    env.process(parent(), name="parent")
    with pytest.raises(ProcessFailed) as info:
        env.run()
    assert str(info.value) == (
        "process 'parent' failed at t = 2 ps: RuntimeError: child broke (raised in process 'child' at t = 2 ps)"
    )


def test_a_failure_inside_an_unwatched_condition_still_names_its_process() -> None:
    env = Environment()

    def worker(fail: bool) -> Gen:
        yield 4
        if fail:
            raise LookupError("pair lost")

    env.all_of([env.process(worker(False)), env.process(worker(True), name="link 3")])
    with pytest.raises(SimulationError) as info:
        env.run()
    assert str(info.value) == (
        "<Condition failed, processed> failed at t = 4 ps and nothing handled it: "
        "LookupError: pair lost (raised in process 'link 3' at t = 4 ps)"
    )


def test_a_failed_event_nobody_waits_for_stops_the_run() -> None:
    env = Environment()
    env.event().fail(OSError("lost message"))
    with pytest.raises(SimulationError, match=r"failed at t = 0 ps and nothing handled it: OSError: lost message"):
        env.run()


def test_a_failed_event_thrown_into_a_waiting_process_is_handled() -> None:
    env = Environment()
    ev = env.event()

    def waiter() -> Gen:
        try:
            yield ev
        except OSError:
            return "caught"

    p = env.process(waiter())
    ev.fail(OSError("x"))
    env.run()
    assert p.value == "caught" and ev.defused


def test_fail_needs_an_exception() -> None:
    with pytest.raises(InvalidParameter, match="exception instance"):
        Environment().event().fail("nope")  # type: ignore[arg-type]


def test_yielding_something_else_is_an_error_raised_at_the_yield() -> None:
    env = Environment()

    def confused() -> Gen:
        yield 2.5

    env.process(confused(), name="confused")
    with pytest.raises(ProcessFailed, match=r"yielded 2.5; yield an Event or an integer delay in ps"):
        env.run()


def test_yielding_an_event_of_another_environment_is_an_error() -> None:
    env, other = Environment(), Environment()

    def confused() -> Gen:
        yield other.event()

    env.process(confused())
    with pytest.raises(ProcessFailed, match="another environment"):
        env.run()


def test_run_until_a_failing_process_raises() -> None:
    env = Environment()

    def bad() -> Gen:
        yield 1
        raise ArithmeticError("bad")

    with pytest.raises(ProcessFailed, match="bad"):
        env.run(until=env.process(bad()))


# --- interrupts ---------------------------------------------------------------------------------------------------


def test_interrupt_wakes_a_sleeping_process_with_its_cause() -> None:
    env = Environment()
    log: list[tuple[int, object]] = []

    def sleeper() -> Gen:
        try:
            yield 1_000
            log.append((env.now, "woke normally"))
        except Interrupt as irq:
            log.append((env.now, irq.cause))
            yield 5
            log.append((env.now, "went on"))

    def alarm(target: Process) -> Gen:
        yield 300
        target.interrupt("cutoff")

    p = env.process(sleeper())
    env.process(alarm(p))
    env.run()
    assert log == [(300, "cutoff"), (305, "went on")]
    assert env.now == 1_000  # the abandoned timeout is still processed, harmlessly


def test_an_uncaught_interrupt_fails_the_process_loudly() -> None:
    env = Environment()

    def sleeper() -> Gen:
        yield 10

    def alarm(target: Process) -> Gen:
        yield 3
        target.interrupt()

    p = env.process(sleeper(), name="memory")
    env.process(alarm(p))
    with pytest.raises(ProcessFailed, match="process 'memory' failed at t = 3 ps: Interrupt"):
        env.run()


def test_interrupting_a_finished_process_or_oneself_is_refused() -> None:
    env = Environment()

    def quick() -> Gen:
        yield 1

    p = env.process(quick())
    env.run()
    with pytest.raises(SimulationError, match="finished"):
        p.interrupt()

    def selfish() -> Gen:
        me = env.active_process
        assert me is not None
        me.interrupt()
        yield 1

    env.process(selfish())
    with pytest.raises(ProcessFailed, match="cannot interrupt itself"):
        env.run()


def test_interrupt_comes_before_normal_events_queued_earlier_in_the_same_instant() -> None:
    env = Environment()
    log: list[str] = []

    def sleeper() -> Gen:
        try:
            yield 100
        except Interrupt:
            log.append(f"interrupt at {env.now}")

    p = env.process(sleeper())

    def alarm() -> Gen:
        yield 10
        p.interrupt()

    def other() -> Gen:
        yield 10  # queued after alarm's timeout, before the interrupt exists
        log.append(f"other at {env.now}")

    env.process(alarm())
    env.process(other())
    env.run()
    assert log == ["interrupt at 10", "other at 10"]


def test_interrupting_a_process_that_finished_in_the_same_instant_is_refused() -> None:
    env = Environment()

    def sleeper() -> Gen:
        yield 10

    p = env.process(sleeper())

    def alarm() -> Gen:
        yield 10  # queued after the sleeper's timeout: the sleeper is done when this runs
        p.interrupt()

    env.process(alarm(), name="alarm")
    with pytest.raises(ProcessFailed, match=r"process 'alarm' failed at t = 10 ps: SimulationError: .* has finished"):
        env.run()


# --- conditions ---------------------------------------------------------------------------------------------------


def test_all_of_waits_for_every_event_and_collects_values() -> None:
    env = Environment()
    a, b, c = env.timeout(5, "a"), env.timeout(9, "b"), env.timeout(2, "c")

    def waiter() -> Gen:
        got = yield env.all_of([a, b, c])
        return env.now, [got[e] for e in (a, b, c)]

    p = env.process(waiter())
    env.run()
    assert p.value == (9, ["a", "b", "c"])


def test_any_of_resumes_at_the_first_event() -> None:
    env = Environment()
    slow, fast = env.timeout(50, "slow"), env.timeout(20, "fast")

    def waiter() -> Gen:
        got = yield env.any_of([slow, fast])
        return env.now, dict(got)

    p = env.process(waiter())
    env.run()
    assert p.value == (20, {fast: "fast"})


def test_conditions_of_nothing_succeed_at_once() -> None:
    env = Environment()
    assert env.run(until=env.all_of([])) == {}
    assert env.run(until=env.any_of([])) == {}
    assert env.now == 0


def test_a_failing_member_fails_the_condition() -> None:
    env = Environment()
    bad = env.event()
    ok = env.timeout(10)

    def waiter() -> Gen:
        try:
            yield env.all_of([ok, bad])
        except LookupError as exc:
            return f"{env.now}: {exc}"
        return "no"

    def breaker() -> Gen:
        yield 3
        bad.fail(LookupError("pair lost"))

    p = env.process(waiter())
    env.process(breaker())
    env.run()
    assert p.value == "3: pair lost"


def test_conditions_accept_already_processed_events() -> None:
    env = Environment()
    done = env.timeout(1, "x")
    env.run()
    later = env.timeout(4, "y")
    assert env.run(until=env.all_of([done, later])) == {done: "x", later: "y"}
    assert env.now == 5


def test_condition_refuses_non_events() -> None:
    with pytest.raises(InvalidParameter, match="conditions combine events"):
        Environment().all_of([3])  # type: ignore[list-item]


def test_condition_of_processes() -> None:
    env = Environment()

    def worker(d: int) -> Gen:
        yield d
        return d

    ps = [env.process(worker(d)) for d in (7, 3, 5)]
    got = env.run(until=env.all_of(ps))
    assert [got[p] for p in ps] == [7, 3, 5] and env.now == 7


# --- determinism and bookkeeping -----------------------------------------------------------------------------------


def _random_workload(seed: int) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    env = Environment()
    trace: list[tuple[int, int, int]] = []
    mailbox = [env.event() for _ in range(10)]

    def proc(i: int) -> Gen:
        for k in range(50):
            if rng.random() < 0.3:
                j = int(rng.integers(10))
                if not mailbox[j].triggered:
                    mailbox[j].succeed((i, k))
                    mailbox[j] = env.event()
            yield int(rng.integers(0, 20))  # zero delays and ties on purpose
            trace.append((env.now, i, k))

    for i in range(20):
        env.process(proc(i))
    env.run()
    return trace


def test_same_inputs_give_the_same_event_trace() -> None:
    a, b = _random_workload(7), _random_workload(7)
    assert a == b and len(a) == 20 * 50
    assert a != _random_workload(8)


def test_processed_events_counts_every_event() -> None:
    env = Environment()

    def proc() -> Gen:
        for _ in range(10):
            yield 1

    for _ in range(3):
        env.process(proc())
    env.run()
    assert env.processed_events == 3 * (10 + 2)  # start, ten timeouts, end; per process
    env.timeout(1)
    env.step()
    assert env.processed_events == 37


def test_reprs_say_the_state() -> None:
    env = Environment()
    ev = env.event()
    assert repr(ev) == "<Event pending>"
    ev.succeed()
    assert repr(ev) == "<Event ok, queued>"
    t = env.timeout(4)

    def named() -> Gen:
        yield t

    p = env.process(named(), name="n")
    env.run()
    assert repr(ev) == "<Event ok, processed>"
    assert repr(t) == "<Timeout delay 4 ps, processed>"
    assert repr(p) == "<Process 'n' ok, processed>"
    assert not p.is_alive and p.target is None


def test_negative_initial_time_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="initial_time_ps"):
        Environment(initial_time_ps=-1)


def test_call_at_runs_callbacks_at_absolute_times() -> None:
    env = Environment()
    seen: list[tuple[int, object]] = []
    env.call_at(30, lambda e: seen.append((env.now, e.value)), "b")
    env.call_at(10, lambda e: seen.append((env.now, e.value)), "a")
    env.run()
    assert seen == [(10, "a"), (30, "b")]
    with pytest.raises(InvalidParameter, match="before the current time"):
        env.call_at(5, lambda e: None)
