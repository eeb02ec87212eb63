"""Recorded detector data in, key out: time tags → coincidences → records → the key run's whole road.

Each side's recording is (time on its own clock, detector channel); the channel map says which measurement
setting and outcome each channel stands for. :func:`key_from_time_tags` finds Bob's clock against Alice's
(offset, drift, wander: :func:`~qkdnet.qkd.coincidence.find_clock`), pairs the clicks up in the window the
peak sets, turns each matched pair into both parties' (setting, outcome), and runs announcement, estimation,
the security decision, reconciliation, verification and privacy amplification on them
(:func:`~qkdnet.qkd.pipeline.key_from_records`). Only times are used to pair the clicks; the settings are
announced inside the road, and the outcomes never leave their side except as the disclosed sample.

Accidental coincidences (clicks of different pairs, or dark counts, within one window) carry uncorrelated
outcomes: they raise the QBER by half their share, so a dark-count-dominated link aborts, and a wrong offset
(all coincidences accidental) gives a QBER of ½ and no key, never a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qkdnet.errors import InvalidParameter
from qkdnet.hardware.timetagger import TimeTags
from qkdnet.qkd.coincidence import ClockFit, ClockTracker, Coincidences, find_clock, find_offset, match
from qkdnet.qkd.config import KeyRunConfig
from qkdnet.qkd.pipeline import SimulatedRecords, key_from_records
from qkdnet.qkd.protocols import ProtocolSpec
from qkdnet.qkd.result import KeyRunResult
from qkdnet.qkd.sifting import PartyRecord
from qkdnet.units import ps_to_seconds, seconds_to_ps

#: Letters naming each side's measurement settings in a channel name (setting letter + outcome bit):
#: BBM92 measures Z (0°) and X (45°); E91's three settings per side are A, B, C (Alice 0°, 22.5°, 45°; Bob
#: 22.5°, 45°, 67.5°).
SETTING_LETTERS = {"bbm92": "ZX", "e91": "ABC"}
#: Streams shorter than this many drift segments are aligned by their offset alone (no drift is measurable).
MIN_DRIFT_SEGMENTS = 4
#: Alice's time per block when a recording is paired block by block (:func:`_pair_up`).
BLOCK_S = 0.5


@dataclass(frozen=True, slots=True)
class ChannelMap:
    """What each detector channel (0, 1, …) records: a setting index and an outcome bit."""

    names: tuple[str, ...]
    settings: npt.NDArray[np.uint8]
    outcomes: npt.NDArray[np.uint8]


def default_channels(protocol: ProtocolSpec) -> tuple[str, ...]:
    """Every setting's two outcomes, settings in the protocol's order: Z0, Z1, X0, X1 for BBM92."""
    return tuple(f"{letter}{bit}" for letter in SETTING_LETTERS[protocol.name] for bit in (0, 1))


def channel_map(names: tuple[str, ...] | list[str], protocol: ProtocolSpec) -> ChannelMap:
    """The map of channels 0, 1, … named ``names`` (each a setting letter and a bit), checked: every
    setting's two outcomes named exactly once."""
    letters = SETTING_LETTERS[protocol.name]
    expected = set(default_channels(protocol))
    cleaned = tuple(str(n).strip().upper() for n in names)
    unknown = [n for n in cleaned if n not in expected]
    if unknown:
        raise InvalidParameter(
            f"unknown channel name {unknown[0]!r} for {protocol.name}: the names are {', '.join(sorted(expected))}"
        )
    if len(set(cleaned)) != len(cleaned) or set(cleaned) != expected:
        raise InvalidParameter(
            f"{protocol.name} needs each of {', '.join(default_channels(protocol))} named once, "
            f"got {', '.join(cleaned)}"
        )
    settings = np.array([letters.index(n[0]) for n in cleaned], dtype=np.uint8)
    outcomes = np.array([int(n[1]) for n in cleaned], dtype=np.uint8)
    return ChannelMap(cleaned, settings, outcomes)


