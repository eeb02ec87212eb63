"""An independent, slow oracle for swapping and purification: explicit 4-qubit density matrices, one pair at a time.

Nothing here comes from qkdnet: Bell states are written from kets, gates are built as permutations of basis
states, partial traces are explicit sums, the Pauli correction is found by search, and the BBPSSW twirl is an
average over the 24 single-qubit Clifford unitaries (a unitary 2-design, so the average is the exact twirl).
"""

from __future__ import annotations

import itertools

import numpy as np

Matrix = np.ndarray

I2 = np.eye(2, dtype=complex)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
Z = np.array([[1, 0], [0, -1]], dtype=complex)
PAULIS = {"I": I2, "X": X, "Y": Y, "Z": Z}


def kron(*ops: Matrix) -> Matrix:
    out = np.ones((1, 1), dtype=complex)
    for op in ops:
        out = np.kron(out, op)
    return out


def basis(bits: str) -> Matrix:
    v = np.zeros(2 ** len(bits), dtype=complex)
    v[int(bits, 2)] = 1.0
    return v


#: Bell states in qkdnet's order (Φ+, Φ−, Ψ+, Ψ−), written from kets.
BELL = [
    (basis("00") + basis("11")) / np.sqrt(2),
    (basis("00") - basis("11")) / np.sqrt(2),
    (basis("01") + basis("10")) / np.sqrt(2),
    (basis("01") - basis("10")) / np.sqrt(2),
]


def bell_diagonal(weights: np.ndarray) -> Matrix:
    return sum(w * np.outer(b, b.conj()) for w, b in zip(weights, BELL, strict=True))


def bell_weights(rho: Matrix) -> np.ndarray:
    return np.array([np.real(b.conj() @ rho @ b) for b in BELL])


def partial_trace(rho: Matrix, keep: tuple[int, ...], n_qubits: int) -> Matrix:
    """Trace out every qubit not in ``keep``, by an explicit sum over basis states."""
    gone = [q for q in range(n_qubits) if q not in keep]
    out = np.zeros((2 ** len(keep), 2 ** len(keep)), dtype=complex)
    for row in itertools.product((0, 1), repeat=len(keep)):
        for col in itertools.product((0, 1), repeat=len(keep)):
            total = 0j
            for traced in itertools.product((0, 1), repeat=len(gone)):
                r = [0] * n_qubits
                c = [0] * n_qubits
                for q, b in zip(keep, row, strict=True):
                    r[q] = b
                for q, b in zip(keep, col, strict=True):
                    c[q] = b
                for q, b in zip(gone, traced, strict=True):
                    r[q] = c[q] = b
                total += rho[int("".join(map(str, r)), 2), int("".join(map(str, c)), 2)]
            out[int("".join(map(str, row)), 2), int("".join(map(str, col)), 2)] = total
    return out


def cnot(control: int, target: int, n_qubits: int) -> Matrix:
    """CNOT as the permutation of computational basis states that flips ``target`` when ``control`` is 1."""
    dim = 2**n_qubits
    u = np.zeros((dim, dim), dtype=complex)
    for i in range(dim):
        bits = [(i >> (n_qubits - 1 - q)) & 1 for q in range(n_qubits)]
        if bits[control]:
            bits[target] ^= 1
        j = int("".join(map(str, bits)), 2)
        u[j, i] = 1.0
    return u


def rx(theta: float) -> Matrix:
    return np.cos(theta / 2) * I2 - 1j * np.sin(theta / 2) * X


# ---- swapping -------------------------------------------------------------------------------------------------


def swap_branch(rho_ab: Matrix, rho_bc: Matrix, outcome: int) -> tuple[float, Matrix]:
    """Probability of Bell outcome k on qubits (B₁, B₂) of ρ_AB₁ ⊗ ρ_B₂C and the A–C state given k (uncorrected)."""
    rho = kron(rho_ab, rho_bc)
    proj = kron(I2, np.outer(BELL[outcome], BELL[outcome].conj()), I2)
    post = partial_trace(proj @ rho @ proj, keep=(0, 3), n_qubits=4)
    p = float(np.real(np.trace(post)))
    return p, post / p if p > 0 else post


