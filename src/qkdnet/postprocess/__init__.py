"""Post-processing, the "hazmat" layer: sans-I/O two-party protocols on 0/1 key arrays.

Reconciliation (Cascade, chosen by name), verification by universal hashing, modified-Toeplitz
privacy amplification, the leakage ledger and key-length bounds (asymptotic and TLGR finite-key),
and Wegman–Carter authentication of every message. Keys are one-dimensional ``numpy.uint8`` arrays
of 0/1. Each party touches only its own key and talks through typed messages; :func:`run_protocol`
drives two parties in memory, :func:`run_over_channel` over a channel with latency, and
:func:`reconcile_and_amplify` is the safe recipe the qkd layer calls. This package imports nothing
above layer 0 and does no I/O.

>>> import numpy as np
>>> from qkdnet.postprocess import LeakageLedger, reconcile_and_amplify
>>> rng = np.random.default_rng(2024)
>>> alice = rng.integers(0, 2, 3000, dtype=np.uint8)
>>> bob = alice ^ (rng.random(3000) < 0.01).astype(np.uint8)
>>> ledger = LeakageLedger()
>>> ledger.record("estimation_sample", 500, charged=False)
>>> out = reconcile_and_amplify(alice, bob, qber_estimate=0.01, eve_information_bits=250.0,
...                             ledger=ledger, rng=rng)
>>> bool((out.alice_key == out.bob_key).all()), sorted(ledger.by_kind())
(True, ['cascade_parity', 'estimation_sample', 'verification_hash'])
"""

from qkdnet.postprocess.auth import (
    AuthenticatedChannelEnd,
    AuthenticatedParty,
    FrameHeader,
    PartyTagKeys,
    TagKeyReserve,
    Usage,
)
from qkdnet.postprocess.cascade import (
    CascadeAlice,
    CascadeBob,
    CascadeResult,
    cascade_block_sizes,
    pass_permutation,
)
from qkdnet.postprocess.cascade_variants import CASCADE_VARIANTS, BlockRule, CascadeVariant, cascade_variant
from qkdnet.postprocess.keylength import (
    QBER_TOLERANCE_GRID,
    AsymptoticKeyLength,
    FiniteKeyLength,
    KeyLengthRule,
    finite_key_length,
    finite_key_length_from_ledger,
    finite_key_mu,
    secret_key_length,
)
from qkdnet.postprocess.ledger import (
    CASCADE_PARITY,
    ESTIMATION_SAMPLE,
    VERIFICATION_HASH,
    LeakageLedger,
    LedgerEntry,
)
from qkdnet.postprocess.messages import (
    Abort,
    AmplificationSeed,
    AuthenticatedFrame,
    BasisAnnouncement,
    CascadeDone,
    CascadeSetup,
    CascadeStart,
    FrameTags,
    FrameVerdicts,
    Message,
    OutcomeDisclosure,
    ParityAnswer,
    ParityQuery,
    SampleChoice,
    VerificationOutcome,
    VerificationTag,
    decode_message,
    encode_message,
)
from qkdnet.postprocess.privacy import AmplifyAlice, AmplifyBob, HashSeed, modified_toeplitz_hash, toeplitz_hash
from qkdnet.postprocess.protocol import (
    ChannelRun,
    ClassicalChannel,
    Interceptor,
    Party,
    SequentialParty,
    TimesOut,
    Transcript,
    run_over_channel,
    run_protocol,
)
from qkdnet.postprocess.recipe import (
    PostprocessAlice,
    PostprocessBob,
    PostprocessResult,
    reconcile_and_amplify,
)
from qkdnet.postprocess.reconciler import (
    RECONCILERS,
    CascadeReconciler,
    Reconciler,
    ReconciliationResult,
    ReconcilingAlice,
    ReconcilingBob,
    get_reconciler,
)
from qkdnet.postprocess.verify import (
    VerifyAlice,
    VerifyBob,
    verification_seed_bits,
    verification_tag,
    verification_tag_bits,
)

__all__ = [
    "CASCADE_PARITY",
    "CASCADE_VARIANTS",
    "ESTIMATION_SAMPLE",
    "QBER_TOLERANCE_GRID",
    "RECONCILERS",
    "VERIFICATION_HASH",
    "Abort",
    "AmplificationSeed",
    "AmplifyAlice",
    "AmplifyBob",
    "AsymptoticKeyLength",
    "AuthenticatedChannelEnd",
    "AuthenticatedFrame",
    "AuthenticatedParty",
    "BasisAnnouncement",
    "BlockRule",
    "CascadeAlice",
    "CascadeBob",
    "CascadeDone",
    "CascadeReconciler",
    "CascadeResult",
    "CascadeSetup",
    "CascadeStart",
    "CascadeVariant",
    "ChannelRun",
    "ClassicalChannel",
    "FiniteKeyLength",
    "FrameHeader",
    "FrameTags",
    "FrameVerdicts",
    "HashSeed",
    "Interceptor",
    "KeyLengthRule",
    "LeakageLedger",
    "LedgerEntry",
    "Message",
    "OutcomeDisclosure",
    "ParityAnswer",
    "ParityQuery",
    "Party",
    "PartyTagKeys",
    "PostprocessAlice",
    "PostprocessBob",
    "PostprocessResult",
    "Reconciler",
    "ReconciliationResult",
    "ReconcilingAlice",
    "ReconcilingBob",
    "SampleChoice",
    "SequentialParty",
    "TagKeyReserve",
    "TimesOut",
    "Transcript",
    "Usage",
    "VerificationOutcome",
    "VerificationTag",
    "VerifyAlice",
    "VerifyBob",
    "cascade_block_sizes",
    "cascade_variant",
    "decode_message",
    "encode_message",
    "finite_key_length",
    "finite_key_length_from_ledger",
    "finite_key_mu",
    "get_reconciler",
    "modified_toeplitz_hash",
    "pass_permutation",
    "reconcile_and_amplify",
    "run_over_channel",
    "run_protocol",
    "secret_key_length",
    "toeplitz_hash",
    "verification_seed_bits",
    "verification_tag",
    "verification_tag_bits",
]
