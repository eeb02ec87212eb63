"""Is Eve seen, and what does she keep? Detection statistics for key runs under attack.

For one run: Eve's information on the sifted key (the bits that went into post-processing) and on the final
key, measured by her guessing accuracy and by the plug-in mutual information between Alice's bits and Eve's
data, with its bias and a test of independence. On the final key Eve's guess is her best guess of the sifted
key hashed by the same public Toeplitz matrix (linear over GF(2): the hash of her guess is her guess of the
hash). For many runs: the abort rate with its interval, and the false-abort probability of an honest channel.

>>> round(QBER_THRESHOLD_TRUSTED, 5), round(QBER_THRESHOLD_DI, 4), round(S_THRESHOLD_DI, 3)
(0.11003, 0.0715, 2.424)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qkdnet.attacks import Attack, EveGuess
from qkdnet.errors import InvalidParameter
from qkdnet.postprocess import ESTIMATION_SAMPLE, modified_toeplitz_hash
from qkdnet.qkd.config import KeyRunConfig
from qkdnet.qkd.estimation import Estimate, chi2_survival, error_rate
from qkdnet.qkd.pipeline import KeyRunResult, PairSource, run_key_exchange
from qkdnet.qkd.protocols import ProtocolSpec
from qkdnet.qkd.security import TSIRELSON, device_independent_key_fraction, trusted_key_fraction

Bits = NDArray[np.uint8]


def _root(f: Callable[[float], float], low: float, high: float) -> float:
    """The zero of a function that changes sign once on [low, high] (bisection to machine precision)."""
    f_low = f(low)
    for _ in range(200):
        mid = (low + high) / 2
        if (f(mid) > 0) == (f_low > 0):
            low, f_low = mid, f(mid)
        else:
            high = mid
    return (low + high) / 2


#: QBER where Shor–Preskill's 1 − 2h(Q) reaches zero (trusted devices): ≈ 11.0 %.
QBER_THRESHOLD_TRUSTED = _root(lambda q: trusted_key_fraction(q, q), 0.01, 0.2)
#: QBER where the device-independent bound reaches zero on the Werner line S = 2√2(1 − 2Q): ≈ 7.15 %.
QBER_THRESHOLD_DI = _root(lambda q: device_independent_key_fraction(q, TSIRELSON * (1 - 2 * q)), 0.01, 0.14)
#: The CHSH value at that point: ≈ 2.424.
S_THRESHOLD_DI = TSIRELSON * (1 - 2 * QBER_THRESHOLD_DI)


@dataclass(frozen=True, slots=True)
class MutualInformation:
    """Plug-in estimate of I(X; Y) in bits per sample, with its first-order bias and a test of independence.

    ``bias_bits`` is Miller–Madow's (|X| − 1)(|Y| − 1)/(2N ln 2); ``stderr_bits`` the delta-method standard
    error (zero at independence, where the G-test applies: 2N ln 2 · Î ~ χ² with that many degrees of freedom).
    """

    plugin_bits: float
    bias_bits: float
    stderr_bits: float
    p_value: float
    samples: int

    @property
    def bits(self) -> float:
        """The bias-corrected estimate, clipped at 0."""
        return max(0.0, self.plugin_bits - self.bias_bits)


def mutual_information(x: Bits, y: NDArray[np.integer]) -> MutualInformation:
    """I(X; Y) between binary ``x`` and discrete labels ``y`` (same length), estimated from their counts."""
    if x.shape != y.shape or x.ndim != 1:
        raise InvalidParameter("mutual information needs two 1-D arrays of equal length")
    n = int(x.size)
    if n == 0:
        return MutualInformation(float("nan"), float("nan"), float("nan"), float("nan"), 0)
    labels, yi = np.unique(y, return_inverse=True)
    counts = np.bincount(x.astype(np.intp) * labels.size + yi, minlength=2 * labels.size).reshape(2, labels.size)
    p = counts / n
    px, py = p.sum(axis=1), p.sum(axis=0)
    nz = p > 0
    log_ratio = np.log2(p[nz] / np.outer(px, py)[nz])
    info = float(np.sum(p[nz] * log_ratio))
    var = max(0.0, float(np.sum(p[nz] * log_ratio**2)) - info**2) / n
    dof = int((px > 0).sum() - 1) * int((py > 0).sum() - 1)
    g_stat = 2.0 * n * math.log(2.0) * info
    p_value = chi2_survival(g_stat, dof) if dof > 0 else 1.0
    return MutualInformation(info, dof / (2.0 * n * math.log(2.0)), math.sqrt(var), p_value, n)


@dataclass(frozen=True, slots=True)
class EveInformation:
    """Eve's grip on a string of key bits: her guessing accuracy and her mutual information with it."""

    guess_accuracy: Estimate
    mutual_information: MutualInformation

    @property
    def bits(self) -> int:
        """How many key bits this was measured on."""
        return self.guess_accuracy.samples

    def beats_chance(self, sigmas: float = 5.0) -> bool:
        """Does Eve guess better than a coin by more than ``sigmas`` standard deviations (½/√n each)?"""
        n = self.bits
        return n > 0 and self.guess_accuracy.value - 0.5 > sigmas * 0.5 / math.sqrt(n)


