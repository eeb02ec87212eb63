"""encrypt/decrypt: round trips, tamper rejection, replay, wire format, and independent checks."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from cryptography.hazmat.primitives.poly1305 import Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdnet.errors import AlreadyConsumed, InvalidParameter, MessageRejected, PadExhausted
from qkdnet.otp import (
    HEADER_BYTES,
    MAC_KEY_BYTES,
    TAG_BYTES,
    VERSION,
    Ciphertext,
    PadLedger,
    decrypt,
    encrypt,
    pad_bytes_needed,
)

KEY = bytes(np.random.default_rng(2024).integers(0, 256, size=4096, dtype=np.uint8))


def poly1305_reference(key: bytes, message: bytes) -> bytes:
    """Poly1305 written from RFC 8439 section 2.5.1, in plain Python integers."""
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:32], "little")
    p = (1 << 130) - 5
    accumulator = 0
    for i in range(0, len(message), 16):
        block = int.from_bytes(message[i : i + 16] + b"\x01", "little")
        accumulator = (accumulator + block) * r % p
    return ((accumulator + s) % (1 << 128)).to_bytes(16, "little")


# RFC 8439, section 2.5.2 (Poly1305 test vector).
RFC_KEY = bytes.fromhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
RFC_MESSAGE = b"Cryptographic Forum Research Group"
RFC_TAG = bytes.fromhex("a8061dc1305136c6c22b8baf0c0127a9")


def test_poly1305_rfc8439_vector() -> None:
    assert poly1305_reference(RFC_KEY, RFC_MESSAGE) == RFC_TAG
    assert Poly1305.generate_tag(RFC_KEY, RFC_MESSAGE) == RFC_TAG


def pair() -> tuple[PadLedger, PadLedger]:
    return PadLedger(KEY), PadLedger(KEY)


@given(st.lists(st.binary(max_size=200), min_size=1, max_size=8))
def test_round_trip(messages: list[bytes]) -> None:
    alice, bob = pair()
    for message in messages:
        sent = encrypt(message, alice)
        assert decrypt(Ciphertext.from_bytes(sent.to_bytes()), bob) == message
    spent = sum(pad_bytes_needed(len(m)) for m in messages)
    assert alice.remaining_bytes == bob.remaining_bytes == len(KEY) - spent


def test_out_of_order_delivery() -> None:
    alice, bob = pair()
    sent = [encrypt(m, alice) for m in (b"one", b"two", b"three")]
    assert [decrypt(sent[i], bob) for i in (2, 0, 1)] == [b"three", b"one", b"two"]


@given(st.binary(max_size=300), st.integers(0, 100))
def test_independent_xor_and_tag(message: bytes, skip: int) -> None:
    alice = PadLedger(KEY)
    if skip:
        alice.take(skip)
    sent = encrypt(message, alice)
    assert sent.offset == skip
    mac_key = KEY[skip : skip + 32]
    xor_pad = KEY[skip + 32 : skip + 32 + len(message)]
    assert sent.body == bytes(m ^ k for m, k in zip(message, xor_pad, strict=True))
    header = bytes([1]) + skip.to_bytes(8, "big") + len(message).to_bytes(8, "big")
    assert sent.header() == header
    assert sent.tag == poly1305_reference(mac_key, header + sent.body)
    assert sent.to_bytes() == header + sent.body + sent.tag
    assert sent.hex() == (header + sent.body + sent.tag).hex()


def test_wire_constants() -> None:
    assert (VERSION, HEADER_BYTES, MAC_KEY_BYTES, TAG_BYTES) == (1, 17, 32, 16)
    assert pad_bytes_needed(10) == 42
    sent = encrypt(b"x" * 10, PadLedger(KEY))
    assert len(sent.to_bytes()) == 17 + 10 + 16
    assert sent.pad_span == (0, 42)


@settings(max_examples=300)
@given(st.binary(max_size=64), st.data())
def test_any_single_bit_flip_is_rejected(message: bytes, data: st.DataObject) -> None:
    alice, bob = pair()
    alice.take(40)  # not at offset 0, so offset flips can also point backwards
    wire = bytearray(encrypt(message, alice).to_bytes())
    bit = data.draw(st.integers(0, 8 * len(wire) - 1))
    wire[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(MessageRejected) as info:
        decrypt(Ciphertext.from_bytes(bytes(wire)), bob)
    if len(message) >= 8:
        assert message.hex() not in str(info.value)
        assert repr(message)[2:-1] not in str(info.value)


def test_rejected_span_is_burned_and_genuine_copy_then_refused() -> None:
    alice, bob = pair()
    sent = encrypt(b"attack at dawn", alice)
    forged = Ciphertext(offset=sent.offset, body=bytes([sent.body[0] ^ 1]) + sent.body[1:], tag=sent.tag)
    with pytest.raises(MessageRejected, match=r"pad span \[0, 46\) failed its authentication tag"):
        decrypt(forged, bob)
    assert bob.used_spans() == ((0, 46),)
    with pytest.raises(AlreadyConsumed):
        decrypt(sent, bob)  # no second attempt on a one-time key, not even the genuine message
    with pytest.raises(AlreadyConsumed):
        bob.claim(10, 1)


def test_forged_tag_rejected() -> None:
    alice, bob = pair()
    sent = encrypt(b"hello", alice)
    with pytest.raises(MessageRejected):
        decrypt(Ciphertext(offset=0, body=sent.body, tag=bytes(16)), bob)


def test_replay_refused() -> None:
    alice, bob = pair()
    wire = encrypt(b"pay 100", alice).to_bytes()
    assert decrypt(Ciphertext.from_bytes(wire), bob) == b"pay 100"
    with pytest.raises(AlreadyConsumed, match="overlaps pad already used"):
        decrypt(Ciphertext.from_bytes(wire), bob)


def test_keys_differing_in_the_mac_key_are_rejected() -> None:
    differing = bytearray(KEY)
    differing[100 + 5] ^= 1  # inside the one-time MAC key of the message at offset 100
    alice, bob = PadLedger(KEY), PadLedger(differing)
    alice.take(100)
    with pytest.raises(MessageRejected):
        decrypt(encrypt(b"hello", alice), bob)


def test_keys_differing_in_the_xor_pad_garble_silently() -> None:
    """The tag authenticates the ciphertext, not key agreement: equal keys are QKD verification's job."""
    differing = bytearray(KEY)
    differing[32] ^= 1  # the first XOR-pad byte of the first message
    assert decrypt(encrypt(b"hello", PadLedger(KEY)), PadLedger(differing)) == b"iello"


