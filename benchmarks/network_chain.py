"""Repeater chains in qkdnet beside SeQUeNCe, and the 1,000-node network: end-to-end pairs per wall-second.

**Chains.** A linear chain of N = 2, 4, 8, 16, 32 nodes with identical 10 km links, a Bell-state station in the
middle of each link, one request from the first node to the last. SeQUeNCe (pinned in ``benchmarks/_reference.py``,
installed by the script into a throwaway venv outside the repository; never a qkdnet dependency) runs its own
repeater-chain setup: the topology from its config generator (``generate_nodes``, ``generate_bsm_links`` on a path
graph, ``generate_classical``) loaded by ``RouterNetTopo``, quantum routers with two memories each (80 MHz,
efficiency 1, infinite coherence time), detectors of efficiency 0.9, 0.2 dB/km, and a ``RequestApp`` reservation
from the first router to the last; its network manager generates (Barrett-Kok), swaps and delivers. Each pair's
arrival time and the fidelity SeQUeNCe gives it are recorded; a run lasts a wall-time cap.

qkdnet runs the same chain in its own terms: one memory at each end and two inside, perfect memories, an
:class:`IdealLink` over 10 km whose success probability is fitted to the link rate of a separate SeQUeNCe
calibration run at N = 2 (so the simulated rates at every N, including N = 2, are checks, not fits), Werner
pairs of SeQUeNCe's memory fidelity, and swaps whose Bell measurement is right with probability equal to
SeQUeNCe's swap degradation. Two noise models: SeQUeNCe's defaults (memory fidelity 0.85, degradation 0.95),
where SeQUeNCe's fidelity is bookkeeping (F1·F2·0.95 per swap, even below 1/4) and qkdnet's is the Werner
state's, so they agree only at N = 2 and no ratio is quoted beyond; and noiseless pairs and swaps (fidelity 1,
degradation 1), where both deliver fidelity 1 and the ratio is quoted. Per N the table prints both tools'
simulated pair rate and delivered fidelity (mean ± standard error), SeQUeNCe's pairs per wall-second, and the
wall-clock ratio with qkdnet's shortcuts on and off (``simulate(..., event_by_event=True)``), medians of
interleaved runs; where SeQUeNCe delivers nothing it says so and gives no ratio.

**The 1,000-node network.** ``examples/rgg1000.toml`` (1,000 nodes, 10,000 requests) through the whole
``qkdnet simulate`` path (load, build, route, simulate, report), on one core: wall time and peak memory (each
measured in a fresh process), then how wall time grows with the number of nodes and of requests.

Run ``python benchmarks/network_chain.py`` (about 15 minutes; ``--quick``: N = 2, 4, 8, about 2 minutes with the
rgg1000 run once).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _reference import (  # noqa: E402 - the benchmarks folder is not a package
    DEFAULT_SEQUENCE_VENV,
    SEQUENCE_VERSION,
    ReferenceUnavailable,
    agree,
    ensure_sequence_venv,
    last_line,
    mean_and_error,
    median,
    rate_and_error,
)

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = HERE.parent
CHAIN_SIZES = (2, 4, 8, 16, 32)
LINK_KM = 10.0
GOAL_RATIO = 1000.0

# Runs inside the SeQUeNCe venv: a chain of N routers from SeQUeNCe's own config generator, one request.
# argv: N, wall cap (s), link km, memory fidelity, swap degradation, seed. Prints one JSON line.
INNER_SCRIPT = r"""
import json
import sys
import time
from argparse import Namespace
from importlib.metadata import version

import networkx as nx
from sequence.app.request_app import RequestApp
from sequence.entanglement_management.swapping import EntanglementSwappingA
from sequence.topology.router_net_topo import RouterNetTopo
from sequence.topology.topology import Topology
from sequence.utils.config_generator import (
    bsm_name_func, final_config, generate_bsm_links, generate_classical, generate_nodes, router_name_func,
)

n, cap_s, link_km, memory_fidelity, degradation, seed = (
    int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]))
# 0.8.5 does not pass es_degradation to the swapping rules (a TODO in action_condition_set.py): set the default.
EntanglementSwappingA.__init__.__defaults__ = (1, degradation)
args = Namespace(memo_size=2, qc_length=link_km, qc_atten=0.0002, cc_delay=link_km / 2 / 2e5 * 1e3,
                 stop=1e4, formalism="ket_vector")
