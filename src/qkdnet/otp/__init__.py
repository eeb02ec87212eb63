"""One-time-pad messaging from a shared QKD key (layer 5).

Alice and Bob each hold the same final key in a :class:`PadLedger`, which hands out every key byte at
most once. :func:`encrypt` XORs a message with fresh pad and authenticates it with a one-time Poly1305
key taken from the pad (so a message of ``n`` bytes spends ``32 + n`` pad bytes); :func:`decrypt` checks
the tag in constant time before releasing any plaintext. Pad bytes are zeroed as soon as they are used.

>>> import numpy as np
>>> from qkdnet.otp import Ciphertext, PadLedger, decrypt, encrypt
>>> final_key = np.random.default_rng(7).integers(0, 2, size=8 * 64, dtype=np.uint8)  # demo bits
>>> alice, bob = PadLedger(final_key), PadLedger(final_key.copy())
>>> sent = encrypt(b"meet at noon", alice)
>>> wire = sent.to_bytes()  # header | body | tag, all an eavesdropper sees
>>> len(wire), sent.offset
(45, 0)
>>> decrypt(Ciphertext.from_bytes(wire), bob)
b'meet at noon'
>>> alice.remaining_bytes, bob.remaining_bytes
(20, 20)
>>> alice
PadLedger(size_bytes=64, remaining_bytes=20, cursor=44)
"""

from qkdnet.otp._bits import KeyMaterial, bits_to_bytes, bytes_to_bits
from qkdnet.otp._message import (
    HEADER_BYTES,
    MAC_KEY_BYTES,
    TAG_BYTES,
    VERSION,
    Ciphertext,
    decrypt,
    encrypt,
    pad_bytes_needed,
)
from qkdnet.otp._pad import Pad, PadLedger

__all__ = [
    "HEADER_BYTES",
    "MAC_KEY_BYTES",
    "TAG_BYTES",
    "VERSION",
    "Ciphertext",
    "KeyMaterial",
    "Pad",
    "PadLedger",
    "bits_to_bytes",
    "bytes_to_bits",
    "decrypt",
    "encrypt",
    "pad_bytes_needed",
]
