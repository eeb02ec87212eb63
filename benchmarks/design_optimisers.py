"""Which optimiser ``qkdnet design`` uses: SciPy's differential evolution against Optuna's TPE and nevergrad's
CMA-ES on the shipped study's objective, the same budget and seeds, measured side by side in one run.

Optuna and nevergrad are installed by this script into a throwaway folder outside the repository
(``~/.cache/qkdnet-bench/design-optimisers``), appended to ``sys.path`` after qkdnet's own packages (so NumPy and
SciPy stay the venv's); they are never qkdnet dependencies. Each optimiser minimises the search objective of
:func:`qkdnet.design.objective` over log₁₀ kᵢ; a point is feasible when its margin reaches
:func:`qkdnet.design.required_margin`. Reported per optimiser: the least improvement found feasible (median and
range over seeds), evaluations until the first feasible point, and wall time.

    .venv/bin/python benchmarks/design_optimisers.py [--budget 600] [--seeds 3] [--study FILE]
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qkdnet.design import evaluate_design, load_study, objective, point_config, required_margin
from qkdnet.design.search import de_options, search_space

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "examples" / "design" / "krutyanskiy_100km.toml"
PINS = ("optuna==5.1.0", "nevergrad==1.0.12")
TARGET = Path.home() / ".cache" / "qkdnet-bench" / "design-optimisers"


def ensure_optimisers() -> str | None:
    """Install the pinned Optuna and nevergrad into :data:`TARGET` (once); None, or why they are unavailable."""
    marker = TARGET / ".installed"
    if not marker.exists():
        print(f"pip-installing {' '.join(PINS)} into {TARGET} ...", file=sys.stderr)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [*pip, "--target", str(TARGET), *PINS],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if proc.returncode != 0:
            return (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
        marker.touch()
    sys.path.append(str(TARGET))
    return None


class Counter:
    """The objective of one optimiser run: counts evaluations and remembers the least feasible improvement."""

    def __init__(self, study, names: list[str]) -> None:
        self.study, self.names = study, names
        self.needed = required_margin(study.search.target_margin, study.chain.pairs)
        self.evaluations = 0
        self.best = math.inf
        self.first_feasible: int | None = None

    def __call__(self, logs: np.ndarray) -> float:
        config = point_config(self.study, dict(zip(self.names, 10.0 ** np.asarray(logs, dtype=float), strict=True)))
        metrics = evaluate_design(config, int(config["seed"]))
        self.evaluations += 1
        if float(metrics["margin"]) >= self.needed and metrics["beats_plob"]:
            self.best = min(self.best, float(metrics["total_improvement"]))
            if self.first_feasible is None:
                self.first_feasible = self.evaluations
        return objective(metrics, target=self.study.search.target_margin, penalty=self.study.search.penalty)


def run_scipy(f: Counter, bounds: list[tuple[float, float]], budget: int, seed: int) -> None:
    from scipy.optimize import differential_evolution

    study = f.study.model_copy(
        update={"search": f.study.search.model_copy(update={"evaluations": budget, "seed": seed})}
    )
    options = de_options(study) | {"vectorized": False, "updating": "deferred"}
    differential_evolution(f, bounds, **options)


def run_optuna(f: Counter, bounds: list[tuple[float, float]], budget: int, seed: int) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(
        lambda trial: f(
            np.array([trial.suggest_float(n, lo, hi) for n, (lo, hi) in zip(f.names, bounds, strict=True)])
        ),
        n_trials=budget,
    )


def run_nevergrad(f: Counter, bounds: list[tuple[float, float]], budget: int, seed: int) -> None:
    import nevergrad as ng

    lower, upper = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    parametrization = ng.p.Array(init=(lower + upper) / 2).set_bounds(lower, upper)
    parametrization.set_mutation(sigma=float(np.min(upper - lower)) / 6)  # bounds 3σ either side of the start
    parametrization.random_state = np.random.RandomState(seed)
    ng.optimizers.CMA(parametrization=parametrization, budget=budget).minimize(f)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--study", type=Path, default=STUDY)
    args = parser.parse_args()
    study = load_study(args.study)
    names, bounds = search_space(study)
    optimisers: dict[str, Callable[[Counter, list[tuple[float, float]], int, int], None]] = {
        "scipy differential evolution": run_scipy
    }
    why = ensure_optimisers()
    if why is None:
        optimisers |= {"optuna TPE": run_optuna, "nevergrad CMA-ES": run_nevergrad}
    else:
        print(f"Optuna/nevergrad unavailable ({why}): SciPy alone", file=sys.stderr)
    print(f"{study.name}: {len(names)} parameters, budget {args.budget} evaluations, seeds 1..{args.seeds}")
    print(f"{'optimiser':30} {'least feasible Σlog10k':>24} {'1st feasible at':>16} {'wall s':>8}")
    for label, run in optimisers.items():
        bests, firsts, walls = [], [], []
        for seed in range(1, args.seeds + 1):
            f = Counter(study, names)
            start = time.perf_counter()
            run(f, bounds, args.budget, seed)
            walls.append(time.perf_counter() - start)
            bests.append(f.best)
            firsts.append(f.first_feasible)
        found = [b for b in bests if math.isfinite(b)]
        best_text = (
            f"{statistics.median(found):.2f} ({min(found):.2f}-{max(found):.2f})" if found else "none feasible"
        ) + f" [{len(found)}/{len(bests)}]"
        first_text = "/".join("-" if x is None else str(x) for x in firsts)
        print(f"{label:30} {best_text:>24} {first_text:>16} {statistics.median(walls):8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
