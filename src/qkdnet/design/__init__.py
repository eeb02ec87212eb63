"""Hardware design searches: what improvement of a preset makes a repeater chain beat the repeaterless bound.

Layer 6. ``load_study("study.toml")`` reads a study (the chain, the parameters and their largest improvement
factors, the search); ``run_design(study, "design.parquet")`` searches it with differential evolution over the
network simulator, every evaluation a row of a sweep results table (``qkdnet report`` and ``qkdnet plot design``
read it). :mod:`qkdnet.design.space` says what an improvement factor does to each number.
"""

from qkdnet.design.evaluate import evaluate_design
from qkdnet.design.search import DesignResult, objective, pareto_front, point_config, required_margin, run_design
from qkdnet.design.space import PARAMETERS, Hardware, Parameter, baseline_values, improve, total_improvement
from qkdnet.design.study import ChainSpec, SearchSpec, Study, load_study, parse_study

__all__ = [
    "PARAMETERS",
    "ChainSpec",
    "DesignResult",
    "Hardware",
    "Parameter",
    "SearchSpec",
    "Study",
    "baseline_values",
    "evaluate_design",
    "improve",
    "load_study",
    "objective",
    "pareto_front",
    "parse_study",
    "point_config",
    "required_margin",
    "run_design",
    "total_improvement",
]
