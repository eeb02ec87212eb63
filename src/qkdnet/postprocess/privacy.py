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

Each product is a cyclic convolution of the seed's length (the middle product: wrap-around never
reaches the m entries kept) computed with float64 real FFTs, rounded to the nearest integer and
reduced mod 2. Transforms of 2¹⁵ points and more use the four-step layout of :class:`_Transform`
(short column and row FFTs that stay in cache, with twiddles in between), which measured 2–3×
faster than one long FFT from 10⁵ to 10⁷ points. One scratch buffer carries both operands and the
result, and the twiddles are formed a cache-sized chunk at a time from two small factor tables, so a
fresh call faults in three L-sized buffers and builds no L-sized twiddle table.

Exactness. Every convolution value c is an integer with 0 ≤ c ≤ min(|x|, |s|) ≤ n < 2⁵¹, so the
nearest integer of its float approximation is c exactly when the error is below 1/2. A priori, the
FFT convolution error is bounded by ``‖s‖₂·‖x‖₂·(3k + √5·(3k + 1) + 3k·β/ε)·ε`` for a radix-2
transform of 2ᵏ points (Percival, Math. Comp. 72, 387 (2003); ε = 2⁻⁵³, β the twiddle error,
here ≤ 3ε as each twiddle is the rounded product of two correctly rounded exponentials): with ‖s‖₂·‖x‖₂ ≤ n
that is below 4·10⁻⁶ for n = 10⁸ (k = 27), five orders of magnitude under 1/2. pocketfft's mixed
radices 2, 3, 5 and the four-step split change the constant, not the order, but no published bound
covers them exactly, so every call also *verifies*: each kept value must lie within 0.25 of an
integer, or the call raises ArithmeticError. A wrong bit would need an error ≥ 0.75 at one entry
while all others stay under 0.25; measured maxima are 3·10⁻¹¹ at 10⁶ and 5·10⁻¹⁰ at 10⁷ bits
(random keys). Tests check the result bit for bit against the dense GF(2) product (small sizes,
both layouts) and against one long textbook FFT (up to 3·10⁶ bits).

Memory is bounded: a product whose FFT would exceed ``max_fft_len`` points is cut into square
Toeplitz blocks whose partial products are summed in the frequency domain, so peak memory depends
on ``max_fft_len``, not on the key; keys up to about 1.3·10⁸ bits take a single transform.

>>> key = np.array([1, 0, 1, 1], dtype=np.uint8)
>>> seed = np.array([1, 1, 0, 1, 0], dtype=np.uint8)   # m + n - 1 = 2 + 4 - 1
>>> toeplitz_hash(key, seed, 2).tolist()
[1, 1]
>>> modified_toeplitz_hash(key, seed[:3], 2).tolist()   # [1, 0] ⊕ T·[1, 1] with T of seed [1, 1, 0]
[1, 1]
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

from qkdnet.checks import check_int
from qkdnet.errors import AlreadyConsumed, InvalidParameter, NoSecretKey, ProtocolError
from qkdnet.postprocess._bits import Bits, as_bits
from qkdnet.postprocess.messages import AmplificationSeed, Message

_ROUNDING_MARGIN = 0.25
MAX_FFT_LEN = 1 << 27
"""Largest FFT a hash computes at once; longer products are blocked.

2²⁷ points, so that 10⁸-bit keys take one transform: blocked into 3 × 3 squares they computed 21
transforms of 3.4·10⁷ points instead of 3 of 10⁸ (CPU 8.5–9.5 s → 5.3–6.1 s, measured). Peak memory
is about 24 bytes per point: a whole process hashing 10⁸ bits peaked at 2.7 GB (1.8 GB at 2²⁵).
"""

FFT_WORKERS = 2
"""Threads of the four-step transforms' batched FFTs (scipy.fft ``workers``): 1.4–1.8× on 2 cores at 10⁶–10⁷."""

_FOUR_STEP_MIN = 1 << 15
"""Cyclic lengths from here on use the four-step transform: a single 1-D FFT this long no longer fits in cache."""


_TWIDDLE_CHUNK = 1 << 15
"""Twiddles formed per step of :meth:`_Transform._twiddle` (512 kB): the scratch stays in cache."""


