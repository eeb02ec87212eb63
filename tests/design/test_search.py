"""The search: its rows are a sweep table that resumes, its best design is feasible and confirmed, its front is
the set no point beats in both coordinates; study files with problems are one line each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkdnet.cli import main
from qkdnet.design import load_study, pareto_front, parse_study, required_margin, run_design
from qkdnet.errors import ConfigError
from qkdnet.report import PLOT_KINDS, plot_results, suitable_kinds
from qkdnet.sweep.table import read_rows

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "design" / "krutyanskiy_100km.toml"
SMALL = {"evaluations": 120, "confirm_pairs": 5000}


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    study = load_study(EXAMPLE)
    study = study.model_copy(update={"search": study.search.model_copy(update=SMALL)})
    out = tmp_path_factory.mktemp("design") / "design.parquet"
    return run_design(study, out), out


def test_the_best_design_is_feasible_confirmed_and_least_improved(searched: tuple[object, Path]) -> None:
    result, out = searched
    rows = read_rows(out)
    search_rows = [r for r in rows if r["chain.pairs"] == 2000]
    assert len(rows) == result.evaluations and len(search_rows) <= SMALL["evaluations"]  # type: ignore[attr-defined]
    needed = required_margin(1.0, 2000)
    feasible = [r for r in search_rows if r["margin"] >= needed and r["beats_plob"]]
    assert feasible, "the example study finds designs that beat PLOB within 120 evaluations"
    best = result.best  # type: ignore[attr-defined]
    assert best["total_improvement"] == min(r["total_improvement"] for r in feasible)
    confirmation = result.confirmed  # type: ignore[attr-defined]
    assert confirmation["chain.pairs"] == SMALL["confirm_pairs"]
    assert confirmation["run_seed"] == confirmation["seed"] == 2
    assert all(r["seed"] == r["run_seed"] == 1 for r in search_rows)
    assert result.beats_plob == (confirmation["margin"] >= 1.0)  # type: ignore[attr-defined]
    assert {r["key"] for r in rows} >= {best["key"], confirmation["key"]}
    for name, base, value, k in result.improvements():  # type: ignore[attr-defined]
        assert k == best[f"factors.{name}"] and (value >= base or name == "modes")


def test_a_second_run_reuses_every_row(searched: tuple[object, Path]) -> None:
    result, out = searched
    again = run_design(result.study, out)  # type: ignore[attr-defined]
    assert again.evaluations == 0 and again.reused >= result.evaluations  # type: ignore[attr-defined]
    assert again.best == result.best  # type: ignore[attr-defined]


def test_the_figure_and_the_report_read_a_design_table(searched: tuple[object, Path], tmp_path: Path) -> None:
    _, out = searched
    rows = read_rows(out)
    assert suitable_kinds(rows) == ["design"] and "design" in PLOT_KINDS
    figure = plot_results("design", rows)
    assert figure.kind == "design" and "PLOB" in figure.caption
    assert main(["report", str(out), "--out", str(tmp_path / "r.html")]) == 0
    assert 'id="fig-design"' in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_the_command_prints_the_design_as_json(
    searched: tuple[object, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    result, out = searched
    study = EXAMPLE.read_text(encoding="utf-8").replace("confirm_pairs = 20000", "confirm_pairs = 5000")
    file = out.with_name("study.toml")
    file.write_text(study, encoding="utf-8")
    assert main(["design", str(file), "--out", str(out), "--evaluations", "120", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["evaluations"] == 0 and summary["beats_plob"] == result.beats_plob  # type: ignore[attr-defined]
    assert [p["name"] for p in summary["parameters"]] == list(result.study.parameters)  # type: ignore[attr-defined]
    assert summary["total_improvement"] == pytest.approx(result.best["total_improvement"])  # type: ignore[attr-defined]


points = st.lists(st.tuples(st.floats(0, 20), st.floats(1e-6, 1.0)), min_size=1, max_size=40)


@given(points)
def test_the_front_is_exactly_the_points_no_other_beats_in_both(values: list[tuple[float, float]]) -> None:
    rows = [{"total_improvement": t, "key_per_use": k} for t, k in values]
    front = pareto_front(rows)

    def beaten(r: dict[str, float]) -> bool:
        return any(
            o["total_improvement"] <= r["total_improvement"]
            and o["key_per_use"] >= r["key_per_use"]
            and (o["total_improvement"], o["key_per_use"]) != (r["total_improvement"], r["key_per_use"])
            for o in rows
        )

    assert all(not beaten(r) for r in front)  # type: ignore[arg-type]
    assert {(r["total_improvement"], r["key_per_use"]) for r in rows if not beaten(r)} == {
        (r["total_improvement"], r["key_per_use"]) for r in front
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[chain]\npreset = 'krutyanskiy2023'\nlength_km = 100.0\nnodez = 3\n[parameters]\nmemory_t2 = 10.0\n",
            "chain.nodez: unknown field; did you mean 'nodes'?",
        ),
        ("[chain]\npreset = 'nope'\nlength_km = 100.0\n[parameters]\nmemory_t2 = 10.0\n", "unknown preset 'nope'"),
        (
            "[chain]\npreset = 'krutyanskiy2023'\nlength_km = 100.0\n[parameters]\nmemory_t2 = 1.0\n",
            "parameters.memory_t2: expected a number > 1",
        ),
        (
            "[chain]\npreset = 'krutyanskiy2023'\nlength_km = 100.0\n[parameters]\nmemory_t3 = 10.0\n",
            "unknown parameter(s) memory_t3",
        ),
        (
            "[chain]\npreset = 'ritter2012'\nlength_km = 100.0\n[parameters]\nconversion_efficiency = 10.0\n",
            "conversion_efficiency: preset 'ritter2012' has no frequency converter",
        ),
        (
            "[chain]\npreset = 'krutyanskiy2023'\nlength_km = 0.0\n[parameters]\nmemory_t2 = 10.0\n",
            "chain.length_km: expected a number > 0",
        ),
        (
            "[chain]\npreset = 'krutyanskiy2023'\nlength_km = 1.0\npairs = 9000\n[parameters]\nmemory_t2 = 10.0\n"
            "[search]\nconfirm_pairs = 9000\n",
            "must exceed chain.pairs",
        ),
        ("[chain\n", "invalid TOML"),
    ],
)
def test_a_bad_study_is_one_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_study(text, source="study.toml")
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith("study.toml: ") and expected in lines[0]


def test_processes_and_a_dask_cluster_find_the_serial_design(tmp_path: Path) -> None:
    """The points are seeded and the search deterministic: where they are evaluated changes nothing."""
    from distributed import LocalCluster

    from qkdnet.sweep.table import comparable

    study = load_study(EXAMPLE)
    study = study.model_copy(
        update={"search": study.search.model_copy(update={"evaluations": 48, "confirm_pairs": 2000})}
    )
    serial = run_design(study, tmp_path / "serial.parquet")
    procs = run_design(study, tmp_path / "procs.parquet", workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        dask = run_design(study, tmp_path / "dask.parquet", scheduler=cluster.scheduler_address)
    table = comparable(read_rows(tmp_path / "serial.parquet"))
    assert serial.evaluations == len(table) >= 48
    for name, result in (("procs", procs), ("dask", dask)):
        assert comparable(read_rows(tmp_path / f"{name}.parquet")) == table, name
        assert result.best == serial.best or result.best["key"] == serial.best["key"]  # type: ignore[index]
