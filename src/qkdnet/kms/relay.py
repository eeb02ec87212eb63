"""Trusted-node key relay between KMEs: the hop message, its one-time pad and tag, and the choice of next hop.

How deployed QKD networks reach SAEs on nodes with no direct link (ITU-T Y.3803 clause 8, ETSI GS QKD 020's
key relay): the key travels along a path of KMEs. The origin KME takes the end-to-end key K from its link to
the first hop, which holds the same bytes, so the first message carries only where K lies in that link's
pool. Every later hop sends ``K ⊕ P``, where P is fresh key of that hop's link: a one-time pad. Every message
also carries a Poly1305 tag keyed by 256 fresh bits of the same link's key (Wegman–Carter with one-time keys,
as the node's classical channel, :mod:`qkdnet.postprocess.auth`), so its authenticity rests on the link's
key, not on the TLS channel under it. The pad and the tag key are named by their positions in the link's
pool; the receiving KME takes those bytes from its copy (marking them spent) before it believes anything, so
a replayed message names spent key and is refused, and an altered or forged one fails its tag.

**Trust.** Every KME on the path holds K in the clear between receiving and forwarding it: the relay nodes
are trusted, as in every deployed network. A hop spends ``|K| + 256`` bits of its link's key.

**Route.** Each KME picks the next hop itself from what it knows: the network's graph and the key left on
its own links (:func:`next_hops`). A neighbour already on the path is never chosen (no loops); one whose link
has too little key is skipped, one that failed a moment ago or whose link aborts block after block (Eve on
the fiber?) goes last; so routes change as soon as a link runs dry, comes under attack or a node stops
answering.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Literal

import networkx as nx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.poly1305 import Poly1305
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from qkdnet.errors import QkdnetError

RELAY_PATH = "/qkdnet/v1/relay"
TAG_KEY_BITS = 256
RelayPolicy = Literal["hops", "available-key"]
_NAME = Field(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")
_UUID = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
Position = tuple[StrictInt, StrictInt, StrictInt]  # (block_id, offset_bytes, size_bytes) in the link's pool


class RelayRefused(QkdnetError):
    """A relay message that is not believed: bad tag, spent key (a replay), or a sender not on the path."""


class HopMessage(BaseModel):
    """One hop of a relayed key, as sent from one KME to the next (JSON over mutual TLS)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    relay_id: Annotated[StrictStr, _UUID]
    origin: Annotated[StrictStr, _NAME]
    destination: Annotated[StrictStr, _NAME]
    master_sae: Annotated[StrictStr, _NAME]
    slave_sae: Annotated[StrictStr, _NAME]
    key_ids: Annotated[list[Annotated[StrictStr, _UUID]], Field(min_length=1, max_length=4096)]
    size: Annotated[StrictInt, Field(ge=8, le=1 << 20, multiple_of=8)]
    path: Annotated[list[Annotated[StrictStr, _NAME]], Field(min_length=1, max_length=64)]
    """The KMEs the key has passed, the sender last."""
    pad_ids: Annotated[list[Annotated[StrictStr, _UUID]], Field(min_length=1, max_length=4096)]
    pad_positions: Annotated[list[Position], Field(min_length=1, max_length=4096)]
    tag_key_id: Annotated[StrictStr, _UUID]
    tag_key_position: Position
    ciphertext: StrictStr | None = None
    """base64 of K ⊕ P; None on the first hop, where the pads are the keys themselves."""
    budget_ms: Annotated[StrictInt, Field(ge=0, le=600_000)]
    tag: StrictStr = ""

    def signed_bytes(self) -> bytes:
        """What the tag covers: every field but the tag, as canonical JSON."""
        fields = self.model_dump(exclude={"tag"})
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def seal(message: HopMessage, *, pads: Sequence[bytes], tag_key: bytes, keys: Sequence[bytes] | None) -> HopMessage:
    """``message`` with its ciphertext (keys ⊕ pads; none when the pads are the keys) and its tag."""
    if len(tag_key) * 8 != TAG_KEY_BITS:
        raise ValueError(f"tag_key: expected {TAG_KEY_BITS} bits, got {8 * len(tag_key)}")
    ciphertext = None
    if keys is not None:
        plain, pad = b"".join(keys), b"".join(pads)
        if len(plain) != len(pad):
            raise ValueError(f"pads: {len(pad)} bytes for {len(plain)} bytes of key")
        ciphertext = base64.b64encode(_xor(plain, pad)).decode()
    body = message.model_copy(update={"ciphertext": ciphertext, "tag": ""})
    tag = Poly1305.generate_tag(tag_key, body.signed_bytes())
    return body.model_copy(update={"tag": base64.b64encode(tag).decode()})


