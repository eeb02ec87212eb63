"""Sifting and parameter estimation as two sans-I/O parties: each holds only its own measurement log.

The parties are the announcing parties of :mod:`qkdnet.qkd.announce` (settings, Bob's sample and the disclosed
outcomes as :class:`~qkdnet.postprocess.BasisAnnouncement`, :class:`~qkdnet.postprocess.SampleChoice` and
:class:`~qkdnet.postprocess.OutcomeDisclosure`) plus what each computes once they are over: the same
:class:`PublicEstimate` from the public record alone — QBER, phase error, CHSH S, the verdict and what privacy
amplification must remove — and its own sifted key. The simulator runs the announcing parties in memory
(:func:`~qkdnet.qkd.announce`, then :func:`estimate_from_disclosed` in :func:`~qkdnet.qkd.assess`), the node
daemon runs these subclasses over TCP: one implementation, two transports.

>>> import numpy as np
>>> from qkdnet.postprocess import run_protocol
>>> from qkdnet.qkd import BBM92, KeyRunConfig
>>> rng = np.random.default_rng(5)
>>> sa, sb = rng.integers(0, 2, 4000, dtype=np.uint8), rng.integers(0, 2, 4000, dtype=np.uint8)
>>> xa = rng.integers(0, 2, 4000, dtype=np.uint8)
>>> xb = np.where(sa == sb, xa, rng.integers(0, 2, 4000, dtype=np.uint8)).astype(np.uint8)
>>> alice = SiftAlice(BBM92, KeyRunConfig(), PartyRecord(sa, xa))
>>> bob = SiftBob(BBM92, KeyRunConfig(), PartyRecord(sb, xb), rng=np.random.default_rng(1))
>>> transcript = run_protocol(alice, bob)
>>> alice.estimate.qber.value, alice.estimate.abort_reason is None, bool(np.array_equal(alice.key, bob.key))
(0.0, True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from qkdnet.errors import InvalidParameter, ProtocolError
from qkdnet.postprocess import Message
from qkdnet.qkd.announce import AnnouncingAlice, AnnouncingBob, PublicRecord, disclosed_pairs
from qkdnet.qkd.config import KeyRunConfig
from qkdnet.qkd.di_finite import DeviceRounds
from qkdnet.qkd.estimation import (
    CorrelationTable,
    Estimate,
    NoSignalling,
    chsh,
    correlation_table,
    error_rate,
    no_signalling_test,
    phase_error,
)
from qkdnet.qkd.protocols import ProtocolSpec
from qkdnet.qkd.security import (
    device_independent_key_fraction,
    eve_information_from_chsh,
    trusted_key_fraction,
)
from qkdnet.units import binary_entropy

Bits = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class PartyRecord:
    """One party's own measurement log: settings and outcomes, one per pair."""

    settings: NDArray[np.uint8]
    outcomes: NDArray[np.uint8]


@dataclass(frozen=True, slots=True, eq=False)
class PublicEstimate:
    """What both parties know after sifting and estimation: every number is computed from public data.

    ``abort_reason`` is None when the run may go on to post-processing. ``eve_information_bits`` is what
    the asymptotic bound makes privacy amplification remove; ``qber_for_reconciliation`` is the error
    rate Bob tunes the reconciler to.
    """

    pairs: int
    sifted_bits: int
    sample_bits: int
    key_index: NDArray[np.intp] = field(repr=False)
    qber: Estimate
    phase: Estimate
    chsh_s: Estimate | None
    key_fraction_trusted: float
    key_fraction_device_independent: float | None
    key_fraction_bound: float
    abort_reason: str | None
    correlations: CorrelationTable = field(repr=False)
    eve_information_bits: float
    qber_for_reconciliation: float
    device_rounds: DeviceRounds | None = None
    """The rounds, CHSH tests, wins and disclosed bits the device-independent finite-key bound reads."""


