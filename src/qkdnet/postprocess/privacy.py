"""Toeplitz hashing over GF(2), computed exactly by FFT, and the privacy-amplification protocol.

An (m × n) Toeplitz matrix is fixed by m + n − 1 seed bits: ``T[i, j] = seed[i − j + n − 1]``
(first column ``seed[n−1:]``, first row ``seed[n−1::−1]``). Random Toeplitz matrices form a
2-universal family, so by the leftover hash lemma ``T·x`` is ε-close to uniform and independent of
Eve when m is small enough (see :mod:`qkdnet.postprocess.keylength`). The product is one linear
convolution: it is computed with real FFTs of size ``next_fast_len(m + n − 1)``, rounded to the
nearest integer and reduced mod 2; the rounding margin is checked on every call, so a result is
either exact or an error.

>>> key = np.array([1, 0, 1, 1], dtype=np.uint8)
>>> seed = np.array([1, 1, 0, 1, 0], dtype=np.uint8)   # m + n - 1 = 2 + 4 - 1
>>> toeplitz_hash(key, seed, 2).tolist()
[1, 1]
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from qkdnet.errors import AlreadyConsumed, InvalidParameter, NoSecretKey, ProtocolError
from qkdnet.postprocess._bits import Bits, as_bits, check_int
from qkdnet.postprocess.messages import AmplificationSeed, Message

_ROUNDING_MARGIN = 0.25


def toeplitz_hash(key: object, seed_bits: object, out_len: int, *, workers: int | None = None) -> Bits:
    """The GF(2) product ``T·key`` of the (out_len × n) Toeplitz matrix of ``seed_bits`` with ``key``.

    ``seed_bits`` must hold exactly ``out_len + n − 1`` bits. Exact for any n that fits in memory
    (checked: every convolution value must lie within 0.25 of an integer).
    """
    x = as_bits(key, name="key", copy=False, min_len=1)
    s = as_bits(seed_bits, name="seed_bits", copy=False)
    m = check_int(out_len, name="out_len")
    n = x.size
    if s.size != m + n - 1:
        raise InvalidParameter(f"seed_bits must hold out_len + n - 1 = {m + n - 1} bits, got {s.size}")
    if m == 0:
        return np.zeros(0, dtype=np.uint8)
    # y[i] = sum_j s[i - j + n - 1] x[j] = (s * x)[i + n - 1]; a cyclic convolution of length
    # L >= m + n - 1 has no wrap-around at the indices n - 1 .. m + n - 2 that we keep.
    size = scipy.fft.next_fast_len(m + n - 1, real=True)
    spectrum = scipy.fft.rfft(s.astype(np.float64), size, workers=workers)
    spectrum *= scipy.fft.rfft(x.astype(np.float64), size, workers=workers)
    conv = scipy.fft.irfft(spectrum, size, workers=workers)[n - 1 : n - 1 + m]
    rounded = np.rint(conv)
    error = float(np.max(np.abs(conv - rounded)))
    if not error < _ROUNDING_MARGIN:  # pragma: no cover - needs keys far beyond memory limits
        raise ArithmeticError(f"FFT rounding error {error:.3g} too large for an exact GF(2) product")
    result: Bits = (rounded.astype(np.int64) & 1).astype(np.uint8)
    return result


class HashSeed:
    """A one-shot public seed of a Toeplitz hash: it hashes one key, once.

    The seed bits are public (they travel in a message); reusing a seed for a second key raises
    AlreadyConsumed, as all one-time material does.
    """

    def __init__(self, bits: object) -> None:
        arr = as_bits(bits, name="seed bits", copy=True)
        arr.setflags(write=False)
        self._bits = arr
        self._consumed = False

    @classmethod
    def random(cls, n_bits: int, *, rng: np.random.Generator) -> HashSeed:
        """A fresh uniformly random seed of ``n_bits`` bits drawn from ``rng``."""
        count = check_int(n_bits, name="n_bits")
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameter("rng must be a numpy.random.Generator")
        return cls(rng.integers(0, 2, size=count, dtype=np.uint8))

    @property
    def bits(self) -> Bits:
        """The seed bits (read-only), to send to the peer."""
        return self._bits

    @property
    def consumed(self) -> bool:
        """Whether the seed has hashed a key already."""
        return self._consumed

    def toeplitz(self, key: object, out_len: int) -> Bits:
        """Hash ``key`` to ``out_len`` bits with this seed; a second call raises AlreadyConsumed."""
        if self._consumed:
            raise AlreadyConsumed("this hash seed was already used")
        result = toeplitz_hash(key, self._bits, out_len)
        self._consumed = True
        return result

    def __len__(self) -> int:
        return int(self._bits.size)

    def __repr__(self) -> str:
        return f"HashSeed({self._bits.size} bits, consumed={self._consumed})"


class AmplifyBob:
    """Bob's side of privacy amplification: draws the public seed, sends it with the final length.

    If ``out_len`` is 0 he still tells Alice (so both stop), and :attr:`key` raises NoSecretKey.
    """

    def __init__(self, key: object, *, out_len: int, rng: np.random.Generator) -> None:
        self._key = as_bits(key, name="key", min_len=1)
        self._out_len = check_int(out_len, name="out_len")
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameter("rng must be a numpy.random.Generator")
        self._rng = rng
        self._final: Bits | None = None
        self._seed: Bits = np.zeros(0, dtype=np.uint8)
        self._started = False

    @property
    def done(self) -> bool:
        return self._started

    def start(self) -> list[Message]:
        if self._started:
            raise ProtocolError("AmplifyBob already started")
        self._started = True
        if self._out_len == 0:
            return [AmplificationSeed(np.zeros(0, dtype=np.uint8), 0)]
        seed = HashSeed.random(self._out_len + self._key.size - 1, rng=self._rng)
        self._seed = seed.bits
        self._final = seed.toeplitz(self._key, self._out_len)
        return [AmplificationSeed(seed.bits, self._out_len)]

    def receive(self, message: Message) -> list[Message]:
        raise ProtocolError(f"AmplifyBob expects no message, got {type(message).__name__}")

    @property
    def seed_bits(self) -> Bits:
        """The public Toeplitz seed Bob sent (read-only; empty before start or when the final length is 0)."""
        return self._seed

    @property
    def key(self) -> Bits:
        """The final secret key; raises NoSecretKey if its length is zero."""
        if not self._started:
            raise ProtocolError("privacy amplification has not run")
        if self._final is None:
            raise NoSecretKey("the key length after privacy amplification is zero")
        return self._final


class AmplifyAlice:
    """Alice's side: hashes her key with Bob's seed, after checking they agree on the length."""

    def __init__(self, key: object, *, out_len: int) -> None:
        self._key = as_bits(key, name="key", min_len=1)
        self._out_len = check_int(out_len, name="out_len")
        self._final: Bits | None = None
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def start(self) -> list[Message]:
        return []

    def receive(self, message: Message) -> list[Message]:
        match message:
            case AmplificationSeed(seed=seed, out_len=out_len) if not self._done:
                if out_len != self._out_len:
                    raise ProtocolError(f"final length disagrees: Bob {out_len}, Alice {self._out_len}")
                self._done = True
                if out_len == 0:
                    raise NoSecretKey("the key length after privacy amplification is zero")
                self._final = HashSeed(seed).toeplitz(self._key, out_len)
                return []
            case _:
                raise ProtocolError(f"AmplifyAlice did not expect {type(message).__name__}")

    @property
    def key(self) -> Bits:
        """The final secret key."""
        if self._final is None:
            raise ProtocolError("privacy amplification has not completed")
        return self._final


__all__ = ["AmplifyAlice", "AmplifyBob", "HashSeed", "toeplitz_hash"]
