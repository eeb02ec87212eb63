"""Verification: do both keys agree after reconciliation? A universal-hash tag comparison.

Alice draws a public seed and sends it with the ``t``-bit hash of her key; Bob hashes his key with
the same seed and compares the tags with :func:`hmac.compare_digest`. The hash has two stages, so
that no step costs more than one pass over the key: the Poly1305 polynomial hash (public random
key r, no pad) compresses the key to 128 bits, and a random t × 128 Toeplitz matrix maps those to
``t`` bits. Two different keys of at most L bytes collide in the first stage with probability at
most ``8⌈L/16⌉/2^106`` (Bernstein, "The Poly1305-AES message-authentication code", FSE 2005,
Theorem 3.3), at most 2⁻⁷⁰ for the keys of up to 2⁴⁰ bits accepted here, and in the second with
probability 2⁻ᵗ (Toeplitz matrices are 2-universal), so
``t = ⌈log2(1/(ε_cor − 2⁻⁷⁰))⌉`` makes the accepted keys ε_cor-correct. The ``t`` tag bits are
disclosed and recorded in both ledgers. On a mismatch Bob tells Alice, and both sides raise
VerificationFailed.

A key reconciled in frames is verified frame by frame, so that one frame's residual error costs that
frame only: one public seed, a tag per frame of ``t = ⌈log2(F/(ε_cor − 2⁻⁷⁰))⌉`` bits (a union bound over
the F frames keeps the kept key ε_cor-correct, since the seed is drawn after both keys are fixed), Bob's
verdict per frame, and both keep the frames whose tags matched. Every tag bit of every frame, kept or
dropped, is in the ledgers; the block fails only if no frame is kept.

>>> verification_tag_bits(1e-12)
40
>>> verification_seed_bits(40)   # 128 bits of polynomial key, then 40 + 128 - 1 Toeplitz bits
295
"""

from __future__ import annotations

import hmac
import math

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.poly1305 import Poly1305

from qkdnet.checks import check_int, check_probability
from qkdnet.errors import InvalidParameter, ProtocolError, VerificationFailed
from qkdnet.postprocess._bits import Bits, as_bits, uniform_frames
from qkdnet.postprocess.ledger import VERIFICATION_HASH, LeakageLedger
from qkdnet.postprocess.messages import FrameTags, FrameVerdicts, Message, VerificationOutcome, VerificationTag
from qkdnet.postprocess.privacy import HashSeed, toeplitz_hash

DEFAULT_EPS_COR = 1e-12
MAX_VERIFIED_BITS = 1 << 40
"""Longest key verified: it bounds the polynomial stage's collision probability by 2⁻⁷⁰."""
_POLY_COLLISION = 2.0**-70
_POLY_KEY_BITS = 128
_DIGEST_BITS = 128


def verification_tag_bits(eps_cor: float) -> int:
    """Tag length ``t = ⌈log2(1/(ε_cor − 2⁻⁷⁰))⌉``: different keys collide with probability ≤ ε_cor."""
    eps = check_probability(eps_cor, name="eps_cor")
    if eps <= 2.0 * _POLY_COLLISION:
        raise InvalidParameter(f"eps_cor must exceed 2^-69 (the polynomial stage's own bound), got {eps_cor!r}")
    return max(1, math.ceil(-math.log2(eps - _POLY_COLLISION)))


def frame_tag_bits(eps_cor: float, frames: int) -> int:
    """Tag length per frame when ``frames`` frames share ``eps_cor`` (a union bound: ε_cor/F each)."""
    check_int(frames, name="frames", minimum=1)
    return verification_tag_bits(check_probability(eps_cor, name="eps_cor") / frames)


def verification_seed_bits(tag_bits: int) -> int:
    """Public seed bits of one verification: the polynomial key, then the t × 128 Toeplitz seed."""
    t = check_int(tag_bits, name="tag_bits", minimum=1)
    return _POLY_KEY_BITS + t + _DIGEST_BITS - 1


def verification_tag(key: object, seed: HashSeed, tag_bits: int) -> bytes:
    """The ``tag_bits``-bit hash of ``key`` under ``seed`` (consumed), packed in bytes."""
    x = as_bits(key, name="key", copy=False, min_len=1)
    if x.size > MAX_VERIFIED_BITS:
        raise InvalidParameter(f"keys longer than {MAX_VERIFIED_BITS} bits cannot be verified")
    if len(seed) != verification_seed_bits(tag_bits):
        raise InvalidParameter(f"seed must hold {verification_seed_bits(tag_bits)} bits, got {len(seed)}")
    bits = seed.consume()
    poly_key = np.packbits(bits[:_POLY_KEY_BITS]).tobytes() + bytes(16)  # r public, no pad: a hash, not a MAC
    data = x.size.to_bytes(8, "little") + np.packbits(x).tobytes()
    digest = np.unpackbits(np.frombuffer(Poly1305.generate_tag(poly_key, data), dtype=np.uint8))
    return np.packbits(toeplitz_hash(digest, bits[_POLY_KEY_BITS:], tag_bits)).tobytes()


