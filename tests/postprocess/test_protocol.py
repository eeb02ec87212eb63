"""The in-memory driver: flights, round trips, stalls, and sequential composition."""

from __future__ import annotations

import pytest

from qkdnet.errors import InvalidParameter, NoSecretKey, ProtocolError
from qkdnet.postprocess import (
    CascadeDone,
    ClassicalChannel,
    Message,
    Party,
    SequentialParty,
    VerificationOutcome,
    encode_message,
    run_over_channel,
    run_protocol,
)


class PingPong:
    """Toy party: the initiator sends `count` pings, each answered by the responder."""

    def __init__(self, *, initiator: bool, count: int) -> None:
        self.initiator, self.count = initiator, count
        self.seen = 0
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def start(self) -> list[Message]:
        if self.initiator and self.count:
            return [CascadeDone(0, 0)]
        if self.initiator:
            self._done = True
        return []

    def receive(self, message: Message) -> list[Message]:
        self.seen += 1
        if self.initiator:
            if self.seen == self.count:
                self._done = True
                return []
            return [CascadeDone(self.seen, 0)]
        if self.seen == self.count:
            self._done = True
        return [VerificationOutcome(True)]


def test_party_protocol_is_structural() -> None:
    assert isinstance(PingPong(initiator=True, count=1), Party)


def test_flights_and_round_trips_are_counted() -> None:
    transcript = run_protocol(PingPong(initiator=False, count=5), PingPong(initiator=True, count=5))
    assert transcript.messages == 10
    assert transcript.flights == 10 and transcript.round_trips == 5
    assert transcript.messages_by_type == {"CascadeDone": 5, "VerificationOutcome": 5}
    assert transcript.bits_sent == transcript.bits_alice_to_bob + transcript.bits_bob_to_alice > 0


class Burst:
    """Sends `count` messages at once and waits for `count` replies (or replies to each)."""

    def __init__(self, *, initiator: bool, count: int) -> None:
        self.initiator, self.count, self.seen = initiator, count, 0

    @property
    def done(self) -> bool:
        return self.seen == self.count

    def start(self) -> list[Message]:
        return [CascadeDone(0, i) for i in range(self.count)] if self.initiator else []

    def receive(self, message: Message) -> list[Message]:
        self.seen += 1
        return [] if self.initiator else [VerificationOutcome(True)]


def test_a_burst_in_one_direction_is_one_flight() -> None:
    transcript = run_protocol(Burst(initiator=False, count=3), Burst(initiator=True, count=3))
    assert transcript.messages == 6
    assert transcript.flights == 2 and transcript.round_trips == 1


def test_stall_and_runaway_are_errors() -> None:
    with pytest.raises(ProtocolError, match="stalled"):
        run_protocol(PingPong(initiator=False, count=5), PingPong(initiator=False, count=5))
    with pytest.raises(ProtocolError, match="more than"):
        run_protocol(PingPong(initiator=False, count=50), PingPong(initiator=True, count=50), max_messages=10)


