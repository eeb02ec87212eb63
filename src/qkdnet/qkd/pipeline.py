"""The key run: pairs in bulk → measurement → sifting → estimation → decision → post-processing → key.

Each party draws its own settings from its own random stream; nature draws the outcomes. Only
announced data crosses between the parties, as messages over the classical channel: the settings,
Bob's sample and the disclosed outcomes (:mod:`qkdnet.qkd.announce`), then the post-processing
messages, all sealed in one authenticated block. Estimates and the abort decision use the public
record of those announcements. The simulator's true error rate is kept apart in :class:`Observer`
and never drives a decision.

Post-processing runs the road of :mod:`qkdnet.postprocess`: the reconciler named in the config,
verification, and privacy amplification to the finite-key length of Tomamichel, Lim, Gisin & Renner
(Nat. Commun. 3, 634 (2012)) computed from the leakage ledger, every message sealed with Wegman–Carter
tags whose key cost is refilled from the new key, over a classical channel whose round trips take
twice the fiber delay. The reported key rate counts the link time and the classical channel's time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from qkdnet.attacks import Attack, EveGuess
from qkdnet.errors import (
    AuthenticationFailed,
    InvalidParameter,
    NoSecretKey,
    PadExhausted,
    ProtocolError,
    QberAboveThreshold,
    SecurityAbort,
)
from qkdnet.network import HeraldedLink
from qkdnet.postprocess import (
    ESTIMATION_SAMPLE,
    AsymptoticKeyLength,
    AuthenticatedChannelEnd,
    ChannelRun,
    ClassicalChannel,
    FiniteKeyLength,
    Interceptor,
    KeyLengthRule,
    LeakageLedger,
    PartyTagKeys,
    PostprocessAlice,
    PostprocessBob,
    finite_key_mu,
    reconcile_and_amplify,
)
from qkdnet.postprocess.protocol import Side
from qkdnet.qkd.announce import PublicRecord, announce, public_record
from qkdnet.qkd.config import KeyLength, KeyRunConfig, Security
from qkdnet.qkd.estimation import CorrelationTable, NoSignalling, no_signalling_test
from qkdnet.qkd.protocols import ProtocolSpec
from qkdnet.qkd.sifting import PartyRecord as PartyRecord
from qkdnet.qkd.sifting import PublicEstimate, estimate_from_disclosed
from qkdnet.quantum import PairStates, sample_setting_outcomes
from qkdnet.rng import SeedTree
from qkdnet.units import binary_entropy

ProgressCallback = Callable[[int, int], None]

#: Pairs simulated per block: bounds memory to a few tens of MB whatever the run's size.
BLOCK_PAIRS = 1 << 19


class PairBlock(Protocol):
    """A block of heralded pairs: their states, and the exact time of the last herald from the block's start."""

    @property
    def states(self) -> PairStates: ...

    @property
    def last_herald_ps(self) -> int: ...


class PairSource(Protocol):
    """Anything that yields heralded pairs in bulk (a link, or ideal Werner pairs)."""

    def generate(self, n_pairs: int, *, rng: np.random.Generator) -> PairBlock: ...


@dataclass(slots=True)
class Observer:
    """What only the simulator knows (true error rate of the sifted key, Eve's activity); for reports only.

    It also keeps, for measuring Eve's information afterwards, the positions of the key bits that went into
    post-processing and the public privacy-amplification seed (both public knowledge), and Eve's guesses of
    those key bits (aligned with ``key_index``).
    """

    true_qber: float = float("nan")
    eve_attacked_pairs: int = 0
    eve: EveGuess | None = field(default=None, repr=False)
    key_index: NDArray[np.intp] | None = field(default=None, repr=False)
    amplification_seed: NDArray[np.uint8] | None = field(default=None, repr=False)


