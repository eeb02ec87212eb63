"""The entanglement-based protocols as data: which angles each party measures, which give key, which test.

E91 (Ekert, PRL 67, 661 (1991)) in its polarization form: Alice 0°, 22.5°, 45°; Bob 22.5°, 45°, 67.5°.
Aligned settings (22.5°, 22.5°) and (45°, 45°) give key bits; (0°|45°) × (22.5°|67.5°) give the CHSH value
S = E(0, 22.5) − E(0, 67.5) + E(45, 22.5) + E(45, 67.5), which is 2√2 for |Φ+>.
Its spot-checking form (:meth:`ProtocolSpec.spot_checking`, the DIQKD protocol of Arnon-Friedman et al.,
Nat. Commun. 9, 459 (2018)) tests only a random fraction γ of the rounds: a test round has both parties pick
their CHSH settings uniformly, every other round is a key round in which both measure along 45° (Alice's CHSH
setting 45°, Bob's third setting), so the key's entropy is the one a CHSH violation certifies for Alice's output.
BBM92 (Bennett, Brassard & Mermin, PRL 68, 557 (1992)): both parties measure Z (0°) or X (45°).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from qkdnet.errors import InvalidParameter

ProtocolName = Literal["e91", "bbm92"]


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    """Measurement settings of an entanglement-based key protocol.

    Settings are drawn uniformly and independently, unless ``test_probability`` is set: then each round is a
    CHSH test with that probability (decided by randomness both parties share), in which each party picks one
    of its CHSH settings uniformly, and otherwise a key round in the single key basis.
    """

    name: ProtocolName
    alice_angles_deg: tuple[float, ...]
    bob_angles_deg: tuple[float, ...]
    key_settings: tuple[tuple[int, int], ...]
    """(Alice's, Bob's) setting indices that are aligned: one entry per key basis."""
    chsh_terms: tuple[tuple[int, int, int], ...] = ()
    """(Alice's, Bob's, sign) of the four correlators summed into S; empty if the protocol has no CHSH test."""
    test_probability: float | None = None
    """γ of the spot-checking form (None: uniform settings)."""

    def __post_init__(self) -> None:
        if self.test_probability is None:
            return
        gamma = self.test_probability
        if isinstance(gamma, bool) or not isinstance(gamma, float | int) or not 0.0 < gamma < 1.0:
            raise InvalidParameter(f"test probability must be in (0, 1), got {gamma!r}")
        if len(self.key_settings) != 1 or not self.chsh_terms:
            raise InvalidParameter("a spot-checking protocol needs one key basis and a CHSH test")
        (a_key, b_key), (a_test, b_test) = self.key_settings[0], self.test_settings
        if a_key not in a_test or b_key in b_test:
            raise InvalidParameter(
                "a spot-checking protocol's key basis must be one of Alice's CHSH settings and none of Bob's, "
                "so that key rounds are told apart from tests and their entropy is the one CHSH certifies"
            )

    @property
    def test_settings(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(Alice's, Bob's) CHSH settings, in index order."""
        return (
            tuple(sorted({a for a, _, _ in self.chsh_terms})),
            tuple(sorted({b for _, b, _ in self.chsh_terms})),
        )

    def spot_checking(self, test_probability: float, *, key_basis: int | None = None) -> ProtocolSpec:
        """This protocol with rounds tested with probability ``test_probability`` and keyed otherwise.

        The key basis is ``key_basis`` (an index into :attr:`key_settings`), by default the one whose Alice
        setting is a CHSH setting of hers (E91: 45°/45°).
        """
        if self.test_probability is not None:
            raise InvalidParameter(f"{self.name} is already a spot-checking protocol")
        if not self.chsh_terms:
            raise InvalidParameter(f"{self.name} has no CHSH test to spot-check with")
        if key_basis is None:
            alice_tests = self.test_settings[0]
            usable = [i for i, (a, _) in enumerate(self.key_settings) if a in alice_tests]
            if not usable:
                raise InvalidParameter(f"no key basis of {self.name} is one of Alice's CHSH settings")
            key_basis = usable[0]
        return replace(self, key_settings=(self.key_settings[key_basis],), test_probability=float(test_probability))

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