class _Transform:
    """The real DFT of one cyclic length L, in whatever layout is fastest; products are taken pointwise.

    Below ``_FOUR_STEP_MIN`` it is numpy's 1-D ``rfft``. From there on it is the four-step
    (Bailey) transform of L = L1·L2: view the signal as the C-ordered L1 × L2 matrix
    ``M[n1, n2] = x[L2·n1 + n2]``, take real FFTs down the columns (rows k1 ≤ L1/2, the rest are
    their conjugates), multiply by the twiddles ``exp(−2πi·k1·n2/L)``, and take complex FFTs along
    the rows; entry ``[k1, k2]`` is then ``X[k1 + L1·k2]``. Every pass works on short transforms
    that stay in cache, which at 10⁷ points is about twice as fast as one long transform; the batched
    column and row FFTs run on :data:`FFT_WORKERS` threads. The
    spectrum comes out permuted, which a pointwise product does not mind, and the inverse undoes
    the steps in reverse order (Hermitian columns, so an inverse real FFT down the columns).
    """

    def __init__(self, length: int, layout: tuple[int, int, int] | None = None) -> None:
        """A 1-D transform of ``length`` points, or the four-step one of ``layout = (rows, cols, block)``."""
        self.length = length
        self.shape: tuple[int, int] | None = None
        self.spectrum_shape: tuple[int, ...] = (length // 2 + 1,)
        if layout is not None:
            rows, cols, block = layout
            if rows * cols != length or cols % block:
                raise ValueError(f"layout {layout} does not tile {length} points")
            half = rows // 2 + 1
            k1 = np.arange(half, dtype=np.int64)[:, None]
            # exp(-2πi k1 n2 / L) with n2 = q·block + r is the product of a (half × cols/block) and a
            # (half × block) table: two correctly rounded factors, so each twiddle is within ~3 ulp.
            # The angles are reduced mod L in integers first, so they stay exact for any L.
            coarse = (k1 * (np.arange(cols // block, dtype=np.int64) * block)[None, :]) % length
            fine = (k1 * np.arange(block, dtype=np.int64)[None, :]) % length
            self.coarse = np.exp(coarse * (-2j * np.pi / length))
            self.fine = np.exp(fine * (-2j * np.pi / length))
            self.block = block
            self.shape = (rows, cols)
            self.spectrum_shape = (half, cols)

    def _twiddle(self, spectrum: npt.NDArray[np.complex128], *, inverse: bool) -> None:
        """Multiply ``spectrum`` in place by the twiddles (their conjugates if ``inverse``), a few rows at a time.

        Each chunk of twiddles is the product of its coarse and fine factors, formed in a cache-sized
        scratch array: no L-sized table is built (a fresh call would fault in 8 bytes per point for it)
        or streamed from memory on every pass.
        """
        half, cols = spectrum.shape
        tiles = spectrum.reshape(half, cols // self.block, self.block)
        step = max(1, _TWIDDLE_CHUNK // cols)
        scratch = np.empty((min(step, half), *tiles.shape[1:]), dtype=np.complex128)
        for lo in range(0, half, step):
            hi = min(half, lo + step)
            part = scratch[: hi - lo]
            np.multiply(self.coarse[lo:hi, :, None], self.fine[lo:hi, None, :], out=part)
            if inverse:
                np.conjugate(part, out=part)
            tiles[lo:hi] *= part

    def forward(self, bits: Bits, buffer: npt.NDArray[np.float64]) -> npt.NDArray[np.complex128]:
        """The (permuted) spectrum of ``bits`` zero-padded to the cyclic length; ``buffer`` (L floats) is scratch."""
        buffer[: bits.size] = bits
        buffer[bits.size :] = 0.0
        if self.shape is None:
            spectrum: npt.NDArray[np.complex128] = np.fft.rfft(buffer)
            return spectrum
        import scipy.fft  # here, not at import: scipy.fft is the largest import of the CLI's start-up

        rows, cols = self.shape
        spectrum = scipy.fft.rfft(buffer.reshape(rows, cols), axis=0, workers=FFT_WORKERS)
        self._twiddle(spectrum, inverse=False)
        transformed: npt.NDArray[np.complex128] = scipy.fft.fft(spectrum, axis=1, overwrite_x=True, workers=FFT_WORKERS)
        return transformed

    def inverse(self, spectrum: npt.NDArray[np.complex128], out: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The real cyclic signal of a spectrum from :meth:`forward` (which is consumed), written to ``out``."""
        if self.shape is None:
            np.fft.irfft(spectrum, self.length, out=out)
            return out
        import scipy.fft

        rows, cols = self.shape
        spectrum = scipy.fft.ifft(spectrum, axis=1, overwrite_x=True, workers=FFT_WORKERS)
        self._twiddle(spectrum, inverse=True)
        np.fft.irfft(spectrum, rows, axis=0, out=out.reshape(rows, cols))  # into the buffer: no new pages
        return out

    def product(self, first: Bits, second: Bits, buffer: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The cyclic convolution of two bit strings (as floats, not yet rounded), in ``buffer``.

        The two transforms run one after the other through the same scratch buffer, which then
        takes the result: a fresh call touches 3 L-sized buffers, not 6. (Running them on two
        threads measured slower on this shared machine: both threads fault in new pages at once.)
        """
        spectrum = self.forward(first, buffer)
        spectrum *= self.forward(second, buffer)
        return self.inverse(spectrum, buffer)


def _next_fast_len(minimum: int) -> int:
    """The shortest length ≥ ``minimum`` that pocketfft transforms fast (real input)."""
    import scipy.fft

    return int(scipy.fft.next_fast_len(minimum, real=True))


def _smooth_numbers(low: int, high: int) -> list[int]:
    """The 5-smooth numbers (2^a·3^b·5^c) in ``[low, high]``: the lengths pocketfft transforms fastest."""
    found = []
    p2 = 1
    while p2 <= high:
        p3 = p2
        while p3 <= high:
            p5 = p3
            while p5 <= high:
                if p5 >= low:
                    found.append(p5)
                p5 *= 5
            p3 *= 3
        p2 *= 2
    return sorted(found)


def _four_step_shape(minimum: int) -> tuple[int, int, int]:
    """``(rows, cols, block)``: rows·cols ≥ ``minimum``, both 5-smooth; block divides cols, near √cols.

    Rows near √minimum / 6 measured fastest (10⁷ points: 500 × 20 000 transforms ~25 % faster than
    3 125 × 3 200): short column transforms keep the strided pass's working set in cache. ``cols`` is
    never a power of two, as power-of-two strides map a whole column to one cache set.
    """
    target = max(16, math.isqrt(minimum) // 6)
    shapes = []
    for rows in _smooth_numbers(target // 2, 2 * target):
        cols = _next_fast_len(-(-minimum // rows))
        while cols & (cols - 1) == 0:
            cols = _next_fast_len(cols + 1)
        shapes.append((rows * cols, abs(rows - target), rows, cols))
    _, _, rows, cols = min(shapes)
    block = min((d for d in range(1, math.isqrt(cols) + 1) if cols % d == 0), key=lambda d: abs(d * d - cols))
    return rows, cols, block


@functools.lru_cache(maxsize=2)
def _transform(minimum: int) -> _Transform:
    """The cached transform of the shortest fast cyclic length ≥ ``minimum`` (its twiddle factors are reused).

    Two at most: a node hashing blocks of ever-changing lengths must not hoard them (a four-step
    transform keeps two twiddle-factor tables of (rows/2 + 1)·√cols complex numbers, a few MB at ``MAX_FFT_LEN``).
    """
    if minimum < _FOUR_STEP_MIN:
        return _Transform(_next_fast_len(minimum))
    layout = _four_step_shape(minimum)
    return _Transform(layout[0] * layout[1], layout)


_ROUND = 1.5 * 2.0**52
"""Adding this rounds a float of magnitude below 2⁵¹ to an integer held in the low mantissa bits."""


_PARITY_CHUNK = 1 << 14
"""Values rounded per step: the temporaries stay in cache and are reused, so no new pages are faulted in."""


def _parity(signal: npt.NDArray[np.float64], start: int, count: int) -> Bits:
    """Entries ``start : start + count`` of a convolution, checked to be integers, mod 2.

    ``v + 1.5·2⁵²`` rounds v to the nearest integer (round-half-even, as the FPU does) and leaves that
    integer in the low bits of the mantissa, so the parity is bit 0 of the lowest byte; subtracting the
    constant back is exact, and so is the difference to v (Sterbenz), whose maximum is the margin check.
    The values go through in cache-sized chunks with two reused temporaries.
    """
    result: Bits = np.empty(count, dtype=np.uint8)
    shifted = np.empty(min(count, _PARITY_CHUNK), dtype=np.float64)
    error = 0.0
    for lo in range(0, count, _PARITY_CHUNK):
        hi = min(count, lo + _PARITY_CHUNK)
        values = signal[start + lo : start + hi]
        part = shifted[: hi - lo]
        np.add(values, _ROUND, out=part)
        np.bitwise_and(part.view(np.uint8)[:: part.itemsize], 1, out=result[lo:hi])
        part -= _ROUND
        part -= values
        error = max(error, float(part.max()), -float(part.min()))
    if not error < _ROUNDING_MARGIN:
        raise ArithmeticError(f"FFT rounding error {error:.3g} too large for an exact GF(2) product")
    return result


def _toeplitz_product(x: Bits, s: Bits, m: int, max_fft_len: int) -> Bits:
    """``T·x`` over GF(2) for the (m × n) Toeplitz matrix of ``s`` (m + n − 1 bits); m, n ≥ 1."""
    n = x.size
    # y[i] = sum_j s[i - j + n - 1] x[j] = (s * x)[i + n - 1]; a cyclic convolution of length
    # L >= m + n - 1 has no wrap-around at the indices n - 1 .. m + n - 2 that we keep.
    if _next_fast_len(m + n - 1) <= max_fft_len:
        transform = _transform(m + n - 1)
        buffer = np.empty(transform.length, dtype=np.float64)
        return _parity(transform.product(s, x, buffer), n - 1, m)
    # Blocked: rows [r0, r0 + b) times columns [c0, c0 + b) is the Toeplitz matrix of the seed
    # segment s[r0 - c0 + n - b : r0 - c0 + n + b - 1] (zeros where the index falls off the seed's
    # start, which only ever meets the zero padding of x). The partial products of one row block
    # share their FFT size and output positions, so they add up in the frequency domain.
    block = max(1, (max_fft_len + 1) // 2)
    transform = _transform(2 * block - 1)
    cols = -(-n // block)
    padded_x = np.zeros(cols * block, dtype=np.uint8)
    padded_x[:n] = x
    padded_s = np.concatenate([np.zeros(block, dtype=np.uint8), s])  # index shift by `block`
    out = np.empty(m, dtype=np.uint8)
    buffer = np.empty(transform.length, dtype=np.float64)
    for r0 in range(0, m, block):
        rows = min(block, m - r0)
        total = np.zeros(transform.spectrum_shape, dtype=np.complex128)
        for c0 in range(0, cols * block, block):
            base = r0 - c0 + n - block + block  # + block: the padding in front of the seed
            spectrum = transform.forward(padded_s[base : base + rows + block - 1], buffer)
            spectrum *= transform.forward(padded_x[c0 : c0 + block], buffer)
            total += spectrum
        out[r0 : r0 + rows] = _parity(transform.inverse(total, buffer), block - 1, rows)
    return out


def _check_fft_len(max_fft_len: int) -> int:
    return check_int(max_fft_len, name="max_fft_len", minimum=2)


def toeplitz_hash(
    key: object, seed_bits: object, out_len: int, *, workers: int | None = None, max_fft_len: int = MAX_FFT_LEN
) -> Bits:
    """The GF(2) product ``T·key`` of the (out_len × n) Toeplitz matrix of ``seed_bits`` with ``key``.

    ``seed_bits`` must hold exactly ``out_len + n − 1`` bits. Exact for any n (checked: every
    convolution value must lie within 0.25 of an integer). ``workers`` is accepted for compatibility
    and ignored: the long transforms' FFT passes run on :data:`FFT_WORKERS` threads whatever it says.
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