def check_tag(message: HopMessage, tag_key: bytes) -> None:
    """Raise :class:`RelayRefused` unless the tag is Poly1305 of the message under ``tag_key`` (constant time)."""
    try:
        tag = base64.b64decode(message.tag, validate=True)
        Poly1305.verify_tag(tag_key, message.signed_bytes(), tag)
    except (ValueError, InvalidSignature):
        raise RelayRefused(f"relay {message.relay_id} from {message.path[-1]}: its tag does not check") from None


def open_keys(message: HopMessage, pads: Sequence[bytes]) -> list[bytes]:
    """The relayed keys, once the tag has checked: the pads themselves, or the ciphertext ⊕ the pads."""
    size = message.size // 8
    if message.ciphertext is None:
        keys = list(pads)
    else:
        cipher = base64.b64decode(message.ciphertext, validate=True)
        pad = b"".join(pads)
        if len(cipher) != len(pad):
            raise RelayRefused(f"relay {message.relay_id}: {len(cipher)} bytes of ciphertext for {len(pad)} of pad")
        plain = _xor(cipher, pad)
        keys = [plain[i * size : (i + 1) * size] for i in range(len(plain) // size)]
    if len(keys) != len(message.key_ids) or any(len(k) != size for k in keys):
        raise RelayRefused(f"relay {message.relay_id}: the pads do not make {len(message.key_ids)} keys of {size} B")
    return keys


def check_shape(message: HopMessage) -> None:
    """The message's fields agree with each other (one pad per key, or the whole ciphertext in pads)."""
    size = message.size // 8
    if len(set(message.key_ids)) != len(message.key_ids) or len(message.pad_ids) != len(message.pad_positions):
        raise RelayRefused(f"relay {message.relay_id}: key IDs repeat, or pad IDs and positions differ in number")
    if message.ciphertext is None and (
        len(message.pad_ids) != len(message.key_ids) or any(p[2] != size for p in message.pad_positions)
    ):
        raise RelayRefused(f"relay {message.relay_id}: a first hop names one pad of the key's size per key")
    if message.tag_key_position[2] * 8 != TAG_KEY_BITS:
        raise RelayRefused(f"relay {message.relay_id}: the tag key is not {TAG_KEY_BITS} bits")
    if len(set(message.path)) != len(message.path) or message.origin != message.path[0]:
        raise RelayRefused(f"relay {message.relay_id}: the path loops or does not start at the origin")


def kms_graph(edges: Iterable[tuple[str, str]]) -> nx.Graph:
    """The graph of KMEs joined by QKD links."""
    graph = nx.Graph()
    graph.add_edges_from(edges)
    return graph


def next_hops(
    graph: nx.Graph,
    *,
    here: str,
    destination: str,
    visited: Iterable[str],
    available_bytes: Mapping[str, int],
    needed_bytes: int,
    policy: RelayPolicy = "hops",
    failing: Iterable[str] = (),
) -> list[str]:
    """The neighbours of ``here`` to try, best first, for a key of ``needed_bytes`` bound for ``destination``.

    Only neighbours with a path to the destination that avoids the KMEs already visited, and with at least
    ``needed_bytes`` of key on the link to them (``available_bytes``), are listed. ``hops`` orders them by
    the length of that path, then by key left; ``available-key`` by key left, then path length. Neighbours
    that failed a moment ago (``failing``) go last.
    """
    seen = {here, *visited}
    rest = graph.subgraph(n for n in graph.nodes if n not in seen or n == destination)
    failed = set(failing)
    ranked = []
    for neighbour in graph.neighbors(here):
        if neighbour in seen or available_bytes.get(neighbour, 0) < needed_bytes:
            continue
        try:
            hops = 1 + nx.shortest_path_length(rest, neighbour, destination)
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            continue
        left = available_bytes[neighbour]
        order = (hops, -left) if policy == "hops" else (-left, hops)
        ranked.append((neighbour in failed, *order, neighbour))
    return [entry[-1] for entry in sorted(ranked)]


__all__ = [
    "RELAY_PATH",
    "TAG_KEY_BITS",
    "HopMessage",
    "RelayPolicy",
    "RelayRefused",
    "check_shape",
    "check_tag",
    "kms_graph",
    "next_hops",
    "open_keys",
    "seal",
]
