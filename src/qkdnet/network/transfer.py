"""Moving a qubit along a route: store-and-forward hop by hop, or teleportation over a swapped pair.

**Store and forward** (the seed's "an atom writes its qubit onto a photon, the photon crosses the fiber,
the next atom reads it off and stores it", repeated hop by hop over :class:`StateTransferLink` s). The
source can prepare its qubit again, so the first hop retries until it heralds. Every later hop holds an
unknown qubit, which cannot be copied: it gets one try, and a lost photon sends the transfer back to the
source. Each delivered qubit is described by the Choi state of the whole transfer; its Pauli-transfer
factors are the product of the hops' (and of the memories' for the time each node held it), so Werner
visibilities multiply: V = Π V_k, F_p = (1 + 3V)/4 (to first order in the errors, the product of the hops'
process fidelities). Sampling is in bulk: the number of failed tries is geometric, their hop-1 attempts
negative binomial and where each failed try ended multinomial, so no loop runs per attempt or per try.

**Teleportation** over delivered end-to-end pairs (Bennett et al., PRL 70, 1895 (1993)): the sender's Bell
measurement (right outcome with ``bell_fidelity``) and two classical bits over the route's fiber; through a
Bell-diagonal pair the qubit undergoes the Pauli channel whose Choi state is that pair, so the process
fidelity is the pair's fidelity (with the measurement's error) and the average fidelity (2F + 1)/3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qkdnet.checks import probability
from qkdnet.errors import InvalidParameter
from qkdnet.hardware import QuantumMemory
from qkdnet.network import _pauli
from qkdnet.network.link import StateTransferLink
from qkdnet.quantum import BellDiagonal
from qkdnet.units import PS_PER_S


@dataclass(frozen=True, slots=True)
class TransferResult:
    """Qubits moved along a route: when each arrived, the Choi state of its transfer, how many tries it took."""

    arrival_times_ps: NDArray[np.int64]
    states: BellDiagonal
    tries: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.arrival_times_ps)

    @property
    def process_fidelity(self) -> NDArray[np.float64]:
        """Process (entanglement) fidelity of each transfer: the Choi state's Φ+ weight."""
        return np.asarray(self.states.fidelity, dtype=np.float64)

    @property
    def average_fidelity(self) -> NDArray[np.float64]:
        """Average state fidelity of each transfer, (2F_p + 1)/3 (Horodecki et al., PRA 60, 1888 (1999))."""
        return (2.0 * self.process_fidelity + 1.0) / 3.0


def _hop_classes(link: StateTransferLink) -> tuple[float, np.ndarray, np.ndarray]:
    """(herald probability per attempt, class probabilities given a herald, class λ triples) of one hop."""
    classes = link._classes()
    p = sum(c.probability for c in classes)
    probs = np.array([c.probability for c in classes]) / p if p > 0 else np.ones(len(classes)) / len(classes)
    lams = np.array([_pauli.lam_of_weights(c.weights.tolist()) for c in classes])
    return p, probs, lams


