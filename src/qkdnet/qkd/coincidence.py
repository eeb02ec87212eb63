"""Coincidence finding on two time-tag streams: which of Alice's clicks and Bob's clicks came from one pair.

Each side's time tagger runs on its own clock, so Bob's tag of a pair is Alice's plus an unknown offset (up to
seconds) and jitter (tens to hundreds of ps), among uncorrelated clicks (dark counts, lost partners). Only the
times are used, never outcomes, so this runs on what the protocol lets cross the channel.

:func:`find_offset` locates the offset from scratch in two stages, as qcrypto's ``pfind`` does: a coarse FFT
cross-correlation of the two streams binned *folded* (time modulo ``bins × bin width``, which keeps the
transform short however long the streams are, and finds the offset modulo that period), then a fine histogram of
the differences to each Alice click's nearest shifted Bob clicks within one coarse bin. The peak's width
sets the coincidence window; the flat floor of the fine histogram gives the accidental rate.
:func:`match` pairs the clicks up in that window. Everything is vectorised (sorting and ``searchsorted``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from qkdnet.errors import InvalidParameter
from qkdnet.units import ps_to_seconds, seconds_to_ps

Tags = npt.NDArray[np.int64]

#: Folded bins of the coarse cross-correlation (a power of two: one real FFT of this length per stream).
COARSE_BINS = 1 << 20
#: Fine bins across one coarse bin: the resolution of the offset and of the window.
FINE_BINS = 4096
#: Mean excess counts per bin of the peak below which :func:`find_offset` stops zooming in: finer bins would
#: cut the peak's tails at the 3σ threshold and underestimate the jitter and the window.
MIN_PEAK_COUNTS = 25
#: Alice's first piece for acquiring the coarse lag under drift (:func:`find_clock`), and the peak's height
#: over the correlation's runner-up, in the runner-up's standard deviations, that ends the search for a longer
#: piece (the runner-up of 10⁶ lags stands ~5 σ above the floor itself).
ACQUIRE_PIECE_S = 0.02
ACQUIRE_SIGNIFICANCE = 8.0
#: How far (ps) a segment's peak may be found off its centre beyond the drift's smear: a few bins of jitter.
PEAK_FINDING_PS = 2_000
#: How far above the floor (its standard deviations) the best of :func:`_scan_drift`'s histograms must stand:
#: the highest of ~10⁶ cells of noise alone stands about 5.
SCAN_SIGNIFICANCE = 7.0
#: How far above the floor, in its standard deviations, a segment's coincidences should stand: a first segment
#: whose peak stands lower is lengthened (a heavy floor of dark counts needs more than the 2 ms of clean streams).
SEGMENT_SIGNIFICANCE = 10.0
#: Half-width of the side bands where the accidental floor is counted, in coincidence windows.
SIDE_BAND_WINDOWS = 64
#: How far around the carried fit (in coincidence windows) :class:`ClockTracker` looks for the next block's peak.
TRACK_REACH_WINDOWS = 16
#: Least-squares rounds of :func:`find_clock` at most (each matches more pairs with a narrower peak).
MAX_DRIFT_ROUNDS = 4


@dataclass(frozen=True, slots=True)
class OffsetEstimate:
    """Where Bob's clicks of a pair sit relative to Alice's, and how clearly.

    ``offset_ps``: Bob's tag minus Alice's tag of one pair (the peak's centre); ``window_ps``: the full width
    of the coincidence window (±3 jitter σ, or the peak's extent if wider); ``jitter_ps``: the peak's standard
    deviation; ``accidental_density``: accidental coincidences over the whole streams per ps of window (counted
    in side bands off the peak);
    ``significance``: the peak's excess over that floor, in standard deviations of the floor.
    """

    offset_ps: int
    window_ps: int
    jitter_ps: float
    accidental_density: float
    significance: float


@dataclass(frozen=True, slots=True)
class Coincidences:
    """Matched clicks (indices into each stream, one Bob click at most per Alice click) and the rates."""

    alice_index: npt.NDArray[np.intp]
    bob_index: npt.NDArray[np.intp]
    duration_s: float
    alice_singles: int
    bob_singles: int
    accidentals_expected: float

    @property
    def rate_hz(self) -> float:
        """Coincidences per second of the overlap of the two streams."""
        return self.alice_index.size / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def accidental_rate_hz(self) -> float:
        """Expected accidental coincidences per second in the window (from the off-peak floor)."""
        return self.accidentals_expected / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def heralding_efficiency(self) -> tuple[float, float]:
        """(Alice's, Bob's): coincidences over the *other* side's singles, accidentals taken out."""
        true = max(0.0, self.alice_index.size - self.accidentals_expected)
        return (true / max(1, self.bob_singles), true / max(1, self.alice_singles))


def _tags(values: object, name: str) -> Tags:
    tags = np.asarray(values)
    if tags.ndim != 1 or tags.size < 2 or not np.issubdtype(tags.dtype, np.integer):
        raise InvalidParameter(f"{name} must be a 1-D array of at least 2 integer time tags (ps)")
    tags = tags.astype(np.int64, copy=False)
    if np.any(np.diff(tags) < 0):
        raise InvalidParameter(f"{name} must be sorted in time")
    return tags


def _folded_spectrum(tags: Tags, bin_ps: int) -> npt.NDArray[np.complex64]:
    """The real FFT of the tags' counts binned *folded*: bin (t // bin) mod :data:`COARSE_BINS`.

    Single precision: the correlation's rounding (~10⁻⁷ of its largest terms, a fraction of a count) is far
    below the floor's Poisson spread, and the transforms take half the time."""
    from scipy import fft

    counts = np.bincount((tags // bin_ps) & (COARSE_BINS - 1), minlength=COARSE_BINS).astype(np.float32)
    spectrum: npt.NDArray[np.complex64] = fft.rfft(counts)
    return spectrum


def _coarse_offset(
    alice: Tags, bob: Tags, bin_ps: int, bob_spectrum: npt.NDArray[np.complex64] | None = None
) -> tuple[int, float, int]:
    """The lag (ps, a multiple of ``bin_ps``, in ±half the folded period) that best aligns Bob's folded counts,
    how far the correlation's maximum stands above the runner-up, in its standard deviations, and the peak's
    extent in bins (a drift smears it over several). ``bob_spectrum``: Bob's folded spectrum, if known."""
    from scipy import fft

    b = _folded_spectrum(bob, bin_ps) if bob_spectrum is None else bob_spectrum
    correlation = fft.irfft(np.conj(_folded_spectrum(alice, bin_ps)) * b, COARSE_BINS)  # c[k] = Σ a[i]·b[i+k]
    lag = int(np.argmax(correlation))
    # Against the runner-up away from the peak, not the median: a stream shorter than the folded period
    # correlates in a plateau as wide as itself, and its highest noise there is no peak.
    others = correlation.copy()
    others[(lag + np.arange(-2, 3)) % COARSE_BINS] = -np.inf
    runner_up = float(others.max())
    significance = (float(correlation[lag]) - runner_up) / math.sqrt(max(runner_up, 1.0))
    near = correlation[(lag + np.arange(-64, 65)) % COARSE_BINS]
    floor = float(np.median(near))
    above = near > floor + 4.0 * math.sqrt(max(floor, 1.0))
    extent = 1 + int(np.argmin(above[65:])) + int(np.argmin(above[:64][::-1]))  # the run of high bins at the lag
    return (lag if lag < COARSE_BINS // 2 else lag - COARSE_BINS) * bin_ps, significance, extent


def _acquire(alice: Tags, bob: Tags, bin_ps: int, max_offset_ps: int) -> tuple[int, int]:
    """The coarse lag at the start of the streams, from the shortest piece of Alice's stream there whose peak
    stands out (:data:`ACQUIRE_SIGNIFICANCE`), against Bob's clicks that could be its partners.

    A drifting clock smears a long piece's peak over many bins, while a piece's folded floor grows only with
    the square root of its length: the first piece is :data:`ACQUIRE_PIECE_S` long, and each next one four
    times longer, up to the whole streams. Returns the lag and how far (ps) the offset at the start may be
    from it: two bins and the extent of the peak, which a drift smears over the offsets of the whole piece.
    """
    piece = seconds_to_ps(ACQUIRE_PIECE_S)
    spectra: dict[tuple[int, int], npt.NDArray[np.complex64]] = {}  # Bob's, often the same slice for every piece
    while True:
        whole = piece >= alice[-1] - alice[0]
        part = alice if whole else alice[: np.searchsorted(alice, alice[0] + piece)]
        lo, hi = np.searchsorted(bob, [part[0] - max_offset_ps - bin_ps, part[-1] + max_offset_ps + bin_ps])
        key = (int(lo), int(hi))
        if key not in spectra:
            spectra[key] = _folded_spectrum(bob[lo:hi], bin_ps)
        lag, significance, extent = _coarse_offset(part, bob[lo:hi], bin_ps, spectra[key])
        if whole or significance >= ACQUIRE_SIGNIFICANCE:
            return lag, (extent + 2) * bin_ps
        piece *= 4


def _window_bounds(bob: Tags, alice: Tags, low: int, high: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """For each Alice click, the range of Bob's clicks within ``[a + low, a + high]`` (``np.searchsorted``
    left and right), by one compiled merge pass over both sorted streams."""
    from qkdnet.qkd.coincidence_kernels import window_bounds

    lo, hi = window_bounds(bob, alice, low, high)
    return lo, hi


def _differences(alice: Tags, bob: Tags, centre: int, half_width: int) -> Tags:
    """Every Bob − Alice difference within ``centre ± half_width`` (each Alice click with each Bob click there)."""
    return _differences_of(alice, bob, centre, half_width)[0]


def _differences_of(alice: Tags, bob: Tags, centre: int, half_width: int) -> tuple[Tags, npt.NDArray[np.intp]]:
    """:func:`_differences` and, for each, the index of its Alice click."""
    lo, hi = _window_bounds(bob, alice, centre - half_width, centre + half_width)
    counts = hi - lo
    owners = np.repeat(np.arange(alice.size), counts)
    starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
    partners = starts + np.arange(owners.size)
    return bob[partners] - alice[owners], owners


def find_offset(
    alice_ps: object, bob_ps: object, *, max_offset_ps: int, coarse_bin_ps: int | None = None
) -> OffsetEstimate:
    """Bob's clock offset from Alice's (ps) from scratch, with the window and the accidental floor.

    ``max_offset_ps`` bounds |offset|; the folded coarse period is made twice that, so the default coarse bin
    is ``2·max_offset_ps / COARSE_BINS`` (at least 1 ps). Raises InvalidParameter when no peak stands out of
    the floor (fewer than 5 standard deviations): streams with no common pairs, or too short.
    """
    alice, bob = _tags(alice_ps, "alice_ps"), _tags(bob_ps, "bob_ps")
    bin_ps = _coarse_bin(max_offset_ps, coarse_bin_ps)
    estimate = _refine(alice, bob, _coarse_offset(alice, bob, bin_ps)[0], 2 * bin_ps)  # the truth is within a bin
    return replace(estimate, accidental_density=_floor_density(alice, bob, estimate))


def _coarse_bin(max_offset_ps: int, coarse_bin_ps: int | None) -> int:
    if max_offset_ps <= 0:
        raise InvalidParameter(f"max_offset_ps must be positive, got {max_offset_ps}")
    bin_ps = coarse_bin_ps or max(1, math.ceil(2 * max_offset_ps / COARSE_BINS))
    if bin_ps <= 0 or COARSE_BINS * bin_ps < 2 * max_offset_ps:
        raise InvalidParameter(
            f"coarse_bin_ps {bin_ps} folds over {COARSE_BINS * bin_ps} ps, less than twice max_offset_ps"
        )
    return bin_ps


def _refine(alice: Tags, bob: Tags, centre: int, half: int, *, min_bin_ps: int = 1) -> OffsetEstimate:
    """The peak of Bob − Alice within ``centre ± half``, zooming in until a fine bin is 1 ps or an eighth of it.

    A zoom that keeps less than half of the peak's excess counts went astray (a broad peak, smeared by an
    uncorrected drift, breaks up into noisy spikes at fine bins): the wider view is kept then. ``min_bin_ps``
    bounds the first histogram's bins from below by the width the peak is expected to have (a drift's smear),
    so that a sparse peak is not split into bins of a count or two that no longer stand out of the floor.
    """
    differences = _differences(alice, bob, centre, half)
    widest: OffsetEstimate | None = None
    kept: tuple[OffsetEstimate, float] | None = None
    while True:
        bins = FINE_BINS if widest else max(16, min(FINE_BINS, 2 * half // max(1, min_bin_ps)))
        estimate, extent, excess = _fine_peak(differences, centre, half, bins, require_peak=widest is None)
        widest = widest or estimate  # its bins are widest, so its floor counts the accidentals best
        if kept is not None and excess < 0.5 * kept[1]:
            estimate = kept[0]
            break
        kept = (estimate, excess)
        zoomed = max(4 * extent, FINE_BINS // 2)
        peak_bins = max(1.0, extent * bins / (2 * half))
        if zoomed >= half or excess / peak_bins < MIN_PEAK_COUNTS:  # finer bins would only add noise
            break
        centre, half = estimate.offset_ps, zoomed
        differences = differences[np.abs(differences - centre) <= half]  # a subset of the wider range's
    return replace(estimate, accidental_density=widest.accidental_density)


def _fine_peak(
    differences: Tags, centre: int, half: int, bins: int, *, require_peak: bool
) -> tuple[OffsetEstimate, int, float]:
    """The peak of the differences' histogram over ``centre ± half`` in ``bins`` bins, its extent and its
    excess counts over the floor."""
    fine_bin = 2 * half / bins
    counts, edges = np.histogram(differences, bins=bins, range=(centre - half, centre + half))
    floor = float(np.median(counts))
    peak = int(np.argmax(counts))
    spread = math.sqrt(max(floor, 1.0))
    pairs = counts[1:] + counts[:-1]  # a narrow peak split over two bins stands out as their sum
    significance = max(counts[peak] - floor, (float(pairs.max()) - 2.0 * floor) / math.sqrt(2.0)) / spread
    if require_peak and significance < 5.0:
        raise InvalidParameter(
            f"no coincidence peak: the highest bin stands {significance:.1f} standard deviations above the floor "
            "(no common pairs, too few clicks, or an offset beyond max_offset_ps)"
        )
    # The peak: the contiguous bins around the maximum that stand 3 σ above the floor.
    above = counts > floor + 3.0 * spread
    left = peak
    while left > 0 and above[left - 1]:
        left -= 1
    right = peak
    while right < bins - 1 and above[right + 1]:
        right += 1
    centres = (edges[left : right + 1] + edges[left + 1 : right + 2]) / 2.0
    excess = np.clip(counts[left : right + 1] - floor, 0.0, None) + 1e-12
    mean = float(np.average(centres, weights=excess))
    # The spread from the bins the peak covers and as many again either side, floor subtracted (the 3σ
    # threshold that found the peak cuts the tails of a sparse one, and their weight is in the variance).
    width = right - left + 1
    lo, hi = max(0, left - width), min(bins, right + 1 + width)
    around = (edges[lo:hi] + edges[lo + 1 : hi + 1]) / 2.0
    weights = counts[lo:hi] - floor
    total = float(weights.sum())
    second = float(np.dot(weights, (around - mean) ** 2)) / total if total > 0 else 0.0
    jitter = math.sqrt(max(second, float(np.average((centres - mean) ** 2, weights=excess))))
    extent = max(1, math.ceil(edges[right + 1] - edges[left]))
    estimate = OffsetEstimate(
        offset_ps=round(mean),
        window_ps=max(extent, math.ceil(6.0 * jitter)),  # ±3σ: 99.7 % of Gaussian jitter
        jitter_ps=jitter,
        accidental_density=floor / fine_bin,
        significance=float(significance),
    )
    return estimate, extent, float(excess.sum())


@dataclass(frozen=True, slots=True, eq=False)
class ClockFit:
    """Bob's clock against Alice's: ``bob ≈ alice + offset_ps + drift·(alice − origin_ps) + wander(alice)``,
    and the peak found once Bob's tags are corrected (its ``offset_ps`` is the offset at ``origin_ps``).

    ``wander_ps`` is the slow random walk of the clocks beyond the line, at Alice times ``knots_ps``
    (linear in between, held flat past the ends); empty when only the line was fitted.
    """

    origin_ps: int
    drift: float
    estimate: OffsetEstimate
    knots_ps: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    wander_ps: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def offset_at(self, alice_ps: int) -> int:
        """Bob's clock minus Alice's when hers reads ``alice_ps`` (line and wander; the wander held flat past
        its last knot, so this extrapolates a fit into the next block)."""
        wander = float(np.interp(alice_ps, self.knots_ps, self.wander_ps)) if self.knots_ps.size else 0.0
        return round(self.estimate.offset_ps + self.drift * (alice_ps - self.origin_ps) + wander)

    def to_alice_clock(self, bob_ps: object) -> Tags:
        """Bob's tags with the drift and the wander taken out (the offset stays): what :func:`match` pairs."""
        linear = _detrend(_tags(bob_ps, "bob_ps"), self.drift, self.estimate.offset_ps, self.origin_ps)
        if self.knots_ps.size == 0:
            return linear
        wander = np.interp(linear - self.estimate.offset_ps, self.knots_ps, self.wander_ps)
        corrected: Tags = linear - np.rint(wander).astype(np.int64)
        return corrected


def _detrend(bob: Tags, drift: float, offset_ps: int, origin_ps: int) -> Tags:
    """``bob − drift·(alice − origin)`` for Bob's tags of pairs, where ``alice − origin`` is
    ``(bob − offset − origin)/(1 + drift)``."""
    shifted: Tags = bob - np.rint(drift / (1.0 + drift) * (bob - offset_ps - origin_ps)).astype(np.int64)
    return shifted


def find_clock(
    alice_ps: object,
    bob_ps: object,
    *,
    max_offset_ps: int,
    max_drift_ppm: float = 50.0,
    segment_s: float = 0.002,
    knot_s: float = 0.01,
) -> ClockFit:
    """Offset, linear drift and wander of Bob's clock (rate errors of parts per million move the offset by µs
    per second, far more than a window), from scratch:

    1. the coarse lag at the start, by folded FFT cross-correlation (:func:`_acquire`);
    2. offset and rough drift on a first segment of ``segment_s``, by a scan of every drift up to
       ``max_drift_ppm`` (:func:`_scan_drift`); a segment whose peak stands under
       :data:`SEGMENT_SIGNIFICANCE` σ (a heavy floor of dark counts) is lengthened;
    3. the drift line from segments ever farther along Alice's stream, each searched where the line so far
       allows (:func:`_hop`), then least squares over the pairs of the whole streams;
    4. the clocks' random walk beyond the line, in steps of ``knot_s`` (each needs some tens of coincidences).

    The estimate's accidental density is measured off the peak (:func:`_floor_density`)."""
    alice, bob = _tags(alice_ps, "alice_ps"), _tags(bob_ps, "bob_ps")
    span = seconds_to_ps(segment_s)
    if span <= 0 or alice[-1] - alice[0] < 4 * span:
        raise InvalidParameter(f"segment_s {segment_s} must be positive and under a quarter of the streams' span")
    if not 0.0 < max_drift_ppm < 1e4:
        raise InvalidParameter(f"max_drift_ppm must be in (0, 10⁴), got {max_drift_ppm!r}")
    bin_ps = _coarse_bin(max_offset_ps, None)
    lag, lag_error = _acquire(alice, bob, bin_ps, max_offset_ps)
    longest = int(alice[-1] - alice[0]) // 8
    while True:
        origin, offset, drift, significance = _scan_drift(alice, bob, lag, lag_error, span, max_drift_ppm)
        if significance >= SEGMENT_SIGNIFICANCE or span >= longest:
            break
        # With bins of fixed width, a peak's significance grows as the square root of the segment's length.
        span = min(longest, math.ceil(1.5 * span * (SEGMENT_SIGNIFICANCE / max(significance, 1.0)) ** 2))
    if significance < SCAN_SIGNIFICANCE:
        raise InvalidParameter(
            f"no coincidence peak: the best drift-corrected histogram stands {significance:.1f} standard "
            "deviations above the floor (no common pairs, too few clicks, or an offset beyond max_offset_ps)"
        )
    drift, offset, origin, line_error = _hop(alice, bob, (origin, offset, drift), span)
    fit = _refine(alice, _detrend(bob, drift, offset, origin), offset, 2 * line_error)
    # The ends' offsets are smeared by the drift within each segment; the pairs matched with the fit so far
    # span the whole streams, and a least-squares line through their differences pins the drift down. Each
    # round narrows the peak, so the next one matches more of the pairs; it stops when the peak stops narrowing.
    for _ in range(MAX_DRIFT_ROUNDS):
        pairs = match(alice, _detrend(bob, drift, offset, origin), fit)
        times = (alice[pairs.alice_index] - origin).astype(np.float64)
        differences = (bob[pairs.bob_index] - alice[pairs.alice_index]).astype(np.float64)
        line = np.polyfit(times, differences, 1)
        slope, intercept = float(line[0]), round(float(line[1]))
        better = _refine(alice, _detrend(bob, slope, intercept, origin), intercept, 4 * fit.window_ps + FINE_BINS)
        if better.window_ps >= fit.window_ps:
            break
        drift, offset, fit = slope, intercept, better
    clock = _track_wander(alice, bob, ClockFit(origin_ps=origin, drift=drift, estimate=fit), knot_s)
    density = _floor_density(alice, clock.to_alice_clock(bob), clock.estimate)
    return replace(clock, estimate=replace(clock.estimate, accidental_density=density))


def _floor_density(alice: Tags, bob: Tags, estimate: OffsetEstimate) -> float:
    """Accidental coincidences per ps of window, counted in side bands of ±:data:`SIDE_BAND_WINDOWS` windows
    around the peak (the peak's own ±2 windows left out): a floor with thousands of counts, where the
    zoomed histograms that locate the peak hold a few per bin."""
    window = max(1, estimate.window_ps)
    reach = SIDE_BAND_WINDOWS * window
    differences = _differences(alice, bob, estimate.offset_ps, reach)
    side = np.count_nonzero(np.abs(differences - estimate.offset_ps) > 2 * window)
    return side / (2 * reach - 4 * window)


def _scan_drift(
    alice: Tags, bob: Tags, lag: int, lag_error: int, span: int, max_drift_ppm: float
) -> tuple[int, int, float, float]:
    """Offset and rough drift on Alice's first ``span`` ps: the coarse ``lag`` (± ``lag_error``) only says
    where to look. Within one segment a drift d moves the differences by d·(t − t_mid),
    so each drift in ±``max_drift_ppm``, in steps that move them by at most :data:`PEAK_FINDING_PS` over the
    segment, gets its own histogram of the corrected differences in bins of that width; the drift whose peak is
    highest wins. A sparse peak against a heavy floor then stands in one narrow bin, where one histogram of the
    raw differences would smear it over the drift's range. Returns the origin (the segment's mean Alice time),
    the offset there, the drift (±one step) and the peak's height above the floor in its standard deviations."""
    first = alice[: np.searchsorted(alice, alice[0] + span)]
    origin = round(float(first.mean()))
    differences, owners = _differences_of(first, bob, lag, lag_error)
    if differences.size == 0:
        raise InvalidParameter("no coincidence peak: no Bob clicks near the coarse offset")
    tau = (first[owners] - origin).astype(np.float64)
    step = PEAK_FINDING_PS / max(1, span)
    drifts = np.arange(-max_drift_ppm * 1e-6, max_drift_ppm * 1e-6 + step, step)
    bins = 2 * lag_error // PEAK_FINDING_PS + 2
    base = (differences - (lag - lag_error)).astype(np.float64)
    from qkdnet.qkd.coincidence_kernels import best_sheared_peak

    height, k, which = best_sheared_peak(base, tau, drifts, float(PEAK_FINDING_PS), int(bins))
    drift = float(drifts[which])
    floor = 2.0 * differences.size / bins
    return origin, lag - lag_error + (k + 1) * PEAK_FINDING_PS, drift, (height - floor) / math.sqrt(max(floor, 1.0))


def _hop(alice: Tags, bob: Tags, start: tuple[int, int, float], span: int) -> tuple[float, int, int, int]:
    """The drift line from the ``start`` of :func:`_scan_drift` (origin, offset, drift to ± one step) and
    segments of ``span`` ps ever farther along Alice's stream (4, 16, 64, … segments on, and the last one).
    Bob's clicks are detrended by the line so far, so each segment's peak is smeared only by what the line may
    still be off (less at each hop), and is searched only where the line allows. Returns the drift, the offset
    at the origin, the origin and how far (ps) the line may still be off anywhere."""
    origin, offset, drift = start
    first_error = 2 * PEAK_FINDING_PS
    drift_error = PEAK_FINDING_PS / span
    smear = math.ceil(drift_error * span) + PEAK_FINDING_PS
    distance = 4 * span
    while True:
        lo = min(int(alice[0]) + distance, int(alice[-1]) - span)
        segment = alice[np.searchsorted(alice, lo) : np.searchsorted(alice, lo + span)]
        elapsed = float(segment.mean()) - origin
        reach = first_error + smear + math.ceil(drift_error * elapsed)
        predicted = offset + round(drift * elapsed)
        nearby = bob[np.searchsorted(bob, lo + predicted - reach) : np.searchsorted(bob, lo + span + predicted + reach)]
        residual = _refine(segment, _detrend(nearby, drift, offset, origin), offset, reach, min_bin_ps=smear).offset_ps
        drift += (residual - offset) / elapsed
        # The line through the first segment's offset and this one's is off by both their errors.
        drift_error = min(drift_error, (first_error + smear) / elapsed)
        smear = math.ceil(drift_error * span) + PEAK_FINDING_PS
        if lo + span >= alice[-1]:
            return drift, offset, origin, first_error + math.ceil(drift_error * (alice[-1] - origin))
        distance *= 4


def _track_wander(alice: Tags, bob: Tags, clock: ClockFit, knot_s: float, rounds: int = MAX_DRIFT_ROUNDS) -> ClockFit:
    """Follow the clocks' random walk: the median residual offset of the pairs in each ``knot_s`` of Alice's
    time, matched in a window four times the peak's (the accidentals there are flat, so the median ignores
    them), added to the fit while it narrows the peak."""
    knot = max(1, seconds_to_ps(knot_s))
    edges = np.arange(alice[0], alice[-1] + knot, knot)
    centres = (edges[:-1] + edges[1:]) / 2.0
    for _ in range(rounds):
        corrected = clock.to_alice_clock(bob)
        wide = replace(clock.estimate, window_ps=4 * clock.estimate.window_ps)
        pairs = match(alice, corrected, wide)
        times = alice[pairs.alice_index]
        residual = (corrected[pairs.bob_index] - times - clock.estimate.offset_ps).astype(np.float64)
        knot_of = np.digitize(times, edges) - 1
        groups = np.split(
            residual[np.argsort(knot_of, kind="stable")], np.cumsum(np.bincount(knot_of, minlength=centres.size))[:-1]
        )
        medians = np.array([np.median(g) if g.size >= 10 else 0.0 for g in groups])  # too few pairs: no step
        wander = (np.interp(centres, clock.knots_ps, clock.wander_ps) if clock.knots_ps.size else 0.0) + medians
        tracked = replace(clock, knots_ps=centres, wander_ps=wander)
        better = _refine(
            alice, tracked.to_alice_clock(bob), clock.estimate.offset_ps, 4 * clock.estimate.window_ps + FINE_BINS
        )
        if better.window_ps >= clock.estimate.window_ps:
            return clock
        clock = replace(tracked, estimate=better)
    return clock


@dataclass(frozen=True, slots=True)
class TrackedBlock:
    """One block of both streams, paired up: the clock fit it ended with, its coincidences, and whether the
    clock had to be found from scratch in it (the first block, or after a jump the fit could not follow)."""

    clock: ClockFit
    coincidences: Coincidences
    reacquired: bool


class ClockTracker:
    """Follows Bob's clock through consecutive blocks of both streams, as a node does while tags keep coming.

    The first block is searched from scratch (:func:`find_clock`); each next one only around the fit carried
    over (drift, offset and the wander's last value), in a reach of :data:`TRACK_REACH_WINDOWS` windows, then
    the line and the wander are fitted again on the block's own pairs. A block where no peak stands there (a
    tagger reset, a jump of the clock) is searched from scratch again: the link loses that block, not the rest.
    Sans-I/O: it sees only times, so it runs the same in the simulator and in a node daemon.
    """

    def __init__(
        self, *, max_offset_ps: int, max_drift_ppm: float = 50.0, segment_s: float = 0.002, knot_s: float = 0.01
    ) -> None:
        self._max_offset_ps, self._max_drift_ppm = max_offset_ps, max_drift_ppm
        self._segment_s, self._knot_s = segment_s, knot_s
        self.clock: ClockFit | None = None
        self.reacquisitions = 0
        """Blocks searched from scratch after the first."""

    def update(self, alice_ps: object, bob_ps: object) -> TrackedBlock:
        """Pair up the next block (Alice's tags and Bob's, each sorted); raises InvalidParameter when even a
        search from scratch finds no peak in it (the clock is then searched from scratch next time too)."""
        alice, bob = _tags(alice_ps, "alice_ps"), _tags(bob_ps, "bob_ps")
        reacquired = self.clock is None
        clock = None if self.clock is None else self._follow(alice, bob, self.clock)
        if clock is None:
            if self.clock is not None:
                self.reacquisitions += 1
                reacquired = True
            self.clock = None
            clock = find_clock(
                alice,
                bob,
                max_offset_ps=self._max_offset_ps,
                max_drift_ppm=self._max_drift_ppm,
                segment_s=self._segment_s,
                knot_s=self._knot_s,
            )
        self.clock = clock
        return TrackedBlock(clock, match(alice, clock.to_alice_clock(bob), clock.estimate), reacquired)

    def _follow(self, alice: Tags, bob: Tags, previous: ClockFit) -> ClockFit | None:
        """The fit carried into this block and refitted on it, or None if its peak is not where the fit says."""
        wander = float(previous.wander_ps[-1]) if previous.wander_ps.size else 0.0
        estimate = replace(previous.estimate, offset_ps=previous.estimate.offset_ps + round(wander))
        carried = ClockFit(origin_ps=previous.origin_ps, drift=previous.drift, estimate=estimate)
        corrected = carried.to_alice_clock(bob)
        reach = TRACK_REACH_WINDOWS * estimate.window_ps + FINE_BINS
        try:
            found = _refine(alice, corrected, estimate.offset_ps, reach)
        except InvalidParameter:
            return None
        pairs = match(alice, corrected, found)
        if pairs.alice_index.size < MIN_PEAK_COUNTS:
            return None
        times = (alice[pairs.alice_index] - previous.origin_ps).astype(np.float64)
        line = np.polyfit(times, (bob[pairs.bob_index] - alice[pairs.alice_index]).astype(np.float64), 1)
        offset = round(float(line[1]))
        line_fit = ClockFit(
            origin_ps=previous.origin_ps, drift=float(line[0]), estimate=replace(found, offset_ps=offset)
        )
        better = _refine(alice, line_fit.to_alice_clock(bob), offset, reach)
        # One round: the walk carried in from the last block is already followed, this one only extends it.
        clock = _track_wander(alice, bob, replace(line_fit, estimate=better), self._knot_s, rounds=1)
        density = _floor_density(alice, clock.to_alice_clock(bob), clock.estimate)
        return replace(clock, estimate=replace(clock.estimate, accidental_density=density))


def match(alice_ps: object, bob_ps: object, estimate: OffsetEstimate) -> Coincidences:
    """Pair each Alice click with the first Bob click in ``offset ± window/2`` not taken by an earlier Alice click."""
    alice, bob = _tags(alice_ps, "alice_ps"), _tags(bob_ps, "bob_ps")
    half = estimate.window_ps // 2
    lo, hi = _window_bounds(bob, alice, estimate.offset_ps - half, estimate.offset_ps + half)
    found = np.flatnonzero(hi > lo)
    partner = lo[found]
    first = np.ones(partner.size, dtype=bool)  # a Bob click claimed twice keeps its first Alice click
    first[1:] = partner[1:] != partner[:-1]
    start = max(int(alice[0]), int(bob[0]) - estimate.offset_ps)
    stop = min(int(alice[-1]), int(bob[-1]) - estimate.offset_ps)
    duration_s = ps_to_seconds(max(0, stop - start))
    return Coincidences(
        alice_index=found[first],
        bob_index=partner[first],
        duration_s=duration_s,
        alice_singles=int(alice.size),
        bob_singles=int(bob.size),
        accidentals_expected=estimate.accidental_density * estimate.window_ps,
    )


__all__ = [
    "COARSE_BINS",
    "FINE_BINS",
    "ClockFit",
    "ClockTracker",
    "Coincidences",
    "OffsetEstimate",
    "TrackedBlock",
    "find_clock",
    "find_offset",
    "match",
]
