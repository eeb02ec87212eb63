"""Sifting and estimation as two sans-I/O parties: the numbers of a reference reading both logs, from public data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.attacks import make_attack
from qkdnet.errors import InvalidParameter, ProtocolError
from qkdnet.network import WernerSource, link_from_preset
from qkdnet.postprocess import (
    BasisAnnouncement,
    Message,
    OutcomeDisclosure,
    SampleChoice,
    decode_message,
    encode_message,
    run_protocol,
)
from qkdnet.qkd import (
    BBM92,
    E91,
    KeyRunConfig,
    PartyRecord,
    ProtocolSpec,
    SiftAlice,
    SiftBob,
    run_key_exchange,
    simulate_records,
)
from qkdnet.qkd.estimation import choose_sample, correlation_table, error_rate, phase_error, sift
from qkdnet.qkd.security import trusted_key_fraction
from qkdnet.rng import SeedTree


def _reference(protocol: ProtocolSpec, cfg: KeyRunConfig, alice: PartyRecord, bob: PartyRecord, rng_seed: int) -> dict:
    """The in-process estimate of the walking skeleton, reading both full logs (the oracle)."""
    sifting = sift(protocol, alice.settings, bob.settings)
    sample = choose_sample(sifting.key_index.size, cfg.sample_fraction, rng=np.random.default_rng(rng_seed))
    disclosed = np.ones(alice.settings.size, dtype=bool)
    disclosed[sifting.key_index[~sample]] = False
    n_a, n_b = len(protocol.alice_angles_deg), len(protocol.bob_angles_deg)
    table = correlation_table(
        n_a, n_b, alice.settings[disclosed], bob.settings[disclosed], alice.outcomes[disclosed], bob.outcomes[disclosed]
    )
    idx = sifting.key_index[sample]
    qber = error_rate(alice.outcomes[idx], bob.outcomes[idx])
    fractions = []
    for b in range(len(protocol.key_settings)):
        sel = idx[sifting.key_basis[sample] == b]
        fractions.append(
            trusted_key_fraction(
                error_rate(alice.outcomes[sel], bob.outcomes[sel]).value, phase_error(protocol, table, b).value
            )
        )
    return {
        "qber": qber.value,
        "sample_bits": int(sample.sum()),
        "key_index": sifting.key_index[~sample],
        "correlator": table.correlator,
        "fractions": fractions,
    }


def _records(protocol: ProtocolSpec, seed: int, attack: str | None, n: int = 60_000) -> tuple[PartyRecord, PartyRecord]:
    tree = SeedTree(seed)
    recs = simulate_records(
        WernerSource(0.97, 1e6), protocol, n, tree=tree, attack=None if attack is None else make_attack(attack, 0.4)
    )
    return recs.alice, recs.bob


@pytest.mark.parametrize("protocol", [E91, BBM92], ids=lambda p: p.name)
@pytest.mark.parametrize(("seed", "attack"), [(1, None), (2, "intercept-resend"), (3, None)])
def test_parties_match_the_reference_that_reads_both_logs(
    protocol: ProtocolSpec, seed: int, attack: str | None
) -> None:
    alice_rec, bob_rec = _records(protocol, seed, attack)
    cfg = KeyRunConfig()
    alice = SiftAlice(protocol, cfg, alice_rec)
    bob = SiftBob(protocol, cfg, bob_rec, rng=np.random.default_rng(seed))
    transcript = run_protocol(alice, bob)  # through the byte codec
    assert transcript.messages == 5 and alice.done and bob.done
    ref = _reference(protocol, cfg, alice_rec, bob_rec, seed)
    for est in (alice.estimate, bob.estimate):
        assert est.qber.value == ref["qber"]
        assert est.sample_bits == ref["sample_bits"]
        assert np.array_equal(est.key_index, ref["key_index"])
        np.testing.assert_array_equal(est.correlations.correlator, ref["correlator"])
    weights = np.bincount(sift(protocol, alice_rec.settings, bob_rec.settings).key_basis, minlength=2)
    assert math.isclose(
        alice.estimate.key_fraction_trusted, float(np.dot(weights / weights.sum(), ref["fractions"])), abs_tol=0.02
    )
    a_est, b_est = alice.estimate, bob.estimate
    for name in ("qber", "phase", "chsh_s", "abort_reason", "eve_information_bits", "key_fraction_bound"):
        assert getattr(a_est, name) == getattr(b_est, name), name
    assert np.array_equal(alice.key, alice_rec.outcomes[ref["key_index"]])
    assert np.array_equal(bob.key, bob_rec.outcomes[ref["key_index"]])
    assert (alice.estimate.abort_reason is None) == (attack is None)


def test_kept_key_bits_never_cross_the_channel() -> None:
    """Change Bob's outcomes on the pairs kept for the key: nothing Alice receives or computes changes."""
    alice_rec, bob_rec = _records(E91, 7, None)
    cfg = KeyRunConfig()

    def run(bob_outcomes: np.ndarray) -> tuple[list[bytes], float]:
        sent: list[bytes] = []
        alice = SiftAlice(E91, cfg, alice_rec)
        bob = SiftBob(E91, cfg, PartyRecord(bob_rec.settings, bob_outcomes), rng=np.random.default_rng(7))
        queue: list[tuple[str, Message]] = [("a", m) for m in alice.start()]
        while queue:
            who, msg = queue.pop(0)
            sent.append(encode_message(msg))
            target, name = (bob, "b") if who == "a" else (alice, "a")
            queue += [(name, m) for m in target.receive(decode_message(encode_message(msg)))]
        return sent, alice.estimate.qber.value

    honest, q1 = run(bob_rec.outcomes)
    probe = SiftBob(E91, cfg, bob_rec, rng=np.random.default_rng(7))
    probe.receive(BasisAnnouncement(alice_rec.settings))
    flipped = bob_rec.outcomes.copy()
    kept = sift(E91, alice_rec.settings, bob_rec.settings).key_index
    sample = choose_sample(kept.size, cfg.sample_fraction, rng=np.random.default_rng(7))
    flipped[kept[~sample]] ^= 1
    changed, q2 = run(flipped)
    assert honest == changed and q1 == q2


