"""Cascade as a protocol: invariants over random keys and QBERs, the ledger against the bits sent, frames,
the set-up message, refusals, and "identical keys or a reported failure" once verification follows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import InvalidParameter, ProtocolError, ReconciliationFailed, VerificationFailed
from qkdnet.postprocess import (
    CASCADE_PARITY,
    CASCADE_VARIANTS,
    BlockRule,
    CascadeAlice,
    CascadeBob,
    CascadeSetup,
    CascadeVariant,
    LeakageLedger,
    Message,
    ParityAnswer,
    ParityQuery,
    Party,
    SequentialParty,
    VerifyAlice,
    VerifyBob,
    pass_permutation,
    run_protocol,
)
from qkdnet.postprocess.cascade_layout import MAX_KEY_BITS, FrameLayout

VARIANTS = sorted(CASCADE_VARIANTS)


class _Counting:
    """Forwards to a party and adds up the parity bits in the ParityAnswers it sends."""

    def __init__(self, party: Party) -> None:
        self.party = party
        self.parity_bits = 0

    @property
    def done(self) -> bool:
        return self.party.done

    def _count(self, out: list[Message]) -> list[Message]:
        self.parity_bits += sum(m.parities.size for m in out if isinstance(m, ParityAnswer))
        return out

    def start(self) -> list[Message]:
        return self._count(self.party.start())

    def receive(self, message: Message) -> list[Message]:
        return self._count(self.party.receive(message))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[int, int | None, float, float, str, int]:
    n = draw(st.integers(1, 4000))
    frame = draw(st.one_of(st.none(), st.integers(1, n)))
    q_true = draw(st.sampled_from([0.0, 0.005, 0.02, 0.05, 0.1, 0.2]))
    q_est = draw(st.sampled_from([0.0, 0.01, 0.03, 0.1, 0.5, q_true]))
    return n, frame, q_true, q_est, draw(st.sampled_from(VARIANTS)), draw(st.integers(0, 2**32 - 1))


@settings(max_examples=80, deadline=None)
@given(_cases())
def test_cascade_invariants_over_random_keys_and_qbers(case: tuple[int, int | None, float, float, str, int]) -> None:
    """Cascade only ever flips real errors, leaves an even number per frame, and both ledgers hold exactly
    the parity bits Alice sent; or, with a hopeless estimate, it stops with a reported failure."""
    n, frame, q_true, q_est, variant, seed = case
    rng = np.random.default_rng(seed)
    alice_key = rng.integers(0, 2, n, dtype=np.uint8)
    bob_key = alice_key ^ (rng.random(n) < q_true).astype(np.uint8)
    ledger_a, ledger_b = LeakageLedger(), LeakageLedger()
    alice = _Counting(CascadeAlice(alice_key, ledger=ledger_a))
    bob = CascadeBob(bob_key, qber_estimate=q_est, ledger=ledger_b, rng=rng, variant=variant, frame_bits=frame)
    try:
        run_protocol(alice, bob)
    except ReconciliationFailed:
        with pytest.raises(ReconciliationFailed):
            _ = bob.result
        assert ledger_a == ledger_b
        return
    result = bob.result
    assert ledger_a == ledger_b
    assert ledger_b.by_kind().get(CASCADE_PARITY, 0) == alice.parity_bits == result.disclosed_bits
    assert int(result.frame_disclosed_bits.sum()) == result.disclosed_bits
    wrong_before, wrong_after = bob_key != alice_key, result.key != alice_key
    assert not np.any(wrong_after & ~wrong_before)  # every flip corrected a real error
    assert result.corrected_bits == int(np.sum(result.key != bob_key))
    frame_bits = n if frame is None else frame
    per_frame = np.add.reduceat(wrong_after.astype(np.int64), np.arange(0, n, frame_bits))
    assert np.all(per_frame % 2 == 0)  # the first pass tiles every frame
    assert int(result.frame_rounds.max()) <= result.rounds


@settings(max_examples=40, deadline=None)
@given(_cases())
def test_identical_keys_or_a_reported_failure_once_verification_follows(
    case: tuple[int, int | None, float, float, str, int],
) -> None:
    """Cascade cannot see residual errors; the verification hash after it does. Keys never silently differ."""
    n, frame, q_true, q_est, variant, seed = case
    rng = np.random.default_rng(seed)
    alice_key = rng.integers(0, 2, n, dtype=np.uint8)
    bob_key = alice_key ^ (rng.random(n) < q_true).astype(np.uint8)
    ledger_a, ledger_b = LeakageLedger(), LeakageLedger()
    cascade_bob = CascadeBob(bob_key, qber_estimate=q_est, ledger=ledger_b, rng=rng, variant=variant, frame_bits=frame)
    verify_a = VerifyAlice(alice_key, ledger=ledger_a, rng=rng, eps_cor=1e-9)
    verify_b: list[VerifyBob] = []

    def bob_verifier() -> Party:
        verify_b.append(VerifyBob(cascade_bob.result.key, ledger=ledger_b, eps_cor=1e-9))
        return verify_b[0]

    alice = SequentialParty([lambda: CascadeAlice(alice_key, ledger=ledger_a), lambda: verify_a])
    bob = SequentialParty([lambda: cascade_bob, bob_verifier])
    try:
        run_protocol(alice, bob)
    except (ReconciliationFailed, VerificationFailed):
        return
    if bob.failure is not None:
        return
    np.testing.assert_array_equal(verify_b[0].key, verify_a.key)


def test_residual_errors_are_caught_by_verification() -> None:
    """One pass cannot see two errors in one block: Cascade leaves them, verification refuses the key."""
    rng = np.random.default_rng(1)
    alice_key = rng.integers(0, 2, 3000, dtype=np.uint8)
    bob_key = alice_key.copy()
    bob_key[[10, 20]] ^= 1  # both in the first 73-bit block of pass 0
    bob = CascadeBob(bob_key, qber_estimate=0.01, ledger=LeakageLedger(), rng=rng, passes=1)
    run_protocol(CascadeAlice(alice_key, ledger=LeakageLedger()), bob)
    assert bob.result.corrected_bits == 0 and np.sum(bob.result.key != alice_key) == 2
    verify_b = VerifyBob(bob.result.key, ledger=LeakageLedger())
    with pytest.raises(VerificationFailed):
        run_protocol(VerifyAlice(alice_key, ledger=LeakageLedger(), rng=rng), verify_b)


@pytest.mark.parametrize("variant", ["original", "biconf", "option8"])
def test_frames_side_by_side_give_what_each_frame_gives_alone(variant: str) -> None:
    """Equal frames share the pass orders of a lone frame with the same seed, and each frame's searches
    depend only on its own answers: batching changes nothing but the number of messages."""
    n, frames = 3000, 4
    rng = np.random.default_rng(8)
    alice_key = rng.integers(0, 2, n * frames, dtype=np.uint8)
    bob_key = alice_key ^ (rng.random(n * frames) < 0.04).astype(np.uint8)
    together = CascadeBob(
        bob_key, qber_estimate=0.04, ledger=LeakageLedger(), rng=np.random.default_rng(9), variant=variant, frame_bits=n
    )
    run_protocol(CascadeAlice(alice_key, ledger=LeakageLedger()), together)
    for f in range(frames):
        part = slice(f * n, (f + 1) * n)
        alone = CascadeBob(
            bob_key[part], qber_estimate=0.04, ledger=LeakageLedger(), rng=np.random.default_rng(9), variant=variant
        )
        run_protocol(CascadeAlice(alice_key[part], ledger=LeakageLedger()), alone)
        np.testing.assert_array_equal(together.result.key[part], alone.result.key)
        assert together.result.frame_disclosed_bits[f] == alone.result.disclosed_bits
        assert together.result.frame_rounds[f] == alone.result.rounds


def test_a_short_last_frame_is_reconciled_on_its_own() -> None:
    rng = np.random.default_rng(10)
    alice_key = rng.integers(0, 2, 10_050, dtype=np.uint8)
    bob_key = alice_key ^ (rng.random(10_050) < 0.03).astype(np.uint8)
    bob = CascadeBob(bob_key, qber_estimate=0.03, ledger=LeakageLedger(), rng=rng, variant="option7", frame_bits=2500)
    run_protocol(CascadeAlice(alice_key, ledger=LeakageLedger()), bob)
    assert bob.result.frame_disclosed_bits.size == 5 and bob.result.frame_bits == 2500
    np.testing.assert_array_equal(bob.result.key, alice_key)


def test_layout_orders_are_permutations_within_frames_and_invert() -> None:
    layout = FrameLayout(10_050, 2500, seed=123, inverse=True)  # four full frames and one of 50 bits
    order, order_rest, where, where_rest = layout.orders(5)
    np.testing.assert_array_equal(order[0], np.arange(2500))  # pass 0 keeps the natural order
    for p in range(5):
        np.testing.assert_array_equal(np.sort(order[p]), np.arange(2500))
        np.testing.assert_array_equal(np.sort(order_rest[p]), np.arange(50))
        np.testing.assert_array_equal(where[p][order[p]], np.arange(2500))
        np.testing.assert_array_equal(where_rest[p][order_rest[p]], np.arange(50))
    assert not np.array_equal(order[1], order[2])
    np.testing.assert_array_equal(order[3], pass_permutation(123, 3, 2500))  # full frames: a lone frame's order
    key = np.random.default_rng(0).integers(0, 2, 10_050, dtype=np.uint8)
    laid = layout.ordered(key, 3)
    for f in range(4):  # every full frame is reordered by the same permutation, within itself
        np.testing.assert_array_equal(laid[2500 * f : 2500 * (f + 1)], key[2500 * f : 2500 * (f + 1)][order[3]])
    np.testing.assert_array_equal(laid[10_000:], key[10_000:][order_rest[3]])
    np.testing.assert_array_equal(layout.prefix(key, 3)[1:] ^ layout.prefix(key, 3)[:-1], laid)
    with pytest.raises(InvalidParameter):
        FrameLayout(MAX_KEY_BITS + 1, 10, 1)


def test_setup_message_checks_its_fields() -> None:
    with pytest.raises(InvalidParameter):
        CascadeSetup(100, 101, "original", 4, 1)  # frame longer than the key
    with pytest.raises(InvalidParameter):
        CascadeSetup(100, 10, "original", 257, 1)  # pass indices are one byte
    with pytest.raises(InvalidParameter):
        CascadeSetup(100, 10, "", 4, 1)
    with pytest.raises(InvalidParameter):
        CascadeSetup(100, 10, "original", 4, 1 << 128)


def test_alice_refuses_a_bad_setup_and_out_of_budget_passes() -> None:
    key = np.zeros(100, np.uint8)
    with pytest.raises(ProtocolError):
        CascadeAlice(key, ledger=LeakageLedger()).receive(CascadeSetup(99, 10, "original", 4, 1))
    alice = CascadeAlice(key, ledger=LeakageLedger())
    alice.receive(CascadeSetup(100, 10, "original", 4, 1))
    with pytest.raises(ProtocolError):
        alice.receive(CascadeSetup(100, 10, "original", 4, 1))  # set up twice
    with pytest.raises(ProtocolError):
        alice.receive(ParityQuery(1, np.array([4], np.uint8), np.zeros(1, np.int64), np.ones(1, np.int64)))


def test_bob_checks_his_arguments() -> None:
    key, ledger, rng = np.zeros(100, np.uint8), LeakageLedger(), np.random.default_rng()
    for kwargs in ({"frame_bits": 0}, {"passes": 0}, {"passes": 300, "variant": "option7"}, {"qber_estimate": 0.7}):
        args: dict[str, object] = {"qber_estimate": 0.05, **kwargs}
        with pytest.raises(InvalidParameter):
            CascadeBob(key, ledger=ledger, rng=rng, **args)  # type: ignore[arg-type]
    bob = CascadeBob(key, qber_estimate=0.05, ledger=ledger, rng=rng, frame_bits=1000)
    assert bob.block_sizes == (15, 30, 60) and bob.variant.name == "original"  # frame capped at the key


def test_a_frame_that_needs_too_many_passes_fails_on_both_sides() -> None:
    """A (custom) variant asking for 300 clean BICONF passes runs out of one-byte pass indices and aborts."""
    endless = CascadeVariant("endless", "test only", (BlockRule("qber", 0.73),), passes=1, biconf_streak=300)
    key = np.random.default_rng(2).integers(0, 2, 500, dtype=np.uint8)
    bob = CascadeBob(
        key.copy(), qber_estimate=0.05, ledger=LeakageLedger(), rng=np.random.default_rng(3), variant=endless
    )
    alice = CascadeAlice(key, ledger=LeakageLedger())
    with pytest.raises(ReconciliationFailed, match="256 passes"):
        run_protocol(alice, bob)
    with pytest.raises(ReconciliationFailed):
        _ = bob.result
    assert alice.done and bob.done
