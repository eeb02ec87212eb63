"""qkdnet send / receive against two running nodes and their ETSI APIs: one-time pads, rejection, crashes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import qkdnet
from tests.kms.system import KeyNetwork, free_port, wait_until

SAE_A = ("--pki", "pki", "--sae", "SAE_A")
SAE_B = ("--pki", "pki", "--sae", "SAE_B")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyNetwork]:
    """One key network for the module: blocks of 5·10^5 pairs give ~4 kB of key per direction each."""
    network = KeyNetwork(tmp_path_factory.mktemp("otp"), pairs_per_block=500_000)
    network.start()
    network.wait_blocks("bob", 4, timeout_s=90)
    yield network
    network.stop()


def _journal_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [k for line in path.read_text().splitlines() for k in json.loads(line)["key_ids"]]


def _receiver(net: KeyNetwork, name: str, out: str, *, once: bool = True) -> tuple[int, object]:
    port = free_port()
    args = ["receive", "--kme", net.url("bob"), "--listen", f"127.0.0.1:{port}", "--out", out, *SAE_B]
    proc = net.spawn(name, *args, *(["--once"] if once else []))
    net.wait_log(name, "listening")
    return port, proc


def test_a_file_crosses_under_a_one_time_pad(net: KeyNetwork) -> None:
    data = os.urandom(3000)
    (net.root / "secret.bin").write_bytes(data)
    port, proc = _receiver(net, "recv-ok", "inbox-ok")
    sent = net.cli("send", "secret.bin", "--kme", net.url("alice"), "--to", "SAE_B", "--peer", f"127.0.0.1:{port}",
                   "--chunk-bytes", "1000", *SAE_A)  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert proc.wait(timeout=30) == 0  # type: ignore[attr-defined]
    assert (net.root / "inbox-ok" / "secret.bin").read_bytes() == data
    assert "3 message(s)" in sent.stdout and "every tag verified" in net.log("recv-ok")
    sender, receiver = (
        _journal_ids(net.root / "pki" / "SAE_A.journal"),
        _journal_ids(net.root / "pki" / "SAE_B.journal"),
    )
    assert sender == receiver and len(set(sender)) == len(sender) == 6  # 1074 pad bytes a chunk: two keys


def test_an_idle_sender_does_not_block_another_transfer(net: KeyNetwork) -> None:
    data = os.urandom(500)
    (net.root / "meanwhile.bin").write_bytes(data)
    port, proc = _receiver(net, "recv-busy", "inbox-busy", once=False)
    idle = socket.create_connection(("127.0.0.1", port))
    try:
        idle.sendall(b"QOTP")  # and then nothing: the receiver waits on it for up to a minute
        time.sleep(0.5)  # the receiver has accepted it before the real sender connects
        sent = net.cli("send", "meanwhile.bin", "--kme", net.url("alice"), "--to", "SAE_B", "--peer",
                       f"127.0.0.1:{port}", *SAE_A, timeout_s=20)  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        assert (net.root / "inbox-busy" / "meanwhile.bin").read_bytes() == data
    finally:
        idle.close()
        proc.terminate()  # type: ignore[attr-defined]


class _Tamper:
    """A relay from sender to receiver that flips one byte at ``offset`` of the sender's stream, or records it."""

    def __init__(self, target: int, offset: int | None) -> None:
        self.port = free_port()
        self.recorded = bytearray()
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._run, args=(target, offset), daemon=True).start()

    def _run(self, target: int, offset: int | None) -> None:
        client, _ = self._server.accept()
        upstream = socket.create_connection(("127.0.0.1", target))

        def back() -> None:
            while data := upstream.recv(4096):
                client.sendall(data)
            client.close()

        threading.Thread(target=back, daemon=True).start()
        seen = 0
        while data := client.recv(4096):
            if offset is not None and seen <= offset < seen + len(data):
                i = offset - seen
                data = data[:i] + bytes([data[i] ^ 0x40]) + data[i + 1 :]
            seen += len(data)
            self.recorded += data
            upstream.sendall(data)
        upstream.shutdown(socket.SHUT_WR)