def _check_ledger(ledger: object) -> LeakageLedger:
    if not isinstance(ledger, LeakageLedger):
        raise InvalidParameter("ledger must be a LeakageLedger")
    return ledger


class _Frames:
    """A key cut into verification frames (the reconciler's), and which of them are kept."""

    def __init__(self, key: Bits, frame_lengths: npt.ArrayLike | None, eps_cor: float) -> None:
        lengths = uniform_frames(key.size, None) if frame_lengths is None else np.asarray(frame_lengths, np.int64)
        if lengths.ndim != 1 or lengths.size < 1 or np.any(lengths < 1) or int(lengths.sum()) != key.size:
            raise InvalidParameter(f"frame lengths must be positive and add up to the key's {key.size} bits")
        self.key = key
        self.lengths = lengths
        self.count = int(lengths.size)
        self.tag_bits = frame_tag_bits(eps_cor, self.count)
        self.kept = np.ones(self.count, dtype=bool)

    def tags(self, seed_bits: Bits) -> list[bytes]:
        """Each frame's tag under the same public seed."""
        ends = np.cumsum(self.lengths).tolist()
        starts = [0, *ends[:-1]]
        bounds = zip(starts, ends, strict=True)
        return [verification_tag(self.key[a:b], HashSeed(seed_bits), self.tag_bits) for a, b in bounds]

    def kept_positions(self) -> npt.NDArray[np.intp]:
        """Positions in the key of the kept frames' bits."""
        return np.flatnonzero(np.repeat(self.kept, self.lengths))

    def kept_key(self) -> Bits:
        """The kept frames, in order (the key itself when nothing was dropped)."""
        return self.key if self.kept.all() else self.key[self.kept_positions()]


class VerifyAlice:
    """Alice's side: sends the seed and her tag(s), then learns Bob's verdict (raising if nothing is kept)."""

    def __init__(
        self,
        key: object,
        *,
        ledger: LeakageLedger,
        rng: np.random.Generator,
        eps_cor: float = DEFAULT_EPS_COR,
        frame_lengths: npt.ArrayLike | None = None,
    ) -> None:
        self._frames = _Frames(as_bits(key, name="key", min_len=1), frame_lengths, eps_cor)
        self._ledger = _check_ledger(ledger)
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameter("rng must be a numpy.random.Generator")
        self._rng = rng
        self._state = "idle"  # idle -> sent -> accepted | rejected

    @property
    def done(self) -> bool:
        return self._state in ("accepted", "rejected")

    @property
    def tag_bits(self) -> int:
        """Length of one frame's tag, in bits."""
        return self._frames.tag_bits

    @property
    def disclosed_bits(self) -> int:
        """Bits disclosed by verification: every frame's tag."""
        return self._frames.tag_bits * self._frames.count

    def start(self) -> list[Message]:
        if self._state != "idle":
            raise ProtocolError("VerifyAlice already started")
        frames = self._frames
        seed = HashSeed.random(verification_seed_bits(frames.tag_bits), rng=self._rng)
        tags = frames.tags(seed.bits)
        self._ledger.record(VERIFICATION_HASH, self.disclosed_bits)
        self._state = "sent"
        if frames.count == 1:
            return [VerificationTag(seed.bits, tags[0], frames.tag_bits)]
        return [FrameTags(seed.bits, b"".join(tags), frames.tag_bits, frames.lengths)]

    def receive(self, message: Message) -> list[Message]:
        frames = self._frames
        match message:
            case VerificationOutcome(accepted=accepted) if self._state == "sent" and frames.count == 1:
                frames.kept[:] = accepted
            case FrameVerdicts(accepted=accepted) if self._state == "sent" and frames.count > 1:
                if accepted.size != frames.count:
                    raise ProtocolError(f"verdicts for {accepted.size} frames, expected {frames.count}")
                frames.kept[:] = accepted.astype(bool)
            case _:
                raise ProtocolError(f"VerifyAlice did not expect {type(message).__name__} ({self._state})")
        self._state = "accepted" if frames.kept.any() else "rejected"
        if self._state == "rejected":
            raise VerificationFailed("Bob's verification tag differs: the block is discarded")
        return []

    @property
    def kept_frames(self) -> Bits:
        """1 for each frame kept, 0 for each dropped (all 1 until the verdict)."""
        return self._frames.kept.astype(np.uint8)

    def kept_positions(self) -> npt.NDArray[np.intp]:
        """Positions in the reconciled key of the bits kept."""
        return self._frames.kept_positions()

    @property
    def key(self) -> Bits:
        """Alice's kept frames, once Bob has accepted at least one."""
        self._require_accepted()
        return self._frames.kept_key()

    def _require_accepted(self) -> None:
        if self._state == "rejected":
            raise VerificationFailed("verification failed: the block is discarded")
        if self._state != "accepted":
            raise ProtocolError("verification has not completed")