def _setup(protocol: ProtocolSpec = BBM92) -> tuple[SiftAlice, SiftBob, PartyRecord, PartyRecord]:
    alice_rec, bob_rec = _records(protocol, 4, None, n=2000)
    cfg = KeyRunConfig()
    return (
        SiftAlice(protocol, cfg, alice_rec),
        SiftBob(protocol, cfg, bob_rec, rng=np.random.default_rng(0)),
        alice_rec,
        bob_rec,
    )


def test_malformed_announcements_are_protocol_errors() -> None:
    alice, bob, a, _ = _setup()
    with pytest.raises(ProtocolError, match="announced"):
        bob.receive(BasisAnnouncement(a.settings[:-1]))
    with pytest.raises(ProtocolError, match="announced"):
        bob.receive(BasisAnnouncement(np.full(a.settings.size, 7, np.uint8)))
    settings, sample, disclosure = bob.receive(BasisAnnouncement(a.settings))
    assert isinstance(settings, BasisAnnouncement) and isinstance(sample, SampleChoice)
    assert isinstance(disclosure, OutcomeDisclosure)
    alice.start()
    alice.receive(settings)
    with pytest.raises(ProtocolError, match="sample choice"):
        alice.receive(SampleChoice(sample.sample[:-1]))
    alice.receive(sample)
    with pytest.raises(ProtocolError, match="disclosure"):
        alice.receive(OutcomeDisclosure(disclosure.outcomes[:-1]))
    with pytest.raises(ProtocolError, match="disclosure"):
        bob.receive(OutcomeDisclosure(np.zeros(3, np.uint8)))
    with pytest.raises(ProtocolError, match="did not expect"):
        bob.receive(BasisAnnouncement(a.settings))  # a second announcement
    with pytest.raises(ProtocolError, match="not finished"):
        _ = SiftAlice(BBM92, KeyRunConfig(), a).estimate


def test_bad_records_are_refused() -> None:
    with pytest.raises(InvalidParameter, match="settings must be below"):
        SiftAlice(BBM92, KeyRunConfig(), PartyRecord(np.array([0, 2], np.uint8), np.array([0, 1], np.uint8)))
    with pytest.raises(InvalidParameter, match="one setting and one outcome"):
        SiftBob(
            BBM92,
            KeyRunConfig(),
            PartyRecord(np.zeros(3, np.uint8), np.zeros(2, np.uint8)),
            rng=np.random.default_rng(),
        )
    with pytest.raises(InvalidParameter, match="rng"):
        SiftBob(BBM92, KeyRunConfig(), PartyRecord(np.zeros(3, np.uint8), np.zeros(3, np.uint8)), rng=1)  # type: ignore[arg-type]


#: run_key_exchange before sifting became two parties (commit f8f9137): QBER, sifted and sample bits, S, phase error.
#: (The final key length also depends on how many messages the block authenticates, so it is not pinned here.)
GOLDEN = [
    (E91, None, 400_000, 3, (0.03759567762269248, 88841, 8884, 2.6667030691456564, 0.022930034425713237)),
    (BBM92, None, 300_000, 4, (0.02991652754590985, 149751, 14975, None, 0.030034029055835906)),
    (E91, "intercept-resend", 300_000, 5, (0.1549970077797726, 66837, 6684, 2.004982280465113, 0.1394122177201994)),
]


@pytest.mark.parametrize(("protocol", "attack", "pairs", "seed", "expected"), GOLDEN)
def test_key_runs_estimate_exactly_what_they_did(
    protocol: ProtocolSpec, attack: str | None, pairs: int, seed: int, expected: tuple[object, ...]
) -> None:
    r = run_key_exchange(
        link_from_preset("nadlinger2022"),
        protocol,
        pairs,
        seed=seed,
        attack=None if attack is None else make_attack(attack, 0.5),
    )
    qber, sifted_bits, sample_bits, chsh_s, phase_error = expected
    assert (r.sifted_bits, r.sample_bits) == (sifted_bits, sample_bits)  # counts: exactly
    # Rates: equal up to floating-point rounding, which differs between NumPy builds (SIMD sums).
    assert r.qber == pytest.approx(qber, rel=1e-12)
    assert r.phase_error == pytest.approx(phase_error, rel=1e-12)
    assert (r.chsh_s is None) == (chsh_s is None)
    if chsh_s is not None:
        assert r.chsh_s == pytest.approx(chsh_s, rel=1e-12)
    assert r.secure == (attack is None)
    if r.secure:
        assert r.alice_key is not None and r.bob_key is not None and np.array_equal(r.alice_key, r.bob_key)
