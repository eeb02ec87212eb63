"""The key run: pairs in bulk → measurement → sifting → estimation → decision → post-processing → key.

Each party draws its own settings from its own random stream; nature draws the outcomes
(:mod:`~qkdnet.qkd.records`). Only announced data crosses between the parties, as messages over the
classical channel: the settings, Bob's sample and the disclosed outcomes (:mod:`qkdnet.qkd.announce`),
then the post-processing messages, all sealed in one authenticated block. Estimates and the abort decision
use the public record of those announcements (:mod:`~qkdnet.qkd.assessment`). The simulator's true error
rate is kept apart in :class:`~qkdnet.qkd.result.Observer` and never drives a decision.

Post-processing (:mod:`~qkdnet.qkd.distillation`) runs the road of :mod:`qkdnet.postprocess`: the
reconciler named in the config, verification frame by frame, and privacy amplification to the finite-key
length of Tomamichel, Lim, Gisin & Renner (Nat. Commun. 3, 634 (2012)) computed from the leakage ledger,
every message sealed with Wegman–Carter tags whose key cost is refilled from the new key, over a classical
channel whose round trips take twice the fiber delay. The reported key rate counts the link time and the
classical channel's time. The node daemon runs each party's half alone (:mod:`~qkdnet.qkd.parties`).
"""

from __future__ import annotations

import math

from qkdnet.attacks import Attack
from qkdnet.errors import InvalidParameter, ProtocolError, SecurityAbort
from qkdnet.network import HeraldedLink
from qkdnet.postprocess import ClassicalChannel, Interceptor
from qkdnet.qkd.announce import announce
from qkdnet.qkd.assessment import Assessment, assess, key_length_rule
from qkdnet.qkd.config import KeyRunConfig
from qkdnet.qkd.di_finite import optimal_announced_test_probability
from qkdnet.qkd.distillation import abort_text, bootstrap_tag_keys, distill
from qkdnet.qkd.parties import postprocess_party
from qkdnet.qkd.protocols import ProtocolSpec
from qkdnet.qkd.records import (
    BLOCK_PAIRS,
    PairBlock,
    PairSource,
    ProgressCallback,
    SimulatedRecords,
    measure_block,
    simulate_records,
)
from qkdnet.qkd.result import KeyRunResult, Observer
from qkdnet.qkd.sifting import PartyRecord
from qkdnet.rng import SeedTree


def run_key_exchange(
    source: PairSource,
    protocol: ProtocolSpec,
    n_pairs: int,
    *,
    seed: int,
    config: KeyRunConfig | None = None,
    attack: Attack | None = None,
    progress: ProgressCallback | None = None,
) -> KeyRunResult:
    """Run one entanglement-based key exchange over ``n_pairs`` heralded pairs from ``source``.

    Returns the result with identical final keys for both parties, or with ``secure=False`` and an
    ``abort_reason`` and no key at all. An ``attack`` that also intercepts messages (an
    :class:`~qkdnet.postprocess.Interceptor`, like :class:`~qkdnet.attacks.ManInTheMiddle`) sits on the
    classical channel too. A run whose announcements fail reports the estimates the undisturbed
    announcements would have given (the parties computed none) and the failure as ``abort_reason``.
    """
    cfg = _checked_config(protocol, config)
    protocol = run_protocol(protocol, cfg, n_pairs, source)
    tree = SeedTree(seed)
    records = simulate_records(source, protocol, n_pairs, tree=tree, attack=attack, progress=progress)
    channel = cfg.classical_channel or ClassicalChannel(one_way_delay_s=_classical_delay_s(source))
    return _distill_records(records, protocol, cfg, tree=tree, channel=channel, attack=attack)


def key_from_records(
    records: SimulatedRecords, protocol: ProtocolSpec, *, seed: int, config: KeyRunConfig | None = None
) -> KeyRunResult:
    """The road after the measurements, on records made elsewhere (recorded detector data paired up by
    :mod:`~qkdnet.qkd.coincidence`): announcements, estimation, the decision, post-processing.

    ``seed`` roots the random choices of the road (Bob's sample, hash and amplification seeds, and the
    authentication keys it starts from, which are shared here only because both parties run in one process).
    """
    cfg = _checked_config(protocol, config)
    channel = cfg.classical_channel or ClassicalChannel(one_way_delay_s=0.0)
    return _distill_records(records, protocol, cfg, tree=SeedTree(seed), channel=channel, attack=None)