def correction(outcome: int) -> Matrix:
    """The Pauli on C that turns outcome k of swapping two |Φ+> pairs back into |Φ+>, found by search."""
    phi = np.outer(BELL[0], BELL[0].conj())
    _, state = swap_branch(phi, phi, outcome)
    for pauli in PAULIS.values():
        fixed = kron(I2, pauli) @ state @ kron(I2, pauli).conj().T
        if np.real(BELL[0].conj() @ fixed @ BELL[0]) > 1 - 1e-12:
            return pauli
    raise AssertionError("no Pauli correction found")


def swap_corrected(rho_ab: Matrix, rho_bc: Matrix, outcome: int, announced: int | None = None) -> tuple[float, Matrix]:
    """Outcome probability and the A–C state after C applies the correction for the announced outcome."""
    p, state = swap_branch(rho_ab, rho_bc, outcome)
    sigma = kron(I2, correction(outcome if announced is None else announced))
    return p, sigma @ state @ sigma.conj().T


def swap_average(rho_ab: Matrix, rho_bc: Matrix, measurement_fidelity: float = 1.0) -> Matrix:
    """The A–C state averaged over true outcomes k and announced outcomes m (right w.p. f, else uniform)."""
    total = np.zeros((4, 4), dtype=complex)
    for k in range(4):
        for m in range(4):
            p_m = measurement_fidelity if m == k else (1 - measurement_fidelity) / 3
            p_k, state = swap_corrected(rho_ab, rho_bc, k, m)
            total += p_k * p_m * state
    return total


# ---- purification ---------------------------------------------------------------------------------------------


def clifford_group() -> list[Matrix]:
    """The 24 single-qubit Clifford unitaries (modulo phase), by closure of H and S."""
    h = np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)
    s = np.diag([1, 1j])
    found: list[Matrix] = [I2]
    frontier = [I2]
    while frontier:
        new = []
        for u in frontier:
            for g in (h, s):
                v = g @ u
                if not any(abs(abs(np.trace(w.conj().T @ v)) - 2) < 1e-9 for w in found):
                    found.append(v)
                    new.append(v)
        frontier = new
    assert len(found) == 24
    return found


def twirl(rho: Matrix) -> Matrix:
    """Average of (U ⊗ U*) ρ (U ⊗ U*)† over the Clifford group: the isotropic (Werner) twirl about |Φ+>."""
    group = clifford_group()
    return sum(kron(u, u.conj()) @ rho @ kron(u, u.conj()).conj().T for u in group) / len(group)


def purify_branches(rho_1: Matrix, rho_2: Matrix, scheme: str) -> dict[tuple[int, int], tuple[float, Matrix]]:
    """For target outcomes (x_A, x_B): probability and kept-pair state, qubits ordered (A₁, B₁, A₂, B₂)."""
    if scheme == "bbpssw":
        rho_1, rho_2 = twirl(rho_1), twirl(rho_2)
    rho = kron(rho_1, rho_2)
    if scheme == "dejmps":
        rot = kron(rx(np.pi / 2), rx(-np.pi / 2), rx(np.pi / 2), rx(-np.pi / 2))
        rho = rot @ rho @ rot.conj().T
    u = cnot(1, 3, 4) @ cnot(0, 2, 4)
    rho = u @ rho @ u.conj().T
    out = {}
    for xa, xb in itertools.product((0, 1), repeat=2):
        proj = kron(I2, I2, np.outer(basis(str(xa)), basis(str(xa))), np.outer(basis(str(xb)), basis(str(xb))))
        kept = partial_trace(proj @ rho @ proj, keep=(0, 1), n_qubits=4)
        p = float(np.real(np.trace(kept)))
        out[(xa, xb)] = (p, kept / p if p > 1e-15 else kept)
    return out


def purify_kept(rho_1: Matrix, rho_2: Matrix, scheme: str) -> tuple[float, Matrix]:
    """Success probability (the target bits agree) and the kept pair's state averaged over 00 and 11."""
    branches = purify_branches(rho_1, rho_2, scheme)
    p = branches[(0, 0)][0] + branches[(1, 1)][0]
    state = (branches[(0, 0)][0] * branches[(0, 0)][1] + branches[(1, 1)][0] * branches[(1, 1)][1]) / p
    return p, state
