"""The interface shared by every two-party protocol, and an in-memory driver.

A party is a sans-I/O state machine: :meth:`Party.start` returns its opening messages (maybe none),
:meth:`Party.receive` consumes one message from the peer and returns the replies, and
:attr:`Party.done` says it expects nothing more. It touches only its own party's data. The
in-memory driver :func:`run_protocol` shuttles messages between two parties in FIFO order; the
simulator (with latency) and the TCP daemon drive the very same objects.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from qkdnet.errors import InvalidParameter, ProtocolError, SecurityAbort
from qkdnet.postprocess._bits import check_int
from qkdnet.postprocess.messages import Message, decode_message, encode_message

Side = Literal["alice", "bob"]


@runtime_checkable
class Party(Protocol):
    """One side of a two-party protocol: consumes and emits typed messages, nothing else."""

    @property
    def done(self) -> bool:
        """True once the party expects no further message."""
        ...

    def start(self) -> list[Message]:
        """The messages this party sends first (possibly none)."""
        ...

    def receive(self, message: Message) -> list[Message]:
        """Consume one message from the peer; return the replies."""
        ...


@dataclass(frozen=True, slots=True)
class Transcript:
    """What crossed the public channel: counts of messages, flights, round trips and bytes.

    A *flight* is a maximal run of consecutive messages in one direction; a round trip is a pair
    of flights, so ``round_trips = flights // 2`` (a closing one-way notice is not a round trip).
    """

    messages: int
    flights: int
    round_trips: int
    bits_alice_to_bob: int
    bits_bob_to_alice: int
    messages_by_type: Mapping[str, int] = field(default_factory=dict)

    @property
    def bits_sent(self) -> int:
        """Encoded size of every message, both directions, in bits."""
        return self.bits_alice_to_bob + self.bits_bob_to_alice


class SequentialParty:
    """Runs sub-protocols one after the other: when one stage is done, the next one starts.

    Stages are given as factories, called only when their stage begins, so a later stage can use
    the result of an earlier one (e.g. the corrected key). If a factory raises a SecurityAbort (the
    previous stage failed: its result raises), the messages already produced are still returned
    (they tell the peer), the party is done, and the error is kept in :attr:`failure`.
    """

    def __init__(self, stages: Sequence[Callable[[], Party]]) -> None:
        if not stages:
            raise InvalidParameter("SequentialParty needs at least one stage")
        self._factories = list(stages)
        self._index = -1
        self._current: Party | None = None
        self._failure: SecurityAbort | None = None

    @property
    def done(self) -> bool:
        """True when the last stage is done, or a stage failed."""
        if self._failure is not None:
            return True
        return self._current is not None and self._index == len(self._factories) - 1 and self._current.done

    @property
    def failure(self) -> SecurityAbort | None:
        """The error that stopped the sequence, if any."""
        return self._failure

    @property
    def stage_index(self) -> int:
        """Index of the running stage (-1 before start)."""
        return self._index

    def start(self) -> list[Message]:
        """Start the first stage."""
        if self._current is not None:
            raise ProtocolError("SequentialParty already started")
        return self._next_stage()

    def _next_stage(self) -> list[Message]:
        out: list[Message] = []
        while self._index < len(self._factories) - 1 and (self._current is None or self._current.done):
            self._index += 1
            try:
                self._current = self._factories[self._index]()
            except SecurityAbort as exc:
                self._failure = exc
                break
            out.extend(self._current.start())
        return out

    def receive(self, message: Message) -> list[Message]:
        """Hand ``message`` to the running stage; move on to the next stage when it is done."""
        if self._current is None:
            raise ProtocolError("message received before start()")
        if self.done:
            raise ProtocolError(f"unexpected {type(message).__name__}: protocol is over")
        out = self._current.receive(message)
        if self._current.done:
            out.extend(self._next_stage())
        return out


def run_protocol(alice: Party, bob: Party, *, max_messages: int = 1_000_000, serialize: bool = True) -> Transcript:
    """Drive two parties in memory until both are done; count what crossed the channel.

    With ``serialize=True`` every message goes through :func:`encode_message` and
    :func:`decode_message`, as on a socket, so the parties share no object. Exceptions raised by a
    party (a failed check, a protocol error) propagate. A stall (no message in flight while a party
    is not done) raises ProtocolError.
    """
    limit = check_int(max_messages, name="max_messages", minimum=1)
    queue: deque[tuple[Side, Message]] = deque()
    queue.extend(("alice", m) for m in alice.start())
    queue.extend(("bob", m) for m in bob.start())
    messages = flights = 0
    bits: dict[Side, int] = {"alice": 0, "bob": 0}
    by_type: dict[str, int] = {}
    last_sender: Side | None = None
    while queue:
        sender, message = queue.popleft()
        messages += 1
        if messages > limit:
            raise ProtocolError(f"more than {limit} messages exchanged")
        if sender != last_sender:
            flights += 1
            last_sender = sender
        name = type(message).__name__
        by_type[name] = by_type.get(name, 0) + 1
        data = encode_message(message)
        bits[sender] += 8 * len(data)
        if serialize:
            message = decode_message(data)
        receiver_side: Side = "bob" if sender == "alice" else "alice"
        receiver = bob if receiver_side == "bob" else alice
        replies = receiver.receive(message)
        queue.extend((receiver_side, m) for m in replies)
    if not (alice.done and bob.done):
        raise ProtocolError(f"protocol stalled (alice done: {alice.done}, bob done: {bob.done})")
    return Transcript(
        messages=messages,
        flights=flights,
        round_trips=flights // 2,
        bits_alice_to_bob=bits["alice"],
        bits_bob_to_alice=bits["bob"],
        messages_by_type=dict(by_type),
    )


__all__ = ["Party", "SequentialParty", "Side", "Transcript", "run_protocol"]
