"""Reconcilers chosen by name, the recipe's key-length rules, and the ledger against the bits actually sent."""

from __future__ import annotations

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess import (
    CASCADE_VARIANTS,
    ESTIMATION_SAMPLE,
    RECONCILERS,
    CascadeReconciler,
    ClassicalChannel,
    FiniteKeyLength,
    LeakageLedger,
    Message,
    ParityAnswer,
    Party,
    PostprocessAlice,
    PostprocessBob,
    Reconciler,
    ReconciliationResult,
    ReconcilingBob,
    VerificationTag,
    finite_key_length_from_ledger,
    get_reconciler,
    reconcile_and_amplify,
    run_protocol,
)

from .helpers import SilentReconciler, noisy_pair


def test_cascade_is_registered_and_unknown_names_are_refused() -> None:
    assert "cascade" in RECONCILERS
    cascade = get_reconciler("cascade")
    assert isinstance(cascade, Reconciler) and cascade == CascadeReconciler(variant="original")
    for name in CASCADE_VARIANTS:  # every published variant can be named by a key run
        assert get_reconciler(f"cascade-{name}") == CascadeReconciler(variant=name)
    with pytest.raises(InvalidParameter, match="cascade"):
        get_reconciler("turbo")
    with pytest.raises(InvalidParameter):
        get_reconciler(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        CascadeReconciler(passes=0)
    with pytest.raises(InvalidParameter, match="option8"):
        CascadeReconciler(variant="option9")


def test_cascade_parties_fit_the_protocols() -> None:
    rng = np.random.default_rng(1)
    a, b = noisy_pair(2000, 20, rng)
    cascade = get_reconciler("cascade")
    alice = cascade.make_alice(a, ledger=LeakageLedger(), rng=rng)
    bob = cascade.make_bob(b, qber_estimate=0.01, ledger=LeakageLedger(), rng=rng)
    run_protocol(alice, bob)
    assert isinstance(alice, Party) and isinstance(bob, ReconcilingBob)  # (a structural check reads .result)
    result = bob.result
    assert isinstance(result, ReconciliationResult)
    np.testing.assert_array_equal(result.key, a)
    assert result.corrected_bits == 20 and result.rounds > 0 and result.disclosed_bits > 0


def test_the_recipe_runs_whatever_reconciler_it_is_given() -> None:
    key = np.random.default_rng(2).integers(0, 2, 3000, dtype=np.uint8)
    ledger = LeakageLedger()
    out = reconcile_and_amplify(
        key, key.copy(), qber_estimate=0.0, eve_information_bits=100, ledger=ledger,
        rng=np.random.default_rng(3), reconciler=SilentReconciler(),
    )  # fmt: skip
    assert out.cascade_rounds == 0 and out.cascade_parity_bits == 0
    assert set(out.transcript.messages_by_type) == {"VerificationTag", "VerificationOutcome", "AmplificationSeed"}
    np.testing.assert_array_equal(out.alice_key, out.bob_key)
    with pytest.raises(InvalidParameter):
        reconcile_and_amplify(
            key, key.copy(), qber_estimate=0.0, eve_information_bits=1, ledger=LeakageLedger(),
            rng=np.random.default_rng(3), reconciler="turbo",
        )  # fmt: skip


class _Spy:
    """Passes messages through and keeps what its party sent."""

    def __init__(self, inner: Party) -> None:
        self.inner, self.sent = inner, []

    @property
    def done(self) -> bool:
        return self.inner.done

    def start(self) -> list[Message]:
        out = self.inner.start()
        self.sent += out
        return out

    def receive(self, message: Message) -> list[Message]:
        out = self.inner.receive(message)
        self.sent += out
        return out


def test_the_ledger_charges_exactly_the_bits_alice_disclosed() -> None:
    rng = np.random.default_rng(4)
    a, b = noisy_pair(30_000, 900, rng)
    ledger_a, ledger_b = LeakageLedger(), LeakageLedger()
    alice = _Spy(PostprocessAlice(a, ledger=ledger_a, rng=rng.spawn(1)[0], eve_information_bits=0))
    bob = PostprocessBob(b, qber_estimate=0.03, ledger=ledger_b, rng=rng.spawn(1)[0], eve_information_bits=0)
    run_protocol(alice, bob)
    parities = sum(m.parities.size for m in alice.sent if isinstance(m, ParityAnswer))
    tags = sum(m.tag_bits for m in alice.sent if isinstance(m, VerificationTag))
    assert ledger_a == ledger_b
    assert ledger_b.charged_bits == parities + tags == ledger_b.disclosed_bits
    assert ledger_b.by_kind() == {"cascade_parity": parities, "verification_hash": tags}


def test_finite_key_recipe_length_is_read_from_the_ledger() -> None:
    rng = np.random.default_rng(5)
    n = 200_000
    a, b = noisy_pair(n, 4000, rng)
    ledger = LeakageLedger()
    ledger.record(ESTIMATION_SAMPLE, 20_000, charged=False)
    rule = FiniteKeyLength.adaptive(0.0205, eps_sec=1e-10)
    out = reconcile_and_amplify(
        a, b, qber_estimate=0.02, key_length=rule, ledger=ledger, rng=rng,
        channel=ClassicalChannel(one_way_delay_s=1e-3, processing_s=1e-5),
    )  # fmt: skip
    expected = finite_key_length_from_ledger(ledger, key_bits=n, qber_tolerance=0.021, eps_sec=1e-10 / 125)
    assert out.final_bits == out.amplified_bits == expected > 0
    np.testing.assert_array_equal(out.alice_key, out.bob_key)
    # every flight waited 1 ms at least
    assert out.elapsed_s >= out.transcript.flights * 1e-3
    with pytest.raises(InvalidParameter):  # one rule, not two
        reconcile_and_amplify(a, b, qber_estimate=0.02, key_length=rule, eve_information_bits=1, ledger=ledger, rng=rng)
