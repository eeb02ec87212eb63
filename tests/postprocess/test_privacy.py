"""Toeplitz hashing by FFT equals the dense GF(2) matrix product (whole or blocked); seeds are one-shot."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import AlreadyConsumed, InvalidParameter, NoSecretKey, ProtocolError
from qkdnet.postprocess import (
    AmplifyAlice,
    AmplifyBob,
    HashSeed,
    modified_toeplitz_hash,
    privacy,
    run_protocol,
    toeplitz_hash,
)


def _dense(key: np.ndarray, seed: np.ndarray, m: int) -> np.ndarray:
    """T[i, j] = seed[i - j + n - 1]: first column seed[n-1:], first row seed[n-1::-1]."""
    n = key.size
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    t = scipy.linalg.toeplitz(seed[n - 1 :].astype(np.int64), seed[n - 1 :: -1].astype(np.int64))
    product: np.ndarray = (t @ key.astype(np.int64)) % 2
    return product


def _by_definition(key: np.ndarray, seed: np.ndarray, m: int) -> np.ndarray:
    n = key.size
    i, j = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    product: np.ndarray = (seed[i - j + n - 1].astype(np.int64) @ key.astype(np.int64)) % 2
    return product


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 90), m=st.integers(0, 90), data=st.data())
def test_fft_matches_dense_product(n: int, m: int, data: st.DataObject) -> None:
    key = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=np.uint8)
    seed = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n + m - 1, max_size=n + m - 1)), np.uint8)
    got = toeplitz_hash(key, seed, m)
    assert got.dtype == np.uint8 and got.shape == (m,)
    np.testing.assert_array_equal(got, _dense(key, seed, m))
    np.testing.assert_array_equal(got, _by_definition(key, seed, m))


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 70), m=st.integers(1, 70), limit=st.integers(2, 40), data=st.data())
def test_blocked_product_matches_dense(n: int, m: int, limit: int, data: st.DataObject) -> None:
    """Capping the FFT length cuts T into square blocks; the blocks must add up to the same product."""
    key = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=np.uint8)
    seed = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n + m - 1, max_size=n + m - 1)), np.uint8)
    np.testing.assert_array_equal(toeplitz_hash(key, seed, m, max_fft_len=limit), _dense(key, seed, m))


def _dense_modified(key: np.ndarray, seed: np.ndarray, m: int) -> np.ndarray:
    """[I_m | T]·key with T the m × (n − m) Toeplitz matrix of the n − 1 seed bits, as one dense matrix."""
    n = key.size
    ident = np.eye(m, dtype=np.int64)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    if m == n:
        return (ident @ key.astype(np.int64)) % 2
    t = scipy.linalg.toeplitz(seed[n - m - 1 :].astype(np.int64), seed[n - m - 1 :: -1].astype(np.int64))
    product: np.ndarray = (np.hstack([ident, t]) @ key.astype(np.int64)) % 2
    return product


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 90), data=st.data())
def test_modified_toeplitz_matches_dense_product(n: int, data: st.DataObject) -> None:
    m = data.draw(st.integers(0, n))
    key = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=np.uint8)
    seed = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n - 1, max_size=n - 1)), np.uint8)
    limit = data.draw(st.sampled_from([2, 5, 16, 1 << 25]))
    got = modified_toeplitz_hash(key, seed, m, max_fft_len=limit)
    assert got.dtype == np.uint8 and got.shape == (m,)
    np.testing.assert_array_equal(got, _dense_modified(key, seed, m))


def test_blocked_and_whole_agree_on_a_large_key() -> None:
    rng = np.random.default_rng(99)
    n, m = 200_000, 90_000
    key = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n - 1, dtype=np.uint8)
    whole = modified_toeplitz_hash(key, seed, m)
    np.testing.assert_array_equal(modified_toeplitz_hash(key, seed, m, max_fft_len=1 << 15), whole)
    # and a row against its definition: y_i = key_i + sum_j T[i, j] key[m + j], T[i, j] = seed[i - j + n - m - 1]
    for i in (0, 1, 4567, m - 1):
        row = seed[i : i + n - m][::-1].astype(np.int64)
        assert whole[i] == (int(key[i]) + int(row @ key[m:].astype(np.int64))) % 2


@pytest.mark.parametrize(
    ("key", "seed", "m"),
    [
        (np.ones(4, np.uint8), np.ones(4, np.uint8), 2),  # seed must be n - 1 = 3 bits
        (np.ones(4, np.uint8), np.ones(3, np.uint8), 5),  # more output than input
        (np.ones(4, np.uint8), np.ones(3, np.uint8), -1),
        (np.zeros(0, np.uint8), np.ones(0, np.uint8), 0),
    ],
)
def test_modified_toeplitz_refuses_bad_inputs(key: np.ndarray, seed: np.ndarray, m: int) -> None:
    with pytest.raises(InvalidParameter):
        modified_toeplitz_hash(key, seed, m)
    with pytest.raises(InvalidParameter):
        modified_toeplitz_hash(np.ones(4, np.uint8), np.ones(3, np.uint8), 2, max_fft_len=1)


def test_all_ones_is_exact_at_the_largest_sums() -> None:
    # every convolution value equals n: the worst case for float rounding (here 300001 ones).
    n, m = 300_001, 1000
    got = toeplitz_hash(np.ones(n, np.uint8), np.ones(n + m - 1, np.uint8), m)
    assert np.all(got == n % 2)


def test_exact_on_a_million_bits_against_direct_rows() -> None:
    rng = np.random.default_rng(20240601)
    n, m = 1_000_000, 200_000
    key = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    got = toeplitz_hash(key, seed, m)
    rows = rng.choice(m, size=40, replace=False)
    for i in rows.tolist():  # row i of T is seed[i : i + n] reversed
        direct = int(np.dot(seed[i : i + n][::-1].astype(np.int64), key.astype(np.int64)) % 2)
        assert got[i] == direct


def test_hash_is_linear_over_gf2() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 2, (2, 5000), dtype=np.uint8)
    seed = rng.integers(0, 2, 5000 + 300 - 1, dtype=np.uint8)
    np.testing.assert_array_equal(
        toeplitz_hash(x ^ y, seed, 300), toeplitz_hash(x, seed, 300) ^ toeplitz_hash(y, seed, 300)
    )


@pytest.mark.parametrize(
    ("key", "seed", "m"),
    [
        (np.ones(4, np.uint8), np.ones(4, np.uint8), 2),  # seed one bit short
        (np.ones((2, 2), np.uint8), np.ones(5, np.uint8), 2),
        (np.array([0, 2, 1]), np.ones(4, np.uint8), 2),
        (np.array([0.0, 1.0]), np.ones(3, np.uint8), 2),
        (np.zeros(0, np.uint8), np.ones(1, np.uint8), 2),
        (np.ones(4, np.uint8), np.ones(3, np.uint8), -1),
    ],
)
def test_bad_inputs_are_refused(key: np.ndarray, seed: np.ndarray, m: int) -> None:
    with pytest.raises(InvalidParameter):
        toeplitz_hash(key, seed, m)


def test_hash_seed_is_one_shot() -> None:
    seed = HashSeed.random(10 + 4 - 1, rng=np.random.default_rng(1))
    key = np.ones(10, np.uint8)
    first = seed.toeplitz(key, 4)
    assert seed.consumed
    with pytest.raises(AlreadyConsumed):
        seed.toeplitz(key, 4)
    np.testing.assert_array_equal(first, toeplitz_hash(key, seed.bits, 4))
    assert not seed.bits.flags.writeable and len(seed) == 13


def test_hash_seed_is_not_consumed_by_a_refused_call() -> None:
    seed = HashSeed(np.ones(5, np.uint8))
    with pytest.raises(InvalidParameter):
        seed.toeplitz(np.ones(9, np.uint8), 4)  # needs 12 seed bits
    assert not seed.consumed


def test_modified_seed_is_one_shot_across_both_hashes() -> None:
    seed = HashSeed.random(9, rng=np.random.default_rng(2))
    seed.modified_toeplitz(np.ones(10, np.uint8), 4)
    with pytest.raises(AlreadyConsumed):
        seed.toeplitz(np.ones(6, np.uint8), 4)
    with pytest.raises(AlreadyConsumed):
        seed.consume()


def test_amplification_protocol_gives_equal_keys() -> None:
    rng = np.random.default_rng(8)
    key = rng.integers(0, 2, 2000, dtype=np.uint8)
    alice, bob = AmplifyAlice(key, out_len=700), AmplifyBob(key.copy(), out_len=700, rng=rng)
    transcript = run_protocol(alice, bob)
    np.testing.assert_array_equal(alice.key, bob.key)
    assert alice.key.size == 700 and transcript.messages == 1


def test_amplification_uses_the_modified_toeplitz_hash_with_n_minus_1_seed_bits() -> None:
    key = np.random.default_rng(4).integers(0, 2, 500, dtype=np.uint8)
    bob = AmplifyBob(key, out_len=200, rng=np.random.default_rng(5))
    (message,) = bob.start()
    assert message.seed.size == 499
    np.testing.assert_array_equal(bob.key, _dense_modified(key, message.seed, 200))
    with pytest.raises(InvalidParameter):
        AmplifyBob(key, out_len=501, rng=np.random.default_rng(5))


def test_amplification_refuses_length_disagreement_and_zero_length() -> None:
    key = np.ones(100, np.uint8)
    rng = np.random.default_rng(0)
    with pytest.raises(ProtocolError):
        run_protocol(AmplifyAlice(key, out_len=10), AmplifyBob(key, out_len=11, rng=rng))
    bob = AmplifyBob(key, out_len=0, rng=rng)
    with pytest.raises(NoSecretKey):
        run_protocol(AmplifyAlice(key, out_len=0), bob)
    with pytest.raises(NoSecretKey):
        _ = bob.key


def _plain_fft_product(key: np.ndarray, seed: np.ndarray, m: int) -> np.ndarray:
    """T·key by one long real FFT of a power-of-two length (the textbook method, and the old implementation)."""
    n = key.size
    length = 1 << (m + n - 2).bit_length()
    conv = np.fft.irfft(
        np.fft.rfft(seed.astype(np.float64), length) * np.fft.rfft(key.astype(np.float64), length), length
    )
    product: np.ndarray = np.rint(conv[n - 1 : n - 1 + m]).astype(np.int64) & 1
    return product


@contextlib.contextmanager
def _four_step_from(length: int, twiddle_chunk: int | None = None) -> Iterator[None]:
    """Route every cyclic length from ``length`` on through the four-step transform (plans rebuilt around it).

    ``twiddle_chunk`` overrides how many twiddles are formed per step, so that small transforms take several.
    """
    saved = privacy._FOUR_STEP_MIN, privacy._TWIDDLE_CHUNK
    privacy._transform.cache_clear()
    privacy._FOUR_STEP_MIN = length
    privacy._TWIDDLE_CHUNK = saved[1] if twiddle_chunk is None else twiddle_chunk
    try:
        yield
    finally:
        privacy._FOUR_STEP_MIN, privacy._TWIDDLE_CHUNK = saved
        privacy._transform.cache_clear()


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 90),
    m=st.integers(1, 90),
    limit=st.sampled_from([2, 7, 40, 1 << 25]),
    chunk=st.sampled_from([None, 1, 5, 16]),
    data=st.data(),
)
def test_four_step_transform_matches_dense_product(
    n: int, m: int, limit: int, chunk: int | None, data: st.DataObject
) -> None:
    """The four-step layout (columns, twiddles, rows) at sizes small enough for the dense GF(2) oracle.

    Twiddle chunks smaller than a row, or of a few rows, exercise the chunk boundaries of the twiddle pass.
    """
    key = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=np.uint8)
    seed = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n + m - 1, max_size=n + m - 1)), np.uint8)
    with _four_step_from(1, chunk):
        assert privacy._transform(n + m - 1).shape is not None  # the path under test, not the 1-D one
        got = toeplitz_hash(key, seed, m, max_fft_len=limit)
    np.testing.assert_array_equal(got, _dense(key, seed, m))


@pytest.mark.parametrize(
    ("n", "m"), [(32_769, 1), (40_000, 17_000), (262_145, 131_072), (1_000_000, 500_000), (3_000_001, 1_500_000)]
)
def test_four_step_matches_one_long_fft_bit_for_bit(n: int, m: int) -> None:
    """Large keys, where only an FFT oracle is affordable: the textbook single-transform product agrees."""
    rng = np.random.default_rng(n)
    key = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n - 1, dtype=np.uint8)
    assert privacy._transform(n - 1).shape is not None  # differs in work from the oracle
    expected = key[:m] ^ _plain_fft_product(key[m:], seed, m).astype(np.uint8)
    np.testing.assert_array_equal(modified_toeplitz_hash(key, seed, m), expected)


def test_blocked_four_step_matches_whole() -> None:
    """Blocks that are themselves four-step transforms add up to the unblocked product."""
    rng = np.random.default_rng(5)
    n, m = 300_000, 120_000
    key = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n - 1, dtype=np.uint8)
    assert privacy._transform((1 << 16) - 1).shape is not None
    np.testing.assert_array_equal(
        modified_toeplitz_hash(key, seed, m, max_fft_len=1 << 17), modified_toeplitz_hash(key, seed, m)
    )


def test_parity_rounds_to_nearest_and_refuses_non_integers() -> None:
    signal = np.array([0.0, 1.0, 2.0, 3.0000001, 4.9999999, -1e-9, 1e6 + 1, 7.2])
    np.testing.assert_array_equal(privacy._parity(signal.copy(), 0, 7), [0, 1, 0, 1, 1, 0, 1])
    with pytest.raises(ArithmeticError):
        privacy._parity(np.array([1.0, 2.3]), 0, 2)
