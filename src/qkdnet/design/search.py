"""The search for the least-improved hardware whose chain beats the repeaterless bound.

SciPy's differential evolution (Storn & Price, J. Glob. Optim. 11, 341 (1997)) searches the logarithms of the
improvement factors, log₁₀ kᵢ ∈ [0, log₁₀ k_max,ᵢ], minimising

    total improvement Σ log₁₀ kᵢ  +  penalty · max(0, target − margin),

where margin is key per use over PLOB with the key fraction left signed (a point far from making key is told how
far). Each generation's points go to the sweep backends at once (local processes or Dask), every evaluation is a
row of a results table (so ``qkdnet report`` and ``qkdnet plot design`` read it, and a second run of the same
study reuses the rows it finds), and every point is simulated with the same seed (common random numbers: two
points differ by their hardware, not by their luck). The best feasible point is then simulated again with
``confirm_pairs`` pairs and another seed: a design is reported as beating the bound only if that run does too.
Why differential evolution: ``benchmarks/design_optimisers.py`` compares it with Optuna's TPE and nevergrad's
CMA-ES on this objective and budget (numbers in the README).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qkdnet.design.evaluate import evaluate_design
from qkdnet.design.space import PARAMETERS, baseline_values
from qkdnet.design.study import Study
from qkdnet.errors import SimulationError
from qkdnet.hardware import get_preset

#: The runner name a design study's rows carry in the results table.
RUNNER = "design"
#: How many of the least-improved feasible points are confirmed, in turn, before the search gives up.
CONFIRMATIONS = 5
#: Factors are rounded to this many significant digits: the table's keys stay readable and repeatable.
FACTOR_DIGITS = 6

Progress = Callable[[int, int, float], None]


def point_config(
    study: Study, factors: Mapping[str, float], *, pairs: int | None = None, seed: int | None = None
) -> dict[str, Any]:
    """The run configuration of one design point (plain JSON: what the results table keys and stores), simulated
    with ``seed`` (default: the search's) for ``pairs`` end-to-end pairs (default: the chain's)."""
    chain = study.chain.model_dump()
    if pairs is not None:
        chain["pairs"] = pairs
    return {
        "chain": chain,
        "factors": {k: float(f"{factors[k]:.{FACTOR_DIGITS}g}") for k in study.parameters},
        "seed": study.search.seed if seed is None else seed,
    }


def _of_study(row: Mapping[str, Any], study: Study) -> bool:
    """Whether a table row is a search point of ``study``: its chain, its parameters, its seed."""
    config = json.loads(row["config"])
    return (
        row.get("runner") == RUNNER
        and row.get("status") == "ok"
        and config.get("chain") == study.chain.model_dump()
        and set(config.get("factors", ())) == set(study.parameters)
        and config.get("seed") == study.search.seed
    )


def objective(metrics: Mapping[str, Any], *, target: float, penalty: float) -> float:
    """What the search minimises: total improvement plus the penalty for the margin still missing."""
    return float(metrics["total_improvement"]) + penalty * max(0.0, target - float(metrics["margin"]))


def pareto_front(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows no other row beats in both total improvement (less) and key per use (more), by improvement.

    >>> pareto_front([{"total_improvement": 1, "key_per_use": 1}, {"total_improvement": 2, "key_per_use": 0.5}])
    [{'total_improvement': 1, 'key_per_use': 1}]
    """
    ordered = sorted(
        (r for r in rows if r.get("key_per_use") is not None and float(r["key_per_use"]) > 0.0),
        key=lambda r: (float(r["total_improvement"]), -float(r["key_per_use"])),
    )
    front: list[Mapping[str, Any]] = []
    for row in ordered:
        if not front or float(row["key_per_use"]) > float(front[-1]["key_per_use"]):
            front.append(row)
    return front


@dataclass(frozen=True, slots=True)
class DesignResult:
    """What a search found: the best feasible point (if any), its confirmation run, and how the search went."""

    study: Study
    evaluations: int
    reused: int
    wall_s: float
    best: Mapping[str, Any] | None
    confirmed: Mapping[str, Any] | None
    front: Sequence[Mapping[str, Any]] = field(default_factory=list)

    @property
    def beats_plob(self) -> bool:
        """True if the confirmation run of the best point beats the bound too."""
        return self.confirmed is not None and bool(self.confirmed.get("beats_plob"))

    def improvements(self) -> list[tuple[str, float, float, float]]:
        """Each searched parameter of the best point: (name, preset value, improved value, factor k)."""
        if self.best is None:
            return []
        chain = self.study.chain
        base = baseline_values(get_preset(chain.preset), modes=chain.modes, gate_fidelity=chain.gate_fidelity)
        out = []
        for name in self.study.parameters:
            k = float(self.best[f"factors.{name}"])
            out.append((name, base[name], PARAMETERS[name].improved(base[name], k), k))
        return out