names = [router_name_func(i) for i in range(n)]
nodes = generate_nodes(names, args.memo_size, template="memories")
for i, node in enumerate(nodes):
    node[Topology.SEED] = seed * 1000 + i
cchannels, qchannels, bsm_nodes = generate_bsm_links(nx.path_graph(n), args, bsm_name_func)
for channel in qchannels + cchannels:
    for key in (Topology.SRC, Topology.DST):
        if isinstance(channel[key], int):
            channel[key] = router_name_func(channel[key])
for i, node in enumerate(bsm_nodes):
    node[Topology.SEED] = seed * 1000 + 500 + i
config = {Topology.ALL_NODE: nodes + bsm_nodes, Topology.ALL_Q_CHANNEL: qchannels,
          Topology.ALL_C_CHANNEL: cchannels + generate_classical(names, args.cc_delay),
          Topology.ALL_TEMPLATES: {"memories": {"MemoryArray": {"fidelity": memory_fidelity}}}}
final_config(config, args)
with open("chain.json", "w") as fh:
    json.dump(config, fh)


class CountingApp(RequestApp):
    # SeQUeNCe's RequestApp, also noting when each pair arrived and the fidelity SeQUeNCe gave it.

    def __init__(self, node):
        super().__init__(node)
        self.times_ps, self.fidelities = [], []

    def get_memory(self, info):
        before = self.memory_counter
        fidelity = info.fidelity
        super().get_memory(info)
        if self.memory_counter > before:
            self.times_ps.append(self.node.timeline.now())
            self.fidelities.append(fidelity)


topo = RouterNetTopo("chain.json")
tl = topo.get_timeline()
routers = {r.name: r for r in topo.get_nodes_by_type(RouterNetTopo.QUANTUM_ROUTER)}
first, last = routers[names[0]], routers[names[-1]]
app = CountingApp(first)
RequestApp(last)
start = 2 * 10**10  # 20 ms: the reservation's round trip along 32 routers must end before the start
app.start(last.name, start, 10**17, 1, 0.01)
tl.init()
tl.stop_time = start
tl.run()
began = time.perf_counter()
error = None
try:
    while time.perf_counter() - began < cap_s:
        tl.stop_time += 10**9  # 1 ms of simulated time per slice, so the cap is kept
        tl.run()
except Exception as exc:  # a failure inside SeQUeNCe: report what it delivered until then
    error = f"{type(exc).__name__}: {exc}"
wall = time.perf_counter() - began
print(json.dumps({"pairs": app.memory_counter, "wall_s": wall, "simulated_s": (tl.now() - start) * 1e-12,
                  "times_s": [(t - start) * 1e-12 for t in app.times_ps], "fidelities": app.fidelities,
                  "version": version("sequence"), "error": error}))
"""

PHYSICS = {
    # name: (memory fidelity, swap degradation); SeQUeNCe's defaults, and noiseless pairs and swaps.
    "sequence-defaults": (0.85, 0.95),
    "noiseless": (1.0, 1.0),
}


def run_sequence(python: Path, n: int, cap_s: float, physics: str, seed: int) -> dict[str, Any]:
    """SeQUeNCe's chain of ``n`` routers for ``cap_s`` wall seconds: pairs (times, fidelities), wall, simulated."""
    memory_fidelity, degradation = PHYSICS[physics]
    with tempfile.TemporaryDirectory(prefix="qkdnet-chain-") as tmp:
        script = Path(tmp) / "chain.py"
        script.write_text(INNER_SCRIPT)
        argv = [str(python), str(script), str(n), str(cap_s), str(LINK_KM), str(memory_fidelity), str(degradation)]
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [*argv, str(seed)], capture_output=True, text=True, timeout=cap_s * 4 + 300, cwd=tmp, check=False
        )
    if proc.returncode != 0:
        raise RuntimeError(f"SeQUeNCe chain N={n} failed: {last_line(proc.stderr or proc.stdout)}")
    result: dict[str, Any] = json.loads(last_line(proc.stdout))
    return result


def qkdnet_network(n: int, link_rate_hz: float, physics: str) -> Any:
    """qkdnet's chain in SeQUeNCe's terms: one memory at each end and two inside, perfect memories (SeQUeNCe's
    coherence time is infinite), Werner links of the memory fidelity fitted to SeQUeNCe's link rate, and
    deterministic swaps whose Bell measurement is right with probability equal to SeQUeNCe's degradation."""
    from qkdnet.hardware import AtomCavityNode, Fiber
    from qkdnet.network import IdealLink, Network

    memory_fidelity, degradation = PHYSICS[physics]
    fiber = Fiber(LINK_KM, 0.2)
    p = min(1.0, link_rate_hz * fiber.delay_s)  # an IdealLink attempts every τ and heralds after τ: rate p / τ
    link = IdealLink(herald_probability=p, visibility=(4 * memory_fidelity - 1) / 3, attempt_rate_hz=1e9, fiber=fiber)
    return Network.chain(n, link, AtomCavityNode.perfect("memory"), swap_fidelity=degradation)