@dataclass(slots=True)
class KeyRunResult:
    """Everything a key run found out, and the final keys if it produced any."""

    protocol: str
    pairs: int
    duration_s: float
    security: Security
    sifted_bits: int
    sample_bits: int
    qber: float
    qber_stderr: float
    phase_error: float
    phase_error_stderr: float
    chsh_s: float | None
    chsh_s_stderr: float | None
    key_fraction_trusted: float
    key_fraction_device_independent: float | None
    key_fraction_bound: float
    secure: bool
    abort_reason: str | None
    final_key_bits: int
    no_signalling: NoSignalling
    correlations: CorrelationTable
    alice_records: PartyRecord
    bob_records: PartyRecord
    leakage_by_kind: dict[str, int] = field(default_factory=dict)
    round_trips: int = 0
    observer: Observer = field(default_factory=Observer)
    alice_key: NDArray[np.uint8] | None = field(default=None, repr=False)
    bob_key: NDArray[np.uint8] | None = field(default=None, repr=False)
    key_length_method: KeyLength = "finite"
    qber_tolerance: float | None = None
    reconciler: str = "cascade"
    amplified_key_bits: int = 0
    """Privacy amplification's output; ``final_key_bits`` is what is left after refilling the tag keys."""
    authentication_key_bits: int = 0
    """Key bits the block spent on authentication tags (refilled from the amplified key)."""
    classical_time_s: float = 0.0
    """Simulated time of post-processing on the classical channel (round trips, processing, transmission)."""
    classical_bits: int = 0
    classical_messages: int = 0
    classical_flights: int = 0
    """Runs of consecutive messages in one direction (``round_trips`` is half of it), announcements included."""
    frames: int = 0
    """Frames the reconciled key was verified in (0: the run never reached verification)."""
    frames_dropped: int = 0
    """Frames whose verification tags differed: left out alone, their disclosed bits still charged."""

    @property
    def total_time_s(self) -> float:
        """Link time plus classical post-processing time."""
        return self.duration_s + self.classical_time_s

    @property
    def secret_key_rate_bps(self) -> float:
        """Final (net) key bits per second of simulated time: the link's and the classical channel's."""
        return self.final_key_bits / self.total_time_s if self.total_time_s > 0 else 0.0

    def summary(self) -> dict[str, object]:
        """The JSON-ready summary (no key material)."""

        def num(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {
            "protocol": self.protocol,
            "pairs": self.pairs,
            "duration_s": self.duration_s,
            "sifted_bits": self.sifted_bits,
            "sample_bits": self.sample_bits,
            "qber": num(self.qber),
            "qber_stderr": num(self.qber_stderr),
            "phase_error": num(self.phase_error),
            "phase_error_stderr": num(self.phase_error_stderr),
            "chsh_s": num(self.chsh_s),
            "chsh_s_stderr": num(self.chsh_s_stderr),
            "security": self.security,
            "key_fraction_trusted": num(self.key_fraction_trusted),
            "key_fraction_device_independent": num(self.key_fraction_device_independent),
            "key_fraction_bound": num(self.key_fraction_bound),
            "secure": self.secure,
            "abort_reason": self.abort_reason,
            "final_key_bits": self.final_key_bits,
            "secret_key_rate_bps": self.secret_key_rate_bps,
            "leakage_bits": self.leakage_by_kind,
            "round_trips": self.round_trips,
            "key_length": self.key_length_method,
            "qber_tolerance": num(self.qber_tolerance),
            "reconciler": self.reconciler,
            "amplified_key_bits": self.amplified_key_bits,
            "authentication_key_bits": self.authentication_key_bits,
            "classical_time_s": self.classical_time_s,
            "total_time_s": self.total_time_s,
            "classical_bits": self.classical_bits,
            "classical_messages": self.classical_messages,
            "frames": self.frames,
            "frames_dropped": self.frames_dropped,
            "no_signalling": {
                "bob_zero_frequency_by_alice_setting": [float(f) for f in self.no_signalling.bob_zero_frequency],
                "stderr": [float(e) for e in self.no_signalling.stderr],
                "chi2": self.no_signalling.chi2,
                "dof": self.no_signalling.dof,
                "p_value": self.no_signalling.p_value,
            },
            "observer": {
                "true_qber": num(self.observer.true_qber),
                "eve_attacked_pairs": self.observer.eve_attacked_pairs,
            },
        }


def measure_block(
    protocol: ProtocolSpec,
    states: PairStates,
    n_pairs: int,
    *,
    attack: Attack | None,
    rng_alice: np.random.Generator,
    rng_bob: np.random.Generator,
    rng_nature: np.random.Generator,
    rng_eve: np.random.Generator,
) -> tuple[PartyRecord, PartyRecord, EveGuess | None]:
    """Both parties pick settings independently and measure; Eve may attack on the way to Bob.

    After the settings are announced, Eve's record yields her guess of Alice's outcome on every pair.
    """
    sa = rng_alice.integers(0, len(protocol.alice_angles_deg), n_pairs, dtype=np.uint8)
    sb = rng_bob.integers(0, len(protocol.bob_angles_deg), n_pairs, dtype=np.uint8)
    angles = (protocol.alice_angles_deg, protocol.bob_angles_deg)
    if attack is None:
        x, y = sample_setting_outcomes(states, *angles, sa, sb, rng=rng_nature)
        return PartyRecord(sa, x), PartyRecord(sb, y), None
    hit = attack.attack(states, n_pairs, rng=rng_eve)
    x = np.empty(n_pairs, dtype=np.uint8)
    y = np.empty(n_pairs, dtype=np.uint8)
    for index, part in (
        (hit.untouched_index, hit.untouched_states),
        (hit.attacked_index, hit.attacked_states),
    ):
        if index.size:
            x[index], y[index] = sample_setting_outcomes(part, *angles, sa[index], sb[index], rng=rng_nature)
    alice_deg = np.asarray(protocol.alice_angles_deg)[sa]
    bob_deg = np.asarray(protocol.bob_angles_deg)[sb]
    eve = hit.record.guesses(alice_deg, bob_deg, x, y, rng=rng_eve)
    return PartyRecord(sa, x), PartyRecord(sb, y), eve


@dataclass(frozen=True, slots=True)
class SimulatedRecords:
    """Both parties' measurement logs of one run, plus what the simulator knows about it."""

    alice: PartyRecord
    bob: PartyRecord
    duration_s: float
    attacked_pairs: int
    eve: EveGuess | None = None
    """Eve's guesses of Alice's outcomes, one per pair (None without an attack)."""

    @property
    def pairs(self) -> int:
        return int(self.alice.settings.size)


def simulate_records(
    source: PairSource,
    protocol: ProtocolSpec,
    n_pairs: int,
    *,
    tree: SeedTree,
    attack: Attack | None = None,
    progress: ProgressCallback | None = None,
) -> SimulatedRecords:
    """Generate ``n_pairs`` heralded pairs block by block and measure them; keep only the parties' logs."""
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < 1:
        raise InvalidParameter(f"number of pairs must be a positive integer, got {n_pairs!r}")
    rngs = {name: tree.generator(name) for name in ("link", "alice", "bob", "nature", "eve")}
    a_settings, a_outcomes, b_settings, b_outcomes = [], [], [], []
    guesses: list[EveGuess] = []
    elapsed_ps = 0
    done = 0
    while done < n_pairs:
        # A link caps its blocks so that one block's attempt count stays inside int64 (10¹⁸ attempts).
        m = min(BLOCK_PAIRS, n_pairs - done, getattr(source, "max_pairs_per_block", BLOCK_PAIRS))
        block = source.generate(m, rng=rngs["link"])
        alice, bob, eve = measure_block(
            protocol,
            block.states,
            m,
            attack=attack,
            rng_alice=rngs["alice"],
            rng_bob=rngs["bob"],
            rng_nature=rngs["nature"],
            rng_eve=rngs["eve"],
        )
        elapsed_ps += block.last_herald_ps
        a_settings.append(alice.settings)
        a_outcomes.append(alice.outcomes)
        b_settings.append(bob.settings)
        b_outcomes.append(bob.outcomes)
        if eve is not None:
            guesses.append(eve)
        done += m
        if progress is not None:
            progress(done, n_pairs)
    eve_all = EveGuess.concatenate(guesses) if attack is not None else None
    return SimulatedRecords(
        alice=PartyRecord(np.concatenate(a_settings), np.concatenate(a_outcomes)),
        bob=PartyRecord(np.concatenate(b_settings), np.concatenate(b_outcomes)),
        duration_s=elapsed_ps * 1e-12,
        attacked_pairs=0 if eve_all is None else int(eve_all.attacked.sum()),
        eve=eve_all,
    )


def run_key_exchange(
    source: PairSource,
    protocol: ProtocolSpec,
    n_pairs: int,
    *,
    seed: int,
    config: KeyRunConfig | None = None,
    attack: Attack | None = None,
    progress: ProgressCallback | None = None,
) -> KeyRunResult:
    """Run one entanglement-based key exchange over ``n_pairs`` heralded pairs from ``source``.

    Returns the result with identical final keys for both parties, or with ``secure=False`` and an
    ``abort_reason`` and no key at all. An ``attack`` that also intercepts messages (an
    :class:`~qkdnet.postprocess.Interceptor`, like :class:`~qkdnet.attacks.ManInTheMiddle`) sits on the
    classical channel too. A run whose announcements fail reports the estimates the undisturbed
    announcements would have given (the parties computed none) and the failure as ``abort_reason``.
    """
    cfg = config or KeyRunConfig()
    if cfg.security == "device-independent" and not protocol.chsh_terms:
        raise InvalidParameter(f"device-independent security needs a CHSH test, which {protocol.name} lacks")
    tree = SeedTree(seed)
    records = simulate_records(source, protocol, n_pairs, tree=tree, attack=attack, progress=progress)
    channel = cfg.classical_channel or ClassicalChannel(one_way_delay_s=_classical_delay_s(source))
    interceptor = attack if isinstance(attack, Interceptor) else None
    tag_keys = _bootstrap_tag_keys(cfg, tree) if cfg.authenticate else None
    ends = None if tag_keys is None else (tag_keys[0].channel_end(block_id=0), tag_keys[1].channel_end(block_id=0))
    try:
        try:
            announced = announce(
                protocol,
                (records.alice.settings, records.alice.outcomes),
                (records.bob.settings, records.bob.outcomes),
                sample_fraction=cfg.sample_fraction,
                rng=tree.generator("bob", "sample"),
                channel=channel,
                ends=ends,
                interceptor=interceptor,
            )
        except (SecurityAbort, ProtocolError) as exc:
            if interceptor is None and not isinstance(exc, SecurityAbort):
                raise  # without Eve on the wire a protocol error is a bug: let it show
            result = assess(protocol, cfg, records, tree=tree).result
            result.key_length_method, result.reconciler = cfg.key_length_method, cfg.reconciler
            result.secure, result.abort_reason = False, _abort_text("the public announcements", exc)
            return result
        assessed = assess(protocol, cfg, records, tree=tree, public=announced.public)
        return distill(
            assessed,
            cfg,
            tree=tree,
            channel=channel,
            tag_keys=tag_keys,
            channel_ends=ends,
            interceptor=interceptor,
            announcements=announced.run,
        )
    finally:
        for end in ends or ():
            end.close()


def _abort_text(stage: str, exc: Exception) -> str:
    """The abort reason of a run stopped by ``exc`` during ``stage``: the error's kind is named."""
    if isinstance(exc, AuthenticationFailed | ProtocolError):
        return f"{type(exc).__name__} during {stage}: {exc}"
    return f"{stage}: {exc}"


def _classical_delay_s(source: PairSource) -> float:
    """One-way delay of a classical channel beside the quantum link: the fiber's (0 for ideal sources)."""
    return source.fiber.delay_s if isinstance(source, HeraldedLink) else 0.0


@dataclass(slots=True)
class Assessment:
    """The run after sifting and estimation: the verdict so far and what privacy amplification must remove."""

    result: KeyRunResult
    alice_key: NDArray[np.uint8] = field(repr=False)
    bob_key: NDArray[np.uint8] = field(repr=False)
    eve_information_bits: float
    sample_bits: int
    qber_for_reconciliation: float


def assess(
    protocol: ProtocolSpec,
    cfg: KeyRunConfig,
    records: SimulatedRecords,
    *,
    tree: SeedTree,
    public: PublicRecord | None = None,
) -> Assessment:
    """Sift, estimate QBER, phase error and S from disclosed data, and decide whether to go on.

    ``public`` is the record of the announcements (settings, sample, disclosed outcomes) the parties
    exchanged (:func:`~qkdnet.qkd.announce`); every estimate comes from it, by the same
    :func:`~qkdnet.qkd.sifting.estimate_from_disclosed` the node daemon's parties use. Without it, it is
    what honest announcements carry, with Bob's sample drawn from the tree. Only the keys themselves (each
    party's own undisclosed outcomes) and the observer's truth are read from ``records``.
    """
    if public is None:
        public = public_record(
            protocol,
            (records.alice.settings, records.alice.outcomes),
            (records.bob.settings, records.bob.outcomes),
            sample_fraction=cfg.sample_fraction,
            rng=tree.generator("bob", "sample"),
        )
    est = estimate_from_disclosed(protocol, cfg, public)
    n_a, n_b = len(protocol.alice_angles_deg), len(protocol.bob_angles_deg)
    # Bob's own check: his outcomes against Alice's announced settings
    signalling = no_signalling_test(n_a, n_b, public.alice_settings, records.bob.settings, records.bob.outcomes)
    s_est = est.chsh_s
    result = KeyRunResult(
        protocol=protocol.name,
        pairs=records.pairs,
        duration_s=records.duration_s,
        security=cfg.security,
        sifted_bits=est.sifted_bits,
        sample_bits=est.sample_bits,
        qber=est.qber.value,
        qber_stderr=est.qber.stderr,
        phase_error=est.phase.value,
        phase_error_stderr=est.phase.stderr,
        chsh_s=None if s_est is None else s_est.value,
        chsh_s_stderr=None if s_est is None else s_est.stderr,
        key_fraction_trusted=est.key_fraction_trusted,
        key_fraction_device_independent=est.key_fraction_device_independent,
        key_fraction_bound=est.key_fraction_bound,
        secure=False,
        abort_reason=est.abort_reason,
        final_key_bits=0,
        no_signalling=signalling,
        correlations=est.correlations,
        alice_records=records.alice,
        bob_records=records.bob,
    )
    key_index = est.key_index
    alice_key, bob_key = records.alice.outcomes[key_index], records.bob.outcomes[key_index]
    result.observer = Observer(
        true_qber=float(np.mean(alice_key != bob_key)) if key_index.size else float("nan"),
        eve_attacked_pairs=records.attacked_pairs,
        eve=None if records.eve is None else records.eve.take(key_index),
        key_index=key_index,
    )
    return Assessment(
        result, alice_key, bob_key, est.eve_information_bits, est.sample_bits, est.qber_for_reconciliation
    )


def distill(
    assessed: Assessment,
    cfg: KeyRunConfig,
    *,
    tree: SeedTree,
    channel: ClassicalChannel | None = None,
    tag_keys: tuple[PartyTagKeys, PartyTagKeys] | None = None,
    channel_ends: tuple[AuthenticatedChannelEnd, AuthenticatedChannelEnd] | None = None,
    interceptor: Interceptor | None = None,
    announcements: ChannelRun | None = None,
) -> KeyRunResult:
    """Reconcile, verify and amplify privacy, unless the assessment already aborted the run.

    The final length comes from the ledger (finite-key by default); with ``cfg.authenticate`` every
    message is sealed and the tag keys spent are refilled from the new key before it is handed out.
    ``channel`` (ideal if None) sets the classical channel's latency. ``tag_keys`` and ``channel_ends``
    continue the block the ``announcements`` were sealed in (without them a fresh bootstrap key opens
    one); the reported classical time, messages and round trips include the announcements'. An
    ``interceptor`` sits on the wire.
    """
    result = assessed.result
    result.key_length_method = cfg.key_length_method
    result.reconciler = cfg.reconciler
    if announcements is not None:
        _count_classical(result, announcements)
    if result.abort_reason is not None:
        return result
    ledger = LeakageLedger()
    ledger.record(ESTIMATION_SAMPLE, assessed.sample_bits, charged=False)
    try:
        rule = _key_length_rule(assessed, cfg)
    except SecurityAbort as exc:
        result.abort_reason = str(exc)
        return result
    if isinstance(rule, FiniteKeyLength):
        result.qber_tolerance = rule.qber_tolerance
    if cfg.authenticate and tag_keys is None:
        tag_keys, channel_ends = _bootstrap_tag_keys(cfg, tree), None
    try:
        processed = reconcile_and_amplify(
            assessed.alice_key,
            assessed.bob_key,
            qber_estimate=assessed.qber_for_reconciliation,
            key_length=rule,
            ledger=ledger,
            rng=tree.generator("postprocess"),
            eps_cor=cfg.eps_cor,
            reconciler=cfg.reconciler,
            channel=channel,
            tag_keys=tag_keys if cfg.authenticate else None,
            channel_ends=channel_ends if cfg.authenticate else None,
            interceptor=interceptor,
        )
    except NoSecretKey as exc:
        result.abort_reason = _no_key_reason(assessed, rule, ledger, exc)
        result.leakage_by_kind = ledger.by_kind()
        return result
    except PadExhausted as exc:
        result.abort_reason = f"post-processing: the authentication key reserve ran out ({exc})"
        result.leakage_by_kind = ledger.by_kind()
        return result
    except (SecurityAbort, ProtocolError) as exc:
        if interceptor is None and not isinstance(exc, SecurityAbort):
            raise  # without Eve on the wire a protocol error is a bug: let it show
        result.abort_reason = _abort_text("post-processing", exc)
        result.leakage_by_kind = ledger.by_kind()
        return result
    result.leakage_by_kind = ledger.by_kind()
    result.observer.amplification_seed = processed.amplification_seed
    _keep_observed(result.observer, processed.kept_positions)
    result.frames, result.frames_dropped = processed.frames, processed.frames_dropped
    _count_classical(result, ChannelRun(processed.transcript, processed.elapsed_s))
    result.amplified_key_bits = processed.amplified_bits
    result.authentication_key_bits = processed.authentication_key_bits
    result.alice_key = processed.alice_key
    result.bob_key = processed.bob_key
    result.final_key_bits = int(processed.alice_key.size)
    result.secure = True
    return result


def _keep_observed(observer: Observer, kept: NDArray[np.intp]) -> None:
    """Narrow the observer's key positions (and Eve's guesses) to the frames verification kept."""
    if observer.key_index is not None and kept.size != observer.key_index.size:
        observer.key_index = observer.key_index[kept]
        if observer.eve is not None:
            observer.eve = observer.eve.take(kept)


def _count_classical(result: KeyRunResult, run: ChannelRun) -> None:
    """Add what crossed the classical channel in ``run`` (one stage of the block) to the result's totals."""
    result.classical_flights += run.transcript.flights
    result.round_trips = result.classical_flights // 2
    result.classical_time_s += run.elapsed_s
    result.classical_bits += run.transcript.bits_sent
    result.classical_messages += run.transcript.messages


def _key_length_rule(assessed: Assessment, cfg: KeyRunConfig) -> KeyLengthRule:
    return key_length_rule(assessed.result.phase_error, assessed.eve_information_bits, cfg)


def key_length_rule(phase_error: float, eve_information_bits: float, cfg: KeyRunConfig) -> KeyLengthRule:
    """The finite-key rule on the estimated phase error (QberAboveThreshold above tolerance), or the asymptotic one.

    TLGR's test error is the key bits' error in the conjugate basis, i.e. their phase error, estimated
    on k disclosed bits (the ledger's estimation sample). For BBM92 that is what is measured; for E91
    the phase error comes from the fit to all disclosed correlators (CHSH pairs included), so using it
    with k = the sample is an approximation of the TLGR setting, not its theorem.
    """
    if cfg.key_length_method == "asymptotic":
        return AsymptoticKeyLength(eve_information_bits, cfg.eps_pa)
    if cfg.qber_tolerance is None:
        return FiniteKeyLength.adaptive(phase_error, eps_sec=cfg.eps_sec)
    if phase_error > cfg.qber_tolerance:
        raise QberAboveThreshold(
            f"phase error {100 * phase_error:.2f} % is above the tolerance {100 * cfg.qber_tolerance:.2f} %: "
            "the run aborts"
        )
    return FiniteKeyLength(cfg.qber_tolerance, cfg.eps_sec)


def postprocess_party(
    side: Side, estimate: PublicEstimate, key: NDArray[np.uint8], cfg: KeyRunConfig, *, rng: np.random.Generator
) -> PostprocessAlice | PostprocessBob:
    """One party's post-processing of a block after estimation, as :func:`distill` runs it for both.

    The ledger starts with the estimation sample, the final length follows :func:`key_length_rule` (which
    may raise QberAboveThreshold), the reconciler is ``cfg.reconciler``; ``rng`` is this party's public
    randomness. The node daemon drives the two returned parties over TCP.
    """
    ledger = LeakageLedger()
    ledger.record(ESTIMATION_SAMPLE, estimate.sample_bits, charged=False)
    rule = key_length_rule(estimate.phase.value, estimate.eve_information_bits, cfg)
    if side == "alice":
        return PostprocessAlice(
            key, ledger=ledger, rng=rng, key_length=rule, reconciler=cfg.reconciler, eps_cor=cfg.eps_cor
        )
    if side == "bob":
        return PostprocessBob(
            key,
            qber_estimate=estimate.qber_for_reconciliation,
            ledger=ledger,
            rng=rng,
            key_length=rule,
            reconciler=cfg.reconciler,
            eps_cor=cfg.eps_cor,
        )
    raise InvalidParameter(f"side must be 'alice' or 'bob', got {side!r}")


def _bootstrap_tag_keys(cfg: KeyRunConfig, tree: SeedTree) -> tuple[PartyTagKeys, PartyTagKeys]:
    """Both parties' copies of the pre-shared authentication key (shared out of band before the run)."""
    rng = tree.generator("preshared")
    bits = np.unpackbits(np.frombuffer(rng.bytes(cfg.bootstrap_key_bits // 8), dtype=np.uint8))
    return PartyTagKeys.from_preshared(bits, side="alice"), PartyTagKeys.from_preshared(bits.copy(), side="bob")


def _no_key_reason(assessed: Assessment, rule: KeyLengthRule, ledger: LeakageLedger, exc: NoSecretKey) -> str:
    """Why no key survives, in numbers: key bits, disclosure, what the bound removes, authentication."""
    n = int(assessed.alice_key.size)
    head = f"no secret key survives: of {n:,} key bits, error correction disclosed {ledger.charged_bits:,}"
    if isinstance(rule, FiniteKeyLength):
        mu = finite_key_mu(n, assessed.sample_bits, rule.eps_sec_per_choice)
        body = (
            f" and the finite-key bound allows for a phase error up to {100 * rule.qber_tolerance:.1f} % "
            f"+ {100 * mu:.1f} % (statistical margin from {assessed.sample_bits:,} test bits), "
            f"i.e. Eve may know {n * binary_entropy(min(0.5, rule.qber_tolerance + mu)):,.0f} bits"
        )
    else:
        eve = assessed.eve_information_bits
        body = f" and privacy amplification must remove {eve:,.0f} for Eve's possible information"
    return f"{head}{body}: {exc}"
