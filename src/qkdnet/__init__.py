"""qkdnet: quantum networks of single atoms linked by photons, and the secret keys they make.

The public API for notebooks; every name here is stable and tested. A key run on the seed experiment's link:

>>> from qkdnet import E91, link_from_preset, run_key_exchange
>>> link = link_from_preset("zhang2022", length_km=0.06)
>>> result = run_key_exchange(link, E91, 2_000_000, seed=1)
>>> result.secure, bool((result.alice_key == result.bob_key).all())
(True, True)
>>> 2.45 < result.chsh_s < 2.7  # Zhang et al. 2022 measured S = 2.578(75)
True

Everything but the version and the errors is imported on first use (PEP 562 ``__getattr__``): ``import qkdnet``
and every ``qkdnet.*`` submodule import stay cheap, so the ``qkdnet`` command loads only what its subcommand
needs. Type checkers see the imports as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qkdnet._lazy import lazy_names
from qkdnet._version import __version__
from qkdnet.errors import (
    AlreadyConsumed,
    AuthenticationFailed,
    InvalidParameter,
    MessageRejected,
    NoSecretKey,
    PadExhausted,
    QberAboveThreshold,
    QkdnetError,
    ReconciliationFailed,
    SecurityAbort,
    VerificationFailed,
)

if TYPE_CHECKING:
    from qkdnet.attacks import EveRecord, InterceptResend, ManInTheMiddle
    from qkdnet.hardware import AtomCavityNode, Detector, Fiber, get_preset, preset_names
    from qkdnet.network import HeraldedPairs, TwoNodeLink, WernerSource, link_from_preset
    from qkdnet.otp import Ciphertext, PadLedger, decrypt, encrypt
    from qkdnet.postprocess import LeakageLedger, finite_key_length, reconcile_and_amplify
    from qkdnet.qkd import (
        BBM92,
        E91,
        KeyRunConfig,
        KeyRunResult,
        device_independent_key_fraction,
        run_key_exchange,
        trusted_key_fraction,
    )
    from qkdnet.quantum import BellDiagonal, bell_state, werner_state
    from qkdnet.rng import SeedTree

#: Each lazily exported name and the module that defines it.
_LAZY = {
    "EveRecord": "qkdnet.attacks",
    "InterceptResend": "qkdnet.attacks",
    "ManInTheMiddle": "qkdnet.attacks",
    "AtomCavityNode": "qkdnet.hardware",
    "Detector": "qkdnet.hardware",
    "Fiber": "qkdnet.hardware",
    "get_preset": "qkdnet.hardware",
    "preset_names": "qkdnet.hardware",
    "HeraldedPairs": "qkdnet.network",
    "TwoNodeLink": "qkdnet.network",
    "WernerSource": "qkdnet.network",
    "link_from_preset": "qkdnet.network",
    "Ciphertext": "qkdnet.otp",
    "PadLedger": "qkdnet.otp",
    "decrypt": "qkdnet.otp",
    "encrypt": "qkdnet.otp",
    "LeakageLedger": "qkdnet.postprocess",
    "finite_key_length": "qkdnet.postprocess",
    "reconcile_and_amplify": "qkdnet.postprocess",
    "BBM92": "qkdnet.qkd",
    "E91": "qkdnet.qkd",
    "KeyRunConfig": "qkdnet.qkd",
    "KeyRunResult": "qkdnet.qkd",
    "device_independent_key_fraction": "qkdnet.qkd",
    "run_key_exchange": "qkdnet.qkd",
    "trusted_key_fraction": "qkdnet.qkd",
    "BellDiagonal": "qkdnet.quantum",
    "bell_state": "qkdnet.quantum",
    "werner_state": "qkdnet.quantum",
    "SeedTree": "qkdnet.rng",
}


__all__ = [
    "BBM92",
    "E91",
    "AlreadyConsumed",
    "AtomCavityNode",
    "AuthenticationFailed",
    "BellDiagonal",
    "Ciphertext",
    "Detector",
    "EveRecord",
    "Fiber",
    "HeraldedPairs",
    "InterceptResend",
    "InvalidParameter",
    "KeyRunConfig",
    "KeyRunResult",
    "LeakageLedger",
    "ManInTheMiddle",
    "MessageRejected",
    "NoSecretKey",
    "PadExhausted",
    "PadLedger",
    "QberAboveThreshold",
    "QkdnetError",
    "ReconciliationFailed",
    "SecurityAbort",
    "SeedTree",
    "TwoNodeLink",
    "VerificationFailed",
    "WernerSource",
    "__version__",
    "bell_state",
    "decrypt",
    "device_independent_key_fraction",
    "encrypt",
    "finite_key_length",
    "get_preset",
    "link_from_preset",
    "preset_names",
    "reconcile_and_amplify",
    "run_key_exchange",
    "trusted_key_fraction",
    "werner_state",
]

__getattr__, __dir__ = lazy_names("qkdnet", _LAZY, globals(), __all__)
