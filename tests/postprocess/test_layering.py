"""postprocess is layer 1: numpy, scipy, cryptography, numba, stdlib and qkdnet layer 0 only; no I/O."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import qkdnet.postprocess

PACKAGE = Path(qkdnet.postprocess.__file__).parent
ALLOWED_QKDNET = {"qkdnet.checks", "qkdnet.errors", "qkdnet.rng", "qkdnet.units", "qkdnet.postprocess"}
ALLOWED_THIRD_PARTY = {"numpy", "scipy", "cryptography", "numba"}  # numba: compiled kernels, loaded lazily
FORBIDDEN_CALLS = {"print", "open", "input", "breakpoint"}
FORBIDDEN_MODULES = {"socket", "os", "pathlib", "io", "random", "subprocess", "logging", "shutil"}


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_imports_and_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports"
            names = [node.module or ""]
        for name in names:
            top = name.split(".")[0]
            if top == "qkdnet":
                assert any(name == a or name.startswith(a + ".") for a in ALLOWED_QKDNET), f"{path.name}: {name}"
            elif top != "__future__":
                assert top in ALLOWED_THIRD_PARTY or top in sys.stdlib_module_names, f"{path.name}: {name}"
                assert top not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {node.func.id}"


def test_public_api_is_curated() -> None:
    exported = set(qkdnet.postprocess.__all__)
    assert len(exported) == len(qkdnet.postprocess.__all__)
    assert all(hasattr(qkdnet.postprocess, name) for name in exported)
    assert not any(name.startswith("_") for name in exported)
