"""Distillation: an assessed run's keys through reconciliation, verification and privacy amplification.

The road of :mod:`qkdnet.postprocess` with the reconciler named in the config, the final length from the
leakage ledger, every message sealed with Wegman–Carter tags whose key cost is refilled from the new key,
and the reasons a run ends without key said in numbers.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qkdnet.errors import AuthenticationFailed, NoSecretKey, PadExhausted, ProtocolError, SecurityAbort
from qkdnet.postprocess import (
    ESTIMATION_SAMPLE,
    AuthenticatedChannelEnd,
    ChannelRun,
    ClassicalChannel,
    FiniteKeyLength,
    Interceptor,
    KeyLengthRule,
    LeakageLedger,
    PartyTagKeys,
    finite_key_mu,
    reconcile_and_amplify,
)
from qkdnet.qkd.assessment import Assessment, key_length_rule
from qkdnet.qkd.config import KeyRunConfig
from qkdnet.qkd.di_finite import DeviceIndependentFiniteKeyLength
from qkdnet.qkd.result import KeyRunResult, Observer
from qkdnet.rng import SeedTree
from qkdnet.units import binary_entropy


def distill(
    assessed: Assessment,
    cfg: KeyRunConfig,
    *,
    tree: SeedTree,
    channel: ClassicalChannel | None = None,
    tag_keys: tuple[PartyTagKeys, PartyTagKeys] | None = None,
    channel_ends: tuple[AuthenticatedChannelEnd, AuthenticatedChannelEnd] | None = None,
    interceptor: Interceptor | None = None,
    announcements: ChannelRun | None = None,
) -> KeyRunResult:
    """Reconcile, verify and amplify privacy, unless the assessment already aborted the run.

    The final length comes from the ledger (finite-key by default); with ``cfg.authenticate`` every
    message is sealed and the tag keys spent are refilled from the new key before it is handed out.
    ``channel`` (ideal if None) sets the classical channel's latency. ``tag_keys`` and ``channel_ends``
    continue the block the ``announcements`` were sealed in (without them a fresh bootstrap key opens
    one); the reported classical time, messages and round trips include the announcements'. An
    ``interceptor`` sits on the wire.
    """
    result = assessed.result
    result.key_length_method = cfg.key_length_method
    result.reconciler = cfg.reconciler
    if announcements is not None:
        _count_classical(result, announcements)
    if result.abort_reason is not None:
        return result
    ledger = LeakageLedger()
    ledger.record(ESTIMATION_SAMPLE, assessed.sample_bits, charged=False)
    try:
        rule = key_length_rule(assessed.result.phase_error, assessed.eve_information_bits, cfg, assessed.device_rounds)
    except SecurityAbort as exc:
        result.abort_reason = str(exc)
        return result
    if isinstance(rule, FiniteKeyLength):
        result.qber_tolerance = rule.qber_tolerance
    if cfg.authenticate and tag_keys is None:
        tag_keys, channel_ends = bootstrap_tag_keys(cfg, tree), None
    try:
        processed = reconcile_and_amplify(
            assessed.alice_key,
            assessed.bob_key,
            qber_estimate=assessed.qber_for_reconciliation,
            key_length=rule,
            ledger=ledger,
            rng=tree.generator("postprocess"),
            eps_cor=cfg.eps_cor,
            reconciler=cfg.reconciler,
            channel=channel,
            tag_keys=tag_keys if cfg.authenticate else None,
            channel_ends=channel_ends if cfg.authenticate else None,
            interceptor=interceptor,
        )
    except NoSecretKey as exc:
        result.abort_reason = _no_key_reason(assessed, rule, ledger, exc)
        result.leakage_by_kind = ledger.by_kind()
        return result
    except PadExhausted as exc:
        result.abort_reason = f"post-processing: the authentication key reserve ran out ({exc})"
        result.leakage_by_kind = ledger.by_kind()
        return result
    except (SecurityAbort, ProtocolError) as exc:
        if interceptor is None and not isinstance(exc, SecurityAbort):
            raise  # without Eve on the wire a protocol error is a bug: let it show
        result.abort_reason = abort_text("post-processing", exc)
        result.leakage_by_kind = ledger.by_kind()
        return result
    result.leakage_by_kind = ledger.by_kind()
    result.observer.amplification_seed = processed.amplification_seed
    _keep_observed(result.observer, processed.kept_positions)
    result.frames, result.frames_dropped = processed.frames, processed.frames_dropped
    _count_classical(result, ChannelRun(processed.transcript, processed.elapsed_s))
    result.amplified_key_bits = processed.amplified_bits
    result.authentication_key_bits = processed.authentication_key_bits
    result.alice_key = processed.alice_key
    result.bob_key = processed.bob_key
    result.final_key_bits = int(processed.alice_key.size)
    result.secure = True
    return result


def _keep_observed(observer: Observer, kept: NDArray[np.intp]) -> None:
    """Narrow the observer's key positions (and Eve's guesses) to the frames verification kept."""
    if observer.key_index is not None and kept.size != observer.key_index.size:
        observer.key_index = observer.key_index[kept]
        if observer.eve is not None:
            observer.eve = observer.eve.take(kept)


def _count_classical(result: KeyRunResult, run: ChannelRun) -> None:
    """Add what crossed the classical channel in ``run`` (one stage of the block) to the result's totals."""
    result.classical_flights += run.transcript.flights
    result.round_trips = result.classical_flights // 2
    result.classical_time_s += run.elapsed_s
    result.classical_bits += run.transcript.bits_sent
    result.classical_messages += run.transcript.messages


