"""Key material never reaches a log through a repr: every dataclass field that holds key bits hides them.

The leak surface is named here: fields called like key material (keys, pads, guesses of keys, one-time
secrets) in every dataclass of every qkdnet module must be declared with ``repr=False``. A new class that
holds a key under one of these names and forgets it fails this test.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re

import numpy as np

import qkdnet
from qkdnet.postprocess.cascade import CascadeAlice, CascadeBob
from qkdnet.postprocess.ledger import LeakageLedger
from qkdnet.postprocess.protocol import run_protocol

KEY_FIELD = re.compile(r"^(key|\w+_key|pad|secret\w*|guess)$")
NOT_KEY_MATERIAL = {"key_length", "key_bits", "key_basis", "key_index"}


def _dataclasses() -> list[type]:
    found: list[type] = []
    for info in pkgutil.walk_packages(qkdnet.__path__, "qkdnet."):
        if ".cli" in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == info.name:
                found.append(value)
    return found


def test_every_key_field_is_hidden_from_repr() -> None:
    classes = _dataclasses()
    assert len(classes) > 20  # the walk really found the package's dataclasses
    leaking = [
        f"{cls.__module__}.{cls.__qualname__}.{f.name}"
        for cls in classes
        for f in dataclasses.fields(cls)
        if KEY_FIELD.match(f.name) and f.name not in NOT_KEY_MATERIAL and f.repr
    ]
    assert leaking == []


def test_cascade_result_repr_shows_no_key_bits() -> None:
    rng = np.random.default_rng(5)
    alice_key = rng.integers(0, 2, 2000, dtype=np.uint8)
    bob_key = alice_key ^ (rng.random(2000) < 0.03).astype(np.uint8)
    bob = CascadeBob(bob_key, qber_estimate=0.03, ledger=LeakageLedger(), rng=rng)
    run_protocol(CascadeAlice(alice_key, ledger=LeakageLedger()), bob)
    text = repr(bob.result)
    assert "key=" not in text
    assert "".join(map(str, bob.result.key[:32])) not in text.replace(" ", "").replace(",", "")
