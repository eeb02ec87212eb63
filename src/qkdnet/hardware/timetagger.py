"""What a time tagger records at each end of an entangled-photon link: (time on that side's clock, channel).

A continuous-wave SPDC source emits polarization-entangled pairs (Werner pairs of a visibility) at Poisson
times; each photon survives its side's collection and fiber, chooses a basis passively at a beam splitter and
leaves the polarizing beam splitter by one of two ports, each watched by its own detector (four channels per side
for BBM92: Z0, Z1, X0, X1). Each detector has its own efficiency, dark counts, dead time and afterpulsing;
its click is tagged with Gaussian jitter on a clock that has its own offset, linear drift and slow random walk.
Nothing is paired up here: the two streams are what two labs would record, and finding which clicks belong
together is :mod:`qkdnet.qkd.coincidence`'s job. Multi-pair emission is the source's Poisson statistics:
pairs born within a window of each other give the accidental coincidences of a CW source (Neumann et al.,
PRA 104, 022406 (2021), whose model of CW-pumped entanglement-based QKD this follows).

Everything is drawn in bulk (NumPy) from the generators passed in; memory is about 40 bytes per click.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qkdnet.checks import as_float, finite_non_negative, positive, probability
from qkdnet.errors import InvalidParameter
from qkdnet.quantum import BellDiagonal, sample_setting_outcomes
from qkdnet.units import PS_PER_S, seconds_to_ps

#: The canonical channel order of a side measuring in bases 0, 1, …: channel 2·basis + outcome.
BBM92_CHANNELS = ("Z0", "Z1", "X0", "X1")
#: Knots of the clocks' random walk: one per millisecond (a walk varies slowly; the line in between is exact enough).
WANDER_STEP_S = 1e-3


@dataclass(frozen=True, slots=True)
class TimeTags:
    """One side's recording: event times in ps on its own clock (sorted) and the channel of each event."""

    times_ps: npt.NDArray[np.int64]
    channels: npt.NDArray[np.uint8]

    def __post_init__(self) -> None:
        if self.times_ps.shape != self.channels.shape or self.times_ps.ndim != 1:
            raise InvalidParameter("time tags and channels must be 1-D arrays of one length")

    def __len__(self) -> int:
        return int(self.times_ps.size)


