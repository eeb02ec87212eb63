"""Pair states as batched density matrices or Bell-diagonal weights, noise channels and measurement.

Layer 1: depends only on numpy. Everything is vectorised over pairs; ``qkdnet.quantum.reference``
holds the slow, explicit version the tests hold the fast path against.
"""

from qkdnet.quantum.channels import (
    amplitude_damping_kraus,
    apply_local_channel,
    dephase,
    dephasing_kraus,
    dephasing_probability,
    depolarize,
    depolarizing_kraus,
    erasure_kraus,
    pauli_channel,
)
from qkdnet.quantum.measure import (
    Bits,
    PairStates,
    correlation,
    joint_probabilities,
    polarization_vectors,
    random_bits,
    sample_joint_outcomes,
    sample_setting_outcomes,
)
from qkdnet.quantum.states import (
    BELL_NAMES,
    BELL_VECTORS,
    BellDiagonal,
    BellName,
    ProductStates,
    bell_state,
    check_probabilities,
    check_probability,
    collapse_qubit,
    fidelity_to_bell,
    is_density_matrix,
    werner_state,
)

__all__ = [
    "BELL_NAMES",
    "BELL_VECTORS",
    "BellDiagonal",
    "BellName",
    "Bits",
    "PairStates",
    "ProductStates",
    "amplitude_damping_kraus",
    "apply_local_channel",
    "bell_state",
    "check_probabilities",
    "check_probability",
    "collapse_qubit",
    "correlation",
    "dephase",
    "dephasing_kraus",
    "dephasing_probability",
    "depolarize",
    "depolarizing_kraus",
    "erasure_kraus",
    "fidelity_to_bell",
    "is_density_matrix",
    "joint_probabilities",
    "pauli_channel",
    "polarization_vectors",
    "random_bits",
    "sample_joint_outcomes",
    "sample_setting_outcomes",
    "werner_state",
]
