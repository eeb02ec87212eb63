"""How fast the ``qkdnet`` command starts working: wall time from the command to its first pair, and to its end.

Each repetition starts a fresh interpreter running the ``qkdnet`` entry point (``qkdnet.cli.main``) on a small
key run (default ``bbm92 --pairs 1000 --json``), so every import, the parser, and the first post-processing
(numba loading its cache) are counted as a user sees them. The child stamps the moment
``qkdnet.qkd.pipeline.simulate_records`` is first called (the first pair) and the moment ``main`` returns; an
import hook wraps that function as its module finishes loading, so the import order is the command's own. Both
stamps are measured from the parent's clock just before it spawns the child, interpreter start-up included.
The child's CPU time at both stamps is shown too: on a shared machine it moves less than the wall time. One
discarded run first warms the OS file cache and numba's on-disk cache. The goal (issue 13 item 5) is
under 0.5 s to the first pair.

Run with `python benchmarks/cli_startup.py [--repeat N] [-- COMMAND ARGS...]`; ``-X importtime`` of the same
command gives the breakdown by module.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL_FIRST_PAIR_S = 0.5
DEFAULT_COMMAND = ("bbm92", "--pairs", "1000", "--json")

# The child: stamp the first call of simulate_records (wrapped when its module is loaded) and the end of main.
CHILD = r"""
import json, sys, time
from importlib.machinery import PathFinder

T0 = float(sys.argv[1])
stamps = {}


class _WrapOnLoad:
    def find_spec(self, name, path=None, target=None):
        if name != "qkdnet.qkd.pipeline":
            return None
        spec = PathFinder.find_spec(name, path, target)
        exec_module = spec.loader.exec_module

        def exec_and_wrap(module):
            exec_module(module)
            inner = module.simulate_records

            def simulate_records(*args, **kwargs):
                if "first_pair_s" not in stamps:
                    stamps["first_pair_s"] = time.time() - T0
                    stamps["first_pair_cpu_s"] = time.process_time()
                return inner(*args, **kwargs)

            module.simulate_records = simulate_records

        spec.loader.exec_module = exec_and_wrap
        return spec


sys.meta_path.insert(0, _WrapOnLoad())
sys.argv = ["qkdnet", *sys.argv[2:]]
from qkdnet.cli import main

code = main()
stamps["end_s"] = time.time() - T0
stamps["end_cpu_s"] = time.process_time()
sys.stdout.flush()
print("STAMPS " + json.dumps(stamps), file=sys.stderr)
sys.exit(code)
"""


def one_run(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """The child's stamps (seconds after the spawn) for one fresh ``qkdnet`` process."""
    start = time.time()
    proc = subprocess.run(  # noqa: S603 - our interpreter and argv, no shell
        [sys.executable, "-c", CHILD, repr(start), *command], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"qkdnet {' '.join(command)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    line = next(x for x in proc.stderr.splitlines() if x.startswith("STAMPS "))
    stamps: dict[str, float] = json.loads(line.removeprefix("STAMPS "))
    return stamps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="measured runs (median and min reported)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--src", type=Path, default=None, help="the qkdnet sources to time (default: this tree's)")
    parser.add_argument("command", nargs="*", default=list(DEFAULT_COMMAND), help="qkdnet's arguments")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    src = str(args.src or Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "") if env.get("PYTHONPATH") else src
    one_run(args.command, env)  # warm the file cache and numba's cache
    runs = [one_run(args.command, env) for _ in range(args.repeat)]
    bare = []
    for _ in range(args.repeat):
        start = time.time()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.time() - start)

    def spread(values: list[float]) -> dict[str, float]:
        return {"median": statistics.median(values), "min": min(values)}

    out: dict[str, object] = {
        "command": "qkdnet " + " ".join(args.command),
        "repeat": args.repeat,
        **{key: spread([r[key] for r in runs]) for key in ("first_pair_s", "first_pair_cpu_s", "end_s", "end_cpu_s")},
        "bare_interpreter_s": spread(bare),
        "goal_first_pair_s": GOAL_FIRST_PAIR_S,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{out['command']}: {args.repeat} fresh processes (after one warm-up)")
    for key, label in (
        ("first_pair_s", "wall to the first pair"),
        ("first_pair_cpu_s", "CPU to the first pair"),
        ("end_s", "wall to the end"),
        ("end_cpu_s", "CPU to the end"),
        ("bare_interpreter_s", "bare python -c pass"),
    ):
        value = out[key]
        assert isinstance(value, dict)
        goal = f"   (goal < {GOAL_FIRST_PAIR_S} s)" if key == "first_pair_s" else ""
        print(f"  {label:<23} median {value['median']:.3f} s, min {value['min']:.3f} s{goal}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
