"""The layering of ARCHITECTURE.md, enforced on the source tree by reading its imports (AST)."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import qkdnet

SRC = Path(qkdnet.__file__).parent

#: ARCHITECTURE.md's layer table: a package imports only from layers below its own (layers 0 and 6 are open).
LAYERS = {
    "units": 0,
    "rng": 0,
    "errors": 0,
    "checks": 0,
    "_lazy": 0,
    "_version": 0,
    "quantum": 1,
    "engine": 1,
    "postprocess": 1,
    "hardware": 2,
    "network": 3,
    "attacks": 3,
    "qkd": 4,
    "otp": 5,
    "kms": 5,
    "config": 6,
    "sweep": 6,
    "report": 6,
    "design": 6,
    "cli": 6,
    "__main__": 6,
    "demo": 6,
}
#: New top-level modules are placed by the project itself, in pyproject's [tool.qkdnet-architecture.layers].
LAYERS |= tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["qkdnet-architecture"][
    "layers"
]
OPEN_LAYERS = {0, 6}
PURE_MAX_LAYER = 4
#: Third-party imports allowed per layer-1 package (the rest of the core may use numpy/scipy freely).
RESTRICTED_THIRD_PARTY = {"engine": set(), "quantum": {"numpy"}}
STDLIB = set(sys.stdlib_module_names)


def _imports(tree: ast.AST, package_parts: list[str]) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append((node.lineno, node.module or ""))
            else:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
    return found


def _modules() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent)
        parts = list(rel.with_suffix("").parts)
        if len(parts) > 1:
            out.append((path, parts[1]))
    return out


def test_every_package_is_placed_in_a_layer() -> None:
    unplaced = {pkg for _, pkg in _modules() if pkg not in LAYERS and pkg != "__init__"}
    assert not unplaced, f"packages missing from ARCHITECTURE.md's layer table: {unplaced}"


@pytest.mark.parametrize(("path", "package"), _modules(), ids=lambda v: str(v).split("src/")[-1])
def test_imports_respect_layers(path: Path, package: str) -> None:
    if package == "__init__":
        return
    layer = LAYERS[package]
    rel = path.relative_to(SRC.parent)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for lineno, target in _imports(tree, list(rel.parent.parts)):
        top = target.split(".")
        assert top[0] != "random", f"{rel}:{lineno}: stdlib random; take an rng: numpy.random.Generator"
        if top[0] == "qkdnet" and len(top) > 1 and top[1] != package:
            other = LAYERS.get(top[1])
            if other is None:
                continue
            ok = other < layer or (other == layer and layer in OPEN_LAYERS)
            assert ok, f"{rel}:{lineno}: qkdnet.{package} (layer {layer}) imports qkdnet.{top[1]} (layer {other})"
        elif top[0] not in ("qkdnet", "__future__") and package in RESTRICTED_THIRD_PARTY:
            allowed = RESTRICTED_THIRD_PARTY[package] | STDLIB
            assert top[0] in allowed, f"{rel}:{lineno}: qkdnet.{package} may not import {top[0]}"
    if layer <= PURE_MAX_LAYER:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("print", "input"), f"{rel}:{node.lineno}: {node.func.id}() in the core"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
                inner = node.value
                if isinstance(inner.value, ast.Name) and inner.value.id in ("np", "numpy") and inner.attr == "random":
                    assert node.attr in {
                        "default_rng",
                        "Generator",
                        "SeedSequence",
                        "PCG64",
                        "BitGenerator",
                    }, f"{rel}:{node.lineno}: numpy's global RNG np.random.{node.attr}"


def test_import_qkdnet_stays_light() -> None:
    """`import qkdnet` must not pull in the terminal, plotting, web or cluster stacks."""
    code = (
        "import sys, qkdnet; heavy = [m for m in ('rich', 'matplotlib', 'fastapi', 'dask', 'scipy.stats', "
        "'pydantic', 'networkx') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
