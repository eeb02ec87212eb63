"""The public announcements of a key run, as messages: settings (sifting), Bob's sample, the disclosed outcomes.

After measuring, Alice announces her settings. Bob, holding both parties' settings, sifts, picks the sample of
sifted pairs to sacrifice, and sends his settings, the sample and his outcomes on every disclosed pair (every
pair outside the key, and the sample); Alice answers with her outcomes on the same pairs: five messages in three
flights. Each party keeps what it sent and what it received: its :class:`PublicRecord` is the whole public
transcript, and the estimates and the abort decision are computed from it alone (:func:`~qkdnet.qkd.assess`).
Sealed with the block's tag keys (:class:`~qkdnet.postprocess.AuthenticatedParty`), the announcements cannot be
altered, replayed, dropped, reordered or injected without :class:`~qkdnet.errors.AuthenticationFailed`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qkdnet.errors import InvalidParameter, ProtocolError
from qkdnet.postprocess import (
    AuthenticatedChannelEnd,
    AuthenticatedParty,
    BasisAnnouncement,
    ChannelRun,
    ClassicalChannel,
    Interceptor,
    Message,
    OutcomeDisclosure,
    Party,
    SampleChoice,
    run_over_channel,
)
from qkdnet.qkd.estimation import Sifting, choose_sample, sift
from qkdnet.qkd.protocols import ProtocolSpec

Bits = NDArray[np.uint8]
Settings = NDArray[np.uint8]


def disclosed_pairs(sifting: Sifting, sample: NDArray[np.bool_], n_pairs: int) -> NDArray[np.bool_]:
    """Which pairs have their outcomes disclosed: every pair outside the key, and the sampled key pairs."""
    disclosed = np.ones(n_pairs, dtype=bool)
    disclosed[sifting.key_index[~sample]] = False
    return disclosed


@dataclass(frozen=True, slots=True, eq=False)
class PublicRecord:
    """The public transcript of a run's announcements: both parties' settings, the sample (one flag per sifted
    pair) and both parties' outcomes on the disclosed pairs, in pair order."""

    alice_settings: Settings
    bob_settings: Settings
    sample: NDArray[np.bool_]
    alice_disclosed: Bits
    bob_disclosed: Bits

    def sifting(self, protocol: ProtocolSpec) -> Sifting:
        """The sifted pairs, from the announced settings."""
        return sift(protocol, self.alice_settings, self.bob_settings)

    def disclosed(self, protocol: ProtocolSpec) -> NDArray[np.bool_]:
        """Mask of the pairs whose outcomes were disclosed."""
        return disclosed_pairs(self.sifting(protocol), self.sample, int(self.alice_settings.size))

    def same_as(self, other: PublicRecord) -> bool:
        """Whether two parties' records of the announcements agree bit for bit."""
        return all(
            np.array_equal(getattr(self, name), getattr(other, name))
            for name in ("alice_settings", "bob_settings", "sample", "alice_disclosed", "bob_disclosed")
        )


def public_record(
    protocol: ProtocolSpec,
    alice: tuple[Settings, Bits],
    bob: tuple[Settings, Bits],
    *,
    sample_fraction: float,
    rng: np.random.Generator,
) -> PublicRecord:
    """What honest announcements carry, computed from both logs ``(settings, outcomes)`` at once."""
    sifting = sift(protocol, alice[0], bob[0])
    sample = choose_sample(int(sifting.key_index.size), sample_fraction, rng=rng)
    disclosed = disclosed_pairs(sifting, sample, int(alice[0].size))
    return PublicRecord(alice[0], bob[0], sample, alice[1][disclosed], bob[1][disclosed])


def _check_settings(message: BasisAnnouncement, n_pairs: int, n_settings: int, whose: str) -> Settings:
    settings = message.settings
    if settings.size != n_pairs or (settings.size and int(settings.max()) >= n_settings):
        raise ProtocolError(f"{whose} announced {settings.size} settings, expected {n_pairs} in 0..{n_settings - 1}")
    return settings


def _check_bits(bits: Bits, expected: int, what: str) -> Bits:
    if bits.size != expected:
        raise ProtocolError(f"{what}: {bits.size} bits, expected {expected}")
    return bits


class AnnouncingAlice:
    """Alice's side: announces her settings; once Bob's sample and disclosure are in, discloses hers."""

    def __init__(self, protocol: ProtocolSpec, settings: Settings, outcomes: Bits) -> None:
        if settings.shape != outcomes.shape or settings.ndim != 1:
            raise InvalidParameter("Alice needs one setting and one outcome per pair")
        self._protocol = protocol
        self._settings, self._outcomes = settings, outcomes
        self._bob_settings: Settings | None = None
        self._sample: NDArray[np.bool_] | None = None
        self._disclosed: NDArray[np.bool_] | None = None
        self._bob_disclosed: Bits | None = None

    @property
    def done(self) -> bool:
        """True once she has Bob's disclosure (and so has sent hers)."""
        return self._bob_disclosed is not None

    def start(self) -> list[Message]:
        """Announce her settings."""
        return [BasisAnnouncement(self._settings)]

    def receive(self, message: Message) -> list[Message]:
        """Bob's settings, the sample, then Bob's disclosure (answered with hers)."""
        n = int(self._settings.size)
        match message:
            case BasisAnnouncement() if self._bob_settings is None:
                self._bob_settings = _check_settings(message, n, len(self._protocol.bob_angles_deg), "Bob")
                return []
            case SampleChoice() if self._bob_settings is not None and self._sample is None:
                sifting = sift(self._protocol, self._settings, self._bob_settings)
                bits = _check_bits(message.sample, int(sifting.key_index.size), "sample choice")
                self._sample = bits.astype(bool)
                self._disclosed = disclosed_pairs(sifting, self._sample, n)
                return []
            case OutcomeDisclosure() if self._disclosed is not None and self._bob_disclosed is None:
                self._bob_disclosed = _check_bits(message.outcomes, int(self._disclosed.sum()), "Bob's disclosure")
                return [OutcomeDisclosure(self._outcomes[self._disclosed])]
        raise ProtocolError(f"Alice did not expect {type(message).__name__} now")

    @property
    def public(self) -> PublicRecord:
        """The announcements as Alice sent and received them."""
        if self._bob_settings is None or self._sample is None or self._disclosed is None:
            raise ProtocolError("the announcements are not over")
        if self._bob_disclosed is None:
            raise ProtocolError("the announcements are not over")
        return PublicRecord(
            self._settings, self._bob_settings, self._sample, self._outcomes[self._disclosed], self._bob_disclosed
        )


