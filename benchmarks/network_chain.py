"""Repeater chains in qkdnet beside SeQUeNCe, and the 1,000-node network: end-to-end pairs per wall-second.

**Chains.** A linear chain of N = 2, 4, 8, 16, 32 nodes with identical 10 km links, a Bell-state station in the
middle of each link, one request from the first node to the last. SeQUeNCe (PyPI ``sequence``, installed into a
throwaway venv outside the repository as ``benchmarks/reference_sequence.py`` does; never a qkdnet dependency)
runs its own repeater-chain setup: the topology from its config generator (``sequence.utils.config_generator``:
``generate_nodes``, ``generate_bsm_links`` on a path graph, ``generate_classical``, i.e. what its
``linear`` JSON generator writes) loaded by ``RouterNetTopo``, quantum routers with two memories each (its
default memories: fidelity 0.85, efficiency 1; detectors of efficiency 0.9; 0.2 dB/km; classical delay of a
5 km fiber), and a ``RequestApp`` reservation from the first router to the last; its network manager generates
(Barrett–Kok), swaps and delivers; the app counts the delivered pairs. It runs for a wall-time cap per N and
reports the pairs it delivered up to the cap.

qkdnet runs the same chain with the same link physics: :class:`IdealLink` over 10 km (station in the middle,
herald and corrections over the fiber) whose success probability per attempt is fitted so that its pair rate
equals the rate SeQUeNCe's two-node chain delivered per simulated second, Werner pairs of SeQUeNCe's fidelity
0.85, deterministic swaps, perfect memories (SeQUeNCe's default coherence time is infinite). The simulated
pair rates of both are printed beside the wall-clock figures so the physics can be compared.

**The 1,000-node network.** ``examples/rgg1000.toml`` (1,000 nodes, 10,000 requests) through the whole
``qkdnet simulate`` path (load, build, route, simulate, report), on one core: wall time and peak memory (each
measured in a fresh process), then how wall time grows with the number of nodes and of requests.

Run ``python benchmarks/network_chain.py`` (about 4 minutes; ``--quick``: about 30 s, no rgg1000 scaling).
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

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHAIN_SIZES = (2, 4, 8, 16, 32)
LINK_KM = 10.0
SEQUENCE_FIDELITY = 0.85
GOAL_RATIO = 1000.0

# Runs inside the SeQUeNCe venv: a chain of N routers from SeQUeNCe's own config generator, one request.
INNER_SCRIPT = r"""
import json
import sys
import time
from argparse import Namespace
from importlib.metadata import version

import networkx as nx
from sequence.app.request_app import RequestApp
from sequence.topology.router_net_topo import RouterNetTopo
from sequence.topology.topology import Topology
from sequence.utils.config_generator import (
    bsm_name_func, final_config, generate_bsm_links, generate_classical, generate_nodes, router_name_func,
)

n, cap_s, link_km = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
# cc_delay (ms) is the delay of 5 km of fiber: the generator uses it for the router-station channels.
args = Namespace(memo_size=2, qc_length=link_km, qc_atten=0.0002, cc_delay=link_km / 2 / 2e5 * 1e3,
                 stop=1e4, formalism="ket_vector")
names = [router_name_func(i) for i in range(n)]
nodes = generate_nodes(names, args.memo_size)
cchannels, qchannels, bsm_nodes = generate_bsm_links(nx.path_graph(n), args, bsm_name_func)
for channel in qchannels + cchannels:
    for key in (Topology.SRC, Topology.DST):
        if isinstance(channel[key], int):
            channel[key] = router_name_func(channel[key])
config = {Topology.ALL_NODE: nodes + bsm_nodes, Topology.ALL_Q_CHANNEL: qchannels,
          Topology.ALL_C_CHANNEL: cchannels + generate_classical(names, args.cc_delay)}
final_config(config, args)
with open("chain.json", "w") as fh:
    json.dump(config, fh)

topo = RouterNetTopo("chain.json")
tl = topo.get_timeline()
routers = {r.name: r for r in topo.get_nodes_by_type(RouterNetTopo.QUANTUM_ROUTER)}
first, last = routers[names[0]], routers[names[-1]]
app = RequestApp(first)
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
                  "version": version("sequence"), "error": error}))
