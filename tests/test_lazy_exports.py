"""The package's lazy exports: the same objects as before, the same names for type checkers, nothing loaded early."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import qkdnet


def _type_checking_imports(path: Path) -> dict[str, str]:
    """Name -> module of every ``from M import name`` under ``if TYPE_CHECKING:`` in a module's source."""
    tree = ast.parse(path.read_text())
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module is not None
                names.update({alias.name: stmt.module for alias in stmt.names})
    return names


def test_every_lazy_name_is_its_modules_object_and_type_checkers_see_the_same_names() -> None:
    lazy = qkdnet._LAZY
    assert _type_checking_imports(Path(qkdnet.__file__)) == lazy
    eager = {"__version__"} | {n for n in qkdnet.__all__ if n not in lazy}
    assert set(qkdnet.__all__) == set(lazy) | eager
    for name, module in lazy.items():
        assert getattr(qkdnet, name) is getattr(importlib.import_module(module), name), name
    assert set(qkdnet.__all__) <= set(dir(qkdnet))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        _ = qkdnet.nosuch  # type: ignore[attr-defined]


def test_importing_the_package_loads_no_numerics() -> None:
    code = "import sys, qkdnet; print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'scipy', 'numba')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = "import sys; from qkdnet import E91; print('numpy' in sys.modules)"  # the first use loads it
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "True\n"
