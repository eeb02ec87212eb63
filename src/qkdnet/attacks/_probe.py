"""Eve's quantum probe: her optimal (Helstrom) measurement, and her outcome drawn jointly with the parties' outcomes.

Eve keeps her probe until the bases are announced, then measures it to guess Alice's outcome at the announced
angle. The minimum-error measurement between her two conditional states is Helstrom's (Quantum Detection and
Estimation Theory, 1976): project onto the positive part of ρ_E|0 − ρ_E|1. Her outcome is drawn after the
parties' outcomes from P(g | x, y), so (x, y, g) follow their exact joint Born distribution.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qkdnet.attacks.base import Bits, FloatArray
from qkdnet.quantum import polarization_vectors

ComplexArray = NDArray[np.complex128]

_EIG_TOL = 1e-12


def projectors(angle_deg: float) -> ComplexArray:
    """Polarization projectors (2, 2, 2): index 0 is |θ><θ|, index 1 is |θ + 90°><θ + 90°|."""
    v = polarization_vectors(angle_deg)
    return np.asarray(np.einsum("ki,kj->kij", v, v), dtype=np.complex128)


def eve_states_given_alice(psi: ComplexArray, alice_angle_deg: float) -> ComplexArray:
    """Eve's unnormalised states (2, d_E, d_E) given Alice's outcome x at an angle; ``psi`` is (2_A, 2_B, d_E)."""
    v = polarization_vectors(alice_angle_deg)
    phi = np.einsum("xa,abe->xbe", v, psi)  # amplitude on Bob ⊗ Eve for each outcome of Alice
    return np.asarray(np.einsum("xbe,xbf->xef", phi, phi.conj()))


def helstrom(states: ComplexArray) -> tuple[ComplexArray, float]:
    """Minimum-error POVM (2, d, d) telling two unnormalised states apart (priors are their traces); its success."""
    delta = states[0] - states[1]
    vals, vecs = np.linalg.eigh((delta + delta.conj().T) / 2)
    pos = vecs[:, vals > _EIG_TOL]
    m0 = pos @ pos.conj().T
    povm = np.stack([m0, np.eye(delta.shape[0]) - m0])
    return povm, float(np.trace(states[1]).real + vals[vals > _EIG_TOL].sum())


def joint_table(psi: ComplexArray, povm: ComplexArray, alice_angle_deg: float, bob_angle_deg: float) -> FloatArray:
    """P(x, y, g) (2, 2, 2) for a pure tripartite state (2_A, 2_B, d_E) measured at the angles and by Eve's POVM."""
    va = polarization_vectors(alice_angle_deg)
    vb = polarization_vectors(bob_angle_deg)
    phi = np.einsum("xa,yb,abe->xye", va, vb, psi)
    return np.asarray(np.einsum("xye,gef,xyf->xyg", phi.conj(), povm, phi).real)


def draw_guess(p_guess: FloatArray, *, rng: np.random.Generator) -> Bits:
    """Sample Eve's outcome per pair from unnormalised P(g = 0), P(g = 1), shape (N, 2)."""
    total = p_guess.sum(axis=1)
    p0 = p_guess[:, 0] / np.where(total > 0, total, 1.0)
    return (rng.random(p0.size) >= p0).astype(np.uint8)
