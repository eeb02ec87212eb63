"""PadLedger and Pad: each key byte is handed out at most once, zeroed, and never shown."""

from __future__ import annotations

import copy
import pickle
import threading

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from qkdnet.errors import AlreadyConsumed, InvalidParameter, PadExhausted, QkdnetError
from qkdnet.otp import Pad, PadLedger

KEY = bytes((7 * i + 101) % 256 for i in range(256))


def test_take_walks_forward() -> None:
    ledger = PadLedger(KEY)
    first, second = ledger.take(10), ledger.take(5)
    assert (first.offset, first.n_bytes, second.offset, second.n_bytes) == (0, 10, 10, 5)
    assert first.read() == KEY[:10]
    assert second.read() == KEY[10:15]
    assert ledger.remaining_bytes == 256 - 15
    assert ledger.cursor == 15
    assert ledger.used_spans() == ((0, 15),)


def test_pad_is_one_shot() -> None:
    pad = PadLedger(KEY).take(4)
    assert not pad.consumed
    pad.read()
    assert pad.consumed
    with pytest.raises(AlreadyConsumed, match=r"\[0, 4\) was already read"):
        pad.read()


def test_discard_zeroes_and_consumes() -> None:
    pad = PadLedger(KEY).take(4)
    buffer = pad._buffer
    assert buffer is not None
    pad.discard()
    pad.discard()  # idempotent
    assert buffer == bytearray(4)
    with pytest.raises(AlreadyConsumed):
        pad.read()


def test_handed_out_bytes_are_zeroed_in_the_ledger() -> None:
    ledger = PadLedger(KEY)
    ledger.take(8)
    ledger.claim(100, 8)
    assert ledger._key[:8] == bytearray(8)
    assert ledger._key[100:108] == bytearray(8)
    assert ledger._key[8:100] == KEY[8:100]


def test_claim_exact_span_and_refuse_overlap() -> None:
    ledger = PadLedger(KEY)
    assert ledger.claim(20, 10).read() == KEY[20:30]
    for offset, n in [(20, 10), (25, 1), (29, 5), (15, 6), (0, 100)]:
        with pytest.raises(AlreadyConsumed, match="overlaps pad already used"):
            ledger.claim(offset, n)
    assert ledger.claim(30, 1).read() == KEY[30:31]  # adjacent is fine
    assert ledger.claim(19, 1).read() == KEY[19:20]
    assert ledger.used_spans() == ((19, 31),)


def test_take_skips_claimed_spans() -> None:
    ledger = PadLedger(KEY)
    ledger.claim(5, 10)
    pad = ledger.take(8)  # [0, 8) would overlap: the first free run of 8 starts at 15
    assert pad.offset == 15
    assert ledger.take(3).offset == 23
    assert ledger.claim(0, 5).read() == KEY[:5]  # the gap behind the cursor can still be claimed


def test_exhaustion_message() -> None:
    ledger = PadLedger(KEY[:100])
    ledger.take(90)
    with pytest.raises(PadExhausted, match=r"asked for 11 bytes of pad but only 10 of 100 remain") as info:
        ledger.take(11)
    assert isinstance(info.value, QkdnetError)
    assert ledger.remaining_bytes == 10  # a refused request consumes nothing
    assert ledger.take(10).offset == 90
    with pytest.raises(PadExhausted, match="only 0 of 100 remain"):
        ledger.take(1)


def test_exhaustion_by_fragmentation_says_so() -> None:
    ledger = PadLedger(KEY[:30])
    ledger.claim(10, 1)
    ledger.claim(20, 1)
    expected = r"only 28 of 30 remain \(the longest free run after the cursor is 10 bytes\)"
    with pytest.raises(PadExhausted, match=expected):
        ledger.take(11)


def test_claim_past_the_end() -> None:
    ledger = PadLedger(KEY[:100])
    with pytest.raises(PadExhausted, match=r"span \[95, 105\) \(10 bytes\) but the key has only 100 bytes"):
        ledger.claim(95, 10)


@pytest.mark.parametrize("n", [0, -1, 1.5, True, "3"])
def test_bad_sizes(n: object) -> None:
    ledger = PadLedger(KEY)
    with pytest.raises(InvalidParameter):
        ledger.take(n)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        ledger.claim(0, n)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        ledger.claim(n if n != 0 else -1, 1)  # type: ignore[arg-type]


