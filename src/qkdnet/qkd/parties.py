"""One party's post-processing of a block after estimation: what the node daemon drives over TCP."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess import ESTIMATION_SAMPLE, LeakageLedger, PostprocessAlice, PostprocessBob
from qkdnet.postprocess.protocol import Side
from qkdnet.qkd.assessment import key_length_rule
from qkdnet.qkd.config import KeyRunConfig
from qkdnet.qkd.sifting import PublicEstimate


def postprocess_party(
    side: Side, estimate: PublicEstimate, key: NDArray[np.uint8], cfg: KeyRunConfig, *, rng: np.random.Generator
) -> PostprocessAlice | PostprocessBob:
    """One party's post-processing of a block after estimation, as :func:`distill` runs it for both.

    The ledger starts with the estimation sample, the final length follows :func:`key_length_rule` (which
    may raise QberAboveThreshold), the reconciler is ``cfg.reconciler``; ``rng`` is this party's public
    randomness. The node daemon drives the two returned parties over TCP.
    """
    ledger = LeakageLedger()
    ledger.record(ESTIMATION_SAMPLE, estimate.sample_bits, charged=False)
    rule = key_length_rule(estimate.phase.value, estimate.eve_information_bits, cfg, estimate.device_rounds)
    if side == "alice":
        return PostprocessAlice(
            key, ledger=ledger, rng=rng, key_length=rule, reconciler=cfg.reconciler, eps_cor=cfg.eps_cor
        )
    if side == "bob":
        return PostprocessBob(
            key,
            qber_estimate=estimate.qber_for_reconciliation,
            ledger=ledger,
            rng=rng,
            key_length=rule,
            reconciler=cfg.reconciler,
            eps_cor=cfg.eps_cor,
        )
    raise InvalidParameter(f"side must be 'alice' or 'bob', got {side!r}")


__all__ = ["postprocess_party"]
