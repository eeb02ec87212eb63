"""LDPC reconciliation: PEG codes from published degree distributions, rate adaptation, blind rounds.

One-way in spirit: Bob announces a plan, Alice sends her frames' syndromes, Bob decodes with belief
propagation; frames that fail get some punctured bits revealed and their decoding resumed (a few
rounds at most, placed by a model of the codes), else ReconciliationFailed. :class:`LdpcAlice` and
:class:`LdpcBob` have the shape of the Cascade parties, so the recipe can swap one reconciler for
the other. The syndrome decoder sits behind :class:`SyndromeDecoder`; codes are built by
progressive edge growth on first use.

Every name is imported on first use (PEP 562): the codes need scipy.sparse, which would otherwise be a
large part of every command's start-up even when Cascade reconciles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qkdnet._lazy import lazy_names

if TYPE_CHECKING:
    from qkdnet.postprocess.ldpc.adaptation import (
        DEFAULT_EFFICIENCY_END,
        DEFAULT_EFFICIENCY_START,
        DEFAULT_MAX_ROUNDS,
        FrameLayout,
        ReconciliationPlan,
        decoding_model,
        frame_layout,
        plan_reconciliation,
        reveal_schedule,
    )
    from qkdnet.postprocess.ldpc.codes import (
        LdpcCode,
        ldpc_code,
    )
    from qkdnet.postprocess.ldpc.decoder import (
        BpState,
        DecoderFactory,
        LayeredBeliefPropagation,
        LdpcPackageDecoder,
        ResumableDecoder,
        SyndromeDecoder,
    )
    from qkdnet.postprocess.ldpc.distributions import (
        DEFAULT_FAMILY,
        DEFAULT_FRAME_BITS,
        ELKOUSS_2009,
        FAMILIES,
        MARTINEZ_MATEO_2012,
        DegreeDistribution,
    )
    from qkdnet.postprocess.ldpc.parties import (
        LDPC_REVEALED,
        LDPC_SYNDROME,
        LDPC_SYNDROME_MASKED,
        LdpcAlice,
        LdpcBob,
        LdpcResult,
    )
    from qkdnet.postprocess.ldpc.peg import (
        peg_matrix,
    )

#: Each lazily exported name and the module that defines it.
_LAZY = {
    "DEFAULT_EFFICIENCY_END": "qkdnet.postprocess.ldpc.adaptation",
    "DEFAULT_EFFICIENCY_START": "qkdnet.postprocess.ldpc.adaptation",
    "DEFAULT_FAMILY": "qkdnet.postprocess.ldpc.distributions",
    "DEFAULT_FRAME_BITS": "qkdnet.postprocess.ldpc.distributions",
    "DEFAULT_MAX_ROUNDS": "qkdnet.postprocess.ldpc.adaptation",
    "ELKOUSS_2009": "qkdnet.postprocess.ldpc.distributions",
    "FAMILIES": "qkdnet.postprocess.ldpc.distributions",
    "LDPC_REVEALED": "qkdnet.postprocess.ldpc.parties",
    "LDPC_SYNDROME": "qkdnet.postprocess.ldpc.parties",
    "LDPC_SYNDROME_MASKED": "qkdnet.postprocess.ldpc.parties",
    "MARTINEZ_MATEO_2012": "qkdnet.postprocess.ldpc.distributions",
    "BpState": "qkdnet.postprocess.ldpc.decoder",
    "DecoderFactory": "qkdnet.postprocess.ldpc.decoder",
    "DegreeDistribution": "qkdnet.postprocess.ldpc.distributions",
    "FrameLayout": "qkdnet.postprocess.ldpc.adaptation",
    "LayeredBeliefPropagation": "qkdnet.postprocess.ldpc.decoder",
    "LdpcAlice": "qkdnet.postprocess.ldpc.parties",
    "LdpcBob": "qkdnet.postprocess.ldpc.parties",
    "LdpcCode": "qkdnet.postprocess.ldpc.codes",
    "LdpcPackageDecoder": "qkdnet.postprocess.ldpc.decoder",
    "LdpcResult": "qkdnet.postprocess.ldpc.parties",
    "ReconciliationPlan": "qkdnet.postprocess.ldpc.adaptation",
    "ResumableDecoder": "qkdnet.postprocess.ldpc.decoder",
    "SyndromeDecoder": "qkdnet.postprocess.ldpc.decoder",
    "decoding_model": "qkdnet.postprocess.ldpc.adaptation",
    "frame_layout": "qkdnet.postprocess.ldpc.adaptation",
    "ldpc_code": "qkdnet.postprocess.ldpc.codes",
    "peg_matrix": "qkdnet.postprocess.ldpc.peg",
    "plan_reconciliation": "qkdnet.postprocess.ldpc.adaptation",
    "reveal_schedule": "qkdnet.postprocess.ldpc.adaptation",
}

__all__ = [
    "DEFAULT_EFFICIENCY_END",
    "DEFAULT_EFFICIENCY_START",
    "DEFAULT_FAMILY",
    "DEFAULT_FRAME_BITS",
    "DEFAULT_MAX_ROUNDS",
    "ELKOUSS_2009",
    "FAMILIES",
    "LDPC_REVEALED",
    "LDPC_SYNDROME",
    "LDPC_SYNDROME_MASKED",
    "MARTINEZ_MATEO_2012",
    "BpState",
    "DecoderFactory",
    "DegreeDistribution",
    "FrameLayout",
    "LayeredBeliefPropagation",
    "LdpcAlice",
    "LdpcBob",
    "LdpcCode",
    "LdpcPackageDecoder",
    "LdpcResult",
    "ReconciliationPlan",
    "ResumableDecoder",
    "SyndromeDecoder",
    "decoding_model",
    "frame_layout",
    "ldpc_code",
    "peg_matrix",
    "plan_reconciliation",
    "reveal_schedule",
]

__getattr__, __dir__ = lazy_names("qkdnet.postprocess.ldpc", _LAZY, globals(), __all__)
