"""SeQUeNCe's BB84 beside qkdnet's BBM92/E91 over the same link: sifted key bits per second, two ways, interleaved.

SeQUeNCe (PyPI ``sequence``, pinned in ``benchmarks/_reference.py`` and installed by this script into a throwaway
venv outside the repository, never a qkdnet dependency) runs BB84 in a subprocess: two ``QKDNode``s joined by a
quantum and a classical channel each way over 1 km (0.2 dB/km, polarization fidelity 0.97), its default
weak-coherent source (80 MHz, mean photon number 0.1) and detectors (efficiency 0.9, no dark counts),
``pair_bb84_protocols``, ``BB84.push(key_length, keys)``, ``Timeline.run()``.

qkdnet runs the same link in its own terms (it simulates heralded entangled pairs, not pulses): a Werner source
whose pair rate is the rate at which SeQUeNCe's pulses are detected, f·(1 − exp(−μ·T·η)) with T the 1 km fiber
transmission, less what its two detectors miss while dead (1 / 25 MHz after each click), and whose visibility
V = 0.97 gives the error rate (1 − V)/2 = 1.5 % of SeQUeNCe's polarization errors (a random state with probability
1 − 0.97);
``simulate_records`` + ``assess`` (sifting and the error estimate, as SeQUeNCe's BB84 does; no reconciliation,
so no numba JIT on either side) for as many pairs as give SeQUeNCe's number of sifted bits. The simulated sifted
rates and the error rates of both tools are printed beside the timings so the physics can be compared; what
still differs: prepare-and-measure pulses (multi-photon pulses, detector dead time) against entangled pairs.

Two timings, each as the median of interleaved runs (SeQUeNCe, qkdnet, SeQUeNCe, qkdnet, ...), one fresh process
per run: **whole process** (spawn to exit: interpreter, imports, build, run; nothing warmed) and **in-process**
(inside the child, after one untimed warm-up run: build, simulate and sift one run). Not a test: if the install
or the SeQUeNCe run fails it prints a one-line reason and exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _reference import (  # the benchmarks folder is not a package
    DEFAULT_SEQUENCE_VENV,
    ReferenceUnavailable,
    ensure_sequence_venv,
    last_line,
    median,
)

DEFAULT_VENV = DEFAULT_SEQUENCE_VENV
RUN_TIMEOUT_S = 900
ROOT = Path(__file__).resolve().parent.parent
# SeQUeNCe's BB84 link, and qkdnet's Werner source in its terms (see the module docstring).
LINK_M = 1e3
ATTENUATION_DB_PER_KM = 0.2
POLARIZATION_FIDELITY = 0.97
PULSE_RATE_HZ = 8e7
MEAN_PHOTON_NUMBER = 0.1
DETECTOR_EFFICIENCY = 0.9
TRANSMISSION = 10 ** (-ATTENUATION_DB_PER_KM * LINK_M / 1e3 / 10)
DETECTOR_COUNT_RATE_HZ = 25e6  # SeQUeNCe's detectors are dead for 1 / count rate after each click
_CLICK_RATE_HZ = PULSE_RATE_HZ * (1 - math.exp(-MEAN_PHOTON_NUMBER * TRANSMISSION * DETECTOR_EFFICIENCY))
# Two detectors share the clicks; each loses what arrives while it is dead (non-paralysable: r / (1 + r tau)).
DETECTED_RATE_HZ = 2 * (_CLICK_RATE_HZ / 2) / (1 + _CLICK_RATE_HZ / 2 / DETECTOR_COUNT_RATE_HZ)
# SeQUeNCe's polarization error (probability 1 - F) replaces the state by a random one, wrong half of the time:
# QBER = (1 - F) / 2, which a Werner pair of visibility V = F gives too ((1 - V) / 2).
VISIBILITY = POLARIZATION_FIDELITY

# Runs inside the SeQUeNCe venv. argv: key length, keys, seed, warm (0/1). Prints one JSON line last.
INNER_SCRIPT = r'''
import json
import sys
import time
from importlib.metadata import version

import numpy
from sequence.components.optical_channel import ClassicalChannel, QuantumChannel
from sequence.kernel.timeline import Timeline
from sequence.protocol import StackProtocol
from sequence.qkd.BB84 import pair_bb84_protocols
from sequence.topology.node import QKDNode


class KeySink(StackProtocol):
    """Upper layer on Alice's stack: counts the sifted keys BB84 pops up."""

    def __init__(self, owner, name):
        super().__init__(owner, name)
        self.keys = 0

    def push(self, *args, **kwargs):
        pass

    def pop(self, info):
        self.keys += 1

    def received_message(self, src, msg):
        pass


