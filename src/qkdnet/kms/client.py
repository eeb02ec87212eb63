"""A small ETSI GS QKD 014 client for SAEs: status, enc_keys and dec_keys over mutual TLS (httpx, imported lazily).

>>> EtsiError(400, "keys not found")
EtsiError(400, 'keys not found')
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from qkdnet.errors import QkdnetError
from qkdnet.kms.pool import DeliveredKey


class EtsiError(QkdnetError):
    """The KME answered with an error (its status code and the spec's Error ``message``), or could not be reached."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"KME answered {status}: {message}" if status else message)
        self.status = status
        self.message = message

    def __repr__(self) -> str:
        return f"EtsiError({self.status}, {self.message!r})"


class EtsiClient:
    """One SAE's HTTPS client of its KME: ``cert``/``key`` is the SAE's certificate, ``ca`` verifies the KME."""

    def __init__(self, base_url: str, *, cert: Path, key: Path, ca: Path, timeout_s: float = 15.0) -> None:
        import httpx

        from qkdnet.kms.pki import client_context

        try:
            context = client_context(Path(cert), Path(key), Path(ca))
        except (OSError, ValueError) as exc:
            raise EtsiError(0, f"cannot load the SAE's TLS files ({cert}, {key}, {ca}): {exc}") from None
        self._http = httpx.Client(base_url=base_url.rstrip("/"), verify=context, timeout=timeout_s)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> EtsiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        import httpx

        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise EtsiError(0, f"cannot reach the KME at {self._http.base_url}: {exc}") from None
        try:
            doc = response.json()
        except ValueError:
            doc = {}
        if response.status_code != 200:
            raise EtsiError(response.status_code, str(doc.get("message", response.reason_phrase)))
        if not isinstance(doc, dict):
            raise EtsiError(response.status_code, "the KME's answer is not a JSON object")
        return doc

    def status(self, slave_sae: str) -> dict[str, Any]:
        """Get status (clause 5.2) for keys shared with ``slave_sae``."""
        return self._call("GET", f"/api/v1/keys/{slave_sae}/status")

    def enc_keys(
        self, slave_sae: str, *, number: int, size_bits: int, extension_mandatory: list[dict[str, Any]] | None = None
    ) -> list[DeliveredKey]:
        """Get key (clause 5.3): ``number`` new keys of ``size_bits`` shared with ``slave_sae`` (master side);
        ``extension_mandatory`` as clause 6.2 has it (e.g. ``[{"qkdnet_route": "end-to-end"}]``)."""
        body: dict[str, Any] = {"number": number, "size": size_bits}
        if extension_mandatory is not None:
            body["extension_mandatory"] = extension_mandatory
        return _keys(self._call("POST", f"/api/v1/keys/{slave_sae}/enc_keys", body))

    def dec_keys(self, master_sae: str, key_ids: Sequence[UUID], *, wait_s: float = 10.0) -> list[DeliveredKey]:
        """Get key with key IDs (clause 5.4): the keys ``master_sae`` was given under these IDs (slave side).

        A 503 (the block holding a key is committed at the master's KME but not yet here) is retried for up to
        ``wait_s``; any other error raises at once.
        """
        body = {"key_IDs": [{"key_ID": str(k)} for k in key_ids]}
        deadline = time.monotonic() + wait_s
        delay = 0.05
        while True:
            try:
                return _keys(self._call("POST", f"/api/v1/keys/{master_sae}/dec_keys", body))
            except EtsiError as exc:
                if exc.status != 503 or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(2 * delay, 1.0)


def _keys(doc: dict[str, Any]) -> list[DeliveredKey]:
    try:
        return [DeliveredKey(UUID(k["key_ID"]), base64.b64decode(k["key"], validate=True)) for k in doc["keys"]]
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise EtsiError(200, f"malformed key container: {type(exc).__name__}") from None


__all__ = ["EtsiClient", "EtsiError"]