class Swap:
    """A wire that turns every CascadeDone(i, j) into CascadeDone(i, j + 1) and reflects nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def intercept(self, sender: str, messages: list[Message]) -> list[tuple[str, Message]]:
        self.calls.append((sender, len(messages)))
        out: list[tuple[str, Message]] = []
        for m in messages:
            out.append((sender, CascadeDone(m.rounds, m.disclosed_bits + 1) if isinstance(m, CascadeDone) else m))
        return out


class Waiter(PingPong):
    """A responder that, told of a timeout, raises."""

    timed_out = False

    def time_out(self) -> None:
        Waiter.timed_out = True
        raise NoSecretKey("timed out")


def test_an_interceptor_sees_every_batch_and_decides_what_arrives() -> None:
    wire = Swap()
    bob = Burst(initiator=True, count=3)
    alice = Burst(initiator=False, count=3)
    got: list[Message] = []
    original = alice.receive

    def receive(message: Message) -> list[Message]:
        got.append(message)
        return original(message)

    alice.receive = receive  # type: ignore[method-assign]
    run_protocol(alice, bob, interceptor=wire)
    assert [m.disclosed_bits for m in got] == [1, 2, 3]  # type: ignore[union-attr]
    assert wire.calls[:2] == [("alice", 0), ("bob", 3)]
    with pytest.raises(InvalidParameter, match="interceptor"):
        run_protocol(alice, bob, interceptor=object())  # type: ignore[arg-type]


def test_a_stall_is_a_timeout_for_the_parties_that_can_be_told() -> None:
    class Drop:
        def intercept(self, sender: str, messages: list[Message]) -> list[tuple[str, Message]]:
            return []

    with pytest.raises(NoSecretKey, match="timed out"):
        run_protocol(Waiter(initiator=False, count=1), PingPong(initiator=True, count=1), interceptor=Drop())
    assert Waiter.timed_out


class OneShot:
    """Sends one message at start and is done; or waits for one message."""

    def __init__(self, send: bool) -> None:
        self.send = send
        self.got: list[Message] = []

    @property
    def done(self) -> bool:
        return self.send or bool(self.got)

    def start(self) -> list[Message]:
        return [CascadeDone(0, 0)] if self.send else []

    def receive(self, message: Message) -> list[Message]:
        self.got.append(message)
        return []


def test_sequential_party_runs_stages_in_order() -> None:
    a_stages = [OneShot(send=True), OneShot(send=False)]
    b_stages = [OneShot(send=False), OneShot(send=True)]
    alice = SequentialParty([lambda s=s: s for s in a_stages])  # type: ignore[misc]
    bob = SequentialParty([lambda s=s: s for s in b_stages])  # type: ignore[misc]
    transcript = run_protocol(alice, bob)
    assert transcript.messages == 2 and alice.done and bob.done
    assert len(b_stages[0].got) == 1 and len(a_stages[1].got) == 1
    assert alice.stage_index == 1
    with pytest.raises(ProtocolError):
        alice.receive(CascadeDone(0, 0))


def test_sequential_party_keeps_a_stage_failure() -> None:
    def fail() -> Party:
        raise NoSecretKey("nothing left")

    party = SequentialParty([lambda: OneShot(send=True), fail])
    out = party.start()
    assert len(out) == 1 and party.done
    assert isinstance(party.failure, NoSecretKey)
    with pytest.raises(InvalidParameter):
        SequentialParty([])


def test_ideal_channel_is_the_in_memory_driver() -> None:
    run = run_over_channel(PingPong(initiator=False, count=5), PingPong(initiator=True, count=5), ClassicalChannel())
    assert run.elapsed_s == 0.0
    assert run.transcript == run_protocol(PingPong(initiator=False, count=5), PingPong(initiator=True, count=5))


def test_each_round_trip_costs_twice_the_delay_plus_processing() -> None:
    """Ping-pong: every message waits one delay d and keeps its receiver busy p, one after the other."""
    d, p = 0.003, 0.0002
    run = run_over_channel(
        PingPong(initiator=False, count=5), PingPong(initiator=True, count=5), ClassicalChannel(d, p)
    )
    assert run.transcript.round_trips == 5
    assert run.elapsed_s == pytest.approx(5 * 2 * (d + p), rel=1e-12)


def test_bit_rate_serialises_the_sender_and_processing_queues_at_the_receiver() -> None:
    d, p, rate = 0.01, 0.001, 1e6
    query = 8 * len(encode_message(CascadeDone(0, 0)))
    answer = 8 * len(encode_message(VerificationOutcome(True)))
    channel = ClassicalChannel(d, p, rate)
    run = run_over_channel(Burst(initiator=False, count=3), Burst(initiator=True, count=3), channel)
    # Bob's three queries leave back to back and reach Alice from query/rate + d on; she is busy p with
    # each, so she answers the third at query/rate + d + 3p (processing, not the wire, is the bottleneck);
    # that answer reaches Bob as he finishes the second one, and he needs p more.
    assert run.elapsed_s == pytest.approx(query / rate + d + 3 * p + answer / rate + d + p, rel=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"one_way_delay_s": -1.0},
        {"one_way_delay_s": float("nan")},
        {"processing_s": float("inf")},
        {"bit_rate_bps": 0.0},
        {"bit_rate_bps": float("nan")},
        {"bit_rate_bps": True},
    ],
)
def test_bad_channels_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidParameter):
        ClassicalChannel(**kwargs)
    with pytest.raises(InvalidParameter):
        run_over_channel(Burst(initiator=False, count=1), Burst(initiator=True, count=1), object())  # type: ignore[arg-type]