def eve_information(truth: Bits, guess: Bits, confidence: NDArray[np.float64] | None = None) -> EveInformation:
    """Eve's accuracy guessing ``truth`` and her information, I(truth; guess, confidence class)."""
    if truth.shape != guess.shape:
        raise InvalidParameter("Eve's guess must have one bit per key bit")
    err = error_rate(truth, guess)
    accuracy = Estimate(1.0 - err.value, err.stderr, err.samples)
    labels = guess.astype(np.int64)
    if confidence is not None and confidence.size:
        _, cls = np.unique(np.round(confidence, 9), return_inverse=True)
        labels = labels + 2 * cls.astype(np.int64)
    return EveInformation(accuracy, mutual_information(truth, labels))


@dataclass(frozen=True, slots=True)
class EveReport:
    """Eve's information on the sifted key, on its bits from pairs she attacked, and on the final key.

    ``final`` is None when the run handed out no key. ``privacy_margin_bits`` counts what privacy amplification
    removed beyond what Eve was measured to know: key bits − Eve's information on them (at its 3σ upper
    bound) − bits disclosed by error correction and verification − privacy amplification's output (the final
    key plus the bits that refilled the tag-key reserves, which must be as secret). A hashed guess is at chance
    even when too little was removed, so this is the check on the final length; it must not be negative.
    """

    sifted: EveInformation
    intercepted: EveInformation
    final: EveInformation | None
    privacy_margin_bits: float | None = None


def eve_guess_of_final_key(result: KeyRunResult) -> Bits | None:
    """Eve's best guess of the sifted key, hashed like the key was (None if no final key).

    Privacy amplification hashed the key to ``amplified_key_bits`` bits with the public seed; the first
    ``authentication_key_bits`` of them refilled the tag-key reserves and the rest is the final key, so Eve's
    guess goes through the same hash and the same cut.
    """
    obs = result.observer
    if result.alice_key is None or obs.eve is None or obs.key_index is None or obs.amplification_seed is None:
        return None
    hashed = modified_toeplitz_hash(obs.eve.guess, obs.amplification_seed, result.amplified_key_bits)
    return hashed[result.authentication_key_bits :]


def eve_report(result: KeyRunResult) -> EveReport:
    """What Eve knows about this run's keys; the run must have had an attack (``attack=``)."""
    obs = result.observer
    if obs.eve is None or obs.key_index is None:
        raise InvalidParameter("this run had no eavesdropper: pass attack= to run_key_exchange")
    sifted_truth = result.alice_records.outcomes[obs.key_index]
    eve: EveGuess = obs.eve
    hit = eve.attacked
    sifted = eve_information(sifted_truth, eve.guess, eve.confidence)
    final, margin = None, None
    final_guess = eve_guess_of_final_key(result)
    if final_guess is not None and result.alice_key is not None:
        final = eve_information(result.alice_key, final_guess)
        mi = sifted.mutual_information
        eve_bits = sifted.bits * min(1.0, mi.bits + 3.0 * mi.stderr_bits)
        disclosed = sum(bits for kind, bits in result.leakage_by_kind.items() if kind != ESTIMATION_SAMPLE)
        margin = sifted.bits - eve_bits - disclosed - result.amplified_key_bits
    return EveReport(
        sifted=sifted,
        intercepted=eve_information(sifted_truth[hit], eve.guess[hit], eve.confidence[hit]),
        final=final,
        privacy_margin_bits=margin,
    )


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def eve_summary(report: EveReport) -> dict[str, object]:
    """Eve's information as flat JSON-ready fields (bits per key bit, guessing accuracies) plus the details."""

    def detail(info: EveInformation | None) -> dict[str, object] | None:
        if info is None:
            return None
        mi = info.mutual_information
        return {
            "bits": info.bits,
            "guess_accuracy": _num(info.guess_accuracy.value),
            "guess_accuracy_stderr": _num(info.guess_accuracy.stderr),
            "beats_chance_5_sigma": info.beats_chance(5.0),
            "mutual_information_plugin_bits": _num(mi.plugin_bits),
            "mutual_information_bias_bits": _num(mi.bias_bits),
            "mutual_information_stderr_bits": _num(mi.stderr_bits),
            "independence_p_value": _num(mi.p_value),
        }

    final = report.final
    return {
        "eve_information_sifted_bits_per_bit": _num(report.sifted.mutual_information.bits),
        "eve_information_final_bits_per_bit": None if final is None else _num(final.mutual_information.bits),
        "eve_guess_accuracy_sifted": _num(report.sifted.guess_accuracy.value),
        "eve_guess_accuracy_final": None if final is None else _num(final.guess_accuracy.value),
        "eve_privacy_margin_bits": _num(report.privacy_margin_bits),
        "eve": {
            "sifted": detail(report.sifted),
            "intercepted_sifted": detail(report.intercepted),
            "final": detail(final),
        },
    }


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % for z = 1.96); (0, 1) with no trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _inverse_entropy(y: NDArray[np.float64]) -> NDArray[np.float64]:
    """x in [0, 1/2] with h(x) = y, elementwise (y clipped to [0, 1]); by bisection."""
    target = np.clip(y, 0.0, 1.0)
    low, high = np.zeros_like(target), np.full_like(target, 0.5)
    for _ in range(60):
        mid = (low + high) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            h_mid = np.nan_to_num(-mid * np.log2(mid) - (1 - mid) * np.log2(1 - mid))
        below = h_mid < target
        low = np.where(below, mid, low)
        high = np.where(below, high, mid)
    return (low + high) / 2


