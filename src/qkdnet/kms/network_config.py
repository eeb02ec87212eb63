"""A network node's configuration file (TOML): its KME, its links' node-daemon sessions, the KMS graph.

``qkdnet network up`` writes one per node; ``qkdnet network node --config FILE`` runs it. Every problem is
one line ``FILE: FIELD.PATH: what was expected, got what``. Relative paths are read from the file's folder::

    [kme]
    id = "KME_a"
    db = "keys.sqlite"            # the pool of all this node's links (one link_id each)
    status_file = "status.json"   # rewritten every second for `qkdnet network status` (no key material)

    [api]                         # the ETSI GS QKD 014 service, as in a node config (qkdnet.kms.config)
    port = 28000
    cert = "../pki/KME_a.crt"
    key = "../pki/KME_a.key"
    ca = "../pki/ca.crt"

    [network]
    relay = "hops"                # or "available-key"
    links = [["KME_a", "KME_b"], ["KME_b", "KME_c"]]    # every QKD link of the network, between KMEs
    saes = { SAE_a = "KME_a", SAE_c = "KME_c" }         # which KME serves each SAE

    [network.neighbours.KME_b]    # one per link of this node
    url = "https://127.0.0.1:28001"
    session = "link-a-b.toml"     # the node daemon's config for this end of the link

    [network.neighbours.KME_c]    # an end-to-end link: pairs by entanglement swapping at b
    url = "https://127.0.0.1:28002"
    session = "link-a-b-c.toml"
    via = ["KME_b"]               # the repeaters: they swap, and hold no key of this link
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator, model_validator

from qkdnet.errors import ConfigError
from qkdnet.kms.config import ApiSection, EntityId, _lines
from qkdnet.kms.relay import RelayPolicy


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NetworkKmeSection(_Section):
    """This node's KME: its ID, the pool all its links commit to, and where it writes its status."""

    id: EntityId
    db: Path
    status_file: Path = Path("status.json")


class NeighbourEntry(_Section):
    """A KME this node shares a QKD link with: its API (for relay messages) and our end's session config."""

    url: StrictStr
    session: Path
    via: list[EntityId] = Field(default_factory=list)
    """The repeater nodes of an end-to-end link (empty for a link of one fiber): no trusted node between."""

    @field_validator("url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        if not value.startswith("https://") or "/" in value[len("https://") :].rstrip("/"):
            raise ValueError(f"expected an https://HOST:PORT URL, got {value!r}")
        return value.rstrip("/")


class NetworkSection(_Section):
    """The whole KMS graph, the SAEs' KMEs, the relay policy, and this node's neighbours."""

    relay: RelayPolicy = "hops"
    links: Annotated[list[tuple[EntityId, EntityId]], Field(min_length=1)]
    saes: dict[EntityId, EntityId] = Field(default_factory=dict)
    neighbours: Annotated[dict[EntityId, NeighbourEntry], Field(min_length=1)]
    relay_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0


class NetworkNodeConfig(_Section):
    """A whole network node file: ``[kme]``, ``[api]`` and ``[network]``."""

    kme: NetworkKmeSection
    api: ApiSection
    network: NetworkSection

    @model_validator(mode="after")
    def _consistent(self) -> NetworkNodeConfig:
        me = self.kme.id
        edges = {frozenset(edge) for edge in self.network.links}
        for a, b in self.network.links:
            if a == b:
                raise ValueError(f"network.links: a link joins two KMEs, got {a!r} twice")
        for neighbour in self.network.neighbours:
            if frozenset((me, neighbour)) not in edges:
                raise ValueError(f"network.neighbours.{neighbour}: no link {me}–{neighbour} in network.links")
        linked = {b for edge in edges if me in edge for b in edge if b != me}
        if missing := sorted(linked - set(self.network.neighbours)):
            raise ValueError(f"network.neighbours: links to {', '.join(missing)} have no [network.neighbours] entry")
        return self


def load_network_node_config(path: str | os.PathLike[str]) -> NetworkNodeConfig:
    """Read and validate a network node file; relative paths are taken from its folder."""
    source = os.fspath(path)
    try:
        document = tomllib.loads(Path(source).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read the file: {exc.strerror or exc}"]) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"{source}: invalid TOML: {exc}"]) from None
    try:
        config = NetworkNodeConfig.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(_lines(source, exc)) from None
    base = Path(source).parent
    return config.model_copy(
        update={
            "kme": config.kme.model_copy(
                update={"db": base / config.kme.db, "status_file": base / config.kme.status_file}
            ),
            "api": config.api.model_copy(
                update={name: base / getattr(config.api, name) for name in ("cert", "key", "ca")}
            ),
            "network": config.network.model_copy(
                update={
                    "neighbours": {
                        kme: entry.model_copy(update={"session": base / entry.session})
                        for kme, entry in config.network.neighbours.items()
                    }
                }
            ),
        }
    )


__all__ = ["NeighbourEntry", "NetworkKmeSection", "NetworkNodeConfig", "NetworkSection", "load_network_node_config"]
