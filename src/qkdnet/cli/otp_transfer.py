"""``qkdnet send`` and ``qkdnet receive``: a file under a one-time pad, keys from ETSI GS QKD 014, plain TCP between.

The sender cuts the file into chunks; for each chunk it fetches fresh keys from its KME (``enc_keys``), writes
their IDs to its journal (fsync'd) *before* using them, encrypts the chunk with them as a one-time pad and a
one-time Poly1305 tag (:func:`qkdnet.otp.encrypt`) and sends the ciphertext with the key IDs over plain TCP —
the insecure network. The receiver fetches the same keys from its own KME by ID (``dec_keys``), journals them,
checks every tag and writes the file (atomically) only if all chunks verify; a message whose tag fails is
rejected and nothing is written. A key is never used twice: the KMEs hand each key out once per side, and each
application refuses any key ID its journal already holds, also after kill -9.

The file name, its size and the chunk numbering travel inside the encrypted, authenticated plaintext. Wire
format (big-endian): ``b"QOTP" | version u8 | sender SAE ID (u8 length + UTF-8) | chunks u32``, then per chunk
``keys u16 | key IDs (16 bytes each) | ciphertext length u32 | ciphertext``; the receiver answers ``status u8
(0 accepted, 1 rejected) | u16 length | UTF-8 reason``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import secrets
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from uuid import UUID

from qkdnet.cli._common import UsageError, _checked, _positive_int, check_writable
from qkdnet.errors import AlreadyConsumed, MessageRejected, QkdnetError
from qkdnet.kms.keyfiles import private_dir

MAGIC: Final = b"QOTP"
VERSION: Final = 1
MAX_CHUNK_BYTES: Final = 1 << 20
MAX_CHUNKS: Final = 1 << 20
MAX_KEYS_PER_CHUNK: Final = 4096
_PLAIN: Final = struct.Struct(">16sIIQH")  # transfer id, chunk index, chunk count, file size, name length
#: A seam for tests (e.g. crash points): each is called with a chunk's index once that chunk is sent. The
#: product registers none; the test suite appends its own in a process it starts.
CHUNK_SENT_HOOKS: list[Callable[[int], None]] = []


CONNECTION_TIMEOUT_S: Final = 60.0  # the receiver drops a sender silent for this long


class TransferRejected(QkdnetError):
    """The receiver refused the transfer (its reason is in the message)."""


class TransferUnconfirmed(QkdnetError):
    """The receiver's answer never came: the sender cannot tell whether the file was delivered."""


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(text)
    return host or "127.0.0.1", int(port)


_host_port = _checked(_address, lambda v: True, "HOST:PORT")


