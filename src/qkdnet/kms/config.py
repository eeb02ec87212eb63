"""A node's configuration file (TOML): the KME, its ETSI GS QKD 014 API and the SAEs it serves.

Every problem becomes one line ``FILE: FIELD.PATH: what was expected, got what`` in one
:class:`~qkdnet.errors.ConfigError`. Relative paths are read from the config file's folder. Example::

    [kme]
    id = "KME_A"                  # this KME; its certificate's CN (or a DNS SAN) is the same
    peer_id = "KME_B"             # the KME at the other end of the link
    db = "alice-keys.sqlite"      # the key pool (SQLite)

    [api]
    host = "127.0.0.1"
    port = 8443
    cert = "pki/KME_A.crt"        # server certificate, also the client certificate towards the peer KME
    key = "pki/KME_A.key"
    ca = "pki/ca.crt"             # the CA that signs the SAEs' and the peer KME's certificates
    peer_url = "https://127.0.0.1:8444"   # the peer KME's API (key reservations, master side)

    [saes.SAE_A1]                 # an SAE and the KME it talks to
    kme = "KME_A"
    partners = ["SAE_B1"]         # SAEs at the peer KME it may share keys with (either side may list the pair)

    [saes.SAE_B1]
    kme = "KME_B"
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from qkdnet.errors import ConfigError
from qkdnet.kms.daemon_config import AuthSection, DeviceSection, NodeSection, PeerSection, PostprocessSection
from qkdnet.kms.keyfiles import prepare_private_sqlite, require_private, sqlite_files

_NAME = r"^[A-Za-z0-9_.:@-]{1,128}$"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
EntityId = Annotated[StrictStr, Field(pattern=_NAME)]
SizeBits = Annotated[StrictInt, Field(ge=8, le=1 << 20, multiple_of=8)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KmeSection(_Section):
    """This KME: its ID, its peer KME's ID and its key pool's SQLite file."""

    id: EntityId
    peer_id: EntityId
    db: Path

    @model_validator(mode="after")
    def _two_kmes(self) -> KmeSection:
        if self.id == self.peer_id:
            raise ValueError(f"peer_id: the peer KME must differ from this KME, got {self.id!r} twice")
        return self


class ApiSection(_Section):
    """The ETSI GS QKD 014 HTTPS service: address, TLS files, the peer KME's URL and the limits it announces."""

    host: StrictStr = "127.0.0.1"
    port: Annotated[StrictInt, Field(ge=0, le=65535)] = 8443
    cert: Path
    key: Path
    ca: Path
    peer_url: StrictStr | None = None
    key_size_bits: SizeBits = 256
    min_key_size_bits: SizeBits = 64
    max_key_size_bits: SizeBits = 8192
    max_key_per_request: Annotated[StrictInt, Field(ge=1, le=10_000)] = 128
    max_key_count: Annotated[StrictInt, Field(ge=1)] = 1_000_000
    peer_timeout_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    # Request bodies above this get 413 (a key request or 128 key IDs take about 6 kB).
    max_body_bytes: Annotated[StrictInt, Field(ge=1024, le=1 << 24)] = 65536
    # "1.2": TLS 1.2 with ECDHE and AEAD suites only (AES-GCM, ChaCha20-Poly1305), or 1.3; "1.3": 1.3 only.
    tls_min_version: Literal["1.2", "1.3"] = "1.2"
    # The interactive /docs, /redoc and /openapi.json pages (their pages load scripts from a CDN): off by default.
    docs: bool = False

    @field_validator("peer_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https://[^/\s]+/?", value):
            raise ValueError(f"expected an https://HOST:PORT URL, got {value!r}")
        return None if value is None else value.rstrip("/")

    @model_validator(mode="after")
    def _sizes_ordered(self) -> ApiSection:
        if not self.min_key_size_bits <= self.key_size_bits <= self.max_key_size_bits:
            raise ValueError(
                "key_size_bits: expected min_key_size_bits <= key_size_bits <= max_key_size_bits, got "
                f"{self.min_key_size_bits} <= {self.key_size_bits} <= {self.max_key_size_bits}"
            )
        return self


class SaeEntry(_Section):
    """One SAE: the KME it talks to, and the SAEs at the other KME it may share keys with."""

    kme: EntityId
    partners: tuple[EntityId, ...] = ()


class NodeConfig(_Section):
    """A whole node file: ``[kme]``, ``[api]`` and ``[saes]`` (the daemon adds its own sections)."""

    kme: KmeSection
    api: ApiSection
    saes: dict[EntityId, SaeEntry] = Field(default_factory=dict)
    # The node daemon's sections (qkdnet.kms.daemon_config); `qkdnet node` requires node, peer, device and auth.
    node: NodeSection | None = None
    peer: PeerSection | None = None
    device: DeviceSection | None = None
    auth: AuthSection | None = None
    postprocess: PostprocessSection = PostprocessSection()

    @property
    def link_id(self) -> str:
        """The link between this KME and its peer, ``"KMEA|KMEB"`` sorted."""
        from qkdnet.kms.keyid import link_id_for

        return link_id_for(self.kme.id, self.kme.peer_id)

    def entitled(self, master_sae: str, slave_sae: str) -> bool:
        """Whether the two SAEs may share keys: known, one at each KME of the link, and either lists the other."""
        master, slave = self.saes.get(master_sae), self.saes.get(slave_sae)
        if master is None or slave is None or master.kme == slave.kme:
            return False
        return slave_sae in master.partners or master_sae in slave.partners


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _BARE_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out or "(top level)"