def run(key_length, keys, seed):
    numpy.random.seed(seed)  # BB84 draws bases and bits from numpy's global generator
    Timeline.seed(seed)
    start = time.perf_counter()
    tl = Timeline()
    alice = QKDNode("alice", tl, stack_size=1)
    bob = QKDNode("bob", tl, stack_size=1)
    alice.set_seed(seed)
    bob.set_seed(seed + 1)
    pair_bb84_protocols(alice.protocol_stack[0], bob.protocol_stack[0])
    for name, src, dst in (("qc_ab", alice, bob), ("qc_ba", bob, alice)):
        qc = QuantumChannel(name, tl, attenuation=0.0002, distance=1e3, polarization_fidelity=0.97)
        qc.set_ends(src, dst.name)
    for name, src, dst in (("cc_ab", alice, bob), ("cc_ba", bob, alice)):
        cc = ClassicalChannel(name, tl, distance=1e3)
        cc.set_ends(src, dst.name)
    sink = KeySink(alice, "alice.sink")
    bb84 = alice.protocol_stack[0]
    bb84.upper_protocols.append(sink)
    tl.init()
    bb84.push(key_length, keys)
    tl.run()
    seconds = time.perf_counter() - start
    errors = bb84.error_rates
    return {
        "keys": sink.keys,
        "sifted_bits": sink.keys * key_length,
        "seconds": seconds,
        "qber": sum(errors) / len(errors) if errors else float("nan"),
        "qber_values": list(errors),
        "simulated_s": tl.now() * 1e-12,
    }


key_length, keys, seed, warm = (int(a) for a in sys.argv[1:5])
if warm:
    run(key_length, 5, seed + 100)  # warm-up: imports, caches
result = run(key_length, keys, seed)
result["version"] = version("sequence")
if result["keys"] != keys:
    raise SystemExit(f"SeQUeNCe delivered {result['keys']} of {keys} keys")