def store_and_forward(
    links: Sequence[StateTransferLink],
    n_qubits: int,
    *,
    rng: np.random.Generator,
    memories: Sequence[QuantumMemory] | None = None,
    hold_s: float = 0.0,
) -> TransferResult:
    """Send ``n_qubits`` qubits, one after another, over the hops ``links`` (see the module docstring).

    ``memories`` are the receiving nodes' memories (one per hop; default: each link's receiver); every
    intermediate node forwards a qubit as soon as its herald says it arrived, and the last node holds it
    ``hold_s`` before it is used.
    """
    if not links or not all(isinstance(link, StateTransferLink) for link in links):
        raise InvalidParameter("store_and_forward needs at least one StateTransferLink")
    if isinstance(n_qubits, bool) or not isinstance(n_qubits, int | np.integer) or n_qubits < 0:
        raise InvalidParameter(f"n_qubits must be a non-negative integer, got {n_qubits!r}")
    if not (np.isfinite(hold_s) and hold_s >= 0.0):
        raise InvalidParameter(f"hold_s must be finite and >= 0, got {hold_s!r}")
    mems = [link.receiver.memory for link in links] if memories is None else list(memories)
    if len(mems) != len(links):
        raise InvalidParameter(f"memories: one per hop ({len(links)}), got {len(mems)}")
    n = int(n_qubits)
    hops = [_hop_classes(link) for link in links]
    if any(p == 0.0 for p, _, _ in hops):
        raise InvalidParameter("a hop never heralds (success probability 0): nothing can be transferred")
    timings = [link._timing() for link in links]
    period = np.array([t.period_ps for t in timings], dtype=np.int64)
    ready = np.array([t.ready_ps for t in timings], dtype=np.int64)
    p = np.array([h[0] for h in hops])

    # One try: hop 1 until it heralds, then one attempt per later hop. A try fails at hop j ≥ 2 with
    # probability Π_{k<j} p_k (1 − p_j) (hops 2..j−1 succeeded); it succeeds with Π_{k≥2} p_k.
    later = p[1:]
    reach = np.concatenate([[1.0], np.cumprod(later)])  # probability a try reaches hop 2, 3, ... and the end
    fail_at = reach[:-1] * (1.0 - later)
    success = float(reach[-1])
    failed = rng.geometric(success, size=n).astype(np.int64) - 1 if n else np.zeros(0, dtype=np.int64)
    tries = failed + 1
    # Hop-1 attempts over all tries: a sum of geometric counts, negative binomial.
    hop1_attempts = rng.negative_binomial(tries, p[0]) + tries if n else np.zeros(0, dtype=np.int64)
    # A try that fails at hop j ≥ 2 is known at node j when no herald comes (hop j's ready time, every hop
    # before it crossed at its own ready time); node j tells the source, back over hops j..1.
    tau = np.array([link.fiber.delay_ps for link in links], dtype=np.int64)
    fail_cost = np.array([int(ready[1 : j + 1].sum() + tau[: j + 1].sum()) for j in range(1, len(links))])
    elapsed = (hop1_attempts - tries) * period[0] + tries * ready[0]
    if len(links) > 1 and n and fail_at.sum() > 0:
        counts = rng.multinomial(failed, fail_at / fail_at.sum())
        elapsed = elapsed + counts @ fail_cost
    elapsed = elapsed + int(ready[1:].sum())  # the successful try crosses every later hop
    arrival = np.cumsum(elapsed)  # qubits go one after another

    # The successful try's herald class at each hop, and the memories for the time each node held the qubit.
    lam = np.ones((n, 3))
    for k, (_, probs, class_lams) in enumerate(hops):
        kind = rng.choice(len(probs), size=n, p=probs) if len(probs) > 1 else np.zeros(n, dtype=np.intp)
        lam *= class_lams[kind]
        held = hold_s if k == len(links) - 1 else 0.0
        lam *= np.asarray(mems[k].lambdas_at(held))
    states = BellDiagonal._unchecked(_pauli.weights_array(lam))
    return TransferResult(arrival_times_ps=arrival.astype(np.int64), states=states, tries=tries)


def teleport(
    pairs: BellDiagonal,
    *,
    bell_fidelity: float = 1.0,
    receiver_memory: QuantumMemory | None = None,
    classical_delay_ps: int = 0,
) -> BellDiagonal:
    """Choi states of teleporting one qubit through each of ``pairs`` (delivered end-to-end pairs).

    The receiver's half waits ``classical_delay_ps`` (the two bits crossing the route) in
    ``receiver_memory`` before the correction.
    """
    f = probability(bell_fidelity, "bell_fidelity")
    if isinstance(classical_delay_ps, bool) or not isinstance(classical_delay_ps, int) or classical_delay_ps < 0:
        raise InvalidParameter(f"classical_delay_ps must be an integer >= 0, got {classical_delay_ps!r}")
    w = np.atleast_2d(pairs.weights)
    lam = np.stack([w[:, 0] - w[:, 1] + w[:, 2] - w[:, 3], w[:, 0] - w[:, 1] - w[:, 2] + w[:, 3]], axis=1)
    lam = np.concatenate([lam, (w[:, 0] + w[:, 1] - w[:, 2] - w[:, 3])[:, None]], axis=1)
    lam = lam * np.asarray(_pauli.bell_measurement_lam(f))
    if receiver_memory is not None:
        lam = lam * np.asarray(receiver_memory.lambdas_at(classical_delay_ps / PS_PER_S))
    out = _pauli.weights_array(lam)
    return BellDiagonal._unchecked(out if pairs.weights.ndim == 2 else out[0])


__all__ = ["TransferResult", "store_and_forward", "teleport"]