def add_transfer_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """Register ``send`` and ``receive``."""
    send = sub.add_parser(
        "send",
        help="send a file under a one-time pad: keys by ETSI 014 enc_keys, ciphertext over plain TCP",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    send.add_argument("file", type=Path, metavar="FILE")
    send.add_argument("--kme", required=True, metavar="URL", help="this SAE's KME, e.g. https://127.0.0.1:8443")
    send.add_argument("--to", required=True, metavar="SAE_ID", help="the receiving (slave) SAE")
    send.add_argument("--peer", required=True, type=_host_port, metavar="HOST:PORT", help="where the receiver listens")
    send.add_argument(
        "--chunk-bytes", type=_positive_int, default=4096, metavar="N", help="plaintext bytes per message (4096)"
    )
    send.add_argument(
        "--timeout",
        type=_checked(float, lambda t: 0 < t <= 3600, "seconds in (0, 3600]"),
        default=30.0,
        metavar="S",
        help="give up on a silent receiver after S seconds per step, the final answer included (30)",
    )
    recv = sub.add_parser(
        "receive",
        help="receive one-time-pad files: keys by ETSI 014 dec_keys, verify every tag, then write",
        description="Listen for senders; fetch each message's keys from this SAE's KME by their IDs, verify, "
        "decrypt, and write the file into DIR only if every part verifies.",
    )
    recv.add_argument("--kme", required=True, metavar="URL", help="this SAE's KME")
    recv.add_argument("--listen", required=True, type=_host_port, metavar="HOST:PORT", help="address to listen on")
    recv.add_argument("--out", required=True, type=Path, metavar="DIR", help="directory for received files")
    recv.add_argument("--once", action="store_true", help="exit after the first transfer (0 if accepted, 1 if not)")
    for p in (send, recv):
        p.add_argument("--pki", type=Path, default=None, metavar="DIR", help="directory of ID.crt, ID.key, ca.crt")
        p.add_argument("--sae", default=None, metavar="ID", help="this SAE's ID (its files in --pki)")
        p.add_argument("--cert", type=Path, default=None, metavar="FILE", help="this SAE's certificate (PEM)")
        p.add_argument("--key", type=Path, default=None, metavar="FILE", help="this SAE's private key (PEM)")
        p.add_argument("--ca", type=Path, default=None, metavar="FILE", help="the CA that signed the KME")
        p.add_argument(
            "--journal", type=Path, default=None, metavar="FILE", help="consumed key IDs (default: beside the key)"
        )


@dataclass(frozen=True, slots=True)
class SaeFiles:
    """An SAE's ID and TLS files, and its journal of consumed key IDs."""

    sae_id: str
    cert: Path
    key: Path
    ca: Path
    journal: Path


def _sae_files(args: argparse.Namespace) -> SaeFiles:
    from qkdnet.kms.pki import common_name

    pki, sae = args.pki, args.sae
    cert = args.cert or (pki / f"{sae}.crt" if pki and sae else None)
    key = args.key or (pki / f"{sae}.key" if pki and sae else None)
    ca = args.ca or (pki / "ca.crt" if pki else None)
    if cert is None or key is None or ca is None:
        raise UsageError("give --pki DIR --sae ID, or --cert, --key and --ca")
    for name, path in (("--cert", cert), ("--key", key), ("--ca", ca)):
        if not path.is_file() or not os.access(path, os.R_OK):
            raise UsageError(f"{name}: cannot read {path}" + (" (a folder)" if path.is_dir() else ""))
    try:
        from cryptography import x509

        der = x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(_der())
    except ValueError as exc:
        raise UsageError(f"--cert: {cert} is not a PEM certificate ({exc})") from None
    sae_id = common_name(der) or ""
    if not sae_id or (sae and sae != sae_id):
        raise UsageError(f"--cert: {cert} names SAE {sae_id!r}, expected {sae!r}")
    journal = args.journal or key.with_name(f"{sae_id}.journal")
    return SaeFiles(sae_id, cert, key, ca, journal)


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


class Journal:
    """Key IDs this application consumed, one JSON line per use, fsync'd before the keys are used."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.used: set[UUID] = set()
        self._lock = threading.Lock()  # receive serves senders in threads
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    self.used.update(UUID(k) for k in json.loads(line)["key_ids"])
                except (ValueError, KeyError, TypeError):
                    continue  # a line torn by a crash: its keys were never used
        private_dir(path.parent)

    def check(self, key_ids: list[UUID]) -> None:
        """Raise AlreadyConsumed if any of these keys was used before (a replayed message, or a KME fault)."""
        reused = [k for k in key_ids if k in self.used]
        if reused:
            raise AlreadyConsumed(f"key {reused[0]} was already used here: a one-time pad is never used twice")

    def consume(self, key_ids: list[UUID], **note: object) -> None:
        """Refuse IDs used before; record these as used (on disk before this returns)."""
        with self._lock:
            self._consume(key_ids, note)

    def _consume(self, key_ids: list[UUID], note: dict[str, object]) -> None:
        self.check(key_ids)
        line = json.dumps({"t": round(time.time(), 3), "key_ids": [str(k) for k in key_ids], **note}) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        self.used.update(key_ids)


def run_transfer_command(args: argparse.Namespace) -> int:
    """Dispatch ``send`` and ``receive``."""
    if args.command == "receive":
        check_writable(args.out, "--out", folder=True)
    files = _sae_files(args)
    return _send(args, files) if args.command == "send" else _receive(args, files)


# ------------------------------------------------------------------------------------------------- sending
def _chunks(data: bytes, size: int) -> Iterator[tuple[int, bytes]]:
    for i, start in enumerate(range(0, max(len(data), 1), size)):
        yield i, data[start : start + size]


def _send(args: argparse.Namespace, sae: SaeFiles) -> int:
    from qkdnet.kms.client import EtsiClient
    from qkdnet.otp import PadLedger, encrypt, pad_bytes_needed

    path: Path = args.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    name = path.name.encode()
    size = args.chunk_bytes
    n_chunks = max(1, -(-len(data) // size))
    if n_chunks > MAX_CHUNKS or size > MAX_CHUNK_BYTES:
        raise UsageError(f"--chunk-bytes: at most {MAX_CHUNK_BYTES} bytes per chunk and {MAX_CHUNKS} chunks")
    journal = Journal(sae.journal)
    transfer = secrets.token_bytes(16)
    used_keys = used_bits = 0
    with EtsiClient(args.kme, cert=sae.cert, key=sae.key, ca=sae.ca) as kme:
        status = kme.status(args.to)
        max_bits, min_bits = int(status["max_key_size"]), int(status["min_key_size"])
        per_request = int(status["max_key_per_request"])
        with socket.create_connection(args.peer, timeout=args.timeout) as conn:
            conn.sendall(MAGIC + struct.pack(">BB", VERSION, len(sae.sae_id)) + sae.sae_id.encode())
            conn.sendall(struct.pack(">I", n_chunks))
            for index, chunk in _chunks(data, size):
                plaintext = _PLAIN.pack(transfer, index, n_chunks, len(data), len(name)) + name + chunk
                need_bits = 8 * pad_bytes_needed(len(plaintext))
                # As few keys as the KME's largest size allows, each just big enough (a multiple of 8 bits).
                number = -(-need_bits // max_bits)
                per_key = -(-need_bits // number)
                key_bits = max(min_bits, -(-per_key // 8) * 8)
                if number > per_request:
                    raise UsageError(f"--chunk-bytes: a chunk needs {number} keys, the KME gives {per_request}")
                keys = kme.enc_keys(args.to, number=number, size_bits=key_bits)
                ids = [k.key_id for k in keys]
                journal.consume(ids, role="send", transfer=transfer.hex(), chunk=index)
                ledger = PadLedger(b"".join(k.key for k in keys))
                wire = encrypt(plaintext, ledger).to_bytes()
                del ledger  # the rest of the last key is never used: it is journaled as consumed
                conn.sendall(struct.pack(">H", len(ids)) + b"".join(k.bytes for k in ids))
                conn.sendall(struct.pack(">I", len(wire)) + wire)
                used_keys += len(ids)
                used_bits += number * key_bits
                for hook in CHUNK_SENT_HOOKS:
                    hook(index)
            try:
                status_byte, reason = _read_answer(conn)
            except (OSError, struct.error) as exc:
                raise TransferUnconfirmed(
                    f"{path.name}: all {n_chunks} message(s) sent, but {args.peer[0]}:{args.peer[1]} gave no answer "
                    f"({type(exc).__name__}: {exc or 'closed'}); delivery unknown, its keys stay used"
                ) from None
    if status_byte != 0:
        raise TransferRejected(f"{args.to} rejected {path.name}: {reason}")
    print(
        f"sent {path.name} ({len(data):,} bytes) to {args.to} at {args.peer[0]}:{args.peer[1]}: {n_chunks} "
        f"message(s) under a one-time pad of {used_keys} key(s), {used_bits:,} bits; {reason}"
    )
    return 0


def _read_answer(conn: socket.socket) -> tuple[int, str]:
    head = _recv_exact(conn, 3)
    status, length = struct.unpack(">BH", head)
    return status, _recv_exact(conn, length).decode(errors="replace")


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        part = conn.recv(min(size - got, 1 << 20))
        if not part:
            raise ConnectionError(f"connection closed after {got} of {size} bytes")
        parts.append(part)
        got += len(part)
    return b"".join(parts)


# ----------------------------------------------------------------------------------------------- receiving
def _receive(args: argparse.Namespace, sae: SaeFiles) -> int:
    from qkdnet.kms.client import EtsiClient

    out: Path = args.out
    private_dir(out)
    journal = Journal(sae.journal)
    with (
        EtsiClient(args.kme, cert=sae.cert, key=sae.key, ca=sae.ca) as kme,
        socket.create_server(args.listen) as server,
    ):
        print(f"{sae.sae_id} listening on {args.listen[0]}:{args.listen[1]}, files go to {out}", flush=True)
        outcomes: queue.SimpleQueue[int] = queue.SimpleQueue()
        server.settimeout(0.2)  # wake up to see whether a --once transfer has finished
        while True:
            if args.once and not outcomes.empty():
                return outcomes.get()
            try:
                conn, peer = server.accept()
            except TimeoutError:
                continue
            # One thread per sender: an idle or slow connection never holds up another transfer.
            worker = threading.Thread(
                target=lambda c=conn, p=peer: outcomes.put(_serve_one(c, p[0], kme, journal, out)),
                name=f"receive:{peer[0]}:{peer[1]}",
                daemon=True,
            )
            worker.start()


def _serve_one(conn: socket.socket, peer: str, kme: Any, journal: Journal, out: Path) -> int:
    """One sender's transfer, then its answer (after the file is durably written); 0 if written, else 1."""
    with conn:
        conn.settimeout(CONNECTION_TIMEOUT_S)  # per step: a silent sender is dropped, others go on
        try:
            written, sender = _receive_one(conn, kme, journal, out)
        except (MessageRejected, TransferRejected, AlreadyConsumed, QkdnetError) as exc:
            reason = str(exc)
            print(f"rejected a transfer from {peer}: {reason}; nothing written", flush=True)
            _answer(conn, 1, reason)
            return 1
        except (OSError, struct.error) as exc:
            print(f"transfer from {peer} broke off ({exc or type(exc).__name__}); nothing written", flush=True)
            return 1
        size = written.stat().st_size
        print(f"received {written.name} from {sender}: {size:,} bytes, every tag verified; "
              f"written to {written}", flush=True)  # fmt: skip
        _answer(conn, 0, f"{sender}'s {written.name} verified and written")
        return 0


def _answer(conn: socket.socket, status: int, reason: str) -> None:
    text = reason.encode()[:60000]
    with contextlib.suppress(OSError):
        conn.sendall(struct.pack(">BH", status, len(text)) + text)


def _receive_one(conn: socket.socket, kme: Any, journal: Journal, out: Path) -> tuple[Path, str]:
    from qkdnet.otp import Ciphertext, PadLedger, decrypt

    head = _recv_exact(conn, 6)
    if head[:4] != MAGIC or head[4] != VERSION:
        raise TransferRejected("not a qkdnet one-time-pad transfer")
    sender = _recv_exact(conn, head[5]).decode(errors="replace")
    (n_chunks,) = struct.unpack(">I", _recv_exact(conn, 4))
    if not 0 < n_chunks <= MAX_CHUNKS:
        raise TransferRejected(f"a transfer of {n_chunks} chunks")
    parts: list[bytes] = []
    first: tuple[bytes, int, bytes] | None = None
    for index in range(n_chunks):
        (n_keys,) = struct.unpack(">H", _recv_exact(conn, 2))
        if not 0 < n_keys <= MAX_KEYS_PER_CHUNK:
            raise TransferRejected(f"chunk {index} names {n_keys} keys")
        raw_ids = _recv_exact(conn, 16 * n_keys)
        ids = [UUID(bytes=raw_ids[16 * i : 16 * i + 16]) for i in range(n_keys)]
        (length,) = struct.unpack(">I", _recv_exact(conn, 4))
        if length > MAX_CHUNK_BYTES + 4096:
            raise TransferRejected(f"chunk {index} of {length} bytes")
        ciphertext = Ciphertext.from_bytes(_recv_exact(conn, length))
        journal.check(ids)
        keys = kme.dec_keys(sender, ids)
        journal.consume(ids, role="receive", sender=sender, chunk=index)
        plaintext = decrypt(ciphertext, PadLedger(b"".join(k.key for k in keys)))  # MessageRejected if forged
        transfer, got_index, count, size, name_len = _PLAIN.unpack_from(plaintext)
        name = plaintext[_PLAIN.size : _PLAIN.size + name_len]
        if first is None:
            first = (transfer, size, name)
        if (transfer, size, name) != first or got_index != index or count != n_chunks:
            raise TransferRejected(f"chunk {index} does not belong to this transfer (replayed or reordered)")
        parts.append(plaintext[_PLAIN.size + name_len :])
    assert first is not None  # noqa: S101 - n_chunks > 0
    data = b"".join(parts)
    if len(data) != first[1]:
        raise TransferRejected(f"the file should have {first[1]} bytes, {len(data)} arrived")
    return _write_atomically(out, first[2].decode(errors="replace"), data), sender


def _write_atomically(out: Path, name: str, data: bytes) -> Path:
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise TransferRejected(f"unsafe file name {name!r}")
    target = out / name
    temp = out / f".{name}.{secrets.token_hex(4)}.part"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temp.replace(target)
    _fsync_dir(out)  # the rename itself is durable before the sender is told
    return target


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = [
    "CHUNK_SENT_HOOKS",
    "Journal",
    "TransferRejected",
    "TransferUnconfirmed",
    "add_transfer_commands",
    "run_transfer_command",
]
