"""Entanglement-based key distribution: E91 (CHSH-certified) and BBM92, sifting, estimation, security bounds.

>>> from qkdnet.qkd import E91, trusted_key_fraction
>>> E91.alice_angles_deg, E91.bob_angles_deg
((0.0, 22.5, 45.0), (22.5, 45.0, 67.5))
>>> round(trusted_key_fraction(0.05, 0.05), 4)
0.4272
"""

from qkdnet.qkd.announce import PublicRecord, announce
from qkdnet.qkd.config import KeyRunConfig
from qkdnet.qkd.detection import (
    QBER_THRESHOLD_DI,
    QBER_THRESHOLD_TRUSTED,
    S_THRESHOLD_DI,
    DetectionPoint,
    EveInformation,
    EveReport,
    MutualInformation,
    detection_sweep,
    eve_report,
    eve_summary,
    false_abort_probability,
    mutual_information,
)
from qkdnet.qkd.estimation import (
    CorrelationTable,
    Estimate,
    NoSignalling,
    chsh,
    correlation_table,
    error_rate,
    no_signalling_test,
    phase_error,
    sift,
)
from qkdnet.qkd.pipeline import (
    Assessment,
    KeyRunResult,
    Observer,
    PairSource,
    SimulatedRecords,
    assess,
    distill,
    key_length_rule,
    postprocess_party,
    run_key_exchange,
    simulate_records,
)
from qkdnet.qkd.protocols import BBM92, E91, PROTOCOLS, ProtocolSpec, get_protocol
from qkdnet.qkd.security import (
    TSIRELSON,
    device_independent_key_fraction,
    eve_information_from_chsh,
    plob_bits_per_use,
    trusted_key_fraction,
)
from qkdnet.qkd.sifting import PartyRecord, PublicEstimate, SiftAlice, SiftBob, estimate_from_disclosed

__all__ = [
    "BBM92",
    "E91",
    "PROTOCOLS",
    "QBER_THRESHOLD_DI",
    "QBER_THRESHOLD_TRUSTED",
    "S_THRESHOLD_DI",
    "TSIRELSON",
    "Assessment",
    "CorrelationTable",
    "DetectionPoint",
    "Estimate",
    "EveInformation",
    "EveReport",
    "KeyRunConfig",
    "KeyRunResult",
    "MutualInformation",
    "NoSignalling",
    "Observer",
    "PairSource",
    "PartyRecord",
    "ProtocolSpec",
    "PublicEstimate",
    "PublicRecord",
    "SiftAlice",
    "SiftBob",
    "SimulatedRecords",
    "announce",
    "assess",
    "chsh",
    "correlation_table",
    "detection_sweep",
    "device_independent_key_fraction",
    "distill",
    "error_rate",
    "estimate_from_disclosed",
    "eve_information_from_chsh",
    "eve_report",
    "eve_summary",
    "false_abort_probability",
    "get_protocol",
    "key_length_rule",
    "mutual_information",
    "no_signalling_test",
    "phase_error",
    "plob_bits_per_use",
    "postprocess_party",
    "run_key_exchange",
    "sift",
    "simulate_records",
    "trusted_key_fraction",
]