@dataclass(frozen=True, slots=True)
class DetectorSide:
    """One side's detectors, basis choice and clock.

    ``efficiency`` and ``dark_count_rate_hz`` are per channel (one number for all, or one per channel in the
    canonical order); ``jitter_ps`` is the standard deviation of a click's tag (detector and tagger together);
    ``afterpulse_probability`` adds a click on the same channel after the dead time, delayed exponentially by
    ``afterpulse_delay_ns`` on average (one generation: afterpulses do not afterpulse). ``basis_split`` is the
    beam splitter's probability of sending a photon to each basis. The clock reads
    ``offset + (1 + drift)·t + walk(t)``, the walk having standard deviation ``clock_wander_ps`` after one second.

    Defaults: a silicon SPAD at 780–810 nm (≈ 65 % efficient, 100 counts/s dark, 30 ns dead time: REFERENCES
    "Si SPAD"; afterpulsing 0.5 % and 350 ps FWHM timing of the Excelitas SPCM-AQRH datasheet, estimates), a free
    running crystal clock (1 ppm drift, estimate), on a balanced beam splitter.
    """

    efficiency: float | tuple[float, ...] = 0.65
    dark_count_rate_hz: float | tuple[float, ...] = 100.0
    dead_time_ns: float = 30.0
    afterpulse_probability: float = 0.005
    afterpulse_delay_ns: float = 50.0
    jitter_ps: float = 150.0
    basis_split: tuple[float, ...] = (0.5, 0.5)
    clock_offset_ps: int = 0
    clock_drift_ppm: float = 0.0
    clock_wander_ps: float = 0.0

    def __post_init__(self) -> None:
        split = tuple(probability(p, "basis_split") for p in self.basis_split)
        if len(split) < 1 or not math.isclose(sum(split), 1.0, abs_tol=1e-9):
            raise InvalidParameter(f"basis_split must be probabilities summing to 1, got {self.basis_split!r}")
        object.__setattr__(self, "basis_split", split)
        for name in ("efficiency", "dark_count_rate_hz"):
            per_channel = self._per_channel(name)
            check = probability if name == "efficiency" else finite_non_negative
            object.__setattr__(self, name, tuple(check(v, name) for v in per_channel))
        for name in ("dead_time_ns", "afterpulse_delay_ns", "jitter_ps", "clock_wander_ps"):
            object.__setattr__(self, name, finite_non_negative(getattr(self, name), name))
        object.__setattr__(self, "afterpulse_probability", probability(self.afterpulse_probability, "afterpulse"))
        drift = as_float(self.clock_drift_ppm, "clock_drift_ppm")
        if not abs(drift) < 1e4:
            raise InvalidParameter(f"clock_drift_ppm must be under 10⁴ in size, got {self.clock_drift_ppm!r}")
        if isinstance(self.clock_offset_ps, bool) or not isinstance(self.clock_offset_ps, int | np.integer):
            raise InvalidParameter(f"clock_offset_ps must be an integer, got {self.clock_offset_ps!r}")

    @property
    def channels(self) -> int:
        """Two detectors per basis."""
        return 2 * len(self.basis_split)

    @property
    def efficiencies(self) -> tuple[float, ...]:
        """Each channel's detection efficiency."""
        return self._per_channel("efficiency")

    @property
    def dark_count_rates_hz(self) -> tuple[float, ...]:
        """Each channel's dark-count rate."""
        return self._per_channel("dark_count_rate_hz")

    def _per_channel(self, name: str) -> tuple[float, ...]:
        value = getattr(self, name)
        values = tuple(value) if isinstance(value, tuple | list) else (value,) * self.channels
        if len(values) != self.channels:
            raise InvalidParameter(f"{name} needs one value or {self.channels} (one per channel), got {len(values)}")
        return values


@dataclass(frozen=True, slots=True)
class EntangledPairSource:
    """A CW source of polarization-entangled pairs: Poisson emission at ``pair_rate_hz``, Werner pairs of
    ``visibility`` (|Φ+⟩ mixed with white noise), each photon reaching its side's detectors with probability
    ``transmission_alice``/``transmission_bob`` (collection, fiber, optics).

    Defaults (estimates): a bright fiber-coupled SPDC source, 5·10⁶ pairs/s, 30 % collection and transmission
    each, visibility 0.97.
    """

    pair_rate_hz: float = 5e6
    visibility: float = 0.97
    transmission_alice: float = 0.3
    transmission_bob: float = 0.3

    def __post_init__(self) -> None:
        object.__setattr__(self, "pair_rate_hz", positive(self.pair_rate_hz, "pair_rate_hz"))
        for name in ("visibility", "transmission_alice", "transmission_bob"):
            object.__setattr__(self, name, probability(getattr(self, name), name))


@dataclass(frozen=True, slots=True)
class TaggedRun:
    """Both sides' recordings and what only the simulation knows: how many pairs were born and seen twice."""

    alice: TimeTags
    bob: TimeTags
    duration_s: float
    pairs_emitted: int
    pairs_seen_by_both: int