def estimate_from_disclosed(protocol: ProtocolSpec, cfg: KeyRunConfig, public: PublicRecord) -> PublicEstimate:
    """The estimate and the verdict from the public record of the announcements alone.

    Error rates come from the sampled key pairs, correlators (hence phase error and S) from every disclosed
    pair; the deciding key fraction is the trusted-device one, or the device-independent one from S and Q.
    """
    sifting, sample = public.sifting(protocol), public.sample
    alice_settings, bob_settings = public.alice_settings, public.bob_settings
    n_pairs = int(alice_settings.size)
    disclosed = disclosed_pairs(sifting, sample, n_pairs)
    alice_public = np.zeros(n_pairs, dtype=np.uint8)  # the disclosed outcomes in place, zero where undisclosed
    bob_public = np.zeros(n_pairs, dtype=np.uint8)
    where = np.flatnonzero(disclosed)  # one index for every gather below (a mask would be scanned each time)
    alice_public[where], bob_public[where] = public.alice_disclosed, public.bob_disclosed
    n_a, n_b = len(protocol.alice_angles_deg), len(protocol.bob_angles_deg)
    n_sifted = int(sifting.key_index.size)
    table = correlation_table(
        n_a,
        n_b,
        alice_settings[where],
        bob_settings[where],
        alice_public[where],
        bob_public[where],
    )
    sample_index = sifting.key_index[sample]
    qber = error_rate(alice_public[sample_index], bob_public[sample_index])

    n_bases = len(protocol.key_settings)
    key_index = sifting.key_index[~sample]
    key_basis = sifting.key_basis[~sample]
    basis_bits = np.bincount(key_basis, minlength=n_bases)
    sample_basis = sifting.key_basis[sample]
    r_trusted = 0.0
    eve_bits_trusted = 0.0
    phase_estimates: list[Estimate] = []
    for b in range(n_bases):
        sel = sample_index[sample_basis == b]
        e_bit = error_rate(alice_public[sel], bob_public[sel])
        e_ph = phase_error(protocol, table, b)
        phase_estimates.append(e_ph)
        weight = basis_bits[b] / max(int(basis_bits.sum()), 1)
        if math.isnan(e_bit.value) or math.isnan(e_ph.value):
            r_trusted = float("-inf")
            continue
        r_trusted += weight * trusted_key_fraction(e_bit.value, e_ph.value)
        e_ph_high = min(0.5, e_ph.value + cfg.statistical_margin_sigmas * e_ph.stderr)
        eve_bits_trusted += float(basis_bits[b]) * binary_entropy(e_ph_high)
    phase = _pooled(phase_estimates, basis_bits)

    s_est: Estimate | None = chsh(protocol, table) if protocol.chsh_terms else None
    r_di: float | None = None
    if s_est is not None and not math.isnan(qber.value) and math.isfinite(s_est.value):
        r_di = device_independent_key_fraction(qber.value, s_est.value)

    deciding = r_di if cfg.security == "device-independent" else r_trusted
    abort: str | None = None
    if n_sifted == 0 or math.isnan(qber.value):
        abort = "no sifted key: too few pairs to estimate the error rate"
    elif cfg.security == "device-independent" and s_est is not None and not math.isfinite(s_est.value):
        abort = "no CHSH value: some CHSH setting pair was never tested, so the devices certify no secrecy"
    elif cfg.security == "device-independent" and s_est is not None and s_est.value <= 2.0:
        abort = f"no Bell violation: S = {s_est.value:.3f} ± {s_est.stderr:.3f} ≤ 2, so the devices certify no secrecy"
    elif deciding is None or deciding <= 0.0:
        abort = (
            f"QBER {100 * qber.value:.2f} % leaves no secret key "
            f"({'device-independent' if cfg.security == 'device-independent' else 'trusted-device'} "
            f"bound {deciding:.3f} ≤ 0): an eavesdropper or too much noise"
        )
    if cfg.security == "device-independent" and s_est is not None and math.isfinite(s_est.value):
        s_low = s_est.value - cfg.statistical_margin_sigmas * s_est.stderr
        eve_bits = float(key_index.size) * eve_information_from_chsh(s_low)
    else:
        eve_bits = eve_bits_trusted
    return PublicEstimate(
        pairs=n_pairs,
        sifted_bits=n_sifted,
        sample_bits=int(sample.sum()),
        key_index=key_index,
        qber=qber,
        phase=phase,
        chsh_s=s_est,
        key_fraction_trusted=r_trusted,
        key_fraction_device_independent=r_di,
        key_fraction_bound=float("nan") if deciding is None else deciding,
        abort_reason=abort,
        correlations=table,
        eve_information_bits=eve_bits,
        qber_for_reconciliation=max(qber.value, 1.0 / max(qber.samples, 1)) if qber.samples else 0.0,
        device_rounds=_device_rounds(protocol, table, n_sifted, int(sample.sum())),
    )


def _device_rounds(
    protocol: ProtocolSpec, table: CorrelationTable, sifted: int, sample_bits: int
) -> DeviceRounds | None:
    """The device rounds of a CHSH protocol: key-basis and CHSH-test pairs (mismatched pairs are left out).

    A test (a, b, sign) is won when the outcomes agree (sign +1) or differ (sign −1): counts·(1 + sign·E)/2
    games. Both parties disclosed every test outcome and the error-rate sample, two bits a round. The test
    probability is the protocol's a-priori one: γ for a spot-checking protocol (whose rounds are all keys or
    tests), and for uniform settings (CHSH setting pairs)/(CHSH + key setting pairs).
    """
    if not protocol.chsh_terms:
        return None
    tests = int(sum(int(table.counts[a, b]) for a, b, _ in protocol.chsh_terms))
    wins = float(
        sum(
            table.counts[a, b] * (1.0 + sign * np.nan_to_num(table.correlator[a, b])) / 2.0
            for a, b, sign in protocol.chsh_terms
        )
    )
    if protocol.test_probability is not None:
        gamma = protocol.test_probability
    else:
        n_test_settings, n_key_settings = len(protocol.chsh_terms), len(protocol.key_settings)
        gamma = n_test_settings / (n_test_settings + n_key_settings)
    return DeviceRounds(
        rounds=sifted + tests,
        test_rounds=tests,
        wins=wins,
        test_probability=gamma,
        disclosed_bits=2 * (tests + sample_bits),
    )


