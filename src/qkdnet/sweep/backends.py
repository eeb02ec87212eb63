"""Where runs execute: in this process, in local worker processes, or on a Dask cluster (``dask.distributed``).

Each backend takes an iterable of :class:`Task` and yields :class:`Outcome` as runs finish, keeping only a
few tasks in flight per worker, so a sweep of a million points never holds a million futures. A runner's
exception becomes a failed outcome (the sweep goes on); a KeyboardInterrupt stops the sweep. Dask is
imported only by :class:`DaskBackend`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import signal
import socket
import struct
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from qkdnet.errors import QkdnetError
from qkdnet.sweep.runners import Metrics, Runner, get_runner

#: Tasks in flight per worker: enough to keep workers busy between two hand-outs, few enough to stop fast.
IN_FLIGHT_PER_WORKER = 4
#: Imported once by the forkserver, so every worker process starts with them loaded (seconds saved per worker).
PRELOAD = ["qkdnet.sweep.backends", "qkdnet.sweep.runners", "qkdnet.sweep._warm"]
#: How long ``--scheduler`` may take to answer before the sweep gives up.
CONNECT_TIMEOUT_S = 3.0


class SchedulerUnreachable(QkdnetError):
    """The Dask scheduler of ``--scheduler`` did not answer in time (or the address is malformed)."""


@dataclass(frozen=True, slots=True)
class Task:
    """One run to execute: the runner (by name, or a picklable function), key, seed and configuration."""

    runner: str | Runner
    run_id: str
    seed: int
    config: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run produced: ``status`` ``"ok"`` with metrics, or ``"error"`` with the error in one line."""

    run_id: str
    status: str
    metrics: Metrics = field(default_factory=dict)
    error: str | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0


def execute(task: Task) -> Outcome:
    """Run one task and time it (wall and process CPU time); an exception of the runner is caught and
    reported, KeyboardInterrupt is not."""
    runner = get_runner(task.runner).function if isinstance(task.runner, str) else task.runner
    start, cpu = time.perf_counter(), time.process_time()
    try:
        metrics = runner(task.config, task.seed)
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        line = f"{type(exc).__name__}: {exc}".splitlines()[0][:400]
        return Outcome(
            task.run_id,
            "error",
            error=f"{line} ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})",
            wall_s=time.perf_counter() - start,
            cpu_s=time.process_time() - cpu,
        )
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    return Outcome(task.run_id, "ok", metrics=dict(metrics), wall_s=wall_s, cpu_s=cpu_s)


class Backend(Protocol):
    """Executes tasks and yields their outcomes as they finish."""

    workers: int

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        """Outcomes in completion order."""
        ...

    def close(self) -> None:
        """Stop: cancel what has not started, free the workers."""
        ...


class SerialBackend:
    """Runs every task in this process, one after the other (``--workers 1``)."""

    workers = 1

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        """Each outcome as soon as its run returns."""
        for task in tasks:
            yield execute(task)

    def close(self) -> None:
        """Nothing to free."""


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it keeps what finished, then stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ProcessBackend:
    """Runs tasks on ``workers`` local processes (forkserver: workers start clean, forked from a server that
    imported qkdnet and ran each runner of ``warm`` once, so no worker pays for lazy imports or numba)."""

    def __init__(self, workers: int, *, warm: tuple[str, ...] = ()) -> None:
        self.workers = workers
        os.environ["QKDNET_SWEEP_WARM"] = ",".join(warm)  # read by the forkserver's preload (sweep._warm)
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            context.set_forkserver_preload(PRELOAD)
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_ignore_sigint)

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        """Outcomes in completion order, at most ``IN_FLIGHT_PER_WORKER`` tasks per worker submitted ahead."""
        pending: set[Future[Outcome]] = set()
        source = iter(tasks)
        limit = IN_FLIGHT_PER_WORKER * self.workers
        while True:
            for task in source:
                pending.add(self._pool.submit(execute, task))
                if len(pending) >= limit:
                    break
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()

    def close(self) -> None:
        """Cancel queued tasks and end the worker processes without waiting for running ones.

        The pool's call queue is told not to wait for its feeder thread at exit: with the workers gone, nobody
        reads the pipe, and CPython would otherwise hang at interpreter exit joining that thread.
        """
        processes = list(getattr(self._pool, "_processes", {}).values())
        call_queue = getattr(self._pool, "_call_queue", None)
        if call_queue is not None:
            with contextlib.suppress(Exception):
                call_queue.cancel_join_thread()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()
        for process in processes:
            with contextlib.suppress(Exception):
                process.join(timeout=5)


_ADDRESS = re.compile(r"^(?:(?:tcp|tls|inproc|ucx|ws|wss)://)?[^\s/:]+(?::\d+)?(?:/.*)?$")
_TCP_ADDRESS = re.compile(r"^(?:tcp://)?(?P<host>[^\s/:]+)(?::(?P<port>\d+))?$")
#: A Dask handshake is a few hundred bytes in one to a few frames; anything far outside is not Dask talking.
_MAX_HANDSHAKE_BYTES, _MAX_HANDSHAKE_FRAMES = 1 << 20, 64