def qkdnet_chain(net: Any, n: int, pairs: int, seed: int, event_by_event: bool) -> dict[str, Any]:
    """One timed qkdnet run (in-process, ``simulate`` only): pairs, wall time, delivery times and fidelities."""
    from qkdnet.network import Request, simulate

    start = time.perf_counter()
    run = simulate(net, [Request(("n0", f"n{n - 1}"), pairs=pairs)], seed=seed, event_by_event=event_by_event)
    wall = time.perf_counter() - start
    out = run.outcomes[0]
    begin = out.admitted_ps or 0
    times = ((out.delivery_times_ps - begin) * 1e-12).tolist()
    return {
        "pairs": out.delivered,
        "wall_s": wall,
        "simulated_s": out.served_s,
        "times_s": times,
        "fidelities": out.fidelities.tolist(),
        "events": run.events,
    }


def size_run(net: Any, n: int, target_wall_s: float, event_by_event: bool) -> int:
    """Pairs per qkdnet run so that one run lasts about ``target_wall_s`` (grown from short untimed runs,
    which also warm imports and caches before anything is timed)."""
    qkdnet_chain(net, n, 200, 0, event_by_event)  # warm-up: imports and first-call costs stay out of the sizing
    pairs = 200
    while True:
        wall = qkdnet_chain(net, n, pairs, 0, event_by_event)["wall_s"]
        if wall >= target_wall_s / 4 or pairs >= 20_000_000:
            return max(200, min(20_000_000, int(pairs * target_wall_s / max(wall, 1e-4))))
        pairs = int(pairs * min(20.0, max(2.0, target_wall_s / 4 / max(wall, 1e-4))))


def _wall_rate(result: dict[str, Any]) -> float:
    return float(result["pairs"]) / float(result["wall_s"])


def _pooled(results: list[dict[str, Any]]) -> tuple[tuple[float, float], tuple[float, float], int]:
    """Simulated pair rate and delivered fidelity (mean ± standard error) over all runs of one tool."""
    rates = [rate_and_error(r["times_s"]) for r in results if len(r["times_s"]) >= 2]
    if rates:  # inverse-variance weights would favour the lucky runs; average the runs' rates instead
        rate = math.fsum(m for m, _ in rates) / len(rates)
        err = math.sqrt(math.fsum(e * e for _, e in rates)) / len(rates)
    else:
        rate, err = math.nan, math.nan
    fidelities = [f for r in results for f in r["fidelities"]]
    return (rate, err), mean_and_error(fidelities), sum(int(r["pairs"]) for r in results)


def _pm(value: tuple[float, float], digits: int) -> str:
    mean, err = value
    if math.isnan(mean):
        return "-"
    return f"{mean:,.{digits}f}±{0.0 if math.isnan(err) else err:,.{digits}f}"


