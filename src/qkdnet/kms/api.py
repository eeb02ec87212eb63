"""The ETSI GS QKD 014 V1.1.1 key delivery service of one KME, as a FastAPI application.

Methods (clause 5; all over HTTPS with mutual TLS, clause 5.1):

- ``GET /api/v1/keys/{slave_SAE_ID}/status`` (Get status): the master SAE asks what it may request.
- ``GET|POST /api/v1/keys/{slave_SAE_ID}/enc_keys`` (Get key): the master SAE takes new keys.
- ``GET|POST /api/v1/keys/{master_SAE_ID}/dec_keys`` (Get key with key IDs): the slave SAE, at its own KME,
  takes exactly the keys the master SAE got.

**Who is calling.** The caller's ID is the subject common name (CN) of its TLS client certificate, verified
against the node's CA; SANs are not consulted. An SAE may call only the KME the ``[saes]`` table attaches it
to, and only for a partner SAE at the peer KME (else 401, clause 5: "Unauthorized").

**How the two KMEs agree.** The master's KME takes the keys from its pool (durably marked delivered), then
announces their IDs for (master SAE, slave SAE) to the peer KME over mutual TLS
(``POST /qkdnet/v1/reservations``, accepted only from the peer KME's certificate) and answers the master SAE
only once the peer has recorded them. The slave's KME hands a key only to the slave SAE it was announced for,
once. If the peer cannot be reached the keys are spent on the master's side, never delivered (503).

**Errors** (clause 6.5 Error object, never a traceback): 400 for a bad request with the spec's messages
("size shall be a multiple of 8", "not all extension_mandatory parameters are supported", "one or more keys
specified are not found on KME") and qkdnet's for the other limits (number above ``max_key_per_request``,
size outside ``[min_key_size, max_key_size]``, ``additional_slave_SAE_IDs``, which this KME refuses:
``max_SAE_ID_count`` is 0), also for a key ID issued to another pair (the same answer, word for word, as for a
key that does not exist: an SAE learns nothing of other pairs' keys); 401 for a caller not entitled to the pair;
413 for a body above ``[api] max_body_bytes``; 503 when the KME cannot
serve now -- too little key in the pool (the request is valid and may succeed later, so it is the server-side
503, not a 400), the peer KME unreachable, or a key whose block is not yet committed here. Key material is
never logged; key responses carry ``Cache-Control: no-store``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol
from uuid import UUID

from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from qkdnet.errors import KeyNotEntitled, KeyNotFound, KeyNotYetCommitted, KeyPoolError, KeyPoolExhausted
from qkdnet.kms.config import ApiSection, NodeConfig
from qkdnet.kms.etsi import (
    BAD_REQUEST_FORMAT,
    EXTENSION_MANDATORY_UNSUPPORTED,
    KEYS_NOT_FOUND,
    SIZE_NOT_MULTIPLE_OF_8,
    UNAUTHORIZED,
    Error,
    KeyContainer,
    KeyIds,
    KeyRequest,
    Reservation,
    Reservations,
    Status,
    error_json,
    key_container_json,
)
from qkdnet.kms.keyid import KeyPosition, direction_for
from qkdnet.kms.pki import common_name
from qkdnet.kms.pool import DeliveredKey, SqliteKeyPool
from qkdnet.kms.status import NodeStatus, registered_node_status

logger = logging.getLogger("qkdnet.kms.api")
RESERVATIONS_PATH = "/qkdnet/v1/reservations"
_MAX_GROUPS = 512  # reservations per request to the peer KME
_NO_STORE = {"Cache-Control": "no-store"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "Bad request format"},
    401: {"model": Error, "description": "Unauthorized"},
    503: {"model": Error, "description": "Error on the server side"},
}


class PeerUnavailable(Exception):
    """The peer KME did not record the reservation (unreachable, timed out, or refused)."""


class PeerKme(Protocol):
    """How the master's KME announces keys to the slave's KME."""

    async def reserve(
        self,
        *,
        master_sae: str,
        slave_sae: str,
        key_ids: Sequence[UUID],
        positions: Sequence[KeyPosition] | None = None,
    ) -> None:
        """Have the peer KME record ``key_ids`` (at ``positions``) for the pair; raise PeerUnavailable if not."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class HttpsPeerKme:
    """The peer KME's reservation endpoint over mutual TLS; checks the peer's CN; coalesces concurrent calls.

    Reservations that arrive while one request to the peer is in flight wait and leave together in the next
    request (one HTTPS round trip and one fsync at the peer for many enc_keys), as a database group-commits.
    """

    def __init__(self, config: NodeConfig) -> None:
        import httpx

        from qkdnet.kms.pki import client_context

        if config.api.peer_url is None:
            raise PeerUnavailable("no [api] peer_url is configured")
        self._peer_id = config.kme.peer_id
        self._client = httpx.AsyncClient(
            base_url=config.api.peer_url,
            verify=client_context(config.api.cert, config.api.key, config.api.ca),
            timeout=config.api.peer_timeout_s,
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
        )
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def reserve(
        self,
        *,
        master_sae: str,
        slave_sae: str,
        key_ids: Sequence[UUID],
        positions: Sequence[KeyPosition] | None = None,
    ) -> None:
        """Have the peer record the keys; any failure becomes PeerUnavailable (the keys stay spent, undelivered)."""
        group: dict[str, Any] = {
            "master_SAE_ID": master_sae,
            "slave_SAE_ID": slave_sae,
            "key_IDs": [str(k) for k in key_ids],
        }
        if positions is not None:
            group["key_positions"] = [[p.block_id, p.offset_bytes, p.size_bytes] for p in positions]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((group, done))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_waiting())
        await done

    async def _send_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:_MAX_GROUPS], self._waiting[_MAX_GROUPS:]
            try:
                results = await self._post([group for group, _ in batch])
            except PeerUnavailable as exc:
                for _, done in batch:
                    if not done.done():  # a caller that went away was cancelled
                        done.set_exception(PeerUnavailable(str(exc)))
                continue
            for (_, done), result in zip(batch, results, strict=True):
                if done.done():
                    continue
                if "error" in result:
                    done.set_exception(PeerUnavailable(f"peer KME {self._peer_id} refused: {result['error']}"))
                else:
                    done.set_result(None)

    async def _post(self, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
        import httpx

        try:
            response = await self._client.post(RESERVATIONS_PATH, json={"reservations": groups})
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"peer KME {self._peer_id} unreachable: {type(exc).__name__}") from None
        stream = response.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der is None or common_name(der) != self._peer_id:
            raise PeerUnavailable(f"the server at the peer URL is not {self._peer_id}")
        if response.status_code != 200:
            raise PeerUnavailable(f"peer KME {self._peer_id} refused the reservation ({response.status_code})")
        results = response.json().get("results")
        if not isinstance(results, list) or len(results) != len(groups):
            raise PeerUnavailable(f"peer KME {self._peer_id} answered the reservation with something else")
        return results

    async def aclose(self) -> None:
        """Close the connections to the peer."""
        await self._client.aclose()