"""


def run_sequence(python: Path, n: int, cap_s: float) -> dict[str, float]:
    """SeQUeNCe's chain of ``n`` routers for ``cap_s`` wall seconds: pairs delivered, wall and simulated time."""
    with tempfile.TemporaryDirectory(prefix="qkdnet-chain-") as tmp:
        script = Path(tmp) / "chain.py"
        script.write_text(INNER_SCRIPT)
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [str(python), str(script), str(n), str(cap_s), str(LINK_KM)],
            capture_output=True,
            text=True,
            timeout=cap_s * 4 + 300,
            cwd=tmp,
            check=False,
        )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        raise RuntimeError(f"SeQUeNCe chain N={n} failed: {tail[-1] if tail else '(no output)'}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def qkdnet_chain(n: int, link_rate_hz: float, target_wall_s: float) -> dict[str, float]:
    """qkdnet's chain of ``n`` nodes: end-to-end pairs per wall-second (pairs grow until the run lasts long enough)."""
    from qkdnet.hardware import AtomCavityNode, Fiber
    from qkdnet.network import IdealLink, Network, Request, simulate

    fiber = Fiber(LINK_KM, 0.2)
    tau_s = fiber.delay_s  # an IdealLink attempts every τ and heralds after τ: rate p / τ
    p = min(1.0, link_rate_hz * tau_s)
    link = IdealLink(herald_probability=p, visibility=(4 * SEQUENCE_FIDELITY - 1) / 3, attempt_rate_hz=1e9, fiber=fiber)
    net = Network.chain(n, link, AtomCavityNode.perfect("memory"))
    pairs = 2_000 if n > 2 else 200_000
    while True:
        start = time.perf_counter()
        run = simulate(net, [Request(("n0", f"n{n - 1}"), pairs=pairs)], seed=n)
        wall = time.perf_counter() - start
        if wall >= target_wall_s or pairs >= 50_000_000:
            out = run.outcomes[0]
            return {"pairs": out.delivered, "wall_s": wall, "simulated_s": out.served_s, "p": p}
        pairs = int(pairs * min(10.0, max(2.0, 1.2 * target_wall_s / max(wall, 1e-3))))


def _rate(result: dict[str, float]) -> float:
    return result["pairs"] / result["wall_s"]


def chains(args: argparse.Namespace) -> None:
    """The chain table: N, qkdnet pairs/s, SeQUeNCe pairs/s, ratio."""
    sys.path.insert(0, str(HERE))
    from reference_sequence import ReferenceUnavailable, ensure_sequence_venv

    python: Path | None = None
    if not args.no_sequence:
        try:
            python = ensure_sequence_venv(args.venv)
        except (ReferenceUnavailable, OSError, subprocess.SubprocessError) as exc:
            print(f"SeQUeNCe unavailable ({exc}); qkdnet alone:")
    sizes = CHAIN_SIZES[:3] if args.quick else CHAIN_SIZES
    cap = args.cap_s
    rows = []
    link_rate, version = 5_000.0, "-"
    for n in sizes:
        # SeQUeNCe, then qkdnet right after it (best of a few short runs), so both see the same machine load.
        s = None
        if python is not None:
            print(f"SeQUeNCe chain N={n} (cap {cap:g} s of wall time) ...", file=sys.stderr)
            try:
                s = run_sequence(python, n, cap)
            except (RuntimeError, subprocess.SubprocessError) as exc:
                print(f"  {exc}", file=sys.stderr)
            if n == 2 and s is not None and s["pairs"]:
                link_rate, version = s["pairs"] / s["simulated_s"], str(s.get("version", "?"))
        print(f"qkdnet chain N={n} ...", file=sys.stderr)
        q = max((qkdnet_chain(n, link_rate, args.target_wall_s) for _ in range(args.repeats)), key=_rate)
        rows.append((n, q, s))
    print(
        f"\nRepeater chains, {LINK_KM:g} km links: end-to-end pairs per wall-second "
        f"(SeQUeNCe {version}, {cap:g} s cap per N; qkdnet best of {args.repeats}, fitted to "
        f"{link_rate:,.0f} link pairs/s)"
    )
    header = (
        f"{'N':>3} {'qkdnet pairs/s':>15} {'SeQUeNCe pairs/s':>17} {'ratio':>10}  "
        f"{'sim. pairs/s qkdnet':>20} {'SeQUeNCe':>9}  {'SeQUeNCe pairs':>14}"
    )
    print(header)
    print("-" * len(header))
    for n, q, s in rows:
        q_rate = _rate(q)
        q_sim = q["pairs"] / q["simulated_s"] if q["simulated_s"] else math.nan
        if s is None:
            print(f"{n:>3} {q_rate:>15,.0f} {'-':>17} {'-':>10}  {q_sim:>20,.1f} {'-':>9}  {'-':>14}")
            continue
        if s["pairs"]:
            s_rate = s["pairs"] / s["wall_s"]
            ratio = f"{q_rate / s_rate:,.0f}x"
            s_text = f"{s_rate:,.2f}"
            s_sim = f"{s['pairs'] / s['simulated_s']:,.1f}"
        else:  # nothing within the cap: fewer than one pair per cap
            s_text, ratio, s_sim = f"< {1 / s['wall_s']:.3f}", f"> {q_rate * s['wall_s']:,.0f}x", "0"
        print(f"{n:>3} {q_rate:>15,.0f} {s_text:>17} {ratio:>10}  {q_sim:>20,.1f} {s_sim:>9}  {int(s['pairs']):>14,}")
        if s.get("error"):
            print(f"    SeQUeNCe stopped with {s['error']}")
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
    parser.add_argument("--cap-s", type=float, default=None, help="SeQUeNCe wall-time cap per N (default 15, quick 3)")
    parser.add_argument("--target-wall-s", type=float, default=None, help="qkdnet run length per N (default 1.5)")
    parser.add_argument("--repeats", type=int, default=3, help="qkdnet runs per N, best kept (default 3)")
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "qkdnet-ref-sequence")
    parser.add_argument("--no-sequence", action="store_true", help="skip SeQUeNCe (qkdnet figures only)")
    parser.add_argument("--no-rgg", action="store_true", help="skip the random geometric network")
    parser.add_argument("--rgg-child", nargs=2, type=int, metavar=("NODES", "REQUESTS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rgg_child:
        _rgg_child(*args.rgg_child)
        return 0
    args.cap_s = args.cap_s or (3.0 if args.quick else 15.0)
    args.target_wall_s = args.target_wall_s or (0.3 if args.quick else 1.5)
    chains(args)
    if not args.no_rgg:
        rgg(args)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
