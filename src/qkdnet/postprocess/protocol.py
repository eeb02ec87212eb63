"""The interface shared by every two-party protocol, and drivers: in memory, and over a slow channel.

A party is a sans-I/O state machine: :meth:`Party.start` returns its opening messages (maybe none),
:meth:`Party.receive` consumes one message from the peer and returns the replies, and
:attr:`Party.done` says it expects nothing more. It touches only its own party's data. The
in-memory driver :func:`run_protocol` shuttles messages between two parties in FIFO order;
:func:`run_over_channel` drives the very same objects over a :class:`ClassicalChannel` with
propagation delay, per-message processing time and a finite bit rate, and says how long it took
(a round trip costs at least twice the one-way delay); the TCP daemon drives them over sockets.

>>> from qkdnet.postprocess.privacy import AmplifyAlice, AmplifyBob
>>> import numpy as np
>>> key = np.ones(64, np.uint8)
>>> run = run_over_channel(AmplifyAlice(key, out_len=8), AmplifyBob(key, out_len=8, rng=np.random.default_rng(0)),
...                        ClassicalChannel(one_way_delay_s=0.005, processing_s=1e-4))
>>> run.transcript.messages, round(run.elapsed_s, 6)   # one message: 5 ms of flight, 0.1 ms to handle it
(1, 0.0051)
"""

from __future__ import annotations

import heapq
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from qkdnet.checks import check_int, check_nonnegative_real
from qkdnet.errors import AuthenticationFailed, InvalidParameter, ProtocolError, QkdnetError, SecurityAbort
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


@runtime_checkable
class TimesOut(Protocol):
    """A party that can be told the channel went quiet while it still expected messages (a timeout)."""

    def time_out(self) -> None:
        """React to the timeout: raise the error that ends the block (or do nothing)."""
        ...


@runtime_checkable
class Interceptor(Protocol):
    """Whoever holds the wire (a man in the middle): sees every message a party sends and decides what goes on.

    The driver hands it each batch a party sends, in order; it returns the messages to put on the wire, each
    with the side it claims to come from (it is delivered to the other side). It may alter, drop, hold back,
    repeat, reflect or add messages; what it holds back when the protocol ends is lost.
    """

    def intercept(self, sender: Side, messages: list[Message]) -> list[tuple[Side, Message]]:
        """The messages that travel on, with their apparent senders, in place of ``messages``."""
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


@dataclass(frozen=True, slots=True)
class ClassicalChannel:
    """The public channel between the parties: one-way delay, per-message processing, bit rate.

    A message leaves when its sender has finished handling what triggered it and its transmitter is
    free, takes ``bits / bit_rate_bps`` to put on the wire and ``one_way_delay_s`` to arrive (the
    fiber's delay for a channel beside the quantum link), and keeps the receiver busy for
    ``processing_s``. The default is an ideal channel: no time passes.
    """

    one_way_delay_s: float = 0.0
    processing_s: float = 0.0
    bit_rate_bps: float = math.inf

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "one_way_delay_s", check_nonnegative_real(self.one_way_delay_s, name="one_way_delay_s")
        )
        object.__setattr__(self, "processing_s", check_nonnegative_real(self.processing_s, name="processing_s"))
        rate = self.bit_rate_bps
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or math.isnan(rate) or rate <= 0:
            raise InvalidParameter(f"bit_rate_bps must be a positive number (inf allowed), got {rate!r}")
        object.__setattr__(self, "bit_rate_bps", float(rate))


@dataclass(frozen=True, slots=True)
class ChannelRun:
    """What crossed the channel, and the simulated time from the first message to the last one handled."""

    transcript: Transcript
    elapsed_s: float


def run_protocol(
    alice: Party,
    bob: Party,
    *,
    max_messages: int = 1_000_000,
    serialize: bool = True,
    interceptor: Interceptor | None = None,
) -> Transcript:
    """Drive two parties in memory until both are done; count what crossed the channel.

    With ``serialize=True`` every message goes through :func:`encode_message` and
    :func:`decode_message`, as on a socket, so the parties share no object. Exceptions raised by a
    party (a failed check, a protocol error) propagate. A stall (no message in flight while a party
    is not done) is a timeout: each waiting party that can (:class:`TimesOut`) is told, and if none
    raises, ProtocolError. A party that raises reads nothing more, but the other one still receives what was
    in flight, as over a socket: if either side found a forgery (AuthenticationFailed) that is raised, else the
    first error. An ``interceptor`` sits on the wire between the two.
    """
    run = _drive(alice, bob, ClassicalChannel(), max_messages=max_messages, serialize=serialize, tap=interceptor)
    return run.transcript


