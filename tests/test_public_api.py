"""The curated public API: every name in __all__ exists, is documented, and nothing private leaks."""

from __future__ import annotations

import inspect

import qkdnet

EXPECTED = {
    "run_key_exchange",
    "E91",
    "BBM92",
    "link_from_preset",
    "InterceptResend",
    "PadLedger",
    "encrypt",
    "decrypt",
    "reconcile_and_amplify",
    "finite_key_length",
    "BellDiagonal",
    "werner_state",
    "SeedTree",
    "QkdnetError",
}


def test_all_names_exist_and_are_public() -> None:
    assert len(set(qkdnet.__all__)) == len(qkdnet.__all__)
    for name in qkdnet.__all__:
        assert hasattr(qkdnet, name), name
        assert not name.startswith("_") or name == "__version__"


def test_core_workflow_names_are_exported() -> None:
    assert set(qkdnet.__all__) >= EXPECTED


def test_public_callables_have_docstrings() -> None:
    for name in qkdnet.__all__:
        obj = getattr(qkdnet, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"


def test_errors_share_one_base() -> None:
    for name in qkdnet.__all__:
        obj = getattr(qkdnet, name)
        if inspect.isclass(obj) and issubclass(obj, Exception):
            assert issubclass(obj, qkdnet.QkdnetError), name
