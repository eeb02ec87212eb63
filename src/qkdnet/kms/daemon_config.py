"""The node daemon's sections of a node config: ``[node]``, ``[peer]``, ``[device]``, ``[auth]``, ``[postprocess]``.

They sit beside the KME's ``[kme]``, ``[api]`` and ``[saes]`` (:mod:`qkdnet.kms.config`) in the same file::

    [node]
    role = "alice"                # alice dials the peer and decides commits; bob listens
    state = "alice-state.sqlite"  # tag-key reserves, send leases and the prepared block

    [peer]
    host = "127.0.0.1"            # bob listens here, alice dials it
    port = 9101

    [device]
    socket = "alice.sock"         # the device: a unix socket path, or tcp://HOST:PORT

    [auth]
    bootstrap_key_file = "bootstrap.key"   # the pre-shared authentication key, read once into the state
                                           # (never start a new state file from a key used before: its tag
                                           # keys would be used twice; make a new bootstrap key instead)

    [postprocess]
    protocol = "e91"              # or "bbm92"; must match the device
    security = "trusted"          # or "device-independent" (E91 only)
    sample_fraction = 0.1
    reconciler = "cascade"
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, field_validator

from qkdnet.errors import InvalidParameter


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeSection(_Section):
    """This node's role on the link and its state file."""

    role: Literal["alice", "bob"]
    state: Path


class PeerSection(_Section):
    """Where the classical channel meets: Bob listens on host:port, Alice dials it."""

    host: StrictStr = "127.0.0.1"
    port: Annotated[StrictInt, Field(ge=1, le=65535)]
    io_timeout_s: Annotated[StrictFloat | StrictInt, Field(gt=0, le=3600)] = 60.0


class DeviceSection(_Section):
    """The QKD device: a unix socket path or ``tcp://HOST:PORT``."""

    socket: Annotated[StrictStr, Field(min_length=1)]
    wait_s: Annotated[StrictFloat | StrictInt, Field(gt=0, le=3600)] = 60.0


class AuthSection(_Section):
    """The pre-shared key that authenticates the first blocks (a multiple of 32 bytes)."""

    bootstrap_key_file: Path


class PostprocessSection(_Section):
    """The key protocol and the choices of sifting, estimation and post-processing."""

    protocol: Literal["e91", "bbm92"] = "e91"
    security: Literal["trusted", "device-independent"] = "trusted"
    sample_fraction: Annotated[StrictFloat, Field(gt=0.0, lt=1.0)] = 0.1
    reconciler: StrictStr = "cascade"
    key_length: Literal["finite", "asymptotic"] | None = None
    eps_sec: Annotated[StrictFloat, Field(gt=0.0, lt=1.0)] = 1e-10
    eps_cor: Annotated[StrictFloat, Field(gt=0.0, lt=1.0)] = 1e-12

    @field_validator("reconciler")
    @classmethod
    def _known_reconciler(cls, value: str) -> str:
        from qkdnet.postprocess import get_reconciler

        try:
            get_reconciler(value)
        except InvalidParameter as exc:
            raise ValueError(str(exc)) from None
        return value


__all__ = ["AuthSection", "DeviceSection", "NodeSection", "PeerSection", "PostprocessSection"]
