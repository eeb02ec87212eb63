"""Syndrome decoders behind one small interface: given H, syndromes and per-bit priors, find the words.

:class:`SyndromeDecoder` is the interface the reconciliation parties use: ``decode(syndrome,
priors)`` returns the most plausible word ``w`` with ``H·w = syndrome`` (over GF(2)) given
``priors[i] = P(w_i = 1)``, and whether the decoder's own syndrome check passed;
``decode_batch`` does the same for many frames of the same code at once. Bob's noisy key bit ``y``
with error rate ``Q`` has prior ``Q`` or ``1 − Q``, a punctured bit ``0.5``, a shortened bit ``0``.
Two implementations plug in:

* :class:`LayeredBeliefPropagation` (default): sum-product belief propagation with a layered
  (check-serial) schedule, compiled with numba, decoding up to 32 frames in lock-step so that
  every inner loop runs over frames in SIMD lanes. A check's outgoing messages come from
  forward-backward ⊞ (the exact sum-product rule a ⊞ b = sign·min(|a|,|b|) + ln(1+e^-|a+b|) −
  ln(1+e^-|a-b|)), with the logarithm taken as the maximum of four tangents (error < 0.03).
* :class:`LdpcPackageDecoder`: the ``ldpc`` package's ``BpDecoder`` (Roffe et al.) in syndrome
  mode, with the priors as its per-bit error channel; about 20× slower per frame.

>>> import numpy as np
>>> from scipy import sparse
>>> H = sparse.csr_matrix(np.array([[1, 1, 0, 1, 0, 0], [0, 1, 1, 0, 1, 0], [1, 0, 1, 0, 0, 1]], dtype=np.uint8))
>>> word, ok = LayeredBeliefPropagation(H).decode(np.array([1, 0, 1], np.uint8), np.full(6, 0.1))
>>> word.tolist(), ok
([1, 0, 0, 0, 0, 0], True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from scipy import sparse

from qkdnet.errors import InvalidParameter
from qkdnet.postprocess._bits import Bits, check_int

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_MAX_ITERATIONS = 50
"""Iterations before a decoder gives up on a frame (a failed frame then costs a blind round)."""
DEFAULT_PATIENCE = 6
"""The layered decoder gives up once the count of unmet checks has not dropped for this many iterations."""
BATCH_FRAMES = 32
"""Frames the layered decoder runs in lock-step (SIMD lanes; beyond 32 the gain is small)."""
_PRIOR_FLOOR = 1e-12
"""Priors are clipped to [1e-12, 1 − 1e-12]: a known bit gets a log-likelihood ratio of ±27.6."""


@runtime_checkable
class SyndromeDecoder(Protocol):
    """Decodes words of one fixed parity-check matrix from their syndrome and per-bit priors."""

    def decode(self, syndrome: Bits, priors: FloatArray) -> tuple[Bits, bool]:
        """The decoded word, and whether it satisfies ``H·word = syndrome``."""
        ...

    def decode_batch(self, syndromes: Bits, priors: FloatArray) -> tuple[Bits, BoolArray]:
        """Words (frames × n) for syndromes (frames × m) and priors (frames × n), and which converged."""
        ...


DecoderFactory = Callable[[sparse.csr_matrix], SyndromeDecoder]
"""Builds a decoder for a parity-check matrix (a class of this module, or any callable)."""


def _check_batch(m: int, n: int, syndromes: object, priors: object) -> tuple[Bits, FloatArray]:
    s = np.asarray(syndromes)
    p = np.asarray(priors, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != m:
        raise InvalidParameter(f"syndromes must have shape (frames, {m}), got {s.shape}")
    if p.shape != (s.shape[0], n):
        raise InvalidParameter(f"priors must have shape ({s.shape[0]}, {n}), got {p.shape}")
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise InvalidParameter("priors must be probabilities in [0, 1]")
    return (s & 1).astype(np.uint8), p


def _as_csr(matrix: object) -> sparse.csr_matrix:
    if not sparse.issparse(matrix) and not isinstance(matrix, np.ndarray):
        raise InvalidParameter("the parity-check matrix must be a scipy sparse matrix or a numpy array")
    H = sparse.csr_matrix(matrix, dtype=np.uint8, copy=True)
    H.sum_duplicates()
    H.sort_indices()
    if H.nnz and (int(H.data.min()) < 1 or int(H.data.max()) > 1):
        raise InvalidParameter("the parity-check matrix must hold only 0 and 1")
    return H


class LayeredBeliefPropagation:
    """Sum-product BP with a layered schedule (numba), many frames at once; a frame stops when its
    syndrome is met.

    A frame that stalls (no fewer unmet checks for ``patience`` iterations) is given up early: in
    blind reconciliation many first attempts fail, and a hopeless decoding should not cost
    ``max_iterations``.
    """

    def __init__(
        self, matrix: object, *, max_iterations: int = DEFAULT_MAX_ITERATIONS, patience: int = DEFAULT_PATIENCE
    ) -> None:
        H = _as_csr(matrix)
        self._shape: tuple[int, int] = (int(H.shape[0]), int(H.shape[1]))
        self._rowptr = H.indptr.astype(np.int64)
        self._cols = H.indices.astype(np.int64)
        self._max_iter = check_int(max_iterations, name="max_iterations", minimum=1)
        self._patience = check_int(patience, name="patience", minimum=1)
        self.iterations = np.zeros(0, dtype=np.int64)
        """Iterations each frame of the last :meth:`decode_batch` ran."""

    def decode(self, syndrome: Bits, priors: FloatArray) -> tuple[Bits, bool]:
        """Word and convergence flag for ``syndrome`` under ``priors`` (P(bit = 1))."""
        words, ok = self.decode_batch(np.asarray(syndrome)[None, :], np.asarray(priors)[None, :])
        return words[0], bool(ok[0])

    def decode_batch(self, syndromes: Bits, priors: FloatArray) -> tuple[Bits, BoolArray]:
        """Words and convergence flags for many frames, decoded ``BATCH_FRAMES`` at a time."""
        from qkdnet.postprocess.ldpc import _kernels  # numba, loaded on first use

        m, n = self._shape
        s, p = _check_batch(m, n, syndromes, priors)
        p = np.clip(p, _PRIOR_FLOOR, 1.0 - _PRIOR_FLOOR)
        llr = (np.log1p(-p) - np.log(p)).astype(np.float32)
        frames = s.shape[0]
        words = np.zeros((frames, n), dtype=np.uint8)
        converged = np.zeros(frames, dtype=np.bool_)
        iterations = np.zeros(frames, dtype=np.int64)
        for lo in range(0, frames, BATCH_FRAMES):
            hi = min(lo + BATCH_FRAMES, frames)
            _kernels.layered_bp(
                self._rowptr,
                self._cols,
                np.ascontiguousarray(s[lo:hi]),
                np.ascontiguousarray(llr[lo:hi]),
                self._max_iter,
                self._patience,
                words[lo:hi],
                converged[lo:hi],
                iterations[lo:hi],
            )
        self.iterations = iterations
        return words, converged


class LdpcPackageDecoder:
    """The ``ldpc`` package's ``BpDecoder`` in syndrome mode, with the priors as its error channel.

    ``BpDecoder`` decodes an error pattern ``e`` from ``H·e``. With ``y`` the hard decision of the
    priors, the word is ``y ⊕ e`` where ``e`` is decoded from ``syndrome ⊕ H·y`` under the error
    probabilities ``min(prior, 1 − prior)``.
    """

    def __init__(
        self,
        matrix: object,
        *,
        max_iterations: int = DEFAULT_MAX_ITERATIONS,
        bp_method: str = "product_sum",
        schedule: str = "parallel",
    ) -> None:
        from ldpc.bp_decoder import BpDecoder

        if bp_method not in ("product_sum", "minimum_sum"):
            raise InvalidParameter(f"bp_method must be 'product_sum' or 'minimum_sum', got {bp_method!r}")
        if schedule not in ("parallel", "serial"):
            raise InvalidParameter(f"schedule must be 'parallel' or 'serial', got {schedule!r}")
        self._H = _as_csr(matrix)
        self._bp = BpDecoder(
            self._H,
            error_rate=0.1,
            max_iter=check_int(max_iterations, name="max_iterations", minimum=1),
            bp_method=bp_method,
            schedule=schedule,
            ms_scaling_factor=0.75 if bp_method == "minimum_sum" else 1.0,
            input_vector_type="syndrome",
        )

    def decode(self, syndrome: Bits, priors: FloatArray) -> tuple[Bits, bool]:
        """Word and convergence flag for ``syndrome`` under ``priors`` (P(bit = 1))."""
        m, n = self._H.shape
        batch_s, batch_p = _check_batch(m, n, np.asarray(syndrome)[None, :], np.asarray(priors)[None, :])
        s, p = batch_s[0], batch_p[0]
        hard = (p > 0.5).astype(np.uint8)
        self._bp.update_channel_probs(np.clip(np.minimum(p, 1.0 - p), _PRIOR_FLOOR, 0.5))
        target = s ^ (np.asarray(self._H @ hard) & 1).astype(np.uint8)
        error = np.asarray(self._bp.decode(target), dtype=np.uint8)
        return hard ^ error, bool(self._bp.converge)

    def decode_batch(self, syndromes: Bits, priors: FloatArray) -> tuple[Bits, BoolArray]:
        """Words and convergence flags for many frames, one after the other."""
        m, n = self._H.shape
        s, p = _check_batch(m, n, syndromes, priors)
        words = np.zeros((s.shape[0], n), dtype=np.uint8)
        converged = np.zeros(s.shape[0], dtype=np.bool_)
        for i in range(s.shape[0]):
            words[i], converged[i] = self.decode(s[i], p[i])
        return words, converged


__all__ = [
    "BATCH_FRAMES",
    "DEFAULT_MAX_ITERATIONS",
    "DEFAULT_PATIENCE",
    "DecoderFactory",
    "LayeredBeliefPropagation",
    "LdpcPackageDecoder",
    "SyndromeDecoder",
]