def _distill_records(
    records: SimulatedRecords,
    protocol: ProtocolSpec,
    cfg: KeyRunConfig,
    *,
    tree: SeedTree,
    channel: ClassicalChannel,
    attack: Attack | None,
) -> KeyRunResult:
    """Announce, assess and distil both parties' records over ``channel``."""
    interceptor = attack if isinstance(attack, Interceptor) else None
    tag_keys = bootstrap_tag_keys(cfg, tree) if cfg.authenticate else None
    ends = None if tag_keys is None else (tag_keys[0].channel_end(block_id=0), tag_keys[1].channel_end(block_id=0))
    try:
        try:
            announced = announce(
                protocol,
                (records.alice.settings, records.alice.outcomes),
                (records.bob.settings, records.bob.outcomes),
                sample_fraction=cfg.sample_fraction,
                rng=tree.generator("bob", "sample"),
                channel=channel,
                ends=ends,
                interceptor=interceptor,
            )
        except (SecurityAbort, ProtocolError) as exc:
            if interceptor is None and not isinstance(exc, SecurityAbort):
                raise  # without Eve on the wire a protocol error is a bug: let it show
            result = assess(protocol, cfg, records, tree=tree).result
            result.key_length_method, result.reconciler = cfg.key_length_method, cfg.reconciler
            result.secure, result.abort_reason = False, abort_text("the public announcements", exc)
            return result
        assessed = assess(protocol, cfg, records, tree=tree, public=announced.public)
        return distill(
            assessed,
            cfg,
            tree=tree,
            channel=channel,
            tag_keys=tag_keys,
            channel_ends=ends,
            interceptor=interceptor,
            announcements=announced.run,
        )
    finally:
        for end in ends or ():
            end.close()


def _checked_config(protocol: ProtocolSpec, config: KeyRunConfig | None) -> KeyRunConfig:
    """``config`` (or the defaults), refused when it asks for a test the protocol lacks."""
    cfg = config or KeyRunConfig()
    if cfg.security == "device-independent" and not protocol.chsh_terms:
        raise InvalidParameter(f"device-independent security needs a CHSH test, which {protocol.name} lacks")
    return cfg


def run_protocol(protocol: ProtocolSpec, cfg: KeyRunConfig, n_pairs: int, source: object) -> ProtocolSpec:
    """The protocol a run actually plays: ``protocol``, or its spot-checking form when ``cfg`` asks for one.

    The test probability is ``cfg.test_probability``, or else the one that maximises the key of
    :func:`~qkdnet.qkd.di_finite.announced_key_length` for ``n_pairs`` rounds at the source's expected CHSH
    value and QBER (its ``expected_chsh``/``expected_qber``, or Werner pairs of its ``expected_fidelity``),
    fixed before any pair is measured, as the protocol requires; :data:`FALLBACK_TEST_PROBABILITY` if no
    test probability gives key at that round count.
    """
    if not cfg.spot_checking or protocol.test_probability is not None:
        return protocol
    gamma = cfg.test_probability
    if gamma is None:
        s, q = _design_point(source)
        gamma, length = optimal_announced_test_probability(
            n_pairs, q, s, sample_fraction=cfg.sample_fraction, eps_sec=cfg.eps_sec, eps_cor=cfg.eps_cor
        )
        if not length > 0.0:
            gamma = FALLBACK_TEST_PROBABILITY
    return protocol.spot_checking(gamma)


FALLBACK_TEST_PROBABILITY = 0.5
"""γ of a spot-checking run for which no test probability gives key at its round count: half the rounds
are tests, so the run measures S well and says in numbers why no key survives."""


def _design_point(source: object) -> tuple[float, float]:
    """(S, QBER) the source's pairs are expected to show, to choose the test probability before the run."""
    chsh, qber = getattr(source, "expected_chsh", None), getattr(source, "expected_qber", None)
    if isinstance(chsh, float | int) and isinstance(qber, float | int):
        return float(chsh), float(qber)
    fidelity = getattr(source, "expected_fidelity", None)
    if isinstance(fidelity, float | int):
        v = (4.0 * float(fidelity) - 1.0) / 3.0  # Werner pairs: F = (1 + 3V)/4, S = 2√2·V, QBER = (1 − V)/2
        return 2.0 * math.sqrt(2.0) * v, (1.0 - v) / 2.0
    raise InvalidParameter(
        "the source tells no expected CHSH value or fidelity to choose the test probability from: "
        "set KeyRunConfig.test_probability"
    )


def _classical_delay_s(source: PairSource) -> float:
    """One-way delay of a classical channel beside the quantum link: the fiber's (0 for ideal sources)."""
    return source.fiber.delay_s if isinstance(source, HeraldedLink) else 0.0


# The stages live in their own modules; their names stay importable from here, where they began.
__all__ = [
    "BLOCK_PAIRS",
    "FALLBACK_TEST_PROBABILITY",
    "Assessment",
    "KeyRunResult",
    "Observer",
    "PairBlock",
    "PairSource",
    "PartyRecord",
    "ProgressCallback",
    "SimulatedRecords",
    "assess",
    "distill",
    "key_from_records",
    "key_length_rule",
    "measure_block",
    "postprocess_party",
    "run_key_exchange",
    "run_protocol",
    "simulate_records",
]