class AnnouncingBob:
    """Bob's side: given Alice's settings, sifts, picks the sample (from ``rng``), discloses his outcomes."""

    def __init__(
        self,
        protocol: ProtocolSpec,
        settings: Settings,
        outcomes: Bits,
        *,
        sample_fraction: float,
        rng: np.random.Generator,
    ) -> None:
        if settings.shape != outcomes.shape or settings.ndim != 1:
            raise InvalidParameter("Bob needs one setting and one outcome per pair")
        if not 0.0 < sample_fraction < 1.0:
            raise InvalidParameter(f"sample fraction must be in (0, 1), got {sample_fraction!r}")
        self._protocol = protocol
        self._settings, self._outcomes = settings, outcomes
        self._fraction = sample_fraction
        self._rng = rng
        self._alice_settings: Settings | None = None
        self._sample: NDArray[np.bool_] | None = None
        self._disclosed: NDArray[np.bool_] | None = None
        self._alice_disclosed: Bits | None = None

    @property
    def done(self) -> bool:
        """True once he has Alice's disclosure."""
        return self._alice_disclosed is not None

    def start(self) -> list[Message]:
        """Nothing: Bob speaks once he has Alice's settings."""
        return []

    def receive(self, message: Message) -> list[Message]:
        """Alice's settings (answered with his settings, the sample and his disclosure), then her disclosure."""
        n = int(self._settings.size)
        match message:
            case BasisAnnouncement() if self._alice_settings is None:
                self._alice_settings = _check_settings(message, n, len(self._protocol.alice_angles_deg), "Alice")
                sifting = sift(self._protocol, self._alice_settings, self._settings)
                self._sample = choose_sample(int(sifting.key_index.size), self._fraction, rng=self._rng)
                self._disclosed = disclosed_pairs(sifting, self._sample, n)
                return [
                    BasisAnnouncement(self._settings),
                    SampleChoice(self._sample.astype(np.uint8)),
                    OutcomeDisclosure(self._outcomes[self._disclosed]),
                ]
            case OutcomeDisclosure() if self._disclosed is not None and self._alice_disclosed is None:
                self._alice_disclosed = _check_bits(message.outcomes, int(self._disclosed.sum()), "Alice's disclosure")
                return []
        raise ProtocolError(f"Bob did not expect {type(message).__name__} now")

    @property
    def public(self) -> PublicRecord:
        """The announcements as Bob sent and received them."""
        if self._alice_settings is None or self._sample is None or self._disclosed is None:
            raise ProtocolError("the announcements are not over")
        if self._alice_disclosed is None:
            raise ProtocolError("the announcements are not over")
        return PublicRecord(
            self._alice_settings, self._settings, self._sample, self._alice_disclosed, self._outcomes[self._disclosed]
        )


@dataclass(frozen=True, slots=True)
class Announced:
    """The announcements' outcome: the public record (both parties hold the same) and what crossed the channel."""

    public: PublicRecord
    run: ChannelRun


def announce(
    protocol: ProtocolSpec,
    alice: tuple[Settings, Bits],
    bob: tuple[Settings, Bits],
    *,
    sample_fraction: float,
    rng: np.random.Generator,
    channel: ClassicalChannel,
    ends: tuple[AuthenticatedChannelEnd, AuthenticatedChannelEnd] | None = None,
    interceptor: Interceptor | None = None,
) -> Announced:
    """Exchange the announcements over ``channel`` between the two logs ``(settings, outcomes)``.

    With ``ends`` every message is sealed (the block's first frames; its post-processing continues on the same
    ends). ``rng`` is Bob's, for the sample. Raises AuthenticationFailed if a sealed message was tampered with,
    and ProtocolError if the parties end up with different records (only possible without ``ends``).
    """
    alice_party = AnnouncingAlice(protocol, *alice)
    bob_party = AnnouncingBob(protocol, *bob, sample_fraction=sample_fraction, rng=rng)
    a: Party = alice_party if ends is None else AuthenticatedParty(alice_party, ends[0])
    b: Party = bob_party if ends is None else AuthenticatedParty(bob_party, ends[1])
    run = run_over_channel(a, b, channel, interceptor=interceptor)
    public = bob_party.public
    if not public.same_as(alice_party.public):
        raise ProtocolError("Alice's and Bob's records of the announcements differ: they were altered on the way")
    return Announced(public, run)


__all__ = [
    "Announced",
    "AnnouncingAlice",
    "AnnouncingBob",
    "PublicRecord",
    "announce",
    "disclosed_pairs",
    "public_record",
]