class ApiError(Exception):
    """An answer other than 200: HTTP status and the spec's Error object."""

    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


def caller_id(request: Request) -> str:
    """The calling entity's ID: the CN of the verified TLS client certificate (ASGI TLS extension)."""
    tls = request.scope.get("extensions", {}).get("tls", {})
    chain = tls.get("client_cert_chain") or []
    cn = common_name(ssl.PEM_cert_to_DER_cert(chain[0])) if chain else None
    if cn is None:
        raise ApiError(401, UNAUTHORIZED, [{"reason": "no client certificate with a common name"}])
    return cn


async def _wait(future: Any) -> Any:
    return await asyncio.wrap_future(future)


def check_key_request(api: ApiSection, request: KeyRequest, supported: Collection[str] = ()) -> tuple[int, int]:
    """Clause 6.2's rules for a Key request under ``api``'s limits (``supported``: the extension parameters this
    KME understands); the (number, size) to deliver."""
    if request.extension_mandatory:
        names = sorted({name for extension in request.extension_mandatory for name in extension} - set(supported))
        if names:
            raise ApiError(400, EXTENSION_MANDATORY_UNSUPPORTED, [{"extension_mandatory_unsupported": names}])
    if request.additional_slave_SAE_IDs:
        raise ApiError(
            400,
            "additional_slave_SAE_IDs are not supported: max_SAE_ID_count is 0",
            [{"additional_slave_SAE_IDs": request.additional_slave_SAE_IDs}],
        )
    number = 1 if request.number is None else request.number
    size = api.key_size_bits if request.size is None else request.size
    if size % 8:
        raise ApiError(400, SIZE_NOT_MULTIPLE_OF_8)
    if not api.min_key_size_bits <= size <= api.max_key_size_bits:
        raise ApiError(
            400,
            f"size shall be between min_key_size ({api.min_key_size_bits}) and max_key_size ({api.max_key_size_bits})",
        )
    if number > api.max_key_per_request:
        raise ApiError(400, f"number shall not exceed max_key_per_request ({api.max_key_per_request})")
    return number, size