def false_abort_probability(
    qber: float,
    sample_bits: int,
    *,
    phase_error: float | None = None,
    phase_error_stderr: float | None = None,
) -> float:
    """Probability that an honest channel of true bit error ``qber`` is aborted by the trusted-device decision.

    The run aborts when 1 − h(ê_bit) − h(ê_phase) ≤ 0. ê_bit is Binomial(k, Q)/k over the ``sample_bits``
    disclosed key bits. Without ``phase_error`` the phase error is that of a symmetric channel estimated from
    the same kind of sample (BBM92: the other basis), so to first order the run aborts when ê_bit crosses
    11.0 %. With it (E91, whose phase error is fitted from all disclosed pairs), ê_phase is taken as normal
    with the given standard error. A model of the decision, checked against the abort rate over seeds.
    """
    from scipy.stats import binom, norm

    if not 0.0 <= qber <= 1.0 or isinstance(sample_bits, bool) or sample_bits < 1:
        raise InvalidParameter(f"need a QBER in [0, 1] and at least one sample bit, got {qber!r}, {sample_bits!r}")
    if phase_error is None:
        return float(binom.sf(math.floor(QBER_THRESHOLD_TRUSTED * sample_bits), sample_bits, qber))
    if not 0.0 <= phase_error <= 1.0 or phase_error_stderr is None or not phase_error_stderr >= 0.0:
        raise InvalidParameter("phase error must be in [0, 1], with a standard error >= 0")
    j = np.arange(sample_bits + 1)
    q_hat = j / sample_bits
    with np.errstate(divide="ignore", invalid="ignore"):
        h_bit = np.nan_to_num(-q_hat * np.log2(q_hat) - (1 - q_hat) * np.log2(1 - q_hat))
    limit = _inverse_entropy(1.0 - h_bit)  # the phase error at which this bit error rate leaves no key
    if phase_error_stderr == 0.0:
        p_abort = (phase_error >= limit).astype(np.float64)
    else:
        p_abort = norm.sf(limit, loc=phase_error, scale=phase_error_stderr)
    p_abort = np.where(q_hat > 0.5, 1.0, p_abort)
    return float(np.sum(binom.pmf(j, sample_bits, qber) * p_abort))