def test_a_message_whose_tag_fails_is_rejected_and_nothing_is_written(net: KeyNetwork) -> None:
    (net.root / "note.txt").write_bytes(b"pay 100 to Bob" * 20)
    port, proc = _receiver(net, "recv-forged", "inbox-forged")
    relay = _Tamper(port, offset=15 + 2 + 16 + 4 + 17 + 40)  # inside the first message's ciphertext body
    sent = net.cli("send", "note.txt", "--kme", net.url("alice"), "--to", "SAE_B", "--peer", f"127.0.0.1:{relay.port}",
                   *SAE_A)  # fmt: skip
    assert sent.returncode == 2 and "rejected" in sent.stderr
    assert proc.wait(timeout=30) == 1  # type: ignore[attr-defined]
    assert "failed its authentication tag" in net.log("recv-forged")
    assert not (net.root / "inbox-forged").exists() or not any((net.root / "inbox-forged").iterdir())


def test_a_replayed_message_is_rejected(net: KeyNetwork) -> None:
    (net.root / "hello.txt").write_bytes(b"hello once")
    port, proc = _receiver(net, "recv-replay", "inbox-replay", once=False)
    relay = _Tamper(port, offset=None)
    sent = net.cli("send", "hello.txt", "--kme", net.url("alice"), "--to", "SAE_B", "--peer", f"127.0.0.1:{relay.port}",
                   *SAE_A)  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    target = net.root / "inbox-replay" / "hello.txt"
    target.unlink()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(bytes(relay.recorded))
        s.shutdown(socket.SHUT_WR)
        answer = s.recv(1000)
    assert answer[:1] == b"\x01" and b"already used" in answer
    assert not target.exists()
    proc.terminate()  # type: ignore[attr-defined]


CRASHING_SENDER = """
import os, signal, sys
from qkdnet.cli import otp_transfer
from qkdnet.cli.main import main
after = int(sys.argv[1])
otp_transfer.CHUNK_SENT_HOOKS.append(lambda i: os.kill(os.getpid(), signal.SIGKILL) if i + 1 >= after else None)
sys.exit(main(sys.argv[2:]))
"""


def _crashing_sender(net: KeyNetwork, *, after_chunks: int, args: list[str]) -> subprocess.CompletedProcess[str]:
    """``qkdnet ARGS`` with a crash point (the test seam): SIGKILL once ``after_chunks`` chunks are sent."""
    env = {**os.environ, "PYTHONPATH": str(Path(qkdnet.__file__).parents[1])}
    command = [sys.executable, "-c", CRASHING_SENDER, str(after_chunks), *args]
    return subprocess.run(command, cwd=net.root, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_a_sender_whose_answer_never_comes_says_so_in_one_line(net: KeyNetwork) -> None:
    (net.root / "quiet.txt").write_bytes(b"nobody will confirm this")
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    held: list[socket.socket] = []
    accepter = threading.Thread(target=lambda: held.append(silent.accept()[0]), daemon=True)
    accepter.start()
    try:
        args = ["send", "quiet.txt", "--kme", net.url("alice"), "--to", "SAE_B", "--peer", f"127.0.0.1:{port}"]
        result = net.cli(*args, "--timeout", "2", *SAE_A)
    finally:
        for conn in held:
            conn.close()
        silent.close()
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "gave no answer" in line and "delivery unknown" in line and "TimeoutError" in line


def test_kill_9_of_the_sender_mid_file_never_reuses_a_pad(net: KeyNetwork) -> None:
    data = os.urandom(4000)
    (net.root / "big.bin").write_bytes(data)
    port, proc = _receiver(net, "recv-crash", "inbox-crash", once=False)
    journal = net.root / "pki" / "SAE_A.journal"
    before = set(_journal_ids(journal))
    args = ["send", "big.bin", "--kme", net.url("alice"), "--to", "SAE_B", "--peer", f"127.0.0.1:{port}"]
    crashed = _crashing_sender(net, after_chunks=2, args=[*args, "--chunk-bytes", "900", *SAE_A])
    assert crashed.returncode == -9
    wait_until(lambda: "broke off" in net.log("recv-crash"), 30, "the receiver to drop the broken transfer")
    first_run = set(_journal_ids(journal)) - before
    assert len(first_run) == 2 and not (net.root / "inbox-crash" / "big.bin").exists()
    again = net.cli(*args, "--chunk-bytes", "900", *SAE_A)
    assert again.returncode == 0, again.stderr
    second_run = set(_journal_ids(journal)) - before - first_run
    assert len(second_run) == 5 and not (first_run & second_run)  # five chunks, one key each
    assert (net.root / "inbox-crash" / "big.bin").read_bytes() == data
    ids = _journal_ids(journal)
    assert len(ids) == len(set(ids)), "a key ID was used twice"
    proc.terminate()  # type: ignore[attr-defined]