@dataclass(frozen=True, slots=True)
class RecordedRun:
    """What the offline road found: the clocks, the coincidences, and the key run on them."""

    events_alice: int
    events_bob: int
    clock: ClockFit
    coincidences: Coincidences
    result: KeyRunResult
    start_ps: int
    """Alice's first tag: where ``offset_ps`` is read."""
    last_clock: ClockFit
    """The clock as the last block left it (its drift is :attr:`drift_ppm`)."""
    reacquisitions: int = 0
    """Blocks whose clock was searched from scratch again (a jump the fit could not follow)."""

    @property
    def offset_ps(self) -> int:
        """Bob's clock minus Alice's at the start of Alice's recording."""
        return self.clock.offset_at(self.start_ps)

    @property
    def drift_ppm(self) -> float:
        """Bob's clock rate against Alice's, minus one, in parts per million (as the last block fitted it)."""
        return self.last_clock.drift * 1e6

    def summary(self) -> dict[str, object]:
        """The key run's JSON fields (no key material) and the coincidence finder's."""
        found = self.coincidences
        fields: dict[str, object] = {
            "events_alice": self.events_alice,
            "events_bob": self.events_bob,
            "coincidences": int(found.alice_index.size),
            "accidentals_estimate": found.accidentals_expected,
            "offset_ps": self.offset_ps,
            "drift_ppm": self.drift_ppm,
            "window_ps": self.clock.estimate.window_ps,
            "jitter_ps": self.clock.estimate.jitter_ps,
            "coincidence_rate_hz": found.rate_hz,
            "accidental_rate_hz": found.accidental_rate_hz,
            "heralding_efficiency": list(found.heralding_efficiency),
            "recording_s": found.duration_s,
            "clock_reacquisitions": self.reacquisitions,
        }
        fields.update(self.result.summary())
        return fields


def key_from_time_tags(
    alice: TimeTags,
    bob: TimeTags,
    protocol: ProtocolSpec,
    *,
    channels: ChannelMap,
    seed: int,
    max_offset_ps: int = seconds_to_ps(1.0),
    config: KeyRunConfig | None = None,
    segment_s: float = 0.002,
    clock: ClockFit | None = None,
) -> RecordedRun:
    """Both sides' recordings → coincidences → the key run's road. Raises InvalidParameter when the
    recordings have no coincidence peak, or a channel outside the map. ``clock`` skips the search and pairs
    the clicks with a fit found before (an earlier block's)."""
    for name, tags in (("Alice's", alice), ("Bob's", bob)):
        if len(tags) < 2:
            raise InvalidParameter(f"{name} recording has {len(tags)} events: nothing to pair up")
        if int(tags.channels.max()) >= channels.settings.size:
            raise InvalidParameter(
                f"{name} recording has channel {int(tags.channels.max())}, but only "
                f"{channels.settings.size} are named ({', '.join(channels.names)})"
            )
    if clock is None:
        clock, last, found, reacquired = _pair_up(alice.times_ps, bob.times_ps, max_offset_ps, segment_s)
    else:
        last, reacquired = clock, 0
        found = match(alice.times_ps, clock.to_alice_clock(bob.times_ps), clock.estimate)
    a_channel = alice.channels[found.alice_index]
    b_channel = bob.channels[found.bob_index]
    records = SimulatedRecords(
        alice=PartyRecord(channels.settings[a_channel], channels.outcomes[a_channel]),
        bob=PartyRecord(channels.settings[b_channel], channels.outcomes[b_channel]),
        duration_s=found.duration_s,
        attacked_pairs=0,
    )
    if records.pairs == 0:
        raise InvalidParameter("no coincidences in the window the peak set")
    result = key_from_records(records, protocol, seed=seed, config=config)
    return RecordedRun(
        events_alice=len(alice),
        events_bob=len(bob),
        clock=clock,
        coincidences=found,
        result=result,
        start_ps=int(alice.times_ps[0]),
        last_clock=last,
        reacquisitions=reacquired,
    )


