"""The code ladder: named, deterministic, memoised codes with a sound untainted puncturing order."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess.ldpc import ldpc_code
from qkdnet.postprocess.ldpc.codes import _build

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