class TwoLabRecorder:
    """Both labs recording one source, slice after slice (a device streaming blocks): each side's clock
    (offset, drift, random walk) runs on across slices, so consecutive slices are one recording cut up.

    Only pairs that some side may detect are drawn: the emitted pairs split (multinomially) into those both
    sides, only Alice, only Bob or neither could see at the best channel's efficiency, and each channel's own
    efficiency then thins its clicks. A photon whose partner is lost has a uniformly random outcome (a Werner
    pair's marginal is maximally mixed). Each side measures passively at its ``angles_deg``; its channel is
    ``2·basis + outcome`` (the canonical order: Z0, Z1, X0, X1 for BBM92).
    """

    def __init__(
        self,
        source: EntangledPairSource,
        alice: DetectorSide,
        bob: DetectorSide,
        *,
        angles_deg: tuple[tuple[float, ...], tuple[float, ...]] = ((0.0, 45.0), (0.0, 45.0)),
        rng: np.random.Generator,
    ) -> None:
        for side, angles in zip((alice, bob), angles_deg, strict=True):
            if len(angles) != len(side.basis_split):
                raise InvalidParameter(
                    f"{len(angles)} measurement angles for a side with {len(side.basis_split)} bases"
                )
        self._source, self._sides, self._angles, self._rng = source, (alice, bob), angles_deg, rng
        self._elapsed_ps = 0
        self._walk = [0.0, 0.0]

    def record(self, duration_s: float) -> TaggedRun:
        """The next ``duration_s`` of both sides' time tags."""
        span = seconds_to_ps(positive(duration_s, "duration_s"))
        rng, src = self._rng, self._source
        start = self._elapsed_ps
        best = [max(side.efficiencies) for side in self._sides]
        pa, pb = src.transmission_alice * best[0], src.transmission_bob * best[1]
        emitted = int(rng.poisson(src.pair_rate_hz * span / PS_PER_S))
        both, a_only, b_only, _ = rng.multinomial(emitted, [pa * pb, pa * (1 - pb), (1 - pa) * pb, (1 - pa) * (1 - pb)])
        alice, bob = self._sides
        basis_a = rng.choice(len(alice.basis_split), size=both + a_only, p=alice.basis_split).astype(np.uint8)
        basis_b = rng.choice(len(bob.basis_split), size=both + b_only, p=bob.basis_split).astype(np.uint8)
        x, y = sample_setting_outcomes(
            BellDiagonal.werner(src.visibility), *self._angles, basis_a[:both], basis_b[:both], rng=rng
        )
        outcome_a = np.concatenate([x, rng.integers(0, 2, a_only, dtype=np.uint8)])
        outcome_b = np.concatenate([y, rng.integers(0, 2, b_only, dtype=np.uint8)])
        born = rng.integers(start, start + span, both + a_only + b_only, dtype=np.int64)
        times = (born[: both + a_only], np.concatenate([born[:both], born[both + a_only :]]))
        tags, kept = [], []
        for k, (side, basis, outcome) in enumerate(
            zip(self._sides, (basis_a, basis_b), (outcome_a, outcome_b), strict=True)
        ):
            channel = (2 * basis + outcome).astype(np.uint8)
            keep = (
                rng.random(channel.size) < np.asarray(side.efficiencies)[channel] / best[k]
                if best[k] > 0
                else np.zeros(channel.size, bool)
            )
            kept.append(keep[:both])
            clicks, self._walk[k] = _side_tags(side, times[k][keep], channel[keep], start, span, self._walk[k], rng=rng)
            tags.append(clicks)
        self._elapsed_ps += span
        return TaggedRun(
            alice=tags[0],
            bob=tags[1],
            duration_s=span / PS_PER_S,
            pairs_emitted=emitted,
            pairs_seen_by_both=int(np.count_nonzero(kept[0] & kept[1])),
        )


def record_time_tags(
    source: EntangledPairSource,
    alice: DetectorSide,
    bob: DetectorSide,
    duration_s: float,
    *,
    angles_deg: tuple[tuple[float, ...], tuple[float, ...]] = ((0.0, 45.0), (0.0, 45.0)),
    rng: np.random.Generator,
) -> TaggedRun:
    """``duration_s`` of both sides' time tags from the start (one slice of a :class:`TwoLabRecorder`)."""
    return TwoLabRecorder(source, alice, bob, angles_deg=angles_deg, rng=rng).record(duration_s)


