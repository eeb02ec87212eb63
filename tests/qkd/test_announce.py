"""The public announcements travel as messages, and the estimates come from what crossed, nothing else."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qkdnet.errors import ProtocolError
from qkdnet.postprocess import (
    BasisAnnouncement,
    ClassicalChannel,
    OutcomeDisclosure,
    PartyTagKeys,
    SampleChoice,
)
from qkdnet.qkd import BBM92, E91, KeyRunConfig, assess, run_key_exchange, simulate_records
from qkdnet.qkd.announce import AnnouncingAlice, AnnouncingBob, announce, public_record
from qkdnet.rng import SeedTree

from .conftest import WernerPairs


def _records(protocol, n: int = 20_000, seed: int = 3, visibility: float = 0.9):
    tree = SeedTree(seed)
    return tree, simulate_records(WernerPairs(visibility), protocol, n, tree=tree)


@pytest.mark.parametrize("protocol", [E91, BBM92], ids=["e91", "bbm92"])
def test_the_exchange_carries_exactly_what_honest_announcements_carry(protocol) -> None:
    tree, rec = _records(protocol)
    alice, bob = (rec.alice.settings, rec.alice.outcomes), (rec.bob.settings, rec.bob.outcomes)
    out = announce(
        protocol, alice, bob, sample_fraction=0.1, rng=tree.generator("bob", "sample"), channel=ClassicalChannel(0.01)
    )
    direct = public_record(protocol, alice, bob, sample_fraction=0.1, rng=tree.generator("bob", "sample"))
    assert out.public.same_as(direct)
    t = out.run.transcript
    assert t.messages == 5 and t.flights == 3 and out.run.elapsed_s == pytest.approx(0.03)
    assert t.messages_by_type == {"BasisAnnouncement": 2, "SampleChoice": 1, "OutcomeDisclosure": 2}
    # the key pairs stay private: only the sample of them is disclosed
    disclosed = out.public.disclosed(protocol)
    key = out.public.sifting(protocol).key_index
    assert disclosed[key].sum() == out.public.sample.sum() and out.public.alice_disclosed.size == disclosed.sum()


def test_sealed_announcements_cost_one_tag_per_direction_plus_the_hash_keys() -> None:
    tree, rec = _records(BBM92)
    bits = np.random.default_rng(0).integers(0, 2, 64 * 128, dtype=np.uint8)
    keys = PartyTagKeys.from_preshared(bits, side="alice"), PartyTagKeys.from_preshared(bits.copy(), side="bob")
    ends = keys[0].channel_end(block_id=0), keys[1].channel_end(block_id=0)
    out = announce(
        BBM92,
        (rec.alice.settings, rec.alice.outcomes),
        (rec.bob.settings, rec.bob.outcomes),
        sample_fraction=0.1,
        rng=tree.generator("bob", "sample"),
        channel=ClassicalChannel(),
        ends=ends,
    )
    assert out.run.transcript.messages_by_type == {"AuthenticatedFrame": 5 + 2}  # and one close each way
    assert ends[0].usage == ends[1].usage and ends[0].usage.key_bits == 128 * (1 + 1) * 2  # r and one pad each


@pytest.mark.parametrize("protocol", [E91, BBM92], ids=["e91", "bbm92"])
def test_estimates_come_from_the_public_record(protocol) -> None:
    """The same records with Alice's disclosed outcomes flipped in the record: the QBER becomes 1 − Q, S flips
    sign. So assess reads the announcements, not the parties' logs; and unchanged, it reads the same numbers."""
    tree, rec = _records(protocol)
    cfg = KeyRunConfig()
    honest = assess(protocol, cfg, rec, tree=tree).result
    public = public_record(
        protocol,
        (rec.alice.settings, rec.alice.outcomes),
        (rec.bob.settings, rec.bob.outcomes),
        sample_fraction=0.1,
        rng=tree.generator("bob", "sample"),
    )
    same = assess(protocol, cfg, rec, tree=tree, public=public).result
    assert (same.qber, same.phase_error, same.chsh_s) == (honest.qber, honest.phase_error, honest.chsh_s)
    lying = dataclasses.replace(public, alice_disclosed=public.alice_disclosed ^ 1)
    flipped = assess(protocol, cfg, rec, tree=tree, public=lying).result
    assert flipped.qber == pytest.approx(1 - honest.qber)
    if honest.chsh_s is not None:
        assert flipped.chsh_s == pytest.approx(-honest.chsh_s)


def test_pipeline_estimates_are_those_of_the_announcements() -> None:
    """A key run's QBER and S are exactly what assess makes of the announcements it exchanged."""
    r = run_key_exchange(WernerPairs(0.95), E91, 200_000, seed=7)
    tree = SeedTree(7)
    rec = simulate_records(WernerPairs(0.95), E91, 200_000, tree=tree)
    direct = assess(E91, KeyRunConfig(), rec, tree=tree).result
    assert (r.qber, r.chsh_s, r.sifted_bits, r.sample_bits) == (
        direct.qber,
        direct.chsh_s,
        direct.sifted_bits,
        direct.sample_bits,
    )


def test_malformed_or_unexpected_announcements_are_protocol_errors() -> None:
    settings = np.zeros(10, np.uint8)
    outcomes = np.zeros(10, np.uint8)
    alice = AnnouncingAlice(BBM92, settings, outcomes)
    with pytest.raises(ProtocolError, match="did not expect"):
        alice.receive(SampleChoice(np.zeros(10, np.uint8)))  # before Bob's settings
    with pytest.raises(ProtocolError, match="settings"):
        alice.receive(BasisAnnouncement(np.zeros(9, np.uint8)))  # one per pair
    with pytest.raises(ProtocolError, match="settings"):
        AnnouncingAlice(BBM92, settings, outcomes).receive(BasisAnnouncement(np.full(10, 2, np.uint8)))  # 0..1
    bob = AnnouncingBob(BBM92, settings, outcomes, sample_fraction=0.5, rng=np.random.default_rng(0))
    assert bob.start() == []
    replies = bob.receive(BasisAnnouncement(np.zeros(10, np.uint8)))
    assert [type(m).__name__ for m in replies] == ["BasisAnnouncement", "SampleChoice", "OutcomeDisclosure"]
    with pytest.raises(ProtocolError, match="disclosure"):
        bob.receive(OutcomeDisclosure(np.zeros(3, np.uint8)))
    with pytest.raises(ProtocolError, match="not over"):
        _ = AnnouncingBob(BBM92, settings, outcomes, sample_fraction=0.5, rng=np.random.default_rng(0)).public
