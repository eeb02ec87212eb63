"""Syndrome decoders behind one small interface: given H, syndromes and per-bit priors, find the words.

:class:`SyndromeDecoder` is the interface the reconciliation parties use: ``decode(syndrome,
priors)`` returns the most plausible word ``w`` with ``H·w = syndrome`` (over GF(2)) given
``priors[i] = P(w_i = 1)``, and whether the decoder's own syndrome check passed;
``decode_batch`` does the same for many frames of the same code at once. Bob's noisy key bit ``y``
with error rate ``Q`` has prior ``Q`` or ``1 − Q``, a punctured bit ``0.5``, a shortened bit ``0``.
Two implementations plug in:

* :class:`LayeredBeliefPropagation` (default): sum-product belief propagation with a layered
  (check-serial) schedule, compiled with numba, decoding up to 32 frames in lock-step so that
  every inner loop runs over frames in SIMD lanes; a lane whose frame stops takes the next frame
  at once, so the lanes stay full. A check's outgoing messages come from forward-backward ⊞ (the
  exact sum-product rule a ⊞ b = sign·min(|a|,|b|) + ln(1+e^-|a+b|) − ln(1+e^-|a-b|)), with the
  logarithm taken as the maximum of four tangents (error < 0.03). It is also a
  :class:`ResumableDecoder`: a decoding that failed can be continued from its messages once some
  priors changed (blind reconciliation's revealed bits), instead of starting over.
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
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from scipy import sparse

from qkdnet.checks import check_int
from qkdnet.errors import InvalidParameter
from qkdnet.postprocess._bits import Bits

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_MAX_ITERATIONS = 50
"""Iterations before a decoder gives up on a frame (a failed frame then costs a blind round)."""
DEFAULT_PATIENCE = 6
"""The layered decoder gives up once the count of unmet checks has not dropped for this many iterations."""
BATCH_FRAMES = 32
"""Frames the layered decoder runs in lock-step (SIMD lanes; beyond 32 the gain is small)."""
_LANE_FLOATS = 16_000_000
"""Messages held in the lanes at most (64 MB of float32): long codes run in fewer lanes."""
_PRIOR_FLOOR = 1e-12
"""Priors are clipped to [1e-12, 1 − 1e-12]: a known bit gets a log-likelihood ratio of ±27.6."""
_VECTOR_LANES = 16
"""Lanes of one SIMD vector of float32 (AVX-512; two vectors of AVX2): the pool runs in multiples of it."""
_SCALAR_LANES = 4
"""Up to this many frames run in exactly as many lanes: scalar lanes are then cheaper than a padded vector.