def _side_tags(
    side: DetectorSide,
    photon_ps: npt.NDArray[np.int64],
    channel: npt.NDArray[np.uint8],
    start: int,
    span: int,
    walk: float,
    *,
    rng: np.random.Generator,
) -> tuple[TimeTags, float]:
    """Photons' arrival times (true time in ``[start, start + span)``) → the side's clicks, tagged on its clock
    and sorted; and the clock's random walk at the slice's end."""
    jitter = np.rint(rng.normal(0.0, side.jitter_ps, photon_ps.size)).astype(np.int64) if side.jitter_ps else 0
    times = [photon_ps + jitter]
    channels = [channel]
    for c, rate in enumerate(side.dark_count_rates_hz):
        k = int(rng.poisson(rate * span / PS_PER_S))
        times.append(rng.integers(start, start + span, k, dtype=np.int64))
        channels.append(np.full(k, c, dtype=np.uint8))
    t = np.concatenate(times)
    ch = np.concatenate(channels)
    dead = seconds_to_ps(side.dead_time_ns * 1e-9)
    if side.afterpulse_probability:
        pulse = rng.random(t.size) < side.afterpulse_probability
        delay = dead + np.rint(rng.exponential(side.afterpulse_delay_ns * 1e3, int(pulse.sum()))).astype(np.int64)
        t = np.concatenate([t, t[pulse] + delay])
        ch = np.concatenate([ch, ch[pulse]])
    order = np.lexsort((t, ch))  # by channel, then time: each detector's clicks in a row
    t, ch = t[order], ch[order]
    keep = _outside_dead_time(t, ch, dead)
    t, ch = t[keep], ch[keep]
    clock, walk = _clock(side, t, start, span, walk, rng=rng)
    order = np.argsort(clock, kind="stable")
    return TimeTags(times_ps=clock[order], channels=ch[order]), walk


def _outside_dead_time(t: npt.NDArray[np.int64], ch: npt.NDArray[np.uint8], dead: int) -> npt.NDArray[np.bool_]:
    """Clicks a detector registers: each at least ``dead`` after the last one it registered (same channel).

    A click inside the dead time of a *dropped* click still counts, so dropping is done in rounds: each round
    drops the clicks too close to a predecessor that is itself certainly kept (the first of its channel or
    ``dead`` after its own kept predecessor). Rounds are few: chains of clicks within dead times are short.
    """
    keep = np.ones(t.size, dtype=bool)
    if dead <= 0 or t.size < 2:
        return keep
    while True:
        idx = np.flatnonzero(keep)
        gap_ok = np.ones(idx.size, dtype=bool)
        same = ch[idx[1:]] == ch[idx[:-1]]
        gap_ok[1:] = ~same | (t[idx[1:]] - t[idx[:-1]] >= dead)
        # a click too close to a predecessor whose own gap is fine: that predecessor is kept, so this one goes
        doomed = np.zeros(idx.size, dtype=bool)
        doomed[1:] = ~gap_ok[1:] & gap_ok[:-1]
        if not doomed.any():
            return keep
        keep[idx[doomed]] = False


def _clock(
    side: DetectorSide, t: npt.NDArray[np.int64], start: int, span: int, walk: float, *, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], float]:
    """True times → the side's clock readings: offset, linear drift, and a random walk sampled every ms that
    starts from ``walk`` at ``start``; and the walk at ``start + span``."""
    drift = side.clock_drift_ppm * 1e-6
    reading: npt.NDArray[np.int64] = t + side.clock_offset_ps + np.rint(drift * t).astype(np.int64)
    if not side.clock_wander_ps:
        return reading, walk
    step = seconds_to_ps(WANDER_STEP_S)
    knots = np.arange(start, start + span + 2 * step, step)
    steps = rng.normal(0.0, side.clock_wander_ps * math.sqrt(WANDER_STEP_S), knots.size - 1)
    path = walk + np.concatenate([[0.0], np.cumsum(steps)])
    reading = reading + np.rint(np.interp(t, knots, path)).astype(np.int64)
    return reading, float(np.interp(start + span, knots, path))


__all__ = [
    "BBM92_CHANNELS",
    "DetectorSide",
    "EntangledPairSource",
    "TaggedRun",
    "TimeTags",
    "TwoLabRecorder",
    "record_time_tags",
]
