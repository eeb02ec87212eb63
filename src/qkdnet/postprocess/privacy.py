"""Toeplitz hashing over GF(2), computed exactly by FFT, and the privacy-amplification protocol.

An (m × n) Toeplitz matrix is fixed by m + n − 1 seed bits: ``T[i, j] = seed[i − j + n − 1]``
(first column ``seed[n−1:]``, first row ``seed[n−1::−1]``). Random Toeplitz matrices form a
2-universal family. Privacy amplification uses the *modified* Toeplitz family of Hayashi &
Tsurumaru, IEEE Trans. Inf. Theory 62, 2213 (2016): ``y = x[:m] ⊕ T·x[m:]`` with T the
m × (n − m) Toeplitz matrix of n − 1 seed bits. It is still 2-universal (for x ≠ x′ with equal
tails the images differ; otherwise ``T·δ`` is uniform for δ ≠ 0), needs m fewer seed bits, and its
product is a convolution of length n − 1 instead of m + n − 1. By the leftover hash lemma the output
is ε-close to uniform and independent of Eve when m is small enough (see
:mod:`qkdnet.postprocess.keylength`).

Each product is a linear convolution computed with real FFTs of size ``next_fast_len``, rounded to
the nearest integer and reduced mod 2; the rounding margin is checked on every call, so a result is
either exact or an error. Memory is bounded: a product whose FFT would exceed ``max_fft_len``
points is cut into square Toeplitz blocks whose partial products are summed in the frequency
domain, so peak memory depends on ``max_fft_len``, not on the key. Measured on one core: a 10⁸-bit
key hashed to 5·10⁷ bits takes 29 s and 2.1 GB at the default 2²⁵ (1.3 GB and 64 s at 2²⁴);
keys up to about 3·10⁷ bits take a single transform.

>>> key = np.array([1, 0, 1, 1], dtype=np.uint8)
>>> seed = np.array([1, 1, 0, 1, 0], dtype=np.uint8)   # m + n - 1 = 2 + 4 - 1
>>> toeplitz_hash(key, seed, 2).tolist()
[1, 1]
>>> modified_toeplitz_hash(key, seed[:3], 2).tolist()   # [1, 0] ⊕ T·[1, 1] with T of seed [1, 1, 0]
[1, 1]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.fft

from qkdnet.checks import check_int
from qkdnet.errors import AlreadyConsumed, InvalidParameter, NoSecretKey, ProtocolError
from qkdnet.postprocess._bits import Bits, as_bits
from qkdnet.postprocess.messages import AmplificationSeed, Message

_ROUNDING_MARGIN = 0.25
MAX_FFT_LEN = 1 << 25
"""Largest FFT a hash computes at once (about 2 GB at peak, measured); longer products are blocked."""


def _spectrum(bits: Bits, size: int) -> npt.NDArray[np.complex128]:
    buffer = np.zeros(size, dtype=np.float64)
    buffer[: bits.size] = bits
    result: npt.NDArray[np.complex128] = scipy.fft.rfft(buffer, overwrite_x=True, workers=1)
    return result


def _parity(spectrum: npt.NDArray[np.complex128], size: int, start: int, count: int) -> Bits:
    """Entries ``start : start + count`` of the inverse transform, checked to be integers, mod 2."""
    values = scipy.fft.irfft(spectrum, size, overwrite_x=True, workers=1)[start : start + count]
    rounded = np.rint(values)
    error = float(np.max(np.abs(values - rounded))) if count else 0.0
    if not error < _ROUNDING_MARGIN:  # pragma: no cover - needs keys far beyond memory limits
        raise ArithmeticError(f"FFT rounding error {error:.3g} too large for an exact GF(2) product")
    result: Bits = (rounded.astype(np.int64) & 1).astype(np.uint8)
    return result


def _toeplitz_product(x: Bits, s: Bits, m: int, max_fft_len: int) -> Bits:
    """``T·x`` over GF(2) for the (m × n) Toeplitz matrix of ``s`` (m + n − 1 bits); m, n ≥ 1."""
    n = x.size
    # y[i] = sum_j s[i - j + n - 1] x[j] = (s * x)[i + n - 1]; a cyclic convolution of length
    # L >= m + n - 1 has no wrap-around at the indices n - 1 .. m + n - 2 that we keep.
    size = scipy.fft.next_fast_len(m + n - 1, real=True)
    if size <= max_fft_len:
        spectrum = _spectrum(s, size)
        spectrum *= _spectrum(x, size)
        return _parity(spectrum, size, n - 1, m)
    # Blocked: rows [r0, r0 + b) times columns [c0, c0 + b) is the Toeplitz matrix of the seed
    # segment s[r0 - c0 + n - b : r0 - c0 + n + b - 1] (zeros where the index falls off the seed's
    # start, which only ever meets the zero padding of x). The partial products of one row block
    # share their FFT size and output positions, so they add up in the frequency domain.
    block = max(1, (max_fft_len + 1) // 2)
    size = scipy.fft.next_fast_len(2 * block - 1, real=True)
    cols = -(-n // block)
    padded_x = np.zeros(cols * block, dtype=np.uint8)
    padded_x[:n] = x
    padded_s = np.concatenate([np.zeros(block, dtype=np.uint8), s])  # index shift by `block`
    out = np.empty(m, dtype=np.uint8)
    for r0 in range(0, m, block):
        rows = min(block, m - r0)
        total = np.zeros(size // 2 + 1, dtype=np.complex128)
        for c0 in range(0, cols * block, block):
            base = r0 - c0 + n - block + block  # + block: the padding in front of the seed
            segment = padded_s[base : base + rows + block - 1]
            spectrum = _spectrum(segment, size)
            spectrum *= _spectrum(padded_x[c0 : c0 + block], size)
            total += spectrum
        out[r0 : r0 + rows] = _parity(total, size, block - 1, rows)
    return out


def _check_fft_len(max_fft_len: int) -> int:
    return check_int(max_fft_len, name="max_fft_len", minimum=2)


def toeplitz_hash(
    key: object, seed_bits: object, out_len: int, *, workers: int | None = None, max_fft_len: int = MAX_FFT_LEN
) -> Bits:
    """The GF(2) product ``T·key`` of the (out_len × n) Toeplitz matrix of ``seed_bits`` with ``key``.

    ``seed_bits`` must hold exactly ``out_len + n − 1`` bits. Exact for any n (checked: every
    convolution value must lie within 0.25 of an integer). ``workers`` is accepted for compatibility
    and ignored: hashing is single-threaded, so its speed is quoted per core.
    """
    del workers
    x = as_bits(key, name="key", copy=False, min_len=1)
    s = as_bits(seed_bits, name="seed_bits", copy=False)
    m = check_int(out_len, name="out_len")
    limit = _check_fft_len(max_fft_len)
    n = x.size
    if s.size != m + n - 1:
        raise InvalidParameter(f"seed_bits must hold out_len + n - 1 = {m + n - 1} bits, got {s.size}")
    if m == 0:
        return np.zeros(0, dtype=np.uint8)
    return _toeplitz_product(x, s, m, limit)


def modified_toeplitz_hash(key: object, seed_bits: object, out_len: int, *, max_fft_len: int = MAX_FFT_LEN) -> Bits:
    """``key[:m] ⊕ T·key[m:]`` with T the m × (n − m) Toeplitz matrix of ``seed_bits`` (n − 1 bits).

    The modified Toeplitz hash of Hayashi & Tsurumaru (2016): 2-universal from n to m ≤ n bits.
    """
    x = as_bits(key, name="key", copy=False, min_len=1)
    s = as_bits(seed_bits, name="seed_bits", copy=False)
    m = check_int(out_len, name="out_len")
    limit = _check_fft_len(max_fft_len)
    n = x.size
    if m > n:
        raise InvalidParameter(f"out_len must not exceed the key length {n}, got {m}")
    if s.size != n - 1:
        raise InvalidParameter(f"seed_bits must hold n - 1 = {n - 1} bits, got {s.size}")
    result = x[:m].copy()
    if 0 < m < n:
        result ^= _toeplitz_product(x[m:], s, m, limit)
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
        return cls(np.unpackbits(np.frombuffer(rng.bytes((count + 7) // 8), dtype=np.uint8), count=count))

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
        self._check_fresh()
        result = toeplitz_hash(key, self._bits, out_len)
        self._consumed = True
        return result

    def modified_toeplitz(self, key: object, out_len: int) -> Bits:
        """:func:`modified_toeplitz_hash` of ``key`` with this seed, once (AlreadyConsumed after)."""
        self._check_fresh()
        result = modified_toeplitz_hash(key, self._bits, out_len)
        self._consumed = True
        return result

    def consume(self) -> Bits:
        """The seed bits, for a hash built on them elsewhere; the seed is spent from then on."""
        self._check_fresh()
        self._consumed = True
        return self._bits

    def _check_fresh(self) -> None:
        if self._consumed:
            raise AlreadyConsumed("this hash seed was already used")

    def __len__(self) -> int:
        return int(self._bits.size)

    def __repr__(self) -> str:
        return f"HashSeed({self._bits.size} bits, consumed={self._consumed})"


def _check_out_len(out_len: int, key_bits: int) -> int:
    length = check_int(out_len, name="out_len")
    if length > key_bits:
        raise InvalidParameter(f"out_len {length} exceeds the key length {key_bits}")
    return length


class AmplifyBob:
    """Bob's side of privacy amplification: draws the public modified-Toeplitz seed, sends it with the length.

    If ``out_len`` is 0 he still tells Alice (so both stop), and :attr:`key` raises NoSecretKey.
    """

    def __init__(self, key: object, *, out_len: int, rng: np.random.Generator) -> None:
        self._key = as_bits(key, name="key", min_len=1)
        self._out_len = _check_out_len(out_len, self._key.size)
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
        seed = HashSeed.random(self._key.size - 1, rng=self._rng)
        self._seed = seed.bits
        self._final = seed.modified_toeplitz(self._key, self._out_len)
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
        self._out_len = _check_out_len(out_len, self._key.size)
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
                if seed.size != self._key.size - 1:
                    raise ProtocolError(f"amplification seed has {seed.size} bits, expected {self._key.size - 1}")
                self._final = HashSeed(seed).modified_toeplitz(self._key, out_len)
                return []
            case _:
                raise ProtocolError(f"AmplifyAlice did not expect {type(message).__name__}")

    @property
    def key(self) -> Bits:
        """The final secret key."""
        if self._final is None:
            raise ProtocolError("privacy amplification has not completed")
        return self._final


__all__ = ["MAX_FFT_LEN", "AmplifyAlice", "AmplifyBob", "HashSeed", "modified_toeplitz_hash", "toeplitz_hash"]