def test_header_beyond_key_is_rejected() -> None:
    alice, bob = PadLedger(KEY), PadLedger(KEY[:100])
    alice.take(100)
    with pytest.raises(MessageRejected, match=r"span \[100, 137\) but the key has only 100 bytes"):
        decrypt(encrypt(b"hello", alice), bob)
    assert bob.remaining_bytes == 100


def test_encrypt_exhaustion_consumes_nothing() -> None:
    alice = PadLedger(KEY[:50])
    with pytest.raises(PadExhausted, match="asked for 51 bytes of pad but only 50 of 50 remain"):
        encrypt(b"x" * 19, alice)
    assert alice.remaining_bytes == 50
    encrypt(b"x" * 18, alice)
    assert alice.remaining_bytes == 0


def test_empty_message_is_authenticated() -> None:
    alice, bob = pair()
    sent = encrypt(b"", alice)
    assert sent.body == b""
    assert decrypt(sent, bob) == b""
    with pytest.raises(MessageRejected):
        decrypt(Ciphertext(offset=32, body=b"", tag=sent.tag), PadLedger(KEY))


def test_accepts_bytearray_and_memoryview() -> None:
    alice, bob = pair()
    message = bytearray(b"mutable")
    sent = encrypt(memoryview(message), alice)
    message[0] = 0
    assert decrypt(Ciphertext.from_bytes(bytearray(sent.to_bytes())), bob) == b"mutable"


@pytest.mark.parametrize(
    ("wire", "match"),
    [
        (b"", "shorter than the minimum 33"),
        (b"\x01" + bytes(31), "shorter than the minimum 33"),
        (b"\x02" + bytes(32), "unknown version 2"),
        (struct.pack(">BQQ", 1, 0, 5) + bytes(16), "announces a 5-byte body, so 38 bytes in all, but 33"),
        (struct.pack(">BQQ", 1, 0, 0) + bytes(17), "0-byte body, so 33 bytes in all, but 34"),
        (struct.pack(">BQQ", 1, 0, 2**64 - 1) + bytes(16), "malformed ciphertext"),
    ],
)
def test_malformed_wire(wire: bytes, match: str) -> None:
    with pytest.raises(MessageRejected, match=match):
        Ciphertext.from_bytes(wire)


@given(st.binary(max_size=80))
def test_garbage_never_escapes_as_another_error(wire: bytes) -> None:
    try:
        parsed = Ciphertext.from_bytes(wire)
    except MessageRejected:
        return
    assert parsed.to_bytes() == wire
    with pytest.raises((MessageRejected, AlreadyConsumed)):
        decrypt(parsed, PadLedger(KEY))


def test_constructor_validation() -> None:
    with pytest.raises(InvalidParameter):
        Ciphertext(offset=-1, body=b"", tag=bytes(16))
    with pytest.raises(InvalidParameter):
        Ciphertext(offset=2**64, body=b"", tag=bytes(16))
    with pytest.raises(InvalidParameter):
        Ciphertext(offset=0, body=b"", tag=bytes(15))
    with pytest.raises(InvalidParameter):
        Ciphertext(offset=0, body=bytearray(), tag=bytes(16))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        Ciphertext(offset=0, body=b"", tag=bytes(16), version=2)
    with pytest.raises(InvalidParameter):
        encrypt("text", PadLedger(KEY))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        decrypt(b"wire", PadLedger(KEY))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        encrypt(b"x", KEY)  # type: ignore[arg-type]


def test_ciphertext_is_frozen_and_short_in_repr() -> None:
    sent = encrypt(b"secret plaintext", PadLedger(KEY))
    with pytest.raises(AttributeError):
        sent.offset = 5  # type: ignore[misc]
    assert repr(sent) == "Ciphertext(version=1, offset=0, length=16)"
    assert sent == Ciphertext.from_bytes(sent.to_bytes())