def parse_key_ids(api: ApiSection, key_ids: Sequence[str]) -> list[UUID]:
    """Clause 6.4's key IDs as UUIDs, at most ``max_key_per_request`` of them; a malformed one is "not found"."""
    if len(key_ids) > api.max_key_per_request:
        raise ApiError(400, f"number of key_IDs shall not exceed max_key_per_request ({api.max_key_per_request})")
    uuids = []
    for text in key_ids:
        try:
            uuids.append(UUID(text))
        except ValueError:
            raise ApiError(400, KEYS_NOT_FOUND, [{"key_ID_not_a_UUID": text[:64]}]) from None
    return uuids


class KmeService:
    """The handlers' logic, separate from FastAPI's routing: one KME, its pool, its peer."""

    def __init__(
        self, config: NodeConfig, pool: SqliteKeyPool, peer: PeerKme | None, node_status: NodeStatus | None = None
    ) -> None:
        self.config = config
        self.pool = pool
        self.peer = peer
        self.node_status = node_status  # None: the node daemon registered with node_status_served(), if any
        self.link_id = config.link_id
        self.master_direction = direction_for(self.link_id, config.kme.id)  # keys this KME hands to masters
        self.slave_direction = direction_for(self.link_id, config.kme.peer_id)  # keys announced by the peer

    def _check_pair(self, caller: str, master: str, slave: str) -> None:
        """The caller is an SAE of this KME and the (master, slave) pair is entitled; else 401."""
        saes = self.config.saes
        entry = saes.get(caller)
        if entry is None or entry.kme != self.config.kme.id:
            raise ApiError(401, UNAUTHORIZED, [{"reason": f"{caller} is not an SAE of {self.config.kme.id}"}])
        if not self.config.entitled(master, slave):
            raise ApiError(401, UNAUTHORIZED, [{"reason": f"{master} and {slave} may not share keys"}])

    def status(self, caller: str, slave: str) -> dict[str, Any]:
        """Clause 5.2 Get status, answered with the clause 6.1 Status object."""
        self._check_pair(caller, caller, slave)
        api = self.config.api
        stored = self.pool.stored_key_count(
            link_id=self.link_id, direction=self.master_direction, size_bits=api.key_size_bits
        )
        node = self.node_status or registered_node_status(self.config.kme.id)
        extension = {} if node is None else {"status_extension": {"node": dict(node())}}
        return {
            "source_KME_ID": self.config.kme.id,
            "target_KME_ID": self.config.kme.peer_id,
            "master_SAE_ID": caller,
            "slave_SAE_ID": slave,
            "key_size": api.key_size_bits,
            "stored_key_count": min(stored, api.max_key_count),
            "max_key_count": api.max_key_count,
            "max_key_per_request": api.max_key_per_request,
            "max_key_size": api.max_key_size_bits,
            "min_key_size": api.min_key_size_bits,
            "max_SAE_ID_count": 0,
            **extension,
        }

    async def enc_keys(self, caller: str, slave: str, request: KeyRequest) -> dict[str, Any]:
        """Clause 5.3 Get key: take keys, have the peer KME record them, hand them to the master SAE."""
        self._check_pair(caller, caller, slave)
        number, size = check_key_request(self.config.api, request)
        if self.peer is None:
            raise ApiError(503, f"{self.config.kme.id} has no peer KME to share keys with")
        try:
            keys: list[DeliveredKey] = await _wait(
                self.pool.submit_take_new_keys(
                    link_id=self.link_id,
                    direction=self.master_direction,
                    master_sae=caller,
                    slave_sae=slave,
                    number=number,
                    size_bits=size,
                )
            )
        except KeyPoolExhausted:
            stored = self.pool.stored_key_count(link_id=self.link_id, direction=self.master_direction, size_bits=size)
            raise ApiError(
                503,
                f"not enough key: {number} keys of {size} bits asked, {stored} stored",
                [{"stored_key_count": stored}],
            ) from None
        try:
            await self.peer.reserve(
                master_sae=caller,
                slave_sae=slave,
                key_ids=[k.key_id for k in keys],
                positions=[k.position for k in keys if k.position is not None],
            )
        except PeerUnavailable as exc:
            logger.warning("enc_keys %s -> %s: %d keys spent undelivered: %s", caller, slave, len(keys), exc)
            raise ApiError(503, f"the peer KME could not record the keys: {exc}") from None
        return key_container_json([(str(k.key_id), k.key) for k in keys])

    async def dec_keys(self, caller: str, master: str, key_ids: Sequence[str]) -> dict[str, Any]:
        """Clause 5.4 Get key with key IDs: the slave SAE takes the keys announced for it, once."""
        self._check_pair(caller, master, caller)
        uuids = parse_key_ids(self.config.api, key_ids)
        try:
            keys: list[DeliveredKey] = await _wait(
                self.pool.submit_take_keys_by_id(
                    link_id=self.link_id,
                    direction=self.slave_direction,
                    master_sae=master,
                    slave_sae=caller,
                    key_ids=uuids,
                )
            )
        except KeyNotYetCommitted:
            raise ApiError(503, "the keys' block is not yet committed at this KME; retry") from None
        except (KeyNotFound, KeyNotEntitled):  # another pair's key looks exactly like a key that does not exist
            raise ApiError(400, KEYS_NOT_FOUND) from None
        return key_container_json([(str(k.key_id), k.key) for k in keys])

    async def reserve(self, caller: str, groups: Sequence[Reservation]) -> list[dict[str, Any]]:
        """The peer KME announces keys it handed to master SAEs for SAEs of this KME; one result per group."""
        if caller != self.config.kme.peer_id:
            raise ApiError(401, UNAUTHORIZED, [{"reason": f"only {self.config.kme.peer_id} may reserve keys"}])
        saes = self.config.saes
        pending: list[Any] = []
        for group in groups:
            master, slave = group.master_SAE_ID, group.slave_SAE_ID
            if (
                saes.get(slave) is None
                or saes[slave].kme != self.config.kme.id
                or saes.get(master) is None
                or saes[master].kme != self.config.kme.peer_id
                or not self.config.entitled(master, slave)
            ):
                pending.append(f"{master} and {slave} may not share keys here")
                continue
            try:
                pending.append(
                    self.pool.submit_reserve_keys(
                        link_id=self.link_id,
                        direction=self.slave_direction,
                        master_sae=master,
                        slave_sae=slave,
                        key_ids=[UUID(k) for k in group.key_IDs],
                        positions=None
                        if group.key_positions is None
                        else [KeyPosition(self.slave_direction, *p) for p in group.key_positions],
                    )
                )
            except (ValueError, KeyPoolError) as exc:
                pending.append(f"reservation refused: {exc}")
        results: list[dict[str, Any]] = []
        for group, item in zip(groups, pending, strict=True):
            if isinstance(item, str):
                results.append({"error": item})
                continue
            try:
                await _wait(item)
            except KeyPoolError as exc:
                results.append({"error": f"reservation refused: {exc}"})
            else:
                results.append({"reserved": len(group.key_IDs)})
        return results


