"""LDPC parties end to end: identical keys or a reported failure; the ledger counts what was sent."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import InvalidParameter, ProtocolError, ReconciliationFailed, VerificationFailed
from qkdnet.postprocess import LeakageLedger, SequentialParty, VerifyAlice, VerifyBob, run_protocol
from qkdnet.postprocess.ldpc import (
    LDPC_REVEALED,
    LDPC_SYNDROME,
    LDPC_SYNDROME_MASKED,
    LdpcAlice,
    LdpcBob,
    LdpcPackageDecoder,
    frame_layout,
)
from qkdnet.postprocess.messages import Abort, LdpcFeedback, LdpcReveal, LdpcStart, LdpcSyndrome, encode_message

from ..helpers import h2, noisy_pair


def _run(alice_key: np.ndarray, bob_key: np.ndarray, q: float, seed: int = 0, **kwargs: object):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    la, lb = LeakageLedger(), LeakageLedger()
    alice = LdpcAlice(alice_key, ledger=la, rng=rng)
    bob = LdpcBob(bob_key, qber_estimate=q, ledger=lb, rng=rng, **kwargs)  # type: ignore[arg-type]
    return alice, bob, la, lb


def test_keys_agree_and_the_ledger_is_what_was_sent() -> None:
    rng = np.random.default_rng(1)
    alice_key, bob_key = noisy_pair(60_000, 2400, rng)  # 4 %
    a0 = alice_key.copy()
    alice, bob, la, lb = _run(alice_key, bob_key, 0.04, frame_bits=4_000)
    transcript = run_protocol(alice, bob)
    result = bob.result
    np.testing.assert_array_equal(result.key, a0)
    assert result.corrected_bits == 2400
    assert la == lb
    # Every syndrome and revealed bit crossed the channel; the ledger's total is exactly those bits.
    sent = LdpcSyndrome.__name__, LdpcReveal.__name__
    assert transcript.messages_by_type[sent[0]] == 1
    code = bob.plan.code
    reveals = transcript.messages_by_type.get(sent[1], 0)
    assert lb.disclosed_bits == result.disclosed_bits == alice.disclosed_bits
    assert lb.by_kind()[LDPC_SYNDROME] + lb.by_kind()[LDPC_SYNDROME_MASKED] == bob.plan.frames * code.m
    assert lb.by_kind().get(LDPC_REVEALED, 0) == result.disclosed_bits - bob.plan.frames * code.m
    # Charged: m − p per frame, plus every revealed bit (Elkouss et al. 2011's leakage).
    assert (
        lb.charged_bits
        == result.charged_bits
        == bob.plan.frames * (code.m - bob.plan.punctured) + lb.by_kind().get(LDPC_REVEALED, 0)
    )
    assert result.rounds == reveals + 1 == transcript.round_trips
    assert result.charged_bits / (60_000 * h2(0.04)) < 1.35


def test_bits_on_the_wire_match_the_ledger() -> None:
    rng = np.random.default_rng(2)
    alice_key, bob_key = noisy_pair(20_000, 1000, rng)
    alice, bob, _, lb = _run(alice_key, bob_key, 0.05, frame_bits=5_000)
    # Drive by hand and measure payloads: a syndrome message carries frames·m bits, a reveal its values.
    payload = 0
    queue = [("bob", m) for m in bob.start()]
    while queue:
        side, msg = queue.pop(0)
        if isinstance(msg, LdpcSyndrome):
            payload += msg.syndromes.size
            assert len(encode_message(msg)) * 8 >= msg.syndromes.size
        if isinstance(msg, LdpcReveal):
            payload += msg.values.size
        out = (alice if side == "bob" else bob).receive(msg)
        queue += [("alice" if side == "bob" else "bob", m) for m in out]
    assert payload == lb.disclosed_bits == bob.result.disclosed_bits


@settings(max_examples=12, deadline=None)
@given(
    n=st.integers(min_value=300, max_value=6_000),
    q=st.floats(min_value=0.0, max_value=0.12),
    estimate_factor=st.floats(min_value=0.5, max_value=2.0),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_identical_keys_or_a_reported_failure(n: int, q: float, estimate_factor: float, seed: int) -> None:
    """LDPC then verification: both keys equal, or ReconciliationFailed / VerificationFailed — never silence."""
    rng = np.random.default_rng(seed)
    alice_key = rng.integers(0, 2, n, dtype=np.uint8)
    bob_key = alice_key ^ (rng.random(n) < q).astype(np.uint8)
    estimate = min(max(q * estimate_factor, 0.0), 0.2)
    la, lb = LeakageLedger(), LeakageLedger()
    ldpc_bob = LdpcBob(bob_key, qber_estimate=estimate, ledger=lb, rng=rng, frame_bits=2_000, max_rounds=3)
    verify_alice = VerifyAlice(alice_key, ledger=la, rng=rng)
    verify_bob: list[VerifyBob] = []

    def bob_verify() -> VerifyBob:
        verify_bob.append(VerifyBob(ldpc_bob.result.key, ledger=lb))
        return verify_bob[0]

    alice = SequentialParty([lambda: LdpcAlice(alice_key, ledger=la, rng=rng), lambda: verify_alice])
    bob = SequentialParty([lambda: ldpc_bob, bob_verify])
    try:
        run_protocol(alice, bob)
        if bob.failure is not None:
            raise bob.failure
        np.testing.assert_array_equal(verify_bob[0].key, verify_alice.key)
        np.testing.assert_array_equal(verify_bob[0].key, alice_key)
    except (ReconciliationFailed, VerificationFailed):
        return


FRAME = 2_000
_PRIMES = (1_999, 2_003, 7_919, 9_973, 12_007, 15_013)
_KEY_LENGTHS = st.one_of(
    st.sampled_from(_PRIMES),
    st.builds(lambda k, d: k * FRAME + d, st.integers(1, 7), st.integers(-3, 3)),  # around multiples of n
    st.integers(min_value=500, max_value=16_000),
)


def _reconcile_and_verify(alice_key: np.ndarray, bob_key: np.ndarray, q: float, rng: np.random.Generator) -> LdpcBob:  # type: ignore[type-arg]
    """LDPC then verification; raises ReconciliationFailed or VerificationFailed, else the keys agree."""
    la, lb = LeakageLedger(), LeakageLedger()
    ldpc_bob = LdpcBob(bob_key, qber_estimate=q, ledger=lb, rng=rng, frame_bits=FRAME)
    verify_alice = VerifyAlice(alice_key, ledger=la, rng=rng)
    verify_bob: list[VerifyBob] = []

    def bob_verify() -> VerifyBob:
        verify_bob.append(VerifyBob(ldpc_bob.result.key, ledger=lb))
        return verify_bob[0]

    alice = SequentialParty([lambda: LdpcAlice(alice_key, ledger=la, rng=rng), lambda: verify_alice])
    bob = SequentialParty([lambda: ldpc_bob, bob_verify])
    try:
        run_protocol(alice, bob)
        if bob.failure is not None:
            raise bob.failure
    except ReconciliationFailed:
        return ldpc_bob
    np.testing.assert_array_equal(verify_bob[0].key, verify_alice.key)
    np.testing.assert_array_equal(verify_bob[0].key, alice_key)
    return ldpc_bob


@settings(max_examples=15, deadline=None)
@given(n=_KEY_LENGTHS, q=st.floats(min_value=0.01, max_value=0.10), seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_any_key_length_reconciles_at_the_planned_efficiency(n: int, q: float, seed: int) -> None:
    """Key lengths that are not multiples of the frame (primes, just above or below a multiple): keys
    agree or the failure is reported, and frames fail rarely — the plan is made for 10⁻³ per frame, so
    more than one failed frame in an example (≤ 16 frames) has probability ~10⁻⁴; a frame cut or a
    rate choice gone wrong fails a third of them or more."""
    rng = np.random.default_rng(seed)
    alice_key = rng.integers(0, 2, n, dtype=np.uint8)
    bob_key = alice_key ^ (rng.random(n) < q).astype(np.uint8)
    try:
        bob = _reconcile_and_verify(alice_key, bob_key, q, rng)
    except VerificationFailed:
        return  # a frame met its syndrome with a wrong word: caught, as it must be
    assert bob.plan.frames <= 16
    assert bob.undecoded_frames <= 1


@pytest.mark.parametrize("q", [0.01, 0.03, 0.05, 0.08, 0.10])
def test_frame_error_rate_at_the_planned_efficiency(q: float) -> None:
    """Over ~60 frames of a prime-length key, at most 3 fail (the plan aims at 10⁻³; 3 of 60 would have
    probability ~10⁻⁵ at a true rate of 10⁻³, and ~0.1 at 2 %), and the leakage stays near the model."""
    n = 100_003
    rng = np.random.default_rng(int(q * 1000))
    alice_key = rng.integers(0, 2, n, dtype=np.uint8)
    bob_key = alice_key ^ (rng.random(n) < q).astype(np.uint8)
    alice, bob, _, lb = _run(alice_key, bob_key, q, frame_bits=FRAME)
    wrong = 0
    try:
        run_protocol(alice, bob)
        key = bob.result.key
        wrong = sum(not np.array_equal(key[s], alice_key[s]) for s in frame_layout(bob.plan).frame_key_slices())
    except ReconciliationFailed:
        pass
    assert bob.plan.frames >= 50
    assert bob.undecoded_frames + wrong <= 3  # a wrong word that meets the syndrome counts as a failure
    assert 1.0 < lb.charged_bits / (n * h2(q)) < 1.5


def test_failure_is_reported_on_both_sides() -> None:
    rng = np.random.default_rng(3)
    alice_key, bob_key = noisy_pair(4_000, 600, rng)  # 15 %, planned as 2 %
    alice, bob, la, lb = _run(alice_key, bob_key, 0.02, frame_bits=2_000, max_rounds=2)
    with pytest.raises(ReconciliationFailed):
        run_protocol(alice, bob)
    assert alice.done and bob.done
    with pytest.raises(ReconciliationFailed):
        _ = bob.result
    assert la == lb  # both counted the syndromes and reveals that were sent before the abort


def test_error_free_key_and_zero_estimate() -> None:
    key = np.random.default_rng(4).integers(0, 2, 3_000, dtype=np.uint8)
    alice, bob, _, _ = _run(key, key.copy(), 0.0, frame_bits=2_000)
    transcript = run_protocol(alice, bob)
    np.testing.assert_array_equal(bob.result.key, key)
    assert bob.result.corrected_bits == 0 and transcript.round_trips == 1


def test_the_ldpc_package_decoder_plugs_in() -> None:
    rng = np.random.default_rng(5)
    alice_key, bob_key = noisy_pair(4_000, 120, rng)
    alice, bob, _, _ = _run(alice_key, bob_key, 0.03, frame_bits=2_000, decoder=LdpcPackageDecoder)
    run_protocol(alice, bob)
    np.testing.assert_array_equal(bob.result.key, alice_key)


def test_efficiency_near_the_published_threshold() -> None:
    """At Q = 8 % with 10⁴-bit frames, every frame decodes and the mean efficiency is within 15 % of the
    mother code's efficiency at its published threshold, (1 − R)/h(p*) (Elkouss et al. 2009, Table I:
    within 5 % of capacity); the rest is the finite-length gap of 10⁴-bit frames."""
    rng = np.random.default_rng(6)
    n = 100_000
    alice_key = rng.integers(0, 2, n, dtype=np.uint8)
    bob_key = alice_key ^ (rng.random(n) < 0.08).astype(np.uint8)
    alice, bob, _, lb = _run(alice_key, bob_key, 0.08, frame_bits=10_000)
    run_protocol(alice, bob)
    np.testing.assert_array_equal(bob.result.key, alice_key)
    threshold = bob.plan.code.distribution.threshold
    assert threshold is not None
    at_threshold = (1 - bob.plan.rate) / h2(threshold)
    assert 1.0 < at_threshold < 1.05
    f = lb.charged_bits / (n * h2(0.08))
    assert 1.0 < f < 1.15 * at_threshold


def test_protocol_errors() -> None:
    rng = np.random.default_rng(7)
    key = rng.integers(0, 2, 3_000, dtype=np.uint8)
    alice, bob, _, _ = _run(key, key, 0.05, frame_bits=2_000)
    with pytest.raises(ProtocolError):
        alice.receive(LdpcFeedback(1, np.zeros(0, np.int64), 0, 0))  # before the plan
    start = bob.start()[0]
    assert isinstance(start, LdpcStart)
    with pytest.raises(ProtocolError, match="key lengths"):
        LdpcAlice(key[:-1], ledger=LeakageLedger(), rng=rng).receive(start)
    bad_plan = LdpcStart(start.family, start.rate, start.n, start.code_seed, start.key_bits, start.frames, 10**6)
    with pytest.raises(ProtocolError, match="unusable"):
        LdpcAlice(key, ledger=LeakageLedger(), rng=rng).receive(bad_plan)
    syndrome = alice.receive(start)[0]
    assert isinstance(syndrome, LdpcSyndrome)
    with pytest.raises(ProtocolError):
        bob.receive(LdpcSyndrome(syndrome.syndromes[:-1]))
    with pytest.raises(ProtocolError):  # a reveal request beyond the frames
        alice.receive(LdpcFeedback(1, np.array([99]), 1, 0))
    with pytest.raises(ProtocolError):  # ledgers disagree
        alice.receive(LdpcFeedback(1, np.zeros(0, np.int64), 0, 1))
    with pytest.raises(ReconciliationFailed):
        alice.receive(Abort("test"))
    with pytest.raises(ProtocolError):
        bob.receive(LdpcReveal(1, np.zeros(1, np.uint8)))  # before any syndrome
    with pytest.raises(ProtocolError):
        bob.start()


def test_bad_arguments() -> None:
    key = np.zeros(100, np.uint8)
    with pytest.raises(InvalidParameter):
        LdpcAlice(key, ledger=None, rng=np.random.default_rng())  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        LdpcAlice(key, ledger=LeakageLedger(), rng=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        LdpcBob(key, qber_estimate=0.7, ledger=LeakageLedger(), rng=np.random.default_rng())
    with pytest.raises(InvalidParameter):
        LdpcBob(key, qber_estimate=0.1, ledger=LeakageLedger(), rng=np.random.default_rng(), decoder=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        LdpcBob(np.zeros(0, np.uint8), qber_estimate=0.1, ledger=LeakageLedger(), rng=np.random.default_rng())
    with pytest.raises(ProtocolError):
        _ = LdpcBob(key, qber_estimate=0.1, ledger=LeakageLedger(), rng=np.random.default_rng(), frame_bits=1000).result
