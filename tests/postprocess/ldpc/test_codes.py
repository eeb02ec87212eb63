"""The code ladder: named, deterministic, memoised codes with a sound untainted puncturing order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess.ldpc import codes as codes_module
from qkdnet.postprocess.ldpc import ldpc_code
from qkdnet.postprocess.ldpc.codes import CACHE_ENV, _build

from .oracles import gf2_rank


def test_codes_are_memoised_and_rebuilt_identically() -> None:
    a = ldpc_code("elkouss2009", 0.7, 1000)
    assert ldpc_code("elkouss2009", 0.7, 1000) is a
    _build.cache_clear()
    b = ldpc_code("elkouss2009", 0.7, 1000)
    assert b is not a
    assert (a.matrix != b.matrix).nnz == 0
    np.testing.assert_array_equal(a.puncture_order, b.puncture_order)
    c = ldpc_code("elkouss2009", 0.7, 1000, seed=1)
    assert (a.matrix != c.matrix).nnz > 0


@pytest.mark.parametrize(("family", "rate"), [("elkouss2009", 0.5), ("elkouss2009", 0.9), ("martinez_mateo2012", 0.7)])
def test_untainted_puncturing(family: str, rate: float) -> None:
    code = ldpc_code(family, rate, 2000)
    H = sparse.csc_matrix(code.matrix)
    punctured = code.puncture_order
    assert punctured.size > 0 and np.unique(punctured).size == punctured.size
    # No check touches two punctured symbols (every punctured symbol is recoverable in one step)...
    assert int(np.asarray(H[:, punctured].sum(axis=1)).max()) == 1
    # ...and the greedy set is maximal: every other symbol shares a check with a punctured one.
    touched = np.asarray(H[:, punctured].sum(axis=1)).ravel() > 0
    others = np.setdiff1d(np.arange(code.n), punctured)
    assert np.all(np.asarray(H[touched][:, others].sum(axis=0)).ravel() > 0)


def test_punctured_columns_have_full_rank() -> None:
    # What the ledger's m − p charge rests on, checked by plain Gaussian elimination.
    code = ldpc_code("martinez_mateo2012", 0.5, 400)
    cols = code.matrix[:, code.puncture_order].toarray()
    assert gf2_rank(cols) == code.puncture_order.size


def test_syndrome_matches_a_dense_product() -> None:
    code = ldpc_code("elkouss2009", 0.8, 500)
    words = np.random.default_rng(0).integers(0, 2, (3, 500), dtype=np.uint8)
    expected = (words.astype(np.int64) @ code.matrix.toarray().T.astype(np.int64)) % 2
    np.testing.assert_array_equal(code.syndrome(words), expected)


@pytest.mark.parametrize(
    ("family", "rate", "n"),
    [("nope", 0.5, 1000), ("elkouss2009", 0.42, 1000), ("elkouss2009", 0.5, 100), (3, 0.5, 1000)],
)
def test_unknown_codes_are_refused(family: object, rate: float, n: int) -> None:
    with pytest.raises(InvalidParameter):
        ldpc_code(family, rate, n)  # type: ignore[arg-type]


def test_codes_are_cached_on_disk_and_a_bad_file_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    _build.cache_clear()
    built = ldpc_code("elkouss2009", 0.6, 1000, seed=5)
    files = list((tmp_path / "ldpc").glob("*.npz"))
    assert len(files) == 1
    _build.cache_clear()

    def no_peg(*args: object, **kwargs: object) -> None:
        raise AssertionError("PEG ran although the code was cached")

    with monkeypatch.context() as patch:  # a fresh process: the same code, read from the file
        patch.setattr(codes_module, "peg_matrix", no_peg)
        loaded = ldpc_code("elkouss2009", 0.6, 1000, seed=5)
    assert loaded is not built
    assert (loaded.matrix != built.matrix).nnz == 0
    np.testing.assert_array_equal(loaded.puncture_order, built.puncture_order)
    # A damaged file (wrong degrees, or not an archive at all) is ignored and the code rebuilt.
    with np.load(files[0]) as data:
        indices = data["indices"].copy()
        arrays = {"indptr": data["indptr"], "puncture_order": data["puncture_order"]}
    indices[0] = (indices[0] + 1) % 1000
    np.savez(files[0], indices=indices, **arrays)
    for _ in range(2):
        _build.cache_clear()
        again = ldpc_code("elkouss2009", 0.6, 1000, seed=5)
        assert (again.matrix != built.matrix).nnz == 0
        files[0].write_bytes(b"not an npz")
    monkeypatch.setenv(CACHE_ENV, "")  # disabled: nothing more is written
    _build.cache_clear()
    ldpc_code("elkouss2009", 0.6, 1000, seed=6)
    assert len(list((tmp_path / "ldpc").glob("*.npz"))) == 1
    _build.cache_clear()
