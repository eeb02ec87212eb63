"""Side-by-side sifted-key throughput of SeQUeNCe's BB84 and qkdnet's BBM92/E91 on this machine.

SeQUeNCe (the quantum-network simulator published on PyPI as ``sequence``) is installed into a throwaway
virtualenv outside the repository (default ``<tmpdir>/qkdnet-ref-sequence``, reused when it exists; never into
qkdnet's own venv), and a small BB84 run is driven there in a subprocess: two ``QKDNode``s joined by a quantum and
a classical channel each way, ``pair_bb84_protocols``, then ``BB84.push(key_length, keys)`` and ``Timeline.run()``,
timing the wall-clock seconds until every requested sifted key has been delivered. In the same run qkdnet's
sifted-bit throughput is measured with this interpreter (run it with ``.venv/bin/python``): ``simulate_records`` +
``assess`` on a Werner source (V = 0.98, 1 MHz pairs) for BBM92 and E91, best of a few repeats after a warm-up.
One table is printed with the qkdnet/SeQUeNCe ratio of sifted bits per second, the figure quoted in the closing
note. The two tools model different things (SeQUeNCe simulates each weak-coherent pulse as a discrete event,
qkdnet samples heralded entangled pairs in vectorised batches), so the ratio compares cost per sifted key bit,
not physics. This is an optional reference run, not a test: if the install or the SeQUeNCe run fails it prints a
one-line reason and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_VENV = Path(tempfile.gettempdir()) / "qkdnet-ref-sequence"
INSTALL_TIMEOUT_S = 900
RUN_TIMEOUT_S = 900

# Runs inside the SeQUeNCe venv. Prints one JSON line as its last line of output.
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
        "simulated_s": tl.now() * 1e-12,
    }


key_length, keys, seed = (int(a) for a in sys.argv[1:4])
run(key_length, 5, seed + 100)  # warm-up: imports, caches
result = run(key_length, keys, seed)
result["version"] = version("sequence")
if result["keys"] != keys:
    raise SystemExit(f"SeQUeNCe delivered {result['keys']} of {keys} keys")
print(json.dumps(result))
'''


class ReferenceUnavailable(Exception):
    """SeQUeNCe could not be installed or run; the message is the one-line reason."""


@dataclass(frozen=True)
class Row:
    tool: str
    protocol: str
    sifted_bits: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.sifted_bits / self.seconds


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def ensure_sequence_venv(venv: Path) -> Path:
    """Create (or reuse) ``venv`` with ``sequence`` installed; return its interpreter."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating virtualenv {venv} ...", file=sys.stderr)
        base = getattr(sys, "_base_executable", sys.executable)
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [base, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
        if proc.returncode != 0:
            raise ReferenceUnavailable(f"could not create virtualenv {venv}: {_last_line(proc.stderr)}")
    probe = subprocess.run(  # noqa: S603
        [str(python), "-c", "import sequence.qkd.BB84"], capture_output=True, text=True, timeout=120, check=False
    )
    if probe.returncode != 0:
        print(f"pip-installing sequence into {venv} ...", file=sys.stderr)
        proc = subprocess.run(  # noqa: S603
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "sequence"],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
        if proc.returncode != 0:
            raise ReferenceUnavailable(f"pip install sequence failed: {_last_line(proc.stderr)}")
    return python


def run_sequence_bb84(python: Path, key_length: int, keys: int, seed: int) -> tuple[Row, dict[str, float | str]]:
    """Run SeQUeNCe's BB84 in its venv; return the table row and the raw result."""
    with tempfile.TemporaryDirectory(prefix="qkdnet-ref-") as tmp:
        script = Path(tmp) / "sequence_bb84.py"
        script.write_text(INNER_SCRIPT)
        try:
            proc = subprocess.run(  # noqa: S603
                [str(python), str(script), str(key_length), str(keys), str(seed)],
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT_S,
                cwd=tmp,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ReferenceUnavailable(f"SeQUeNCe BB84 run exceeded {RUN_TIMEOUT_S} s") from exc
    if proc.returncode != 0:
        raise ReferenceUnavailable(f"SeQUeNCe BB84 run failed: {_last_line(proc.stderr or proc.stdout)}")
    try:
        result = json.loads(_last_line(proc.stdout))
    except json.JSONDecodeError as exc:
        raise ReferenceUnavailable(f"SeQUeNCe BB84 run printed no result: {_last_line(proc.stdout)}") from exc
    row = Row("SeQUeNCe", "BB84", int(result["sifted_bits"]), float(result["seconds"]))
    return row, result


def run_qkdnet(n_pairs: int, repeats: int) -> list[Row]:
    """Best of ``repeats`` timed ``simulate_records`` + ``assess`` runs (after one warm-up) for BBM92 and E91."""
    from qkdnet.network import WernerSource
    from qkdnet.qkd import BBM92, E91, KeyRunConfig, assess, simulate_records
    from qkdnet.rng import SeedTree

    rows = []
    for label, protocol in (("BBM92", BBM92), ("E91", E91)):
        source = WernerSource(visibility=0.98, pair_rate_hz=1e6)
        best_seconds, bits = float("inf"), 0
        for i in range(repeats + 1):
            start = time.perf_counter()
            records = simulate_records(source, protocol, n_pairs, tree=SeedTree(1))
            a = assess(protocol, KeyRunConfig(), records, tree=SeedTree(1))
            seconds = time.perf_counter() - start
            if i > 0:  # run 0 is the warm-up
                best_seconds, bits = min(best_seconds, seconds), a.result.sifted_bits
        rows.append(Row("qkdnet", label, bits, best_seconds))
    return rows


def print_table(rows: list[Row], reference: Row) -> None:
    header = f"{'tool':<10}{'protocol':<10}{'sifted bits':>14}{'seconds':>10}{'sifted bits/s':>16}{'vs SeQUeNCe':>13}"
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = row.rate / reference.rate
        print(
            f"{row.tool:<10}{row.protocol:<10}{row.sifted_bits:>14,}{row.seconds:>10.3f}"
            f"{row.rate:>16,.0f}{ratio:>12,.1f}x"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--venv", type=Path, default=DEFAULT_VENV, help="throwaway venv for SeQUeNCe (default %(default)s)"
    )
    parser.add_argument("--key-length", type=int, default=256, help="SeQUeNCe key length in bits (default %(default)s)")
    parser.add_argument("--keys", type=int, default=600, help="number of SeQUeNCe keys (default %(default)s, ~15 s)")
    parser.add_argument("--pairs", type=int, default=2_000_000, help="qkdnet pairs per run (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="qkdnet timed repeats, best kept (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    try:
        python = ensure_sequence_venv(args.venv)
        print(f"running SeQUeNCe BB84: {args.keys} keys x {args.key_length} bits ...", file=sys.stderr)
        reference, raw = run_sequence_bb84(python, args.key_length, args.keys, args.seed)
    except (ReferenceUnavailable, OSError, subprocess.SubprocessError) as exc:
        print(f"SeQUeNCe reference skipped: {exc}")
        return 0

    print(f"running qkdnet BBM92/E91: {args.pairs:,} pairs, best of {args.repeats} ...", file=sys.stderr)
    rows = [reference, *run_qkdnet(args.pairs, args.repeats)]

    print(
        f"SeQUeNCe {raw['version']} (venv {args.venv}); BB84 over 1 km fibre, polarization fidelity 0.97, "
        f"QBER {float(raw['qber']):.2%}, {float(raw['simulated_s']) * 1e3:.1f} ms simulated"
    )
    print(f"qkdnet: Werner source V=0.98, 1 MHz pairs, {args.pairs:,} pairs; Python {sys.version.split()[0]}")
    print_table(rows, reference)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main())