def _lines(source: str, error: ValidationError) -> list[str]:
    lines = []
    for err in error.errors():
        loc = tuple(p for p in err["loc"] if p != "[key]")
        got = repr(err["input"])
        got = got if len(got) <= 60 else got[:57] + "..."
        match err["type"]:
            case "missing":
                message = "required field is missing"
            case "extra_forbidden":
                message = "unknown field"
            case "value_error":
                message = str(err.get("ctx", {}).get("error", err["msg"]))
            case _:
                text = err["msg"]
                for said in ("Input should be", "Value should be", "String should", "Input should"):
                    text = text.replace(said, "expected")
                message = f"{text}, got {got}"
        lines.append(f"{source}: {_path(loc)}: {message}")
    return lines


def _cross_problems(config: NodeConfig) -> list[tuple[str, str]]:
    kmes = (config.kme.id, config.kme.peer_id)
    problems = []
    for name, sae in config.saes.items():
        if sae.kme not in kmes:
            problems.append((f"saes.{name}.kme", f"expected {kmes[0]!r} or {kmes[1]!r}, got {sae.kme!r}"))
        for i, partner in enumerate(sae.partners):
            other = config.saes.get(partner)
            if other is None:
                problems.append((f"saes.{name}.partners[{i}]", f"unknown SAE {partner!r} (add a [saes.{partner}])"))
            elif other.kme == sae.kme:
                problems.append(
                    (f"saes.{name}.partners[{i}]", f"{partner!r} talks to the same KME; partners sit at the other one")
                )
    return problems


def parse_node_config(
    document: str | dict[str, Any], *, source: str = "<node config>", base: Path | None = None
) -> NodeConfig:
    """Validate a node config given as TOML text or a parsed document; relative paths are taken from ``base``."""
    if isinstance(document, str):
        try:
            document = tomllib.loads(document)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{source}: invalid TOML: {exc}"]) from None
    try:
        config = NodeConfig.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(_lines(source, exc)) from None
    problems = _cross_problems(config)
    if problems:
        raise ConfigError([f"{source}: {path}: {message}" for path, message in problems])
    if base is not None:
        config = config.model_copy(
            update={
                "kme": config.kme.model_copy(update={"db": base / config.kme.db}),
                "api": config.api.model_copy(
                    update={name: base / getattr(config.api, name) for name in ("cert", "key", "ca")}
                ),
            }
        )
        config = _rebase_daemon_paths(config, base)
    return config


def _rebase_daemon_paths(config: NodeConfig, base: Path) -> NodeConfig:
    """The daemon sections' relative paths, taken from the config file's folder (a tcp:// device stays as is)."""
    update: dict[str, Any] = {}
    if config.node is not None:
        update["node"] = config.node.model_copy(update={"state": base / config.node.state})
    if config.auth is not None:
        update["auth"] = config.auth.model_copy(update={"bootstrap_key_file": base / config.auth.bootstrap_key_file})
    if config.device is not None and not config.device.socket.startswith("tcp://"):
        update["device"] = config.device.model_copy(update={"socket": str(base / config.device.socket)})
    return config.model_copy(update=update)


def load_node_config(path: str | os.PathLike[str], *, check_files: bool = True) -> NodeConfig:
    """Read and validate a node config file; with ``check_files``, the TLS files must exist and be readable."""
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read the file: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{source}: cannot read the file: not UTF-8 text"]) from None
    config = parse_node_config(text, source=source, base=Path(source).parent)
    if check_files:
        missing = [
            f"{source}: api.{name}: cannot read {getattr(config.api, name)}"
            for name in ("cert", "key", "ca")
            if not os.access(getattr(config.api, name), os.R_OK)
        ]
        if missing:
            raise ConfigError(missing)
    return config


def prepare_key_files(config: NodeConfig) -> None:
    """Before serving: refuse key files other users may read (one line each, with the fix); new state DB 0600.

    Covers the TLS private key, the key pool and, for a node daemon, its state and its bootstrap key.
    """
    paths: list[Path] = [config.api.key, *sqlite_files(config.kme.db)]
    if config.auth is not None:
        paths.append(config.auth.bootstrap_key_file)
    if config.node is not None:
        paths.extend(sqlite_files(config.node.state))
    require_private(paths)
    if config.node is not None:
        prepare_private_sqlite(config.node.state)


__all__ = [
    "ApiSection",
    "KmeSection",
    "NodeConfig",
    "SaeEntry",
    "load_node_config",
    "parse_node_config",
    "prepare_key_files",
]