One iteration of a pool on the rate-0.5 10⁴-bit code, in ns per edge, by lanes (float32, AVX-512):
1: 17, 2: 22, 4: 36, 8: 56, 12: 87, 16: 38, 24: 52, 32: 51 — lanes beyond a whole vector run as
scalar code, so 8 lanes cost more than 16."""


def _pool_width(frames: int, cap: int) -> int:
    """Lanes to run ``frames`` frames in: all of them if few, else whole SIMD vectors, at most ``cap``."""
    if frames <= _SCALAR_LANES:
        return min(frames, cap)
    return min(-(-frames // _VECTOR_LANES) * _VECTOR_LANES, cap)


def _shrink_point(width: int, cap: int) -> int:
    """Busy lanes at or below which a pool of ``width`` lanes is better compacted to fewer."""
    return next((b for b in range(width - 1, 0, -1) if _pool_width(b, cap) < width), 0)


@runtime_checkable
class SyndromeDecoder(Protocol):
    """Decodes words of one fixed parity-check matrix from their syndrome and per-bit priors."""

    def decode(self, syndrome: Bits, priors: FloatArray) -> tuple[Bits, bool]:
        """The decoded word, and whether it satisfies ``H·word = syndrome``."""
        ...

    def decode_batch(self, syndromes: Bits, priors: FloatArray) -> tuple[Bits, BoolArray]:
        """Words (frames × n) for syndromes (frames × m) and priors (frames × n), and which converged."""
        ...


@dataclass(frozen=True, slots=True, eq=False)
class BpState:
    """Where belief propagation left some frames: their channel LLRs, posteriors and check messages.

    ``llr`` and ``post`` have shape (frames, n), ``msg`` (frames, edges) in the CSR order of H.
    """

    llr: Float32Array
    post: Float32Array
    msg: Float32Array

    def take(self, index: npt.ArrayLike) -> BpState:
        """The state of the frames selected by ``index`` (a mask or indices)."""
        i = np.asarray(index)
        return BpState(self.llr[i], self.post[i], self.msg[i])


@runtime_checkable
class ResumableDecoder(SyndromeDecoder, Protocol):
    """A syndrome decoder that can continue a decoding from where it stopped, with new priors."""

    def decode_resumable(
        self, syndromes: Bits, priors: FloatArray, state: BpState | None = None, *, patience: int | None = None
    ) -> tuple[Bits, BoolArray, BpState]:
        """Like ``decode_batch``, starting from ``state`` (same frames, earlier priors) if given; also
        returns the state reached. ``patience`` overrides the decoder's own for this call."""
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
        """Words and convergence flags for many frames, ``BATCH_FRAMES`` lanes at a time."""
        s, llr = self._inputs(syndromes, priors)
        words, converged, _ = self._run(s, llr, None, keep_state=False, patience=self._patience)
        return words, converged

    def decode_resumable(
        self, syndromes: Bits, priors: FloatArray, state: BpState | None = None, *, patience: int | None = None
    ) -> tuple[Bits, BoolArray, BpState]:
        """Words, convergence flags and the state reached; from ``state`` if given.

        Resuming keeps every check message and moves each posterior by the change of its channel LLR
        (a revealed punctured bit goes from 0 to ±27.6), so a frame that nearly converged needs a few
        iterations more, not a fresh start.
        """
        s, llr = self._inputs(syndromes, priors)
        if state is not None:
            edges = self._cols.size
            if state.llr.shape != llr.shape or state.post.shape != llr.shape or state.msg.shape != (len(s), edges):
                raise InvalidParameter("the state to resume is not of these frames")
        wait = self._patience if patience is None else check_int(patience, name="patience", minimum=1)
        return self._run(s, llr, state, keep_state=True, patience=wait)

    def _inputs(self, syndromes: object, priors: object) -> tuple[Bits, Float32Array]:
        m, n = self._shape
        s, p = _check_batch(m, n, syndromes, priors)
        p = np.clip(p, _PRIOR_FLOOR, 1.0 - _PRIOR_FLOOR)
        return s, (np.log1p(-p) - np.log(p)).astype(np.float32)

    def _run(
        self, s: Bits, llr: Float32Array, state: BpState | None, *, keep_state: bool, patience: int
    ) -> tuple[Bits, BoolArray, BpState]:
        """Decode every frame in a pool of SIMD lanes: a lane whose frame stops takes the next one;
        once no frame waits, the pool shrinks to fewer whole vectors, then to single lanes, as frames stop."""
        from qkdnet.postprocess.ldpc import _kernels  # numba, loaded on first use

        m, n = self._shape
        edges = self._cols.size
        frames = s.shape[0]
        words = np.zeros((frames, n), dtype=np.uint8)
        converged = np.zeros(frames, dtype=np.bool_)
        iterations = np.zeros(frames, dtype=np.int64)
        keep = frames if keep_state else 0
        out = BpState(llr, np.empty((keep, n), np.float32), np.empty((keep, edges), np.float32))
        cap = min(BATCH_FRAMES, max(1, _LANE_FLOATS // max(edges, 1)))
        width = _pool_width(frames, cap)
        signs = np.where(s == 1, np.float32(-1.0), np.float32(1.0)).astype(np.float32)
        post = np.zeros((n, width), np.float32)  # lanes without a frame idle on zeros
        msg = np.zeros((edges, width), np.float32)
        sign = np.ones((m, width), np.float32)
        active = np.zeros(width, np.bool_)
        its = np.zeros(width, np.int64)
        best = np.zeros(width, np.int64)
        stalled = np.zeros(width, np.int64)
        hard = np.zeros((width, n), np.uint8)
        done = np.zeros(width, np.bool_)
        lane_frame = np.full(width, -1, np.int64)
        waiting = 0

        def load(w: int) -> None:
            nonlocal waiting
            i = waiting
            waiting += 1
            if state is None:
                post[:, w] = llr[i]
                msg[:, w] = 0.0
            else:
                post[:, w] = state.post[i] + (llr[i] - state.llr[i])
                msg[:, w] = state.msg[i]
            sign[:, w] = signs[i]
            active[w], its[w], best[w], stalled[w], lane_frame[w] = True, 0, m + 1, 0, i

        for w in range(min(width, frames)):
            load(w)
        while True:
            busy = int(np.count_nonzero(lane_frame >= 0))
            if busy == 0:
                break
            min_active = busy - 1 if waiting < frames else min(busy - 1, _shrink_point(lane_frame.size, cap))
            _kernels.bp_lanes(
                self._rowptr, self._cols, sign, post, msg, active, its, best, stalled, hard, done,
                self._max_iter, patience, min_active,
            )  # fmt: skip
            for w in np.flatnonzero((lane_frame >= 0) & ~active).tolist():
                i = int(lane_frame[w])
                words[i], converged[i], iterations[i] = hard[w], done[w], its[w]
                if keep_state:
                    out.post[i], out.msg[i] = post[:, w], msg[:, w]
                lane_frame[w] = -1
                if waiting < frames:
                    load(w)
            live = np.flatnonzero(lane_frame >= 0)
            if waiting >= frames and live.size > 0 and _pool_width(live.size, cap) < lane_frame.size:
                # compact the pool to its busy lanes, padded to a whole vector with idle ones
                keep = np.concatenate([live, np.flatnonzero(lane_frame < 0)])[: _pool_width(live.size, cap)]
                post, msg, sign = (np.ascontiguousarray(a[:, keep]) for a in (post, msg, sign))
                active, its, best, stalled, lane_frame = (a[keep] for a in (active, its, best, stalled, lane_frame))
                hard, done = hard[keep], done[keep]
        self.iterations = iterations
        return words, converged, out


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
        self.iterations = np.zeros(0, dtype=np.int64)
        """Iterations each frame of the last :meth:`decode_batch` ran (the package's own count)."""

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
        iterations = np.zeros(s.shape[0], dtype=np.int64)
        for i in range(s.shape[0]):
            words[i], converged[i] = self.decode(s[i], p[i])
            iterations[i] = int(self._bp.iter)
        self.iterations = iterations
        return words, converged


__all__ = [
    "BATCH_FRAMES",
    "DEFAULT_MAX_ITERATIONS",
    "DEFAULT_PATIENCE",
    "BpState",
    "DecoderFactory",
    "LayeredBeliefPropagation",
    "LdpcPackageDecoder",
    "ResumableDecoder",
    "SyndromeDecoder",
]
