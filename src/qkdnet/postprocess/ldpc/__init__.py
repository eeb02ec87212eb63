"""LDPC reconciliation: PEG codes from published degree distributions, rate adaptation, blind rounds.

One-way in spirit: Bob announces a plan, Alice sends her frames' syndromes, Bob decodes with belief
propagation; frames that fail get some punctured bits revealed and their decoding resumed (a few
rounds at most, placed by a model of the codes), else ReconciliationFailed. :class:`LdpcAlice` and
:class:`LdpcBob` have the shape of the Cascade parties, so the recipe can swap one reconciler for
the other. The syndrome decoder sits behind :class:`SyndromeDecoder`; codes are built by
progressive edge growth on first use.
"""

from qkdnet.postprocess.ldpc.adaptation import (
    DEFAULT_EFFICIENCY_END,
    DEFAULT_EFFICIENCY_START,
    DEFAULT_FAMILY,
    DEFAULT_FRAME_BITS,
    DEFAULT_MAX_ROUNDS,
    FrameLayout,
    ReconciliationPlan,
    decoding_model,
    frame_layout,
    plan_reconciliation,
    reveal_schedule,
)
from qkdnet.postprocess.ldpc.codes import FAMILIES, LdpcCode, ldpc_code
from qkdnet.postprocess.ldpc.decoder import (
    BpState,
    DecoderFactory,
    LayeredBeliefPropagation,
    LdpcPackageDecoder,
    ResumableDecoder,
    SyndromeDecoder,
)
from qkdnet.postprocess.ldpc.distributions import ELKOUSS_2009, MARTINEZ_MATEO_2012, DegreeDistribution
from qkdnet.postprocess.ldpc.parties import (
    LDPC_REVEALED,
    LDPC_SYNDROME,
    LDPC_SYNDROME_MASKED,
    LdpcAlice,
    LdpcBob,
    LdpcResult,
)
from qkdnet.postprocess.ldpc.peg import peg_matrix

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
