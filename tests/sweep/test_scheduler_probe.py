"""``--scheduler`` pointed at something that is not Dask: one clear error within the timeout, never a hang or a
giant allocation; a real scheduler still passes the probe."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from qkdnet.sweep.backends import SchedulerUnreachable, connect


def _serve(on_accept: Callable[[socket.socket], None]) -> Iterator[str]:
    """A one-port server on loopback that hands every connection to ``on_accept``; yields its address."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def loop() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=on_accept, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    listener.close()


def _silent(conn: socket.socket) -> None:
    """Accepts and waits for a request, as an HTTP server does."""
    time.sleep(5)
    conn.close()


def _chatty(conn: socket.socket) -> None:
    """Answers at once with text whose first eight bytes, read as a length, are exabytes."""
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    time.sleep(1)
    conn.close()


def _stalls(conn: socket.socket) -> None:
    """Starts something like a Dask prelude, then stops mid-way."""
    conn.sendall(bytes(5))
    time.sleep(5)
    conn.close()


def _hangs_up(conn: socket.socket) -> None:
    conn.close()


@pytest.mark.parametrize(
    ("behaviour", "words"),
    [
        (_silent, "sent no Dask handshake within 3 s"),
        (_stalls, "sent no Dask handshake within 3 s"),
        (_hangs_up, "sent no Dask handshake"),
        (_chatty, "does not speak Dask's protocol"),
    ],
)
def test_a_server_that_is_not_dask_is_refused_within_the_timeout(
    behaviour: Callable[[socket.socket], None], words: str
) -> None:
    for address in _serve(behaviour):
        start = time.monotonic()
        with pytest.raises(SchedulerUnreachable, match=words) as caught:
            connect(address, timeout_s=3.0)
        assert address in str(caught.value)
        assert time.monotonic() - start < 3.5


def test_a_real_scheduler_passes_the_probe() -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, processes=False, protocol="tcp://", host="127.0.0.1", dashboard_address=None
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        client = connect(cluster.scheduler_address)
        try:
            assert sum(client.nthreads().values()) >= 1
        finally:
            client.close()