class VerifyBob:
    """Bob's side: checks Alice's tag of each frame against his own with a constant-time comparison."""

    def __init__(
        self,
        key: object,
        *,
        ledger: LeakageLedger,
        eps_cor: float = DEFAULT_EPS_COR,
        frame_lengths: npt.ArrayLike | None = None,
        failed_frames: npt.ArrayLike | None = None,
    ) -> None:
        self._frames = _Frames(as_bits(key, name="key", min_len=1), frame_lengths, eps_cor)
        failed = np.zeros(self._frames.count, bool) if failed_frames is None else np.asarray(failed_frames, bool)
        if failed.shape != (self._frames.count,):
            raise InvalidParameter(f"failed_frames must flag each of the {self._frames.count} frames")
        self._failed = failed
        self._ledger = _check_ledger(ledger)
        self._state = "waiting"  # waiting -> accepted | rejected

    @property
    def done(self) -> bool:
        return self._state != "waiting"

    def start(self) -> list[Message]:
        return []

    def receive(self, message: Message) -> list[Message]:
        frames = self._frames
        match message:
            case VerificationTag(seed=seed, tag=tag, tag_bits=tag_bits) if self._state == "waiting":
                self._check_tag_shape(seed, tag_bits, frames.lengths[:1] if frames.count == 1 else None)
                tags = [tag]
            case FrameTags(seed=seed, tags=joined, tag_bits=tag_bits, frame_lengths=lengths) if (
                self._state == "waiting"
            ):
                self._check_tag_shape(seed, tag_bits, lengths)
                size = (tag_bits + 7) // 8
                tags = [joined[i * size : (i + 1) * size] for i in range(frames.count)]
            case _:
                raise ProtocolError(f"VerifyBob did not expect {type(message).__name__} ({self._state})")
        mine = frames.tags(seed)
        self._ledger.record(VERIFICATION_HASH, frames.tag_bits * frames.count)
        matched = np.array([hmac.compare_digest(m, t) for m, t in zip(mine, tags, strict=True)])
        frames.kept[:] = matched & ~self._failed  # a frame the reconciler gave up on is dropped whatever its tag
        self._state = "accepted" if frames.kept.any() else "rejected"
        if frames.count == 1:
            return [VerificationOutcome(bool(frames.kept[0]))]
        return [FrameVerdicts(frames.kept.astype(np.uint8))]

    def _check_tag_shape(self, seed: Bits, tag_bits: int, lengths: npt.NDArray[np.int64] | None) -> None:
        frames = self._frames
        if lengths is None or not np.array_equal(lengths, frames.lengths):
            count = 1 if lengths is None else lengths.size
            raise ProtocolError(f"tags for {count} frames, not the {frames.count} frames of this key")
        if tag_bits != frames.tag_bits:
            raise ProtocolError(f"tag length {tag_bits} bits, expected {frames.tag_bits}")
        if seed.size != verification_seed_bits(tag_bits):
            raise ProtocolError(f"verification seed has {seed.size} bits, expected {verification_seed_bits(tag_bits)}")

    @property
    def accepted(self) -> bool:
        """Whether some frame's tags matched (only meaningful once :attr:`done`)."""
        return self._state == "accepted"

    @property
    def kept_frames(self) -> Bits:
        """1 for each frame kept, 0 for each dropped."""
        return self._frames.kept.astype(np.uint8)

    def kept_positions(self) -> npt.NDArray[np.intp]:
        """Positions in the reconciled key of the bits kept."""
        return self._frames.kept_positions()

    @property
    def key(self) -> Bits:
        """Bob's kept frames; raises VerificationFailed if no frame's tags matched."""
        if self._state == "rejected":
            raise VerificationFailed("the verification tags differ: the block is discarded")
        if self._state != "accepted":
            raise ProtocolError("verification has not completed")
        return self._frames.kept_key()

    def check(self) -> None:
        """Raise VerificationFailed unless some frame's tags matched."""
        _ = self.key


__all__ = [
    "DEFAULT_EPS_COR",
    "MAX_VERIFIED_BITS",
    "VerifyAlice",
    "VerifyBob",
    "frame_tag_bits",
    "uniform_frames",
    "verification_seed_bits",
    "verification_tag",
    "verification_tag_bits",
]
