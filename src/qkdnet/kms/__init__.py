"""The key management entity (layer 5): a durable key pool and the ETSI GS QKD 014 key delivery service.

The node daemon commits blocks of final key into a :class:`KeyPool` (:class:`SqliteKeyPool` by default);
the ETSI GS QKD 014 REST service (:mod:`qkdnet.kms.api`, FastAPI, imported only when served) hands them to
the SAEs: ``enc_keys`` to the master SAE at its KME, ``dec_keys`` to the slave SAE at the other KME, each key
once per side. Key IDs are RFC 9562 v8 UUIDs naming the key's position (:mod:`qkdnet.kms.keyid`).

>>> import tempfile, pathlib
>>> from qkdnet.kms import Direction, SqliteKeyPool, link_id_for
>>> link = link_id_for("KME_B", "KME_A")
>>> link
'KME_A|KME_B'
>>> with tempfile.TemporaryDirectory() as tmp, SqliteKeyPool(pathlib.Path(tmp) / "a.sqlite") as pool:
...     pool.commit_block(link_id=link, block_id=0, key=bytes(range(64)))
...     keys = pool.take_new_keys(link_id=link, direction=Direction.FIRST_MASTER, master_sae="SAE_A1",
...                               slave_sae="SAE_B1", number=2, size_bits=128)
...     [k.key.hex() for k in keys], pool.stored_key_count(link_id=link, direction=Direction.FIRST_MASTER,
...                                                          size_bits=128)
(['000102030405060708090a0b0c0d0e0f', '101112131415161718191a1b1c1d1e1f'], 0)
"""

from qkdnet.kms.client import EtsiClient, EtsiError
from qkdnet.kms.config import NodeConfig, load_node_config, parse_node_config
from qkdnet.kms.device import Device, DeviceInfo, RawBlock, SocketDevice
from qkdnet.kms.emulator import LinkEmulator
from qkdnet.kms.keyid import (
    Direction,
    KeyPosition,
    decode_key_id,
    direction_for,
    encode_key_id,
    link_id_for,
    split_block,
)
from qkdnet.kms.node import NodeDaemon
from qkdnet.kms.node_state import NodeState
from qkdnet.kms.pool import DeliveredKey, KeyPool, SqliteKeyPool

__all__ = [
    "DeliveredKey",
    "Device",
    "DeviceInfo",
    "Direction",
    "EtsiClient",
    "EtsiError",
    "KeyPool",
    "KeyPosition",
    "LinkEmulator",
    "NodeConfig",
    "NodeDaemon",
    "NodeState",
    "RawBlock",
    "SocketDevice",
    "SqliteKeyPool",
    "decode_key_id",
    "direction_for",
    "encode_key_id",
    "link_id_for",
    "load_node_config",
    "parse_node_config",
    "split_block",
]