def run_over_channel(
    alice: Party,
    bob: Party,
    channel: ClassicalChannel,
    *,
    max_messages: int = 1_000_000,
    serialize: bool = True,
    interceptor: Interceptor | None = None,
) -> ChannelRun:
    """Drive two parties over ``channel``; the transcript and the elapsed simulated time.

    Messages are handled in order of arrival (ties in order of sending), each party one at a time,
    so with an ideal channel this is exactly :func:`run_protocol`.
    """
    if not isinstance(channel, ClassicalChannel):
        raise InvalidParameter("channel must be a ClassicalChannel")
    return _drive(alice, bob, channel, max_messages=max_messages, serialize=serialize, tap=interceptor)


def _drive(
    alice: Party, bob: Party, channel: ClassicalChannel, *, max_messages: int, serialize: bool, tap: Interceptor | None
) -> ChannelRun:
    limit = check_int(max_messages, name="max_messages", minimum=1)
    if tap is not None and not isinstance(tap, Interceptor):
        raise InvalidParameter("interceptor must have an intercept(sender, messages) method")
    parties: dict[Side, Party] = {"alice": alice, "bob": bob}
    # In flight: (arrival time, send order, sender, encoded message, message).
    queue: list[tuple[float, int, Side, bytes, Message]] = []
    busy_until: dict[Side, float] = {"alice": 0.0, "bob": 0.0}
    wire_free: dict[Side, float] = {"alice": 0.0, "bob": 0.0}
    sent = 0
    failures: dict[Side, QkdnetError] = {}  # in the order the parties failed

    def send(sender: Side, messages: list[Message], ready_s: float) -> None:
        nonlocal sent
        routed = [(sender, m) for m in messages] if tap is None else tap.intercept(sender, list(messages))
        for origin, message in routed:
            data = encode_message(message)
            leaves = max(wire_free[sender], ready_s) + 8 * len(data) / channel.bit_rate_bps
            wire_free[sender] = leaves
            heapq.heappush(queue, (leaves + channel.one_way_delay_s, sent, origin, data, message))
            sent += 1

    send("alice", alice.start(), 0.0)
    send("bob", bob.start(), 0.0)
    messages = flights = 0
    bits: dict[Side, int] = {"alice": 0, "bob": 0}
    by_type: dict[str, int] = {}
    last_sender: Side | None = None
    elapsed = 0.0
    while queue:
        arrival, _, sender, data, message = heapq.heappop(queue)
        messages += 1
        if messages > limit:
            raise ProtocolError(f"more than {limit} messages exchanged")
        if sender != last_sender:
            flights += 1
            last_sender = sender
        name = type(message).__name__
        by_type[name] = by_type.get(name, 0) + 1
        bits[sender] += 8 * len(data)
        if serialize:
            message = decode_message(data)
        receiver: Side = "bob" if sender == "alice" else "alice"
        if receiver in failures:
            continue  # a party that failed reads no more; what is in flight still reaches the other one
        done_s = max(arrival, busy_until[receiver]) + channel.processing_s
        busy_until[receiver] = elapsed = max(elapsed, done_s)
        try:
            replies = parties[receiver].receive(message)
        except QkdnetError as exc:
            failures[receiver] = exc
            continue
        send(receiver, replies, done_s)
    if failures:
        # Each side ends with its own verdict; one that found a forgery is the one to report.
        forged: list[QkdnetError] = [e for e in failures.values() if isinstance(e, AuthenticationFailed)]
        raise (forged or list(failures.values()))[0]
    if not (alice.done and bob.done):
        for party in (alice, bob):
            if not party.done and isinstance(party, TimesOut):
                party.time_out()
        raise ProtocolError(f"protocol stalled (alice done: {alice.done}, bob done: {bob.done})")
    transcript = Transcript(
        messages=messages,
        flights=flights,
        round_trips=flights // 2,
        bits_alice_to_bob=bits["alice"],
        bits_bob_to_alice=bits["bob"],
        messages_by_type=dict(by_type),
    )
    return ChannelRun(transcript, elapsed)


__all__ = [
    "ChannelRun",
    "ClassicalChannel",
    "Interceptor",
    "Party",
    "SequentialParty",
    "Side",
    "TimesOut",
    "Transcript",
    "run_over_channel",
    "run_protocol",
]