class _Evaluator:
    """Evaluates design points on a backend, each once: rows already in the table are reused."""

    def __init__(self, study: Study, writer: Any, backend: Any, progress: Progress | None) -> None:
        self.study, self.writer, self.backend, self.progress = study, writer, backend, progress
        self.varied = tuple(f"factors.{name}" for name in study.parameters)
        self.evaluated = 0
        self.reused = 0
        self.started = time.monotonic()

    def rows(self, configs: Sequence[dict[str, Any]]) -> list[Mapping[str, Any]]:
        """The table row of each configuration, running the ones the table lacks (all at once on the backend)."""
        from qkdnet.sweep import RunPoint, Task, make_row, run_key

        points = [RunPoint(run_key(c), int(c["seed"]), c, {}) for c in configs]
        have = self.writer.rows
        todo = {p.run_id: p for p in points if have.get(p.run_id, {}).get("status") != "ok"}
        self.reused += len(points) - len(todo)
        tasks = [Task(evaluate_design, p.run_id, p.seed, p.config) for p in todo.values()]
        for outcome in self.backend.run(tasks):
            self.writer.add(make_row(todo[outcome.run_id], outcome, RUNNER, self.varied))
            self.evaluated += 1
        if self.progress is not None:
            self.progress(self.evaluated + self.reused, self.study.search.evaluations, time.monotonic() - self.started)
        rows = [have[p.run_id] for p in points]
        failed = [r for r in rows if r["status"] != "ok"]
        if failed:
            raise SimulationError(f"a design point failed: {failed[0]['error']}")
        return rows


def required_margin(target: float, pairs: int) -> float:
    """The margin a point needs in the search: ``target`` plus three standard deviations of its pair rate's
    counting noise (a Poisson count of ``pairs`` has relative deviation 1/√pairs)."""
    return target * (1.0 + 3.0 / math.sqrt(pairs))


def _confirm_best(
    study: Study, searched: Sequence[Mapping[str, Any]], evaluator: _Evaluator
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """The least-improved feasible point whose confirmation run (more pairs, another seed) beats the target too,
    trying up to :data:`CONFIRMATIONS` candidates in order of improvement; ``(None, None)`` if none is feasible."""
    search = study.search
    needed = required_margin(search.target_margin, study.chain.pairs)
    feasible = sorted(
        (r for r in searched if float(r["margin"]) >= needed and r["beats_plob"]),
        key=lambda r: float(r["total_improvement"]),
    )
    names = list(study.parameters)
    tried: tuple[Mapping[str, Any] | None, Mapping[str, Any] | None] = (None, None)
    for row in feasible[:CONFIRMATIONS]:
        factors = {n: float(row[f"factors.{n}"]) for n in names}
        confirm = point_config(study, factors, pairs=search.confirm_pairs, seed=search.seed + 1)
        check = evaluator.rows([confirm])[0]
        if tried[0] is None:
            tried = (row, check)
        if float(check["margin"]) >= search.target_margin and check["beats_plob"]:
            return row, check
    return tried


def search_space(study: Study) -> tuple[list[str], list[tuple[float, float]]]:
    """The searched parameters and the bounds of their log₁₀ kᵢ: [0, log₁₀ k_max]."""
    names = list(study.parameters)
    return names, [(0.0, math.log10(float(study.parameters[n]))) for n in names]


def de_options(study: Study) -> dict[str, Any]:
    """SciPy ``differential_evolution`` settings for ``study``: a population of about ``search.population``
    points, as many generations as ``search.evaluations`` allows, whole generations evaluated at once."""
    dims = len(study.parameters)
    multiplier = max(1, math.ceil(study.search.population / dims))
    return {
        "maxiter": max(1, study.search.evaluations // (multiplier * dims) - 1),
        "popsize": multiplier,
        "seed": study.search.seed,
        "init": "latinhypercube",
        "polish": False,
        "tol": 0.0,
        "vectorized": True,
        "updating": "deferred",
    }


def run_design(
    study: Study,
    out: str | Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> DesignResult:
    """Search ``study`` (evaluations on ``workers`` local processes or a Dask ``scheduler``), every evaluation a
    row of the results table ``out``; the best feasible point is confirmed with more pairs and another seed."""
    from scipy.optimize import differential_evolution

    from qkdnet.sweep import ResultsWriter, make_backend

    search = study.search
    names, bounds = search_space(study)
    start = time.monotonic()
    backend = make_backend(workers, scheduler=scheduler)
    try:
        with ResultsWriter(out) as writer:
            evaluator = _Evaluator(study, writer, backend, progress)

            def population_cost(x: np.ndarray) -> np.ndarray:
                columns = np.atleast_2d(x.T) if x.ndim == 2 else x[None, :]
                configs = [point_config(study, dict(zip(names, 10.0**col, strict=True))) for col in columns]
                rows = evaluator.rows(configs)
                return np.array([objective(r, target=search.target_margin, penalty=search.penalty) for r in rows])

            differential_evolution(population_cost, bounds, **de_options(study))
            searched = [r for r in writer.rows.values() if _of_study(r, study)]
            best, confirmed = _confirm_best(study, searched, evaluator)
            front = pareto_front(searched)
            evaluated, reused = evaluator.evaluated, evaluator.reused
    finally:
        backend.close()
    return DesignResult(study, evaluated, reused, time.monotonic() - start, best, confirmed, front)


__all__ = [
    "CONFIRMATIONS",
    "FACTOR_DIGITS",
    "RUNNER",
    "DesignResult",
    "de_options",
    "objective",
    "pareto_front",
    "point_config",
    "required_margin",
    "run_design",
    "search_space",
]