def _pooled(estimates: list[Estimate], weights: NDArray[np.int64]) -> Estimate:
    """Weighted mean of per-basis estimates (weights: key bits per basis)."""
    w = np.asarray(weights, dtype=np.float64)
    vals = np.array([e.value for e in estimates])
    errs = np.array([e.stderr for e in estimates])
    if w.sum() == 0 or np.any(np.isnan(vals)):
        return Estimate(float("nan"), float("nan"), 0)
    w = w / w.sum()
    return Estimate(float(w @ vals), float(math.sqrt(float((w**2) @ errs**2))), sum(e.samples for e in estimates))


def _check_record(record: object, n_settings: int, who: str) -> PartyRecord:
    if not isinstance(record, PartyRecord):
        raise InvalidParameter(f"{who}'s record must be a PartyRecord")
    s, x = np.asarray(record.settings), np.asarray(record.outcomes)
    if s.ndim != 1 or s.shape != x.shape:
        raise InvalidParameter(f"{who}'s record needs one setting and one outcome per pair")
    if s.size and (int(s.max()) >= n_settings or int(x.max()) > 1):
        raise InvalidParameter(f"{who}'s settings must be below {n_settings} and outcomes 0/1")
    return PartyRecord(s.astype(np.uint8, copy=False), x.astype(np.uint8, copy=False))


class _SiftParty:
    """What both sides share: their announcing party, the estimate once the announcements are over, the key."""

    _record: PartyRecord

    def __init__(self, protocol: ProtocolSpec, cfg: KeyRunConfig, party: AnnouncingAlice | AnnouncingBob) -> None:
        self._protocol, self._cfg, self._party = protocol, cfg, party
        self._estimate: PublicEstimate | None = None

    @property
    def done(self) -> bool:
        """True once the announcements are over and the estimate is known."""
        return self._estimate is not None

    def start(self) -> list[Message]:
        """The announcing party's opening messages."""
        return self._party.start()

    def receive(self, message: Message) -> list[Message]:
        """One announcement in, the replies out; the estimate once the last one is in."""
        replies = self._party.receive(message)
        if self._party.done and self._estimate is None:
            self._estimate = estimate_from_disclosed(self._protocol, self._cfg, self._party.public)
            self._settled(self._party.public)
        return replies

    def _settled(self, public: PublicRecord) -> None:
        """Hook: the announcements are over."""

    @property
    def public(self) -> PublicRecord:
        """The public record of the announcements."""
        return self._party.public

    @property
    def estimate(self) -> PublicEstimate:
        """The public estimate and verdict (the same on both sides)."""
        if self._estimate is None:
            raise ProtocolError("estimation is not finished")
        return self._estimate

    @property
    def key(self) -> NDArray[np.uint8]:
        """This party's sifted key bits that were not disclosed."""
        out: NDArray[np.uint8] = self._record.outcomes[self.estimate.key_index]
        return out


class SiftAlice(_SiftParty):
    """Alice's side: announce settings, disclose her outcomes where Bob's sample says, then estimate."""

    def __init__(self, protocol: ProtocolSpec, cfg: KeyRunConfig, record: PartyRecord) -> None:
        if not isinstance(protocol, ProtocolSpec):
            raise InvalidParameter("protocol must be a ProtocolSpec")
        self._record = _check_record(record, len(protocol.alice_angles_deg), "Alice")
        super().__init__(protocol, cfg, AnnouncingAlice(protocol, self._record.settings, self._record.outcomes))


class SiftBob(_SiftParty):
    """Bob's side: sift on Alice's settings, choose the sample with ``rng``, disclose, estimate, test no-signalling."""

    def __init__(self, protocol: ProtocolSpec, cfg: KeyRunConfig, record: PartyRecord, *, rng: np.random.Generator):
        if not isinstance(protocol, ProtocolSpec):
            raise InvalidParameter("protocol must be a ProtocolSpec")
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameter("rng must be a numpy.random.Generator")
        self._record = rec = _check_record(record, len(protocol.bob_angles_deg), "Bob")
        party = AnnouncingBob(protocol, rec.settings, rec.outcomes, sample_fraction=cfg.sample_fraction, rng=rng)
        super().__init__(protocol, cfg, party)
        self._signalling: NoSignalling | None = None

    @property
    def no_signalling(self) -> NoSignalling:
        """Bob's outcome statistics under each of Alice's settings (he knows all his outcomes and her settings)."""
        if self._signalling is None:
            raise ProtocolError("the announcements are not over")
        return self._signalling

    def _settled(self, public: PublicRecord) -> None:
        n_a, n_b = len(self._protocol.alice_angles_deg), len(self._protocol.bob_angles_deg)
        rec = self._record
        self._signalling = no_signalling_test(n_a, n_b, public.alice_settings, rec.settings, rec.outcomes)


__all__ = ["PartyRecord", "PublicEstimate", "SiftAlice", "SiftBob", "estimate_from_disclosed"]