def chains(args: argparse.Namespace) -> None:
    """Per physics and N: both tools' simulated rate and fidelity, and the wall-clock ratios (shortcuts on, off)."""
    python: Path | None = None
    if not args.no_sequence:
        try:
            python = ensure_sequence_venv(args.venv)
        except (ReferenceUnavailable, OSError, subprocess.SubprocessError) as exc:
            print(f"SeQUeNCe unavailable ({exc}); qkdnet alone:")
    sizes = CHAIN_SIZES[:3] if args.quick else CHAIN_SIZES
    if args.physics is None:  # both noise models beside SeQUeNCe; qkdnet alone, SeQUeNCe's defaults
        args.physics = "both" if python is not None else "sequence-defaults"
    physics_names = list(PHYSICS) if args.physics == "both" else [args.physics]
    # The link: SeQUeNCe's photon-level Barrett-Kok link (0.9 detectors, 0.2 dB/km, 80 MHz memories) is modelled
    # in qkdnet as an IdealLink whose success probability is fitted to the link rate of a separate, untimed
    # SeQUeNCe calibration run at N = 2 (its own seed); every timed run below is independent of that fit.
    link_rate = 1_440.0
    if python is not None:
        print("SeQUeNCe calibration run, N=2 ...", file=sys.stderr)
        calib = run_sequence(python, 2, args.cap_s, physics_names[0], seed=99)
        link_rate = rate_and_error(calib["times_s"])[0]
    print(
        f"\nRepeater chains, {LINK_KM:g} km links, one request end to end; SeQUeNCe {SEQUENCE_VERSION} "
        f"(pinned, {args.venv}), {args.cap_s:g} s wall cap per run; qkdnet's link fitted to SeQUeNCe's "
        f"N=2 calibration rate {link_rate:,.0f} pairs/s (a separate run)."
    )
    print(
        f"Timing: {args.repeats} interleaved runs per tool and N (SeQUeNCe, qkdnet shortcuts on, qkdnet "
        "event by event, repeated), medians; each tool times its run loop in its own process after building the "
        "network (SeQUeNCe: Timeline.run slices; qkdnet: simulate()), after untimed warm-up runs (the network "
        "simulation uses no numba JIT). Rates and fidelities: mean ± standard error over all runs."
    )
    for physics in physics_names:
        memory_fidelity, degradation = PHYSICS[physics]
        print(f"\nphysics {physics}: memory (link) fidelity {memory_fidelity:g}, swap degradation {degradation:g}")
        header = (
            f"{'N':>3} {'pairs/wall-s on':>14} {'off':>14} {'sim. pairs/s':>16} {'fidelity':>16}"
            if python is None
            else f"{'N':>3} {'sim. pairs/s SeQUeNCe':>22} {'qkdnet':>16} {'fidelity SeQUeNCe':>18} {'qkdnet':>16} "
            f"{'SeQ. pairs/wall-s':>18} {'ratio, shortcuts on':>20} {'off':>8}"
        )
        print(header)
        print("-" * len(header))
        for n in sizes:
            net = qkdnet_network(n, link_rate, physics)
            print(f"physics {physics}, N={n}: sizing qkdnet runs ...", file=sys.stderr)
            fast_pairs = size_run(net, n, args.target_wall_s, event_by_event=False)
            slow_pairs = size_run(net, n, args.target_wall_s, event_by_event=True)
            seq: list[dict[str, Any]] = []
            fast: list[dict[str, Any]] = []
            slow: list[dict[str, Any]] = []
            for i in range(args.repeats):  # A, B, C, A, B, C, ...
                if python is not None:
                    print(f"  SeQUeNCe N={n} run {i + 1} ...", file=sys.stderr)
                    try:
                        seq.append(run_sequence(python, n, args.cap_s, physics, seed=i + 1))
                    except (RuntimeError, subprocess.SubprocessError) as exc:
                        print(f"  {exc}", file=sys.stderr)
                fast.append(qkdnet_chain(net, n, fast_pairs, i + 1, event_by_event=False))
                slow.append(qkdnet_chain(net, n, slow_pairs, i + 1, event_by_event=True))
            q_rate, q_fid, _ = _pooled(fast + slow)
            fast_wall = median([_wall_rate(r) for r in fast])
            slow_wall = median([_wall_rate(r) for r in slow])
            if not seq:  # qkdnet alone: its wall rates first (the tests read column 2)
                print(f"{n:>3} {fast_wall:>14,.0f} {slow_wall:>14,.0f} {_pm(q_rate, 1):>16} {_pm(q_fid, 4):>16}")
                continue
            s_rate, s_fid, s_pairs = _pooled(seq)
            row = f"{n:>3} {_pm(s_rate, 1):>22} {_pm(q_rate, 1):>16} {_pm(s_fid, 4):>18} {_pm(q_fid, 4):>16}"
            if s_pairs == 0:
                print(f"{row} {'0 pairs':>18}  SeQUeNCe delivered nothing in {args.cap_s:g} s: no ratio")
            elif not agree(s_fid, q_fid):
                s_wall = median([_wall_rate(r) for r in seq])
                print(f"{row} {s_wall:>18,.1f}  fidelities disagree: no ratio")
            else:
                s_wall = median([_wall_rate(r) for r in seq])
                rates_agree = "" if agree(s_rate, q_rate) else "  (simulated rates disagree)"
                print(f"{row} {s_wall:>18,.1f} {fast_wall / s_wall:>19,.0f}x {slow_wall / s_wall:>7,.0f}x{rates_agree}")
            errors = {r["error"] for r in seq if r.get("error")}
            for error in errors:
                print(f"    SeQUeNCe stopped with {error}")
    print(
        "ratio: median qkdnet pairs per wall-second / median SeQUeNCe pairs per wall-second, interleaved "
        "in-process runs; quoted only where the delivered fidelities agree within 3 standard errors"
    )
    print(f"goal: ratio >= {GOAL_RATIO:,.0f}x at every N")


