"""The JSON data formats and error messages of ETSI GS QKD 014 V1.1.1 (2019-02), as pydantic models.

Clause 6 of the specification defines five JSON objects: Status (6.1), Key request (6.2), Key container (6.3),
Key IDs (6.4) and Error (6.5). Field names are the spec's, byte for byte (``key_ID``, ``master_SAE_ID``...).
Requests ignore fields the spec does not define (its extension fields carry anything new); numbers must be
JSON integers (``"8"`` or ``true`` is a bad request, not a number).

The 400 messages below are the spec's wording for the cases it names (size not a multiple of 8, unsupported
``extension_mandatory``, keys not found); the others are qkdnet's, in the same style.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

#: ETSI GS QKD 014 clause 6.5 / Get key: ``size`` is not a multiple of 8.
SIZE_NOT_MULTIPLE_OF_8 = "size shall be a multiple of 8"
#: Clause 6.2: the KME does not support every parameter in ``extension_mandatory``.
EXTENSION_MANDATORY_UNSUPPORTED = "not all extension_mandatory parameters are supported"
#: Get key with key IDs: a key ID is unknown, was never announced for this pair, or was already delivered.
KEYS_NOT_FOUND = "one or more keys specified are not found on KME"
BAD_REQUEST_FORMAT = "bad request format"
UNAUTHORIZED = "unauthorized"


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


ExtensionList = list[dict[StrictStr, Any]]


class Status(_Message):
    """Clause 6.1: what the master SAE may ask of its KME for one slave SAE."""

    source_KME_ID: str
    target_KME_ID: str
    master_SAE_ID: str
    slave_SAE_ID: str
    key_size: int
    stored_key_count: int
    max_key_count: int
    max_key_per_request: int
    max_key_size: int
    min_key_size: int
    max_SAE_ID_count: int
    #: Clause 6.1 leaves this object "for future use"; qkdnet puts its node's key exchange state here
    #: (``{"node": ...}``) when the node daemon runs in the KME's process.
    status_extension: dict[str, Any] | None = None


class KeyRequest(_Message):
    """Clause 6.2: the body of ``POST enc_keys``; every field is optional."""

    number: Annotated[StrictInt, Field(ge=1)] | None = None
    size: Annotated[StrictInt, Field(ge=1)] | None = None
    additional_slave_SAE_IDs: list[StrictStr] | None = None
    extension_mandatory: ExtensionList | None = None
    extension_optional: ExtensionList | None = None


class Key(_Message):
    """One key of a Key container: its ID (a UUID) and its bytes in base64 (RFC 4648)."""

    key_ID: str
    key: str


class KeyContainer(_Message):
    """Clause 6.3: the keys handed to an SAE by ``enc_keys`` or ``dec_keys``."""

    keys: list[Key]


class KeyIdEntry(_Message):
    """One entry of Key IDs."""

    key_ID: StrictStr
    key_ID_extension: Any = None


class KeyIds(_Message):
    """Clause 6.4: the body of ``POST dec_keys``: the IDs the slave SAE asks for."""

    key_IDs: Annotated[list[KeyIdEntry], Field(min_length=1)]
    key_IDs_extension: Any = None


class Error(_Message):
    """Clause 6.5: every non-200 answer: a message, and optional details (a list of objects)."""

    message: str
    details: list[dict[str, Any]] | None = None


class Reservation(_Message):
    """Not in the spec: the body by which the master's KME announces keys to the slave's KME (qkdnet's own)."""

    master_SAE_ID: StrictStr
    slave_SAE_ID: StrictStr
    key_IDs: Annotated[list[StrictStr], Field(min_length=1, max_length=10_000)]
    # Where each key lies, [block_id, offset_bytes, size_bytes] (key IDs are random); absent: position IDs.
    key_positions: Annotated[list[tuple[StrictInt, StrictInt, StrictInt]], Field(max_length=10_000)] | None = None


class Reservations(_Message):
    """Not in the spec: several reservations in one request (the master's KME coalesces concurrent ones)."""

    reservations: Annotated[list[Reservation], Field(min_length=1, max_length=512)]


def key_container_json(keys: list[tuple[str, bytes]]) -> dict[str, Any]:
    """The Key container for ``(key_ID, key bytes)`` pairs, keys in base64."""
    return {"keys": [{"key_ID": key_id, "key": base64.b64encode(key).decode("ascii")} for key_id, key in keys]}


def error_json(message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The Error object: ``details`` only when there are any."""
    return {"message": message, "details": details} if details else {"message": message}


__all__ = [
    "BAD_REQUEST_FORMAT",
    "EXTENSION_MANDATORY_UNSUPPORTED",
    "KEYS_NOT_FOUND",
    "SIZE_NOT_MULTIPLE_OF_8",
    "UNAUTHORIZED",
    "Error",
    "Key",
    "KeyContainer",
    "KeyIdEntry",
    "KeyIds",
    "KeyRequest",
    "Reservation",
    "Reservations",
    "Status",
    "error_json",
    "key_container_json",
]
