"""Pairing a block of detector clicks between the two nodes, before sifting: times only, both ways authenticated.

Bob sends the times of his clicks (:class:`~qkdnet.postprocess.ClickTimes`, his own clock); Alice follows his
clock with her :class:`~qkdnet.qkd.coincidence.ClockTracker`, pairs his clicks with hers and answers which of
his have a partner (:class:`~qkdnet.postprocess.ClickPairs`). Neither learns which detector clicked on the other
side: settings are announced afterwards, by sifting, on the paired clicks only, and outcomes never. Sans-I/O
parties, driven by the node daemon inside one authenticated transcript (as every other step of a block).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qkdnet.errors import InvalidParameter, ProtocolError
from qkdnet.postprocess.messages import ClickPairs, ClickTimes, Message
from qkdnet.qkd.coincidence import ClockTracker, TrackedBlock


class PairingAlice:
    """Alice: waits for Bob's click times, pairs them with her own, answers with his paired indices.

    A block in which no coincidence peak stands out pairs nothing (``failure`` says why); both sides then see
    no pairs and make no key from it.
    """

    def __init__(self, tracker: ClockTracker, times_ps: npt.NDArray[np.int64]) -> None:
        self._tracker = tracker
        self._times = times_ps
        self.done = False
        self.alice_index: npt.NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self.block: TrackedBlock | None = None
        self.failure: str | None = None

    def start(self) -> list[Message]:
        """Alice speaks second."""
        return []

    def receive(self, message: Message) -> list[Message]:
        """Bob's click times → the indices of his paired clicks."""
        if self.done or not isinstance(message, ClickTimes):
            raise ProtocolError(f"pairing: unexpected {type(message).__name__}")
        self.done = True
        try:
            self.block = self._tracker.update(self._times, message.times_ps)
        except InvalidParameter as exc:
            self.failure = str(exc)
            return [ClickPairs(np.zeros(0, dtype=np.int64))]
        found = self.block.coincidences
        self.alice_index = found.alice_index
        return [ClickPairs(found.bob_index.astype(np.int64))]


class PairingBob:
    """Bob: sends his click times, learns which of his clicks are paired (checked: indices into his block)."""

    def __init__(self, times_ps: npt.NDArray[np.int64]) -> None:
        self._times = times_ps
        self.done = False
        self.bob_index: npt.NDArray[np.intp] = np.zeros(0, dtype=np.intp)

    def start(self) -> list[Message]:
        """His times, to Alice."""
        return [ClickTimes(self._times)]

    def receive(self, message: Message) -> list[Message]:
        """Alice's pairing: the indices of his clicks that have a partner."""
        if self.done or not isinstance(message, ClickPairs):
            raise ProtocolError(f"pairing: unexpected {type(message).__name__}")
        index = message.bob_index
        if index.size and int(index[-1]) >= self._times.size:
            raise ProtocolError(f"pairing names click {int(index[-1])} of a block of {self._times.size}")
        self.done = True
        self.bob_index = index.astype(np.intp)
        return []


__all__ = ["PairingAlice", "PairingBob"]