def _json(content: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(content, status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Where the request was malformed and why, without echoing the request's values."""
    return [{"loc": ".".join(str(p) for p in err.get("loc", ())), "msg": err.get("msg", "")} for err in exc.errors()]


class BodyLimit:
    """ASGI middleware: a request body above ``limit`` bytes gets 413 before it is read whole (DoS by size)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body above the limit of {self.limit} bytes"
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _json(error_json(message), 413)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:  # a chunked body is counted as it arrives
            nonlocal seen
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > self.limit:
                    raise StarletteHTTPException(413, detail=message)
            return event

        await self.app(scope, limited, send)


def https_peer(config: NodeConfig) -> PeerKme | None:
    """The default peer link: the peer KME's ``[api] peer_url`` over mutual TLS, or None if there is none."""
    return HttpsPeerKme(config) if config.api.peer_url else None


class EtsiService(Protocol):
    """What the ETSI GS QKD 014 routes call: a KME of one link (:class:`KmeService`) or of a network."""

    def status(self, caller: str, slave: str) -> dict[str, Any]:
        """Clause 5.2 Get status."""
        ...

    async def enc_keys(self, caller: str, slave: str, request: KeyRequest) -> dict[str, Any]:
        """Clause 5.3 Get key."""
        ...

    async def dec_keys(self, caller: str, master: str, key_ids: Sequence[str]) -> dict[str, Any]:
        """Clause 5.4 Get key with key IDs."""
        ...


def create_app(
    config: NodeConfig,
    pool: SqliteKeyPool,
    *,
    peer_factory: Callable[[NodeConfig], PeerKme | None] = https_peer,
    node_status: NodeStatus | None = None,
) -> FastAPI:
    """The KME's FastAPI application; ``peer_factory`` makes the link to the peer KME at startup.

    ``node_status`` (e.g. :meth:`NodeDaemon.status`) fills Get status's ``status_extension["node"]``; without
    it, the status of a node daemon registered for this KME (:func:`qkdnet.kms.status.node_status_served`), if any.
    """
    service = KmeService(config, pool, None, node_status)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.peer = peer_factory(config)
        try:
            yield
        finally:
            if service.peer is not None:
                await service.peer.aclose()

    app = etsi_app(service, config.api, title=f"qkdnet KME {config.kme.id}", lifespan=lifespan)

    @app.post(RESERVATIONS_PATH, responses=_ERRORS, tags=["qkdnet KME to KME"])
    async def reserve_keys(request: Request, body: Reservations) -> JSONResponse:
        """The peer KME announces the keys it handed to master SAEs (accepted only from the peer KME)."""
        return _json({"results": await service.reserve(caller_id(request), body.reservations)})

    return app


def etsi_app(service: EtsiService, api: ApiSection, *, title: str, lifespan: Any) -> FastAPI:
    """A FastAPI application with the ETSI GS QKD 014 routes on ``service``, its errors as the spec's objects."""
    app = FastAPI(
        title=f"{title}: ETSI GS QKD 014 key delivery",
        version="1.1.1",
        description="REST-based key delivery API, ETSI GS QKD 014 V1.1.1 (2019-02), over mutual TLS.",
        lifespan=lifespan,
        # The docs pages load their scripts from a public CDN: served only when [api] docs = true.
        docs_url="/docs" if api.docs else None,
        redoc_url="/redoc" if api.docs else None,
        openapi_url="/openapi.json" if api.docs else None,
    )
    app.add_middleware(BodyLimit, limit=api.max_body_bytes)
    app.state.service = service

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _json(error_json(exc.message, exc.details), exc.status)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _json(error_json(BAD_REQUEST_FORMAT, _validation_details(exc)), 400)

    @app.exception_handler(ValidationError)
    async def _bad_model(request: Request, exc: ValidationError) -> JSONResponse:
        details = [{"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        return _json(error_json(BAD_REQUEST_FORMAT, details), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code if exc.status_code < 500 else 503
        return _json(error_json(str(exc.detail).lower()), status, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unexpected %s while serving %s %s", type(exc).__name__, request.method, request.url.path)
        return _json(error_json("the KME cannot serve this request now"), 503)

    keys = "/api/v1/keys"

    @app.get(f"{keys}/{{slave_SAE_ID}}/status", response_model=Status, responses=_ERRORS, tags=["ETSI GS QKD 014"])
    async def get_status(slave_SAE_ID: str, request: Request) -> JSONResponse:
        """Get status (clause 5.2): key sizes, limits and stored keys for this master/slave pair."""

        return _json(service.status(caller_id(request), slave_SAE_ID))

    @app.get(
        f"{keys}/{{slave_SAE_ID}}/enc_keys", response_model=KeyContainer, responses=_ERRORS, tags=["ETSI GS QKD 014"]
    )
    async def get_key_simple(
        slave_SAE_ID: str,
        request: Request,
        number: Annotated[int | None, Query(ge=1)] = None,
        size: Annotated[int | None, Query(ge=1)] = None,
    ) -> JSONResponse:
        """Get key (clause 5.3), GET form: ``number`` keys (default 1) of ``size`` bits (default key_size)."""

        body = KeyRequest(number=number, size=size)
        return _json(await service.enc_keys(caller_id(request), slave_SAE_ID, body), headers=_NO_STORE)

    @app.post(
        f"{keys}/{{slave_SAE_ID}}/enc_keys", response_model=KeyContainer, responses=_ERRORS, tags=["ETSI GS QKD 014"]
    )
    async def get_key(
        slave_SAE_ID: str, request: Request, body: Annotated[KeyRequest | None, Body()] = None
    ) -> JSONResponse:
        """Get key (clause 5.3), POST form with the Key request object (clause 6.2)."""

        return _json(await service.enc_keys(caller_id(request), slave_SAE_ID, body or KeyRequest()), headers=_NO_STORE)

    @app.get(
        f"{keys}/{{master_SAE_ID}}/dec_keys", response_model=KeyContainer, responses=_ERRORS, tags=["ETSI GS QKD 014"]
    )
    async def get_key_with_id_simple(
        master_SAE_ID: str, request: Request, key_ID: Annotated[str, Query()]
    ) -> JSONResponse:
        """Get key with key IDs (clause 5.4), GET form: one key by ``key_ID``."""

        return _json(await service.dec_keys(caller_id(request), master_SAE_ID, [key_ID]), headers=_NO_STORE)

    @app.post(
        f"{keys}/{{master_SAE_ID}}/dec_keys", response_model=KeyContainer, responses=_ERRORS, tags=["ETSI GS QKD 014"]
    )
    async def get_key_with_ids(master_SAE_ID: str, request: Request, body: KeyIds) -> JSONResponse:
        """Get key with key IDs (clause 5.4), POST form with the Key IDs object (clause 6.4)."""

        key_ids = [e.key_ID for e in body.key_IDs]
        return _json(await service.dec_keys(caller_id(request), master_SAE_ID, key_ids), headers=_NO_STORE)

    return app


__all__ = [
    "ApiError",
    "EtsiService",
    "HttpsPeerKme",
    "KmeService",
    "PeerKme",
    "PeerUnavailable",
    "caller_id",
    "check_key_request",
    "create_app",
    "etsi_app",
    "https_peer",
    "parse_key_ids",
]
