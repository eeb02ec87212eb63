"""Syndrome decoders against a brute-force maximum-likelihood oracle, and against each other."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess.ldpc import (
    LayeredBeliefPropagation,
    LdpcPackageDecoder,
    SyndromeDecoder,
    ldpc_code,
    peg_matrix,
)

from .oracles import ml_decode

DECODERS = [LayeredBeliefPropagation, LdpcPackageDecoder]


def _small_code() -> sparse.csr_matrix:
    # (3,6)-regular, 18 bits, 9 checks, built by PEG. 4-cycles cannot be avoided at this size (54 pairs
    # of checks share a variable, among 36 pairs), so BP is not ML on every code: this seed's code is
    # one where BP finds every single error, as the oracle does (seeds 2-5 give codes where it misses
    # up to three of the 18).
    return peg_matrix(np.full(18, 3), np.full(9, 6), rng=np.random.default_rng(0))


@pytest.mark.parametrize("factory", DECODERS, ids=lambda f: f.__name__)
def test_every_single_error_is_decoded_as_the_ml_oracle_does(factory: type) -> None:
    H = _small_code()
    decoder = factory(H)
    assert isinstance(decoder, SyndromeDecoder)
    rng = np.random.default_rng(0)
    q = 0.02
    for i in range(18):
        x = rng.integers(0, 2, 18, dtype=np.uint8)
        y = x.copy()
        y[i] ^= 1
        priors = np.where(y == 1, 1 - q, q)
        s = (H @ x) % 2
        word, ok = decoder.decode(s, priors)
        expected = ml_decode(H.toarray(), s, priors)
        np.testing.assert_array_equal(expected, x)  # the oracle corrects one error on this code
        assert ok
        np.testing.assert_array_equal(word, expected)


@pytest.mark.parametrize("factory", DECODERS, ids=lambda f: f.__name__)
def test_punctured_and_shortened_priors_follow_the_oracle(factory: type) -> None:
    H = _small_code()
    decoder = factory(H)
    rng = np.random.default_rng(1)
    agree = 0
    for _ in range(40):
        x = rng.integers(0, 2, 18, dtype=np.uint8)
        x[:3] = 0  # shortened: known zeros
        priors = np.where(x == 1, 0.97, 0.03)
        flip = rng.random(18) < 0.03
        priors[flip] = 1 - priors[flip]
        priors[:3] = 0.0
        priors[3:5] = 0.5  # punctured: nothing known
        s = (H @ x) % 2
        word, ok = decoder.decode(s, priors)
        if ok:  # a converged word always meets the syndrome
            np.testing.assert_array_equal((H @ word) % 2, s)
        agree += bool(np.array_equal(word, ml_decode(H.toarray(), s, priors)))
    assert agree >= 36  # BP is not ML, but on a cycle-free-ish short code it nearly always agrees


def test_batch_equals_one_by_one_and_both_decoders_agree() -> None:
    code = ldpc_code("martinez_mateo2012", 0.6, 2000)
    rng = np.random.default_rng(2)
    q = 0.04
    x = rng.integers(0, 2, (40, 2000), dtype=np.uint8)
    y = x ^ (rng.random(x.shape) < q)
    priors = np.where(y == 1, 1 - q, q)
    s = code.syndrome(x)
    layered = LayeredBeliefPropagation(code.matrix)
    words, ok = layered.decode_batch(s, priors)
    for i in (0, 17, 39):  # lanes are independent: packing frames together changes nothing
        one, one_ok = layered.decode(s[i], priors[i])
        np.testing.assert_array_equal(one, words[i])
        assert one_ok == ok[i]
    for size in (7, 20):  # pools padded to whole SIMD vectors with idle lanes
        np.testing.assert_array_equal(layered.decode_batch(s[:size], priors[:size])[0], words[:size])
    assert ok.all() and np.array_equal(words, x)  # far from threshold (f ≈ 1.7): every frame decodes
    package = LdpcPackageDecoder(code.matrix)
    package_words, package_ok = package.decode_batch(s[:5], priors[:5])
    assert package_ok.all()
    np.testing.assert_array_equal(package_words, x[:5])


def test_the_package_oracle_takes_another_path_and_agrees_on_the_same_syndromes() -> None:
    """The ``ldpc`` package's flooding BP is an independent implementation: it does different work
    (its iteration counts differ from the layered schedule's, which needs about half as many), yet
    on frames a little above the code's working point (f ≈ 1.5 at 3 %, 40 bits punctured) both return Alice's words."""
    code = ldpc_code("elkouss2009", 0.7, 2000)
    rng = np.random.default_rng(11)
    q = 0.03
    x = rng.integers(0, 2, (12, 2000), dtype=np.uint8)
    y = x ^ (rng.random(x.shape) < q)
    priors = np.where(y == 1, 1 - q, q)
    priors[:, code.puncture_order[:40]] = 0.5  # punctured bits too
    s = code.syndrome(x)
    layered = LayeredBeliefPropagation(code.matrix)
    package = LdpcPackageDecoder(code.matrix)
    words, ok = layered.decode_batch(s, priors)
    package_words, package_ok = package.decode_batch(s, priors)
    assert package.iterations.sum() > 1.3 * layered.iterations.sum()  # two code paths, not one
    assert ok.all() and package_ok.all()
    np.testing.assert_array_equal(words, x)
    np.testing.assert_array_equal(package_words, words)


def test_resuming_continues_a_decoding() -> None:
    """A resumed decoding keeps its messages: with unchanged priors a converged frame stays put; a frame
    that failed decodes once its punctured bits are revealed, and the state's shapes are checked."""
    code = ldpc_code("elkouss2009", 0.7, 2000)
    rng = np.random.default_rng(7)
    q = 0.04
    x = rng.integers(0, 2, (6, 2000), dtype=np.uint8)
    y = x ^ (rng.random(x.shape) < q)
    priors = np.where(y == 1, 1 - q, q)
    hidden = code.puncture_order  # all 213 punctured: too many for this code to decode at 4 %
    priors[:, hidden] = 0.5
    decoder = LayeredBeliefPropagation(code.matrix)
    s = code.syndrome(x)
    words, ok, state = decoder.decode_resumable(s, priors)
    assert not ok.any()
    assert state.post.shape == (6, 2000) and state.msg.shape == (6, code.matrix.nnz)
    priors[:, hidden] = x[:, hidden]  # reveal them
    words, ok, state = decoder.decode_resumable(s, priors, state)
    assert ok.all() and np.array_equal(words, x)
    again, ok_again, _ = decoder.decode_resumable(s, priors, state)
    assert ok_again.all() and np.array_equal(again, x) and decoder.iterations.max() == 1
    np.testing.assert_array_equal(decoder.decode_batch(s[:2], priors[:2])[0], x[:2])
    with pytest.raises(InvalidParameter):
        decoder.decode_resumable(s[:3], priors[:3], state)
    with pytest.raises(InvalidParameter):
        decoder.decode_resumable(s, priors, state, patience=0)


def test_a_hopeless_frame_is_reported_not_converged() -> None:
    code = ldpc_code("elkouss2009", 0.9, 1000)
    rng = np.random.default_rng(4)
    x = rng.integers(0, 2, (2, 1000), dtype=np.uint8)
    y = x ^ (rng.random(x.shape) < 0.1)  # ten times the code's threshold
    words, ok = LayeredBeliefPropagation(code.matrix).decode_batch(code.syndrome(x), np.where(y == 1, 0.9, 0.1))
    assert not ok.any()
    assert not np.any(np.all(code.syndrome(words) == code.syndrome(x), axis=1))


@pytest.mark.parametrize("factory", DECODERS, ids=lambda f: f.__name__)
def test_bad_inputs_are_refused(factory: type) -> None:
    H = _small_code()
    decoder = factory(H)
    with pytest.raises(InvalidParameter):
        decoder.decode(np.zeros(8, np.uint8), np.full(18, 0.1))
    with pytest.raises(InvalidParameter):
        decoder.decode(np.zeros(9, np.uint8), np.full(17, 0.1))
    with pytest.raises(InvalidParameter):
        decoder.decode(np.zeros(9, np.uint8), np.full(18, 1.5))
    with pytest.raises(InvalidParameter):
        factory(np.full((3, 4), 2))
    with pytest.raises(InvalidParameter):
        factory([[1, 0]])


def test_decoder_options_are_checked() -> None:
    H = _small_code()
    with pytest.raises(InvalidParameter):
        LayeredBeliefPropagation(H, max_iterations=0)
    with pytest.raises(InvalidParameter):
        LdpcPackageDecoder(H, bp_method="guess")
    with pytest.raises(InvalidParameter):
        LdpcPackageDecoder(H, schedule="random")
