"""What a key run found out: the result the parties (and the CLI's JSON) report, and what only the simulator knows."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from qkdnet._display import html_table, human_duration, significant
from qkdnet.attacks import EveGuess
from qkdnet.qkd.config import KeyLength, Security
from qkdnet.qkd.estimation import CorrelationTable, NoSignalling
from qkdnet.qkd.sifting import PartyRecord


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
    test_probability: float | None = None
    """γ of a spot-checking run (each round a CHSH test with this probability); None for uniform settings."""
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

    def _verdict(self) -> str:
        if self.secure:
            return f"{self.final_key_bits:,} secret key bits"
        return f"no key: {self.abort_reason}"

    def __repr__(self) -> str:
        """One line (no key material): what a notebook cell or a log shows."""
        s = "" if self.chsh_s is None else f", S = {self.chsh_s:.3f}"
        return (
            f"<KeyRunResult {self.protocol.upper()}, {self.pairs:,} pairs: {self.sifted_bits:,} sifted bits, "
            f"QBER {100 * self.qber:.2f} %{s}; {self._verdict()}>"
        )

    def _repr_html_(self) -> str:
        """The run's figures as a table (Jupyter)."""

        def pm(value: float | None, err: float | None, scale: float = 1.0, unit: str = "") -> str:
            if value is None or not math.isfinite(value):
                return "–"
            spread = "" if err is None or not math.isfinite(err) else f" ± {significant(scale * err, 2)}"
            return f"{significant(scale * value)}{spread}{unit}"

        rows: list[tuple[str, object]] = [
            ("pairs", f"{self.pairs:,} in {human_duration(self.duration_s)} of link time"),
            ("sifted bits", f"{self.sifted_bits:,} ({self.sample_bits:,} disclosed to estimate)"),
            ("QBER", pm(self.qber, self.qber_stderr, 100, " %")),
            ("CHSH S", pm(self.chsh_s, self.chsh_s_stderr)),
            ("security", f"{self.security}, {self.key_length_method} key length"),
            ("verdict", self._verdict()),
            ("reconciler", f"{self.reconciler}: {self.frames:,} frames, {self.frames_dropped:,} dropped"),
            ("secret key rate", f"{significant(self.secret_key_rate_bps)} bit/s"),
        ]
        return html_table(f"{self.protocol.upper()} key run", rows)

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
            "test_probability": num(self.test_probability),
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


__all__ = ["KeyRunResult", "Observer"]