@dataclass(frozen=True, slots=True)
class DetectionPoint:
    """One attack strength over several seeds: what Alice and Bob saw, how often they aborted, what Eve kept."""

    strength: float
    runs: int
    qber: Estimate
    chsh_s: Estimate | None
    aborts: int
    final_key_bits: int
    eve_sifted: EveInformation
    eve_intercepted: EveInformation
    eve_final: EveInformation | None
    """Pooled over the runs that handed out a key (None if every run aborted)."""
    privacy_margin_bits: float | None = None
    """The smallest :attr:`EveReport.privacy_margin_bits` of the runs that handed out a key."""

    @property
    def abort_rate(self) -> float:
        return self.aborts / self.runs

    @property
    def abort_interval(self) -> tuple[float, float]:
        """95 % Wilson interval of the abort rate."""
        return wilson_interval(self.aborts, self.runs)

    def summary(self) -> dict[str, object]:
        """JSON-ready fields of the point."""
        low, high = self.abort_interval
        return {
            "strength": self.strength,
            "runs": self.runs,
            "qber": _num(self.qber.value),
            "qber_stderr": _num(self.qber.stderr),
            "chsh_s": None if self.chsh_s is None else _num(self.chsh_s.value),
            "chsh_s_stderr": None if self.chsh_s is None else _num(self.chsh_s.stderr),
            "abort_rate": self.abort_rate,
            "abort_rate_95": [low, high],
            "final_key_bits": self.final_key_bits,
            **eve_summary(EveReport(self.eve_sifted, self.eve_intercepted, self.eve_final, self.privacy_margin_bits)),
        }


def _mean(values: list[float], stderrs: list[float]) -> Estimate:
    m = len(values)
    return Estimate(float(np.mean(values)), math.sqrt(float(np.mean(np.square(stderrs)))) / math.sqrt(m), m)


_Sample = tuple[Bits, Bits, NDArray[np.float64] | None]


def _pooled(parts: list[_Sample]) -> EveInformation:
    truth = np.concatenate([t for t, _, _ in parts])
    guess = np.concatenate([g for _, g, _ in parts])
    conf = [c for _, _, c in parts]
    confidence = None if any(c is None for c in conf) else np.concatenate([c for c in conf if c is not None])
    return eve_information(truth, guess, confidence)


def detection_point(strength: float, results: Sequence[KeyRunResult]) -> DetectionPoint:
    """Pool runs of one attack strength (each with an attack) into one point."""
    if not results:
        raise InvalidParameter("a detection point needs at least one run")
    sifted: list[_Sample] = []
    hit: list[_Sample] = []
    final: list[_Sample] = []
    margins = [m for r in results if r.secure and (m := eve_report(r).privacy_margin_bits) is not None]
    for r in results:
        obs = r.observer
        if obs.eve is None or obs.key_index is None:
            raise InvalidParameter("every run of a detection point must have had an attack")
        truth = r.alice_records.outcomes[obs.key_index]
        eve = obs.eve
        sifted.append((truth, eve.guess, eve.confidence))
        hit.append((truth[eve.attacked], eve.guess[eve.attacked], eve.confidence[eve.attacked]))
        final_guess = eve_guess_of_final_key(r)
        if final_guess is not None and r.alice_key is not None:
            final.append((r.alice_key, final_guess, None))
    s_pairs = [(r.chsh_s, r.chsh_s_stderr) for r in results if r.chsh_s is not None and r.chsh_s_stderr is not None]
    return DetectionPoint(
        strength=float(strength),
        runs=len(results),
        qber=_mean([r.qber for r in results], [r.qber_stderr for r in results]),
        chsh_s=_mean([v for v, _ in s_pairs], [e for _, e in s_pairs]) if s_pairs else None,
        aborts=sum(not r.secure for r in results),
        final_key_bits=sum(r.final_key_bits for r in results),
        eve_sifted=_pooled(sifted),
        eve_intercepted=_pooled(hit),
        eve_final=_pooled(final) if final else None,
        privacy_margin_bits=min(margins) if margins else None,
    )


def detection_sweep(
    build: Callable[[float], Attack],
    strengths: Sequence[float],
    *,
    source: PairSource,
    protocol: ProtocolSpec,
    n_pairs: int,
    seeds: Sequence[int],
    config: KeyRunConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[DetectionPoint]:
    """Run the attack ``build(strength)`` at every strength with every seed; one point per strength."""
    if not strengths or not seeds:
        raise InvalidParameter("a sweep needs at least one strength and one seed")
    points = []
    total, done = len(strengths) * len(seeds), 0
    for s in strengths:
        runs = []
        for seed in seeds:
            runs.append(run_key_exchange(source, protocol, n_pairs, seed=seed, config=config, attack=build(s)))
            done += 1
            if progress is not None:
                progress(done, total)
        points.append(detection_point(s, runs))
    return points


__all__ = [
    "QBER_THRESHOLD_DI",
    "QBER_THRESHOLD_TRUSTED",
    "S_THRESHOLD_DI",
    "DetectionPoint",
    "EveInformation",
    "EveReport",
    "MutualInformation",
    "detection_point",
    "detection_sweep",
    "eve_guess_of_final_key",
    "eve_information",
    "eve_report",
    "eve_summary",
    "false_abort_probability",
    "mutual_information",
    "wilson_interval",
]