def _peak_rss_kib() -> int:
    """This process's peak resident memory: VmHWM (Linux; ru_maxrss would include the parent's before exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _rgg_child(nodes: int, requests: int) -> None:
    """One measurement in this process: the whole `qkdnet simulate` path on a random geometric network."""
    import tomllib

    from qkdnet.config import build_network, build_policies, build_requests, parse_scenario
    from qkdnet.network import simulate
    from qkdnet.report import run_summary

    document = tomllib.loads((ROOT / "examples" / "rgg1000.toml").read_text())
    document["generate"].update(nodes=nodes, requests=requests)
    start = time.perf_counter()
    scenario = parse_scenario(document, skip_bad_requests=True)
    network = build_network(scenario)
    run = simulate(network, build_requests(scenario), build_policies(scenario), seed=scenario.seed)
    summary = run_summary(scenario, network, run, wall_s=0.0)
    wall = time.perf_counter() - start
    peak_kib = _peak_rss_kib()
    print(
        json.dumps(
            {
                "nodes": nodes,
                "requests": requests,
                "links": len(summary["links"]),
                "wall_s": wall,
                "peak_mib": peak_kib / 1024,
                "events": run.events,
                "delivered": sum(r["delivered"] for r in summary["requests"]),
                "completed": summary["counts"]["completed"],
            }
        )
    )


def rgg_point(nodes: int, requests: int) -> dict[str, float]:
    proc = subprocess.run(  # noqa: S603 - this very script, fixed argv
        [sys.executable, __file__, "--rgg-child", str(nodes), str(requests)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])},
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def rgg(args: argparse.Namespace) -> None:
    """The 1,000-node network with 10,000 requests, then the growth with nodes and with requests."""
    print("\nRandom geometric network (examples/rgg1000.toml), whole `qkdnet simulate` path, one core")
    header = f"{'nodes':>6} {'links':>6} {'requests':>9} {'events':>10} {'delivered':>10} {'wall s':>8} {'peak MiB':>9}"
    print(header)
    print("-" * len(header))
    points = [(1000, 10_000)]
    if not args.quick:
        points += [(250, 10_000), (500, 10_000), (2000, 10_000), (1000, 2_500), (1000, 5_000), (1000, 20_000)]
    for nodes, requests in points:
        r = rgg_point(nodes, requests)
        print(
            f"{nodes:>6} {int(r['links']):>6} {requests:>9,} {int(r['events']):>10,} {int(r['delivered']):>10,} "
            f"{r['wall_s']:>8.1f} {r['peak_mib']:>9.0f}"
        )
    print("goal: 1,000 nodes and 10,000 requests in < 120 s on one core, < 4096 MiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="N = 2, 4, 8 with short caps; rgg1000 once")
    parser.add_argument(
        "--cap-s", type=float, default=None, help="SeQUeNCe wall-time cap per run (default 10, quick 2)"
    )
    parser.add_argument("--target-wall-s", type=float, default=None, help="qkdnet run length (default 1, quick 0.3)")
    parser.add_argument(
        "--repeats", type=int, default=None, help="interleaved runs per tool and N (default 3, quick 2)"
    )
    parser.add_argument(
        "--physics",
        choices=("both", *PHYSICS),
        default=None,
        help="noise model (default both; sequence-defaults without SeQUeNCe)",
    )
    parser.add_argument("--venv", type=Path, default=DEFAULT_SEQUENCE_VENV, help="SeQUeNCe venv (%(default)s)")
    parser.add_argument("--no-sequence", action="store_true", help="skip SeQUeNCe (qkdnet figures only)")
    parser.add_argument("--no-rgg", action="store_true", help="skip the random geometric network")
    parser.add_argument("--rgg-child", nargs=2, type=int, metavar=("NODES", "REQUESTS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rgg_child:
        _rgg_child(*args.rgg_child)
        return 0
    args.cap_s = args.cap_s or (2.0 if args.quick else 10.0)
    args.target_wall_s = args.target_wall_s or (0.3 if args.quick else 1.0)
    args.repeats = args.repeats or (2 if args.quick else 3)
    chains(args)
    if not args.no_rgg:
        rgg(args)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
