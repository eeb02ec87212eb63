"""Sifting, estimation and the decision of a key run, from the public record of its announcements.

Every estimate comes from what the parties disclosed; only each party's own undisclosed outcomes (the keys)
and the observer's truth are read from the records. :func:`key_length_rule` turns the estimates into the
rule that fixes the final key length (TLGR finite-key by default, or the asymptotic budget).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from qkdnet.errors import ChshBelowThreshold, InvalidParameter, QberAboveThreshold
from qkdnet.postprocess import AsymptoticKeyLength, FiniteKeyLength, KeyLengthRule
from qkdnet.qkd.announce import PublicRecord, public_record
from qkdnet.qkd.config import KeyRunConfig
from qkdnet.qkd.di_finite import WIN_THRESHOLD_GRID, DeviceIndependentFiniteKeyLength, DeviceRounds
from qkdnet.qkd.estimation import no_signalling_test
from qkdnet.qkd.protocols import ProtocolSpec
from qkdnet.qkd.records import SimulatedRecords
from qkdnet.qkd.result import KeyRunResult, Observer
from qkdnet.qkd.sifting import estimate_from_disclosed
from qkdnet.rng import SeedTree


@dataclass(slots=True)
class Assessment:
    """The run after sifting and estimation: the verdict so far and what privacy amplification must remove."""

    result: KeyRunResult
    alice_key: NDArray[np.uint8] = field(repr=False)
    bob_key: NDArray[np.uint8] = field(repr=False)
    eve_information_bits: float
    sample_bits: int
    qber_for_reconciliation: float
    device_rounds: DeviceRounds | None = None


def assess(
    protocol: ProtocolSpec,
    cfg: KeyRunConfig,
    records: SimulatedRecords,
    *,
    tree: SeedTree,
    public: PublicRecord | None = None,
) -> Assessment:
    """Sift, estimate QBER, phase error and S from disclosed data, and decide whether to go on.

    ``public`` is the record of the announcements (settings, sample, disclosed outcomes) the parties
    exchanged (:func:`~qkdnet.qkd.announce`); every estimate comes from it, by the same
    :func:`~qkdnet.qkd.sifting.estimate_from_disclosed` the node daemon's parties use. Without it, it is
    what honest announcements carry, with Bob's sample drawn from the tree. Only the keys themselves (each
    party's own undisclosed outcomes) and the observer's truth are read from ``records``.
    """
    if public is None:
        public = public_record(
            protocol,
            (records.alice.settings, records.alice.outcomes),
            (records.bob.settings, records.bob.outcomes),
            sample_fraction=cfg.sample_fraction,
            rng=tree.generator("bob", "sample"),
        )
    est = estimate_from_disclosed(protocol, cfg, public)
    n_a, n_b = len(protocol.alice_angles_deg), len(protocol.bob_angles_deg)
    # Bob's own check: his outcomes against Alice's announced settings
    signalling = no_signalling_test(n_a, n_b, public.alice_settings, records.bob.settings, records.bob.outcomes)
    s_est = est.chsh_s
    result = KeyRunResult(
        protocol=protocol.name,
        pairs=records.pairs,
        duration_s=records.duration_s,
        security=cfg.security,
        sifted_bits=est.sifted_bits,
        sample_bits=est.sample_bits,
        qber=est.qber.value,
        qber_stderr=est.qber.stderr,
        phase_error=est.phase.value,
        phase_error_stderr=est.phase.stderr,
        chsh_s=None if s_est is None else s_est.value,
        chsh_s_stderr=None if s_est is None else s_est.stderr,
        key_fraction_trusted=est.key_fraction_trusted,
        key_fraction_device_independent=est.key_fraction_device_independent,
        key_fraction_bound=est.key_fraction_bound,
        secure=False,
        abort_reason=est.abort_reason,
        final_key_bits=0,
        no_signalling=signalling,
        correlations=est.correlations,
        alice_records=records.alice,
        bob_records=records.bob,
        test_probability=protocol.test_probability,
    )
    key_index = est.key_index
    alice_key, bob_key = records.alice.outcomes[key_index], records.bob.outcomes[key_index]
    result.observer = Observer(
        true_qber=float(np.mean(alice_key != bob_key)) if key_index.size else float("nan"),
        eve_attacked_pairs=records.attacked_pairs,
        eve=None if records.eve is None else records.eve.take(key_index),
        key_index=key_index,
    )
    return Assessment(
        result,
        alice_key,
        bob_key,
        est.eve_information_bits,
        est.sample_bits,
        est.qber_for_reconciliation,
        est.device_rounds,
    )


def key_length_rule(
    phase_error: float,
    eve_information_bits: float,
    cfg: KeyRunConfig,
    device_rounds: DeviceRounds | None = None,
) -> KeyLengthRule:
    """The finite-key rule on the estimated phase error (QberAboveThreshold above tolerance), or the asymptotic one.

    With device-independent security the finite rule is the entropy accumulation bound
    (:class:`~qkdnet.qkd.di_finite.DeviceIndependentFiniteKeyLength`) at the largest public score threshold
    the run passes (ChshBelowThreshold if none); it needs the run's ``device_rounds``.

    TLGR's test error is the key bits' error in the conjugate basis, i.e. their phase error, estimated
    on k disclosed bits (the ledger's estimation sample). For BBM92 that is what is measured; for E91
    the phase error comes from the fit to all disclosed correlators (CHSH pairs included), so using it
    with k = the sample is an approximation of the TLGR setting, not its theorem.
    """
    if cfg.key_length_method == "asymptotic":
        return AsymptoticKeyLength(eve_information_bits, cfg.eps_pa)
    if cfg.security == "device-independent":
        if device_rounds is None:
            raise InvalidParameter("the device-independent finite-key bound needs the run's CHSH test rounds")
        if device_rounds.win_fraction < WIN_THRESHOLD_GRID[0]:
            raise ChshBelowThreshold(
                f"CHSH score {device_rounds.win_fraction:.4f} (S = {8 * device_rounds.win_fraction - 4:.3f}) is "
                f"below every public threshold (lowest {WIN_THRESHOLD_GRID[0]:.3f}): no device-independent key"
            )
        return DeviceIndependentFiniteKeyLength.adaptive(device_rounds, eps_sec=cfg.eps_sec)
    if cfg.qber_tolerance is None:
        return FiniteKeyLength.adaptive(phase_error, eps_sec=cfg.eps_sec)
    if phase_error > cfg.qber_tolerance:
        raise QberAboveThreshold(
            f"phase error {100 * phase_error:.2f} % is above the tolerance {100 * cfg.qber_tolerance:.2f} %: "
            "the run aborts"
        )
    return FiniteKeyLength(cfg.qber_tolerance, cfg.eps_sec)


__all__ = ["Assessment", "assess", "key_length_rule"]
