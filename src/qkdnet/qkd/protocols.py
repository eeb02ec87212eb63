"""The entanglement-based protocols as data: which angles each party measures, which give key, which test.

E91 (Ekert, PRL 67, 661 (1991)) in its polarization form: Alice 0°, 22.5°, 45°; Bob 22.5°, 45°, 67.5°.
Aligned settings (22.5°, 22.5°) and (45°, 45°) give key bits; (0°|45°) × (22.5°|67.5°) give the CHSH value
S = E(0, 22.5) − E(0, 67.5) + E(45, 22.5) + E(45, 67.5), which is 2√2 for |Φ+>.
BBM92 (Bennett, Brassard & Mermin, PRL 68, 557 (1992)): both parties measure Z (0°) or X (45°).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from qkdnet.errors import InvalidParameter

ProtocolName = Literal["e91", "bbm92"]


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    """Measurement settings of an entanglement-based key protocol; settings are drawn uniformly."""

    name: ProtocolName
    alice_angles_deg: tuple[float, ...]
    bob_angles_deg: tuple[float, ...]
    key_settings: tuple[tuple[int, int], ...]
    """(Alice's, Bob's) setting indices that are aligned: one entry per key basis."""
    chsh_terms: tuple[tuple[int, int, int], ...] = ()
    """(Alice's, Bob's, sign) of the four correlators summed into S; empty if the protocol has no CHSH test."""

    def key_basis_angle_deg(self, basis: int) -> float:
        """The polarization angle of a key basis (both parties measure along it)."""
        return self.alice_angles_deg[self.key_settings[basis][0]]


E91 = ProtocolSpec(
    name="e91",
    alice_angles_deg=(0.0, 22.5, 45.0),
    bob_angles_deg=(22.5, 45.0, 67.5),
    key_settings=((1, 0), (2, 1)),
    chsh_terms=((0, 0, +1), (0, 2, -1), (2, 0, +1), (2, 2, +1)),
)

BBM92 = ProtocolSpec(
    name="bbm92",
    alice_angles_deg=(0.0, 45.0),
    bob_angles_deg=(0.0, 45.0),
    key_settings=((0, 0), (1, 1)),
)

PROTOCOLS: dict[str, ProtocolSpec] = {"e91": E91, "bbm92": BBM92}


def get_protocol(name: str) -> ProtocolSpec:
    """The protocol called ``name`` (``e91`` or ``bbm92``)."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise InvalidParameter(f"unknown protocol {name!r}; expected one of: {', '.join(PROTOCOLS)}") from None
