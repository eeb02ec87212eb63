"""Shared helpers of the post-processing tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from qkdnet.postprocess import AuthenticatedFrame, LeakageLedger, Message
from qkdnet.postprocess.protocol import Side


def noisy_pair(n: int, errors: int, rng: np.random.Generator) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """A random key and a copy with exactly ``errors`` flipped positions."""
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    bob = alice.copy()
    bob[rng.choice(n, size=errors, replace=False)] ^= 1
    return alice, bob


def h2(p: float) -> float:
    """Binary entropy, written out again here so tests do not lean on qkdnet.units."""
    if p in (0.0, 1.0):
        return 0.0
    return float(-p * np.log2(p) - (1 - p) * np.log2(1 - p))


def poly1305_by_definition(key: bytes, message: bytes) -> bytes:
    """Poly1305 written out from RFC 8439 §2.5.1, an oracle independent of pyca/cryptography."""
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(message), 16):
        block = message[i : i + 16] + b"\x01"
        acc = (acc + int.from_bytes(block, "little")) * r % p
    return ((acc + s) % (1 << 128)).to_bytes(16, "little")


class SilentReconciler:
    """A reconciler double that sends nothing: Bob's "corrected" key is ``bob_result(his key)``.

    ``frame_lengths`` (None: one frame) is what both parties report; with the identity it is right only for
    keys that already agree, with a function that flips a bit it leaves a residual error for verification.
    """

    def __init__(
        self,
        bob_result: Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.uint8]] = lambda key: key,
        frame_lengths: npt.NDArray[np.int64] | None = None,
    ) -> None:
        self.bob_result, self.frame_lengths = bob_result, frame_lengths

    class _Party:
        def __init__(self, key: npt.NDArray[np.uint8], frame_lengths: npt.NDArray[np.int64] | None) -> None:
            self.key, self.disclosed_bits, self.rounds, self.corrected_bits = key, 0, 0, 0
            self.frame_lengths = np.array([key.size]) if frame_lengths is None else frame_lengths
            self.failed_frames = np.zeros(self.frame_lengths.size, dtype=bool)
            self.done = True
            self.result = self

        def start(self) -> list[Message]:
            return []

        def receive(self, message: Message) -> list[Message]:
            raise AssertionError("a silent reconciler is sent nothing")

    def make_alice(self, key: npt.NDArray[np.uint8], *, ledger: LeakageLedger, rng: np.random.Generator) -> _Party:
        return self._Party(key, self.frame_lengths)

    def make_bob(
        self, key: npt.NDArray[np.uint8], *, qber_estimate: float, ledger: LeakageLedger, rng: np.random.Generator
    ) -> _Party:
        return self._Party(self.bob_result(key.copy()), self.frame_lengths)


class FlipOneBit:
    """A wire (an Interceptor) that flips bit ``bit`` (mod the frame's length) of the ``index``-th frame it
    forwards, counting frames from 0 in both directions; ``count`` is how many frames passed."""

    def __init__(self, index: int, bit: int) -> None:
        self.index, self.bit, self.count, self.flipped = index, bit, 0, False

    def intercept(self, sender: Side, messages: list[Message]) -> list[tuple[Side, Message]]:
        out: list[tuple[Side, Message]] = []
        for m in messages:
            if self.count == self.index and isinstance(m, AuthenticatedFrame):
                data = bytearray(m.data)
                bit = self.bit % (8 * len(data))
                data[bit // 8] ^= 1 << (bit % 8)
                m = AuthenticatedFrame(bytes(data))
                self.flipped = True
            self.count += 1
            out.append((sender, m))
        return out