def abort_text(stage: str, exc: Exception) -> str:
    """The abort reason of a run stopped by ``exc`` during ``stage``: the error's kind is named."""
    if isinstance(exc, AuthenticationFailed | ProtocolError):
        return f"{type(exc).__name__} during {stage}: {exc}"
    return f"{stage}: {exc}"


def bootstrap_tag_keys(cfg: KeyRunConfig, tree: SeedTree) -> tuple[PartyTagKeys, PartyTagKeys]:
    """Both parties' copies of the pre-shared authentication key (shared out of band before the run)."""
    rng = tree.generator("preshared")
    bits = np.unpackbits(np.frombuffer(rng.bytes(cfg.bootstrap_key_bits // 8), dtype=np.uint8))
    return PartyTagKeys.from_preshared(bits, side="alice"), PartyTagKeys.from_preshared(bits.copy(), side="bob")


def _no_key_reason(assessed: Assessment, rule: KeyLengthRule, ledger: LeakageLedger, exc: NoSecretKey) -> str:
    """Why no key survives, in numbers: key bits, disclosure, what the bound removes, authentication."""
    n = int(assessed.alice_key.size)
    head = f"no secret key survives: of {n:,} key bits, error correction disclosed {ledger.charged_bits:,}"
    if isinstance(rule, FiniteKeyLength):
        mu = finite_key_mu(n, assessed.sample_bits, rule.eps_sec_per_choice)
        body = (
            f" and the finite-key bound allows for a phase error up to {100 * rule.qber_tolerance:.1f} % "
            f"+ {100 * mu:.1f} % (statistical margin from {assessed.sample_bits:,} test bits), "
            f"i.e. Eve may know {n * binary_entropy(min(0.5, rule.qber_tolerance + mu)):,.0f} bits"
        )
    elif isinstance(rule, DeviceIndependentFiniteKeyLength):
        d = rule.device
        body = (
            f" and the entropy accumulation bound certifies {rule.entropy_bits():,.0f} bits of entropy in "
            f"{d.rounds:,} rounds ({d.test_rounds:,} CHSH tests, score threshold {rule.win_threshold:.3f}), "
            f"less {d.disclosed_bits:,} disclosed test and sample bits"
        )
    else:
        eve = assessed.eve_information_bits
        body = f" and privacy amplification must remove {eve:,.0f} for Eve's possible information"
    return f"{head}{body}: {exc}"


__all__ = ["abort_text", "bootstrap_tag_keys", "distill"]
