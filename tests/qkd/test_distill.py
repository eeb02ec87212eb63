"""The key run's post-processing road: finite-key length from the ledger, authentication cost, channel time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter
from qkdnet.network import link_from_preset
from qkdnet.postprocess import ClassicalChannel, LeakageLedger, finite_key_length_from_ledger
from qkdnet.qkd import BBM92, E91, KeyRunConfig, run_key_exchange

from .conftest import WernerPairs

PAIRS = 600_000


@pytest.fixture(scope="module")
def finite_run():
    return run_key_exchange(WernerPairs(0.96), BBM92, PAIRS, seed=31)


def test_finite_key_is_the_default_and_its_length_is_read_from_the_ledger(finite_run) -> None:
    r = finite_run
    assert r.secure and r.key_length_method == "finite"
    # rebuild the ledger from what the run reports and recompute the length independently of the run
    ledger = LeakageLedger()
    for kind, bits in r.leakage_by_kind.items():
        ledger.record(kind, bits, charged=kind != "estimation_sample")
    n = r.sifted_bits - r.sample_bits
    assert r.qber_tolerance is not None and r.qber_tolerance >= r.phase_error
    assert r.qber_tolerance - r.phase_error < 0.001  # the next value of the 0.1 % grid
    expected = finite_key_length_from_ledger(ledger, key_bits=n, qber_tolerance=r.qber_tolerance, eps_sec=1e-10 / 125)
    assert r.amplified_key_bits == expected
    assert r.final_key_bits == r.amplified_key_bits - r.authentication_key_bits > 0
    assert r.alice_key is not None and r.bob_key is not None and np.array_equal(r.alice_key, r.bob_key)


def test_every_message_was_authenticated_and_paid_for(finite_run) -> None:
    r = finite_run
    # per direction one 128-bit hash key and one pad per stage (announcements, post-processing): however many
    # messages, 6 slots
    assert r.classical_messages > 20 and r.authentication_key_bits == 128 * 3 * 2
    plain = run_key_exchange(WernerPairs(0.96), BBM92, PAIRS, seed=31, config=KeyRunConfig(authenticate=False))
    assert plain.authentication_key_bits == 0 and plain.final_key_bits == plain.amplified_key_bits
    assert plain.amplified_key_bits == r.amplified_key_bits  # authentication discloses nothing about the key
    assert plain.classical_bits < r.classical_bits  # but its headers and tags travel


def test_the_asymptotic_bound_stays_selectable_and_is_laxer(finite_run) -> None:
    cfg = KeyRunConfig(key_length="asymptotic")
    r = run_key_exchange(WernerPairs(0.96), BBM92, PAIRS, seed=31, config=cfg)
    assert r.secure and r.key_length_method == "asymptotic" and r.qber_tolerance is None
    assert r.amplified_key_bits > finite_run.amplified_key_bits
    assert r.summary()["key_length"] == "asymptotic"


def test_device_independent_runs_default_to_the_asymptotic_bound_and_may_ask_for_finite() -> None:
    assert KeyRunConfig(security="device-independent").key_length_method == "asymptotic"
    assert KeyRunConfig(security="device-independent", key_length="finite").key_length_method == "finite"


def test_a_fixed_tolerance_below_the_phase_error_aborts() -> None:
    r = run_key_exchange(WernerPairs(0.9), E91, 300_000, seed=4, config=KeyRunConfig(qber_tolerance=0.02))
    assert not r.secure and r.alice_key is None and r.final_key_bits == 0
    assert r.abort_reason is not None and "tolerance" in r.abort_reason


def test_too_few_pairs_say_why_in_numbers() -> None:
    r = run_key_exchange(WernerPairs(0.9), E91, 100_000, seed=4)
    assert not r.secure and r.abort_reason is not None
    assert "finite-key bound" in r.abort_reason and "statistical margin" in r.abort_reason


def test_classical_time_counts_round_trips_over_the_fiber() -> None:
    link = link_from_preset("zhang2022", length_km=1.0)
    delay = link.fiber.delay_s
    cfg = KeyRunConfig(authenticate=False, key_length="asymptotic")
    r = run_key_exchange(link, E91, 200_000, seed=5, config=cfg)
    assert r.round_trips > 0
    # every flight crosses the fiber once; processing and transmission are free by default
    assert r.classical_time_s == pytest.approx(2 * r.round_trips * delay, rel=0.05)
    assert r.total_time_s == r.duration_s + r.classical_time_s
    assert r.secret_key_rate_bps == pytest.approx(r.final_key_bits / r.total_time_s)
    slow = KeyRunConfig(authenticate=False, key_length="asymptotic", classical_channel=ClassicalChannel(0.5, 0.01))
    s = run_key_exchange(link, E91, 200_000, seed=5, config=slow)
    assert s.final_key_bits == r.final_key_bits
    # announcements included; the bound is met exactly, up to the rounding of a sum of ~100 floats
    assert s.classical_time_s >= (s.classical_messages * 0.01 + s.round_trips * 2 * 0.5) * (1 - 1e-12)


def test_summary_keeps_the_old_fields_and_adds_the_new_ones(finite_run) -> None:
    out = finite_run.summary()
    old = {"final_key_bits", "secret_key_rate_bps", "leakage_bits", "round_trips", "duration_s", "abort_reason"}
    new = {
        "key_length",
        "qber_tolerance",
        "reconciler",
        "amplified_key_bits",
        "authentication_key_bits",
        "classical_time_s",
        "total_time_s",
        "classical_bits",
        "classical_messages",
    }
    assert old | new <= out.keys()
    assert out["reconciler"] == "cascade" and math.isfinite(out["total_time_s"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"reconciler": "turbo"},
        {"key_length": "exact"},
        {"qber_tolerance": 1.5},
        {"eps_sec": 0.0},
        {"bootstrap_key_bits": 1000},
        {"bootstrap_key_bits": True},
        {"classical_channel": 0.1},
    ],
)
def test_bad_configs_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidParameter):
        KeyRunConfig(**kwargs)  # type: ignore[arg-type]


def test_a_whole_run_reconciles_with_ldpc_in_few_authenticated_messages() -> None:
    """The key road with LDPC: identical keys whose length is read from the ledger (the masked part of
    the syndromes sent but not charged), and far fewer tagged messages than Cascade's."""
    ldpc = run_key_exchange(WernerPairs(0.9), BBM92, PAIRS, seed=31, config=KeyRunConfig(reconciler="ldpc"))
    assert ldpc.secure and ldpc.reconciler == "ldpc"
    assert ldpc.alice_key is not None and ldpc.bob_key is not None and np.array_equal(ldpc.alice_key, ldpc.bob_key)
    kinds = ldpc.leakage_by_kind
    assert kinds["ldpc_syndrome"] > 0 and kinds["ldpc_syndrome_masked"] > 0 and "cascade_parity" not in kinds
    ledger = LeakageLedger()
    for kind, bits in kinds.items():
        ledger.record(kind, bits, charged=kind not in ("estimation_sample", "ldpc_syndrome_masked"))
    n = ldpc.sifted_bits - ldpc.sample_bits
    assert ldpc.qber_tolerance is not None
    length = finite_key_length_from_ledger(ledger, key_bits=n, qber_tolerance=ldpc.qber_tolerance, eps_sec=1e-10 / 125)
    assert ldpc.amplified_key_bits == length
    cascade = run_key_exchange(WernerPairs(0.9), BBM92, PAIRS, seed=31)
    assert ldpc.classical_messages < cascade.classical_messages / 3
    # The cost of authentication no longer grows with the messages: the same 6 slots for both reconcilers.
    assert ldpc.authentication_key_bits == cascade.authentication_key_bits == 128 * 3 * 2
