"""Sifting and parameter estimation from public announcements only.

Settings are announced after measurement, so sifting sees both parties' settings. Outcomes are disclosed
only where the protocol sacrifices them: every non-key pair (E91's CHSH pairs, BBM92's mismatched bases)
and a random sample of the key pairs. Error rates come from those disclosed bits alone, never from
comparing the full keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qkdnet.errors import InvalidParameter
from qkdnet.qkd.protocols import ProtocolSpec

Bits = NDArray[np.uint8]
Settings = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Sifting:
    """Indices of the pairs whose settings were aligned, per key basis, in measurement order."""

    key_index: NDArray[np.intp]
    key_basis: NDArray[np.uint8]


def sift(protocol: ProtocolSpec, alice_settings: Settings, bob_settings: Settings) -> Sifting:
    """Keep the pairs measured in a key basis by both parties (public settings only)."""
    if alice_settings.shape != bob_settings.shape:
        raise InvalidParameter("both parties must announce one setting per pair")
    if alice_settings.dtype == np.uint8 and bob_settings.dtype == np.uint8:
        # One pass: the basis of every (Alice, Bob) setting pair from a 2¹⁶-entry table (255: not a key basis).
        table = np.full(1 << 16, 255, dtype=np.uint8)
        for b, (sa, sb) in enumerate(protocol.key_settings):
            table[sa << 8 | sb] = b
        pair = alice_settings.astype(np.uint16) << np.uint16(8)
        pair |= bob_settings
        basis = table[pair]
    else:  # wider settings (callers' own arrays): one mask per key basis
        basis = np.full(alice_settings.shape, 255, dtype=np.uint8)
        for b, (sa, sb) in enumerate(protocol.key_settings):
            basis[(alice_settings == sa) & (bob_settings == sb)] = b
    index = np.flatnonzero(basis != 255)
    return Sifting(key_index=index, key_basis=basis[index])


def choose_sample(n_sifted: int, fraction: float, *, rng: np.random.Generator) -> NDArray[np.bool_]:
    """Bob's random choice of the sifted positions to disclose for error estimation (a mask)."""
    if not 0.0 < fraction < 1.0:
        raise InvalidParameter(f"sample fraction must be in (0, 1), got {fraction!r}")
    k = min(n_sifted, max(1, round(fraction * n_sifted))) if n_sifted else 0
    mask = np.zeros(n_sifted, dtype=bool)
    mask[rng.choice(n_sifted, size=k, replace=False)] = True
    return mask


@dataclass(frozen=True, slots=True)
class Estimate:
    """A binomial-type estimate with its standard error."""

    value: float
    stderr: float
    samples: int


def error_rate(alice_disclosed: Bits, bob_disclosed: Bits) -> Estimate:
    """Fraction of disagreeing disclosed bits, with its binomial standard error √(Q(1−Q)/k)."""
    k = int(alice_disclosed.size)
    if k == 0:
        return Estimate(float("nan"), float("nan"), 0)
    q = float(np.count_nonzero(alice_disclosed != bob_disclosed)) / k
    return Estimate(q, math.sqrt(max(q * (1 - q), 1.0 / k) / k), k)


@dataclass(frozen=True, slots=True)
class CorrelationTable:
    """Correlators E(a_i, b_j) = P(same) − P(different) from disclosed pairs, with counts."""

    correlator: NDArray[np.float64]
    counts: NDArray[np.int64]

    def stderr(self) -> NDArray[np.float64]:
        """Standard error of each correlator, √((1 − E²)/n)."""
        n = np.maximum(self.counts, 1)
        return np.asarray(np.sqrt(np.maximum(1.0 - self.correlator**2, 1.0 / n) / n))


def correlation_table(
    n_a: int, n_b: int, alice_settings: Settings, bob_settings: Settings, alice_bits: Bits, bob_bits: Bits
) -> CorrelationTable:
    """Tabulate correlators from disclosed (setting, outcome) pairs, one bincount for all settings."""
    # One count over (setting pair, agreement): even entries count disagreements, odd ones agreements.
    combo = alice_settings.astype(np.intp) * (2 * n_b) + 2 * bob_settings.astype(np.intp)
    combo += alice_bits == bob_bits
    both = np.bincount(combo, minlength=2 * n_a * n_b)
    same = both[1::2]
    counts = both[0::2] + same
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.where(counts > 0, (2.0 * same - counts) / np.maximum(counts, 1), np.nan)
    return CorrelationTable(e.reshape(n_a, n_b), counts.reshape(n_a, n_b).astype(np.int64))