def test_empty_key() -> None:
    ledger = PadLedger(b"")
    assert ledger.remaining_bytes == 0
    with pytest.raises(PadExhausted):
        ledger.take(1)


def test_repr_shows_sizes_only() -> None:
    secret = b"TOPSECRETKEYBYTES" * 4
    ledger = PadLedger(secret)
    pad = ledger.take(17)
    shown = [repr(ledger), str(ledger), repr(pad), str(pad), format(ledger), f"{pad!s}"]
    assert repr(ledger) == "PadLedger(size_bytes=68, remaining_bytes=51, cursor=17)"
    assert repr(pad) == "Pad(offset=0, n_bytes=17, consumed=False)"
    for text in shown:
        for leak in (b"TOPSECRET", b"SECRET", b"KEY"):
            assert leak.decode() not in text
            assert leak.hex() not in text
        assert str(list(secret[:4]))[1:-1] not in text
    assert not hasattr(ledger, "__dict__")


def test_copy_and_pickle_refused() -> None:
    ledger = PadLedger(KEY)
    pad = ledger.take(3)
    for obj in (ledger, pad):
        with pytest.raises(TypeError, match="cannot be copied"):
            copy.copy(obj)
        with pytest.raises(TypeError, match="cannot be copied"):
            copy.deepcopy(obj)
        with pytest.raises(TypeError, match="cannot be copied"):
            pickle.dumps(obj)


def test_threads_never_share_a_span() -> None:
    ledger = PadLedger(bytes(64 * 1000))
    spans: list[tuple[int, int]] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(125):
            pad = ledger.take(8)
            with lock:
                spans.append((pad.offset, pad.offset + pad.n_bytes))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(spans) == [(i, i + 8) for i in range(0, 8000, 8)]


class NeverTwice(RuleBasedStateMachine):
    """Random take/claim/read sequences: no key byte is ever handed out twice, and none is lost."""

    @initialize(key=st.binary(min_size=0, max_size=80))
    def start(self, key: bytes) -> None:
        self.key = key
        self.ledger = PadLedger(key)
        self.handed: set[int] = set()
        self.cursor = 0
        self.pads: list[Pad] = []

    def _check_new_span(self, pad: Pad) -> None:
        span = set(range(pad.offset, pad.offset + pad.n_bytes))
        assert not span & self.handed, "a pad byte was handed out twice"
        self.handed |= span
        self.pads.append(pad)

    @rule(n=st.integers(1, 30))
    def take(self, n: int) -> None:
        start = next(
            (s for s in range(self.cursor, len(self.key) - n + 1) if not self.handed & set(range(s, s + n))),
            None,
        )
        if start is None:
            with pytest.raises(PadExhausted, match=f"asked for {n} bytes"):
                self.ledger.take(n)
            return
        pad = self.ledger.take(n)
        assert pad.offset == start
        self.cursor = start + n
        self._check_new_span(pad)

    @rule(offset=st.integers(0, 90), n=st.integers(1, 30))
    def claim(self, offset: int, n: int) -> None:
        if offset + n > len(self.key):
            with pytest.raises(PadExhausted):
                self.ledger.claim(offset, n)
        elif self.handed & set(range(offset, offset + n)):
            with pytest.raises(AlreadyConsumed):
                self.ledger.claim(offset, n)
        else:
            self._check_new_span(self.ledger.claim(offset, n))

    @precondition(lambda self: bool(self.pads))
    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        pad = data.draw(st.sampled_from(self.pads))
        if pad.consumed:
            with pytest.raises(AlreadyConsumed):
                pad.read()
        else:
            assert pad.read() == self.key[pad.offset : pad.offset + pad.n_bytes]

    @invariant()
    def accounts_add_up(self) -> None:
        assert self.ledger.remaining_bytes == len(self.key) - len(self.handed)
        assert {i for s, e in self.ledger.used_spans() for i in range(s, e)} == self.handed
        assert all(self.ledger._key[i] == 0 for i in self.handed)


NeverTwice.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_never_twice = NeverTwice.TestCase