def _probe_dask_tcp(address: str, timeout_s: float) -> None:
    """Raise :class:`SchedulerUnreachable` unless ``address`` opens with a Dask handshake within ``timeout_s``.

    A Dask scheduler writes its handshake as soon as it accepts (distributed.comm.core ``on_connection``): a u64
    message length, a u64 frame count and the frame lengths. Checking that prelude first keeps a server that is
    not Dask (an HTTP server waits for a request; others send text) from hanging the client or making it
    allocate whatever length its first eight bytes spell.
    """
    m = _TCP_ADDRESS.match(address)
    if m is None:
        return  # tls://, ucx://, …: their own transports, left to distributed
    deadline, prelude, connected = time.monotonic() + timeout_s, b"", False
    try:
        with socket.create_connection((m["host"], int(m["port"] or 8786)), timeout=timeout_s) as sock:
            connected = True
            while len(prelude) < 16:
                sock.settimeout(max(deadline - time.monotonic(), 1e-3))
                chunk = sock.recv(16 - len(prelude))
                if not chunk:
                    break
                prelude += chunk
    except OSError as exc:
        if not connected:
            raise SchedulerUnreachable(
                f"no Dask scheduler answered at {address} within {timeout_s:g} s ({type(exc).__name__})"
            ) from None
    if len(prelude) < 16:
        raise SchedulerUnreachable(
            f"something at {address} accepted the connection but sent no Dask handshake within {timeout_s:g} s: "
            "is it a Dask scheduler?"
        )
    total, frames = struct.unpack("<QQ", prelude)
    if not (0 < frames <= _MAX_HANDSHAKE_FRAMES and 8 * (frames + 1) <= total <= _MAX_HANDSHAKE_BYTES):
        raise SchedulerUnreachable(f"the server at {address} does not speak Dask's protocol: is it a Dask scheduler?")


def connect(address: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``, or :class:`SchedulerUnreachable` within
    ``timeout_s`` naming the address (also when what answers there is not Dask)."""
    if not _ADDRESS.match(address):
        raise SchedulerUnreachable(f"--scheduler {address!r}: expected an address like tcp://HOST:8786")
    _probe_dask_tcp(address, timeout_s)
    from distributed import Client

    try:
        return Client(address, timeout=timeout_s, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnreachable(
            f"no Dask scheduler answered at {address} within {timeout_s:g} s ({type(exc).__name__})"
        ) from None


class DaskBackend:
    """Runs tasks on a Dask cluster through a ``distributed.Client`` (one given, or one made for ``address``)."""

    def __init__(self, client: Any = None, *, address: str | None = None) -> None:
        self._owned = client is None
        self.client = client if client is not None else connect(str(address))
        self.workers = max(1, sum(self.client.nthreads().values()))
        self._pending: list[Any] = []

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        """Outcomes in completion order; tasks are keyed by run key so the dashboard names them."""
        from distributed import as_completed

        source = iter(tasks)
        limit = IN_FLIGHT_PER_WORKER * self.workers

        def submit(task: Task) -> Any:
            return self.client.submit(execute, task, key=f"qkdnet-run-{task.run_id}", pure=False)

        first = [submit(t) for _, t in zip(range(limit), source, strict=False)]
        if not first:  # nothing to run (distributed's as_completed cannot start on no futures)
            return
        self._pending = list(first)
        # The client's own loop: a client made for --scheduler is not the process's default one, and
        # as_completed would otherwise look for that default and find none.
        queue = as_completed(first, loop=self.client.loop)  # type: ignore[no-untyped-call]
        for future in queue:
            self._pending.remove(future)
            outcome: Outcome = future.result()
            future.release()
            yield outcome
            nxt = next(source, None)
            if nxt is not None:
                new = submit(nxt)
                self._pending.append(new)
                queue.add(new)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        """Cancel what is still queued; close the client if this backend opened it."""
        if self._pending:
            with contextlib.suppress(Exception):
                self.client.cancel(self._pending)
        if self._owned:
            with contextlib.suppress(Exception):
                self.client.close()


def make_backend(
    workers: int = 1, *, scheduler: str | None = None, client: Any = None, warm: tuple[str, ...] = ()
) -> Backend:
    """A Dask backend for ``scheduler``/``client``; else worker processes (their server warmed with the runners
    ``warm``), or this process for one worker."""
    if client is not None or scheduler is not None:
        return DaskBackend(client, address=scheduler)
    if workers <= 1:
        return SerialBackend()
    return ProcessBackend(workers, warm=warm)


__all__ = [
    "CONNECT_TIMEOUT_S",
    "Backend",
    "DaskBackend",
    "Outcome",
    "ProcessBackend",
    "SchedulerUnreachable",
    "SerialBackend",
    "Task",
    "connect",
    "execute",
    "make_backend",
]