def chsh(protocol: ProtocolSpec, table: CorrelationTable) -> Estimate:
    """S = Σ sign·E(a, b) over the protocol's CHSH terms, with the standard error of the sum."""
    if not protocol.chsh_terms:
        raise InvalidParameter(f"{protocol.name} has no CHSH test")
    err = table.stderr()
    s = sum(sign * table.correlator[a, b] for a, b, sign in protocol.chsh_terms)
    var = sum(err[a, b] ** 2 for a, b, _ in protocol.chsh_terms)
    n = int(sum(table.counts[a, b] for a, b, _ in protocol.chsh_terms))
    return Estimate(float(s), float(math.sqrt(var)), n)


def _bloch_direction(angle_deg: float) -> NDArray[np.float64]:
    """Polarization angle θ ↦ Bloch direction (cos 2θ, sin 2θ) in the Z–X plane."""
    t = math.radians(2.0 * angle_deg)
    return np.array([math.cos(t), math.sin(t)])


def phase_error(protocol: ProtocolSpec, table: CorrelationTable, basis: int) -> Estimate:
    """Phase error of a key basis: the error rate both parties would see in its conjugate basis (θ + 45°).

    For qubits every correlator is bilinear, E(a, b) = n_aᵀ T n_b with T the Z–X block of the correlation
    tensor; T is fitted by weighted least squares to all disclosed correlators and evaluated at the
    conjugate directions. For BBM92 this is exactly the other basis' error rate (Shor–Preskill).
    """
    rows, values, weights = [], [], []
    err = table.stderr()
    for i, a in enumerate(protocol.alice_angles_deg):
        for j, b in enumerate(protocol.bob_angles_deg):
            if table.counts[i, j] == 0:
                continue
            rows.append(np.outer(_bloch_direction(a), _bloch_direction(b)).ravel())
            values.append(table.correlator[i, j])
            weights.append(1.0 / err[i, j] ** 2)
    design = np.array(rows)
    if design.shape[0] < 4 or np.linalg.matrix_rank(design) < 4:
        return Estimate(float("nan"), float("nan"), 0)
    w = np.array(weights)
    normal = design.T @ (design * w[:, None])
    cov = np.linalg.inv(normal)
    tensor = cov @ (design.T @ (w * np.array(values)))
    conj = _bloch_direction(protocol.key_basis_angle_deg(basis) + 45.0)
    g = np.outer(conj, conj).ravel()
    e = float(g @ tensor)
    e_var = float(g @ cov @ g)
    n = int(table.counts.sum())
    return Estimate(min(max((1.0 - e) / 2.0, 0.0), 1.0), math.sqrt(e_var) / 2.0, n)


def chi2_survival(stat: float, dof: int) -> float:
    """P(χ²_dof ≥ stat): the p-value of a chi-square statistic, 1 for ``stat`` ≤ 0.

    ``scipy.special.chdtrc`` is what ``scipy.stats.chi2.sf`` evaluates, without importing ``scipy.stats``
    (about 0.3 s, once per process, on the way to a key). Below 0 the distribution has no mass, so the
    survival function is 1, as ``chi2.sf`` gives; ``chdtrc`` alone would give NaN there, and rounding can make a
    statistic of independent data a hair negative.
    """
    from scipy.special import chdtrc

    return float(chdtrc(dof, max(stat, 0.0)))


@dataclass(frozen=True, slots=True)
class NoSignalling:
    """Bob's outcome frequencies under each of Alice's settings, and a chi-square test of their equality."""

    bob_zero_frequency: NDArray[np.float64]
    stderr: NDArray[np.float64]
    chi2: float
    dof: int
    p_value: float


def no_signalling_test(
    n_a: int, n_b: int, alice_settings: Settings, bob_settings: Settings, bob_outcomes: Bits
) -> NoSignalling:
    """Does Alice's choice of setting change Bob's local statistics? It must not: entanglement carries no signal.

    For each of Bob's settings, a chi-square test of independence between Alice's setting and Bob's
    outcome; the statistics of the independent sub-tables add up.
    """
    combo = (alice_settings.astype(np.intp) * n_b + bob_settings) * 2 + bob_outcomes
    counts = np.bincount(combo, minlength=n_a * n_b * 2).reshape(n_a, n_b, 2).astype(np.float64)
    stat, dof = 0.0, 0
    for j in range(n_b):
        table = counts[:, j, :]
        table = table[table.sum(axis=1) > 0]
        table = table[:, table.sum(axis=0) > 0] if table.size else table
        if table.shape[0] < 2 or table.shape[1] < 2:
            continue
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
        stat += float(((table - expected) ** 2 / expected).sum())
        dof += (table.shape[0] - 1) * (table.shape[1] - 1)
    per_alice = counts.sum(axis=1)
    totals = np.maximum(per_alice.sum(axis=1), 1)
    freq = per_alice[:, 0] / totals
    p_value = chi2_survival(stat, dof) if dof else 1.0
    return NoSignalling(freq, np.sqrt(freq * (1 - freq) / totals), stat, dof, p_value)
