"""The package's lazy exports: the same objects as before, the same names for type checkers, nothing loaded early."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest


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


LAZY_PACKAGES = ["qkdnet", "qkdnet.attacks", "qkdnet.postprocess.ldpc"]


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_lazy_name_is_its_modules_object_and_type_checkers_see_the_same_names(package: str) -> None:
    pkg = importlib.import_module(package)
    lazy = pkg._LAZY
    assert pkg.__file__ is not None and _type_checking_imports(Path(pkg.__file__)) == lazy
    eager = {n for n in pkg.__all__ if n not in lazy}
    assert eager <= {"__version__"} | set(dir(importlib.import_module("qkdnet.errors")))
    for name, module in lazy.items():
        assert getattr(pkg, name) is getattr(importlib.import_module(module), name), name
    assert set(pkg.__all__) <= set(dir(pkg)) and set(lazy) <= set(pkg.__all__)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_an_unknown_name_is_an_attribute_error(package: str) -> None:
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        _ = importlib.import_module(package).nosuch


def test_importing_the_package_loads_no_numerics() -> None:
    code = "import sys, qkdnet; print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'scipy', 'numba')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = "import sys; from qkdnet import E91; print('numpy' in sys.modules)"  # the first use loads it
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "True\n"


def test_a_key_runs_pipeline_loads_no_classical_channel_attacks() -> None:
    code = "import sys, qkdnet.qkd.pipeline; print(sorted(m for m in sys.modules if m.startswith('qkdnet.attacks')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "qkdnet.attacks.base" in out and "qkdnet.attacks.classical" not in out and "catalog" not in out


def test_a_key_run_loads_scipy_and_numba_only_when_it_reconciles_and_amplifies() -> None:
    """Issue 13 item 5: the LDPC codes (scipy.sparse), the FFT hash (scipy.fft) and Cascade's kernels (numba)
    are loaded when a block reaches them, not when the command starts: they were most of its start-up."""
    code = (
        "import sys, qkdnet.qkd.pipeline; from qkdnet.cli.main import build_parser; build_parser('bbm92');"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('scipy', 'numba')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