def _pair_up(
    alice: npt.NDArray[np.int64], bob: npt.NDArray[np.int64], max_offset_ps: int, segment_s: float
) -> tuple[ClockFit, ClockFit, Coincidences, int]:
    """The clocks and the coincidences of whole recordings, block by block as a node would (a
    :class:`~qkdnet.qkd.coincidence.ClockTracker` over :data:`BLOCK_S` of Alice's time): the clock is searched
    from scratch in the first block only (and again after a jump), so long recordings are paired at the
    tracker's speed. Bob's clicks are cut where the clock so far puts Alice's block edges, so none is in two
    blocks. Returns the first block's clock, the last one's, the coincidences and the searches after the first."""
    block = seconds_to_ps(BLOCK_S)
    if alice[-1] - alice[0] < 2 * block:
        clock = _clock(alice, bob, max_offset_ps, segment_s)
        return clock, clock, match(alice, clock.to_alice_clock(bob), clock.estimate), 0
    tracker = ClockTracker(max_offset_ps=max_offset_ps, segment_s=segment_s)
    edges = list(range(int(alice[0]), int(alice[-1]), block))
    edges[-1] = int(alice[-1]) + 1  # the last block takes the remainder
    a_cut = np.searchsorted(alice, edges)
    a_index, b_index, accidentals, first = [], [], 0.0, None
    b_lo = int(np.searchsorted(bob, alice[0] - max_offset_ps))
    for k in range(len(edges) - 1):
        a_part = slice(int(a_cut[k]), int(a_cut[k + 1]))
        current = tracker.clock
        if current is None:  # searched from scratch: Bob's clicks over every offset allowed
            b_hi = int(np.searchsorted(bob, edges[k + 1] + max_offset_ps))
        else:
            b_hi = int(np.searchsorted(bob, edges[k + 1] + current.offset_at(edges[k + 1])))
        try:
            tracked = tracker.update(alice[a_part], bob[b_lo:b_hi])
        except InvalidParameter:
            if first is None:
                raise
            continue  # a block without a peak (a jump the next block's search finds): its clicks go unpaired
        end = int(np.searchsorted(bob, edges[k + 1] + tracked.clock.offset_at(edges[k + 1])))
        keep = tracked.coincidences.bob_index + b_lo < end  # Bob's clicks past the block edge are the next's
        a_index.append(tracked.coincidences.alice_index[keep] + a_part.start)
        b_index.append(tracked.coincidences.bob_index[keep] + b_lo)
        accidentals += tracked.coincidences.accidentals_expected
        first = first or tracked.clock
        b_lo = end
    assert first is not None and tracker.clock is not None  # noqa: S101 - the first block raised otherwise
    start = max(int(alice[0]), int(bob[0]) - first.estimate.offset_ps)
    stop = min(int(alice[-1]), int(bob[-1]) - tracker.clock.estimate.offset_ps)
    found = Coincidences(
        alice_index=np.concatenate(a_index),
        bob_index=np.concatenate(b_index),
        duration_s=ps_to_seconds(max(0, stop - start)),
        alice_singles=int(alice.size),
        bob_singles=int(bob.size),
        accidentals_expected=accidentals,
    )
    return first, tracker.clock, found, tracker.reacquisitions


def _clock(alice: npt.NDArray[np.int64], bob: npt.NDArray[np.int64], max_offset_ps: int, segment_s: float) -> ClockFit:
    """The clock fit: offset, drift and wander when the streams are long enough to see drift; offset alone else."""
    if ps_to_seconds(int(alice[-1] - alice[0])) >= MIN_DRIFT_SEGMENTS * segment_s:
        return find_clock(alice, bob, max_offset_ps=max_offset_ps, segment_s=segment_s)
    estimate = find_offset(alice, bob, max_offset_ps=max_offset_ps)
    return ClockFit(origin_ps=int(alice[0]), drift=0.0, estimate=estimate)


__all__ = [
    "SETTING_LETTERS",
    "ChannelMap",
    "RecordedRun",
    "channel_map",
    "default_channels",
    "key_from_time_tags",
]