print(json.dumps(result))
'''


@dataclass(frozen=True)
class Row:
    tool: str
    protocol: str
    sifted_bits: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.sifted_bits / self.seconds


def _sequence_child(python: Path, key_length: int, keys: int, seed: int, warm: bool) -> tuple[dict[str, Any], float]:
    """One SeQUeNCe BB84 process: its JSON result and the whole process's wall time (spawn to exit)."""
    with tempfile.TemporaryDirectory(prefix="qkdnet-ref-") as tmp:
        script = Path(tmp) / "sequence_bb84.py"
        script.write_text(INNER_SCRIPT)
        start = time.perf_counter()
        try:
            proc = subprocess.run(  # noqa: S603
                [str(python), str(script), str(key_length), str(keys), str(seed), str(int(warm))],
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT_S,
                cwd=tmp,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ReferenceUnavailable(f"SeQUeNCe BB84 run exceeded {RUN_TIMEOUT_S} s") from exc
        whole = time.perf_counter() - start
    if proc.returncode != 0:
        raise ReferenceUnavailable(f"SeQUeNCe BB84 run failed: {last_line(proc.stderr or proc.stdout)}")
    try:
        result: dict[str, Any] = json.loads(last_line(proc.stdout))
    except json.JSONDecodeError as exc:
        raise ReferenceUnavailable(f"SeQUeNCe BB84 run printed no result: {last_line(proc.stdout)}") from exc
    return result, whole


def run_sequence_bb84(python: Path, key_length: int, keys: int, seed: int) -> tuple[Row, dict[str, float | str]]:
    """Run SeQUeNCe's BB84 in its venv (after a warm-up run in the same process); return the row and raw result."""
    result, _ = _sequence_child(python, key_length, keys, seed, warm=True)
    row = Row("SeQUeNCe", "BB84", int(result["sifted_bits"]), float(result["seconds"]))
    return row, result


def _qkdnet_once(label: str, n_pairs: int, seed: int) -> dict[str, Any]:
    """One qkdnet run of ``label`` (BBM92 or E91): build the source, simulate, sift and estimate."""
    from qkdnet.network import WernerSource
    from qkdnet.qkd import BBM92, E91, KeyRunConfig, assess, simulate_records
    from qkdnet.rng import SeedTree

    protocol = {"BBM92": BBM92, "E91": E91}[label]
    start = time.perf_counter()
    source = WernerSource(visibility=VISIBILITY, pair_rate_hz=DETECTED_RATE_HZ)
    records = simulate_records(source, protocol, n_pairs, tree=SeedTree(seed))
    a = assess(protocol, KeyRunConfig(), records, tree=SeedTree(seed))
    seconds = time.perf_counter() - start
    return {
        "sifted_bits": int(a.result.sifted_bits),
        "seconds": seconds,
        "qber": float(a.result.qber),
        "qber_stderr": float(a.result.qber_stderr),
        "simulated_s": n_pairs / DETECTED_RATE_HZ,
    }


def run_qkdnet(n_pairs: int, repeats: int) -> list[Row]:
    """Median of ``repeats`` in-process runs (after one warm-up) for BBM92 and E91."""
    rows = []
    for label in ("BBM92", "E91"):
        _qkdnet_once(label, n_pairs, 1)  # warm-up
        runs = [_qkdnet_once(label, n_pairs, 1) for _ in range(repeats)]
        rows.append(Row("qkdnet", label, runs[0]["sifted_bits"], median([r["seconds"] for r in runs])))
    return rows


def _qkdnet_child(label: str, n_pairs: int, seed: int, warm: bool) -> tuple[dict[str, Any], float]:
    """One qkdnet process (this file with ``--inner-qkdnet``): its JSON result and the whole process's wall time."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - this very script, fixed argv
        [sys.executable, __file__, "--inner-qkdnet", label, str(n_pairs), str(seed), str(int(warm))],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
        env=env,
    )
    whole = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"qkdnet {label} run failed: {last_line(proc.stderr or proc.stdout)}")
    result: dict[str, Any] = json.loads(last_line(proc.stdout))
    return result, whole


def _qber_text(qber: float, stderr: float) -> str:
    return f"{qber:.2%}±{stderr:.2%}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--venv", type=Path, default=DEFAULT_VENV, help="throwaway venv for SeQUeNCe (default %(default)s)"
    )
    parser.add_argument("--key-length", type=int, default=256, help="SeQUeNCe key length in bits (default %(default)s)")
    parser.add_argument("--keys", type=int, default=None, help="number of SeQUeNCe keys (default 600, quick 150)")
    parser.add_argument(
        "--pairs", type=int, default=None, help="qkdnet pairs per run (default: as many as give SeQUeNCe's sifted bits)"
    )
    parser.add_argument("--repeats", type=int, default=None, help="interleaved runs per tool (default 3, quick 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer keys and runs (about a minute)")
    parser.add_argument(
        "--inner-qkdnet", nargs=4, metavar=("PROTOCOL", "PAIRS", "SEED", "WARM"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.inner_qkdnet:
        label, n_pairs, seed, warm = args.inner_qkdnet
        if int(warm):
            _qkdnet_once(label, int(n_pairs), int(seed) + 100)
        print(json.dumps(_qkdnet_once(label, int(n_pairs), int(seed))))
        return 0
    keys = args.keys or (150 if args.quick else 600)
    repeats = args.repeats or (2 if args.quick else 3)
    # BBM92 and E91 keep about half of the pairs: as many pairs as give SeQUeNCe's sifted bits.
    n_pairs = args.pairs or 2 * keys * args.key_length
    try:
        python = ensure_sequence_venv(args.venv)
    except (ReferenceUnavailable, OSError, subprocess.SubprocessError) as exc:
        print(f"SeQUeNCe reference skipped: {exc}")
        return 0

    labels = ("BBM92", "E91")
    seq: dict[bool, list[tuple[dict[str, Any], float]]] = {False: [], True: []}
    ours: dict[tuple[str, bool], list[tuple[dict[str, Any], float]]] = {
        (lab, w): [] for lab in labels for w in (False, True)
    }
    try:
        for i in range(repeats):  # SeQUeNCe, qkdnet BBM92, qkdnet E91, repeated; cold (whole process), then warm
            for warm in (False, True):
                print(f"run {i + 1}/{repeats}, {'in-process' if warm else 'whole process'} ...", file=sys.stderr)
                seq[warm].append(_sequence_child(python, args.key_length, keys, args.seed + i, warm))
                for label in labels:
                    ours[label, warm].append(_qkdnet_child(label, n_pairs, args.seed + i, warm))
    except (ReferenceUnavailable, OSError, subprocess.SubprocessError, RuntimeError) as exc:
        print(f"SeQUeNCe reference skipped: {exc}")
        return 0

    first = seq[True][0][0]
    qbers = [q for result, _ in seq[True] + seq[False] for q in result["qber_values"]]
    seq_bits = sum(int(r["sifted_bits"]) for r, _ in seq[True] + seq[False])
    seq_qber = sum(qbers) / len(qbers) if qbers else math.nan
    seq_qber_err = math.sqrt(seq_qber * (1 - seq_qber) / seq_bits) if seq_bits else math.nan
    print(
        f"SeQUeNCe {first['version']} (pinned, {args.venv}): BB84 over {LINK_M / 1e3:g} km, "
        f"{ATTENUATION_DB_PER_KM:g} dB/km, polarization fidelity {POLARIZATION_FIDELITY:g}, "
        f"{PULSE_RATE_HZ / 1e6:g} MHz pulses of mean photon number {MEAN_PHOTON_NUMBER:g}, "
        f"detectors {DETECTOR_EFFICIENCY:g}; "
        f"{keys} keys x {args.key_length} bits per run"
    )
    print(
        f"qkdnet: Werner source V={VISIBILITY:.2f} at SeQUeNCe's detection rate {DETECTED_RATE_HZ / 1e6:.3f} MHz "
        f"(f(1-exp(-mu T eta)), less detector dead time), {n_pairs:,} pairs per run; "
        f"Python {sys.version.split()[0]}; no numba JIT on this path"
    )
    print(f"{repeats} interleaved runs per tool and timing (SeQUeNCe, qkdnet BBM92, qkdnet E91, ...), medians")
    header = (
        f"{'tool':<10}{'protocol':<9}{'sifted bits':>12}{'sim. sifted/s':>15}{'QBER':>14}"
        f"{'whole-process s':>17}{'ratio':>8}{'in-process s':>14}{'ratio':>8}"
    )
    print(header)
    print("-" * len(header))
    s_whole = median([w for _, w in seq[False]])
    s_warm = median([float(r["seconds"]) for r, _ in seq[True]])
    s_sim = median([float(r["sifted_bits"]) / float(r["simulated_s"]) for r, _ in seq[True]])
    print(
        f"{'SeQUeNCe':<10}{'BB84':<9}{int(first['sifted_bits']):>12,}{s_sim:>15,.0f}"
        f"{_qber_text(seq_qber, seq_qber_err):>14}{s_whole:>17.3f}{'1x':>8}{s_warm:>14.3f}{'1x':>8}"
    )
    for label in labels:
        cold, warm_runs = ours[label, False], ours[label, True]
        q_whole = median([w for _, w in cold])
        q_warm = median([float(r["seconds"]) for r, _ in warm_runs])
        r0 = warm_runs[0][0]
        bits = int(r0["sifted_bits"])
        q_sim = bits / float(r0["simulated_s"])
        # Ratio of sifted bits per wall-second (the two sides sift about the same number of bits).
        whole_ratio = (bits / q_whole) / (int(first["sifted_bits"]) / s_whole)
        warm_ratio = (bits / q_warm) / (int(first["sifted_bits"]) / s_warm)
        print(
            f"{'qkdnet':<10}{label:<9}{bits:>12,}{q_sim:>15,.0f}{_qber_text(r0['qber'], r0['qber_stderr']):>14}"
            f"{q_whole:>17.3f}{whole_ratio:>7,.0f}x{q_warm:>14.3f}{warm_ratio:>7,.0f}x"
        )
    print(
        "ratio: qkdnet sifted bits per wall-second / SeQUeNCe's, medians of interleaved fresh processes; "
        "whole process = spawn to exit, nothing warmed; in-process = one run after a warm-up run in that process"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main())
