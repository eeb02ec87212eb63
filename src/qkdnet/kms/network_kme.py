"""The KME of a network node: ETSI GS QKD 014 for its SAEs, keys to any SAE of the network by trusted relay.

One KME per node serves the SAEs attached to it (``[network] saes``). ``enc_keys`` for a slave SAE at another
KME sends the key there along a path of KMEs (:mod:`qkdnet.kms.relay`: the first hop's link key is the key,
every later hop a one-time pad of its own link's key, every message tagged with link key), and answers the
master SAE only once the slave's KME holds the key; ``dec_keys`` at the slave's KME hands it out once. A
direct neighbour is a path of one hop. If no path has key, or none answers before ``relay_timeout_s``, the
answer is 503 with the reason: never a hung request. Keys spent on a path that failed are never delivered.

Every KME on a path sees the key in the clear (the relays are trusted; :meth:`NetworkKmeService.snapshot`
counts the keys each has relayed). Key material is never logged.

An end-to-end link (``via`` in its ``[network.neighbours]`` entry) is a link like any other, whose pairs come
by entanglement swapping at the repeaters it names: its key is never at those nodes. A Key request picks the
kind of route with the extension parameter ``{"qkdnet_route": ROUTE}`` (in ``extension_mandatory`` or
``extension_optional``): ``"end-to-end"`` delivers only over a link of the two KMEs themselves (one fiber, or
swapped), so no node between holds the key; ``"relay"`` starts the key on a link of one fiber (trusted-node
relay, never the swapped link); without it, the fewest hops win, so a swapped link beats a relay.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from qkdnet.errors import KeyNotEntitled, KeyNotFound, KeyNotYetCommitted, KeyPoolError, KeyPoolExhausted
from qkdnet.kms.api import ApiError, caller_id, check_key_request, etsi_app, parse_key_ids
from qkdnet.kms.etsi import KEYS_NOT_FOUND, UNAUTHORIZED, KeyRequest, key_container_json
from qkdnet.kms.keyid import KeyPosition, direction_for, link_id_for
from qkdnet.kms.network_config import NetworkNodeConfig
from qkdnet.kms.pki import common_name
from qkdnet.kms.pool import DeliveredKey, SqliteKeyPool
from qkdnet.kms.relay import (
    RELAY_PATH,
    TAG_KEY_BITS,
    HopMessage,
    RelayRefused,
    check_shape,
    check_tag,
    kms_graph,
    next_hops,
    open_keys,
    seal,
)

logger = logging.getLogger("qkdnet.kms.network")
RELAY_SAE = "relay"  # the pair name under which hop pads and tag keys are recorded in the link pools
FAILING_S = 5.0  # a neighbour that did not answer goes last for this long
_COMMIT_POLL_S = 0.05
ROUTE_EXTENSION = "qkdnet_route"
ROUTES = ("end-to-end", "relay")


class HopFailed(Exception):
    """The next KME did not take the key: unreachable, timed out, refused, or no route on from there."""

    def __init__(self, message: str, *, unreachable: bool) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class NeighbourClient:
    """The relay endpoint of a neighbour KME over mutual TLS, its server certificate's CN checked."""

    def __init__(self, kme_id: str, url: str, config: NetworkNodeConfig) -> None:
        import httpx

        from qkdnet.kms.pki import client_context

        self.kme_id = kme_id
        self._client = httpx.AsyncClient(
            base_url=url,
            verify=client_context(config.api.cert, config.api.key, config.api.ca),
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
        )

    async def send(self, message: HopMessage, *, timeout_s: float) -> list[str]:
        """Post one hop; the full path the key took, or :class:`HopFailed`."""
        import httpx

        try:
            response = await self._client.post(RELAY_PATH, json=message.model_dump(), timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise HopFailed(f"{self.kme_id} unreachable: {type(exc).__name__}", unreachable=True) from None
        stream = response.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der is None or common_name(der) != self.kme_id:
            raise HopFailed(f"the server at {self.kme_id}'s URL is not {self.kme_id}", unreachable=True)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200:
            reason = body.get("message", "") if isinstance(body, dict) else ""
            raise HopFailed(f"{self.kme_id} answered {response.status_code}: {reason}", unreachable=False)
        path = body.get("path") if isinstance(body, dict) else None
        if not isinstance(path, list) or not all(isinstance(p, str) for p in path):
            raise HopFailed(f"{self.kme_id} answered the relay with something else", unreachable=False)
        return path

    async def aclose(self) -> None:
        """Close the connections."""
        await self._client.aclose()


class NetworkKmeService:
    """The handlers' logic: the ETSI methods for this node's SAEs, and the relay hops from neighbour KMEs."""

    def __init__(
        self, config: NetworkNodeConfig, pool: SqliteKeyPool, suspect: Callable[[], Iterable[str]] = tuple
    ) -> None:
        self.config = config
        self.suspect = suspect  # neighbour KMEs whose links abort block after block (Eve?): tried last
        self.pool = pool
        self.me = config.kme.id
        self.graph = kms_graph(config.network.links)
        self.link_ids = {kme: link_id_for(self.me, kme) for kme in config.network.neighbours}
        self.clients: dict[str, NeighbourClient] = {}
        self.routes: Counter[str] = Counter()  # "KME_a>KME_b>KME_c": keys that took that path, from or to here
        self.relayed_keys = 0  # keys this KME held in the clear on their way between two other KMEs
        self.refused = 0
        self._failing: dict[str, float] = {}

    # ------------------------------------------------------------------------------------------ ETSI
    def _check_caller(self, caller: str) -> None:
        if self.config.network.saes.get(caller) != self.me:
            raise ApiError(401, UNAUTHORIZED, [{"reason": f"{caller} is not an SAE of {self.me}"}])

    def _partner_kme(self, sae: str) -> str:
        kme = self.config.network.saes.get(sae)
        if kme is None or kme == self.me:
            why = "is not an SAE of this network" if kme is None else f"is at {self.me} too"
            raise ApiError(401, UNAUTHORIZED, [{"reason": f"{sae} {why}: no key to share with it here"}])
        return kme

    def status(self, caller: str, slave: str) -> dict[str, Any]:
        """Clause 5.2 Get status; ``stored_key_count`` is what the best first hop's link could carry now."""
        self._check_caller(caller)
        target = self._partner_kme(slave)
        api = self.config.api
        size = api.key_size_bits
        hops = self._candidates(target, [self.me], size // 8 + TAG_KEY_BITS // 8)
        stored = max((self._available_bytes(n) - TAG_KEY_BITS // 8) // (size // 8) for n in hops) if hops else 0
        return {
            "source_KME_ID": self.me,
            "target_KME_ID": target,
            "master_SAE_ID": caller,
            "slave_SAE_ID": slave,
            "key_size": size,
            "stored_key_count": max(0, min(stored, api.max_key_count)),
            "max_key_count": api.max_key_count,
            "max_key_per_request": api.max_key_per_request,
            "max_key_size": api.max_key_size_bits,
            "min_key_size": api.min_key_size_bits,
            "max_SAE_ID_count": 0,
            "status_extension": {"first_hops": hops, "relay": self.config.network.relay},
        }

    async def enc_keys(self, caller: str, slave: str, request: KeyRequest) -> dict[str, Any]:
        """Clause 5.3 Get key: send fresh keys to the slave SAE's KME by relay, then hand them to the master."""
        self._check_caller(caller)
        destination = self._partner_kme(slave)
        number, size = check_key_request(self.config.api, request, supported=(ROUTE_EXTENSION,))
        first_hops = self._first_hops(destination, _route_asked(request))
        deadline = time.monotonic() + self.config.network.relay_timeout_s
        draft = HopMessage(
            relay_id=str(uuid4()),
            origin=self.me,
            destination=destination,
            master_sae=caller,
            slave_sae=slave,
            key_ids=[str(uuid4()) for _ in range(number)],
            size=size,
            path=[self.me],
            pad_ids=[str(uuid4())],  # placeholders: every hop names its own pads
            pad_positions=[(0, 0, 1)],
            tag_key_id=str(uuid4()),
            tag_key_position=(0, 0, TAG_KEY_BITS // 8),
            budget_ms=0,
        )
        keys, path = await self._forward(draft, None, deadline, first_hops)
        self.routes[">".join(path)] += number
        return key_container_json(list(zip(draft.key_ids, keys, strict=True)))

    async def dec_keys(self, caller: str, master: str, key_ids: Sequence[str]) -> dict[str, Any]:
        """Clause 5.4 Get key with key IDs: the keys relayed here for this slave SAE, each once."""
        self._check_caller(caller)
        self._partner_kme(master)
        uuids = parse_key_ids(self.config.api, key_ids)
        try:
            keys: list[DeliveredKey] = await asyncio.wrap_future(
                self.pool.submit_take_relayed(master_sae=master, slave_sae=caller, key_ids=uuids)
            )
        except (KeyNotFound, KeyNotEntitled):  # another pair's key looks exactly like a key that does not exist
            raise ApiError(400, KEYS_NOT_FOUND) from None
        return key_container_json([(str(k.key_id), k.key) for k in keys])

    # ----------------------------------------------------------------------------------------- relay
    async def relay(self, caller: str, message: HopMessage) -> dict[str, Any]:
        """A hop from a neighbour KME: believe it only once its tag checks on our copy of the link's key."""
        if caller not in self.link_ids or message.path[-1] != caller:
            raise ApiError(401, UNAUTHORIZED, [{"reason": f"{caller} is not the neighbour KME this hop names"}])
        deadline = time.monotonic() + message.budget_ms / 1000
        try:
            check_shape(message)
            if self.me in message.path:
                raise RelayRefused(f"relay {message.relay_id} from {caller}: it has passed {self.me} already")
            link_id = self.link_ids[caller]
            tag_place = [message.tag_key_position]
            (tag_key,) = await self._receive(link_id, caller, [message.tag_key_id], tag_place, deadline)
            check_tag(message, tag_key)
            pads = await self._receive(link_id, caller, message.pad_ids, message.pad_positions, deadline)
            keys = open_keys(message, pads)
            if message.destination == self.me and not (
                self.config.network.saes.get(message.slave_sae) == self.me
                and self.config.network.saes.get(message.master_sae) == message.origin
            ):
                raise RelayRefused(f"relay {message.relay_id}: {message.slave_sae} is not an SAE here")
        except RelayRefused as exc:
            self.refused += 1
            logger.warning("relay refused: %s", exc)
            raise ApiError(400, f"relay refused: {exc}") from None
        path = [*message.path, self.me]
        if message.destination == self.me:
            pairs = list(zip((UUID(k) for k in message.key_ids), keys, strict=True))
            try:
                held = self.pool.submit_hold_relayed(
                    master_sae=message.master_sae, slave_sae=message.slave_sae, keys=pairs
                )
                await asyncio.wrap_future(held)
            except KeyPoolError as exc:
                self.refused += 1
                logger.warning("relay refused: relay %s from %s: %s", message.relay_id, caller, exc)
                raise ApiError(400, f"relay refused: {exc}") from None
            self.routes[">".join(path)] += len(keys)
            return {"path": path}
        self.relayed_keys += len(keys)
        _, full = await self._forward(message.model_copy(update={"path": path}), keys, deadline)
        return {"path": full}

    def _available_bytes(self, neighbour: str) -> int:
        link_id = self.link_ids[neighbour]
        return self.pool.stored_key_count(link_id=link_id, direction=direction_for(link_id, self.me), size_bits=8)

    def _first_hops(self, destination: str, route: str | None) -> frozenset[str]:
        """The neighbours a key of this kind of route may start on (every neighbour when none is asked)."""
        neighbours = self.config.network.neighbours
        if route == "end-to-end":
            if destination not in neighbours:
                why = "an end-to-end key needs one (a fiber, or repeaters that swap); or ask for a relay"
                raise ApiError(503, f"no link joins {self.me} and {destination}: {why}")
            return frozenset((destination,))
        if route == "relay":
            return frozenset(kme for kme, entry in neighbours.items() if not entry.via)
        return frozenset(neighbours)

    def _candidates(
        self, destination: str, path: Sequence[str], needed_bytes: int, allowed: frozenset[str] | None = None
    ) -> list[str]:
        """The next hops to try, best first, among ``allowed`` neighbours (None: all)."""
        now = time.monotonic()
        links = self.link_ids if allowed is None else allowed
        return next_hops(
            self.graph,
            here=self.me,
            destination=destination,
            visited=path,
            available_bytes={n: self._available_bytes(n) for n in links},
            needed_bytes=needed_bytes,
            policy=self.config.network.relay,
            failing=[*(n for n, until in self._failing.items() if until > now), *self.suspect()],
        )

    async def _forward(
        self, message: HopMessage, keys: list[bytes] | None, deadline: float, allowed: frozenset[str] | None = None
    ) -> tuple[list[bytes], list[str]]:
        """Send the keys (None: take them from the first hop's link) to the next KME (one of ``allowed``) that
        takes them."""
        number, size = len(message.key_ids), message.size // 8
        needed = number * size + TAG_KEY_BITS // 8
        candidates = self._candidates(message.destination, message.path, needed, allowed)
        if not candidates:
            raise ApiError(503, f"no route from {self.me} to {message.destination} has key for {number} keys now")
        failures = []
        for neighbour in candidates:
            budget_s = deadline - time.monotonic()
            if budget_s <= 0.05:
                failures.append("out of time")
                break
            try:
                pads, tag_key = await self._take(neighbour, number, size)
            except KeyPoolExhausted:
                failures.append(f"{neighbour}: its link ran dry")
                continue
            hop = message.model_copy(
                update={
                    "pad_ids": [str(p.key_id) for p in pads],
                    "pad_positions": [_position(p) for p in pads],
                    "tag_key_id": str(tag_key.key_id),
                    "tag_key_position": _position(tag_key),
                    "budget_ms": max(0, int(1000 * (budget_s - 0.05))),
                }
            )
            sealed = seal(hop, pads=[p.key for p in pads], tag_key=tag_key.key, keys=keys)
            try:
                path = await self.clients[neighbour].send(sealed, timeout_s=budget_s)
            except HopFailed as exc:
                if exc.unreachable:
                    self._failing[neighbour] = time.monotonic() + FAILING_S
                failures.append(str(exc))
                logger.warning("relay %s to %s via %s failed: %s", message.relay_id, message.destination,
                               neighbour, exc)  # fmt: skip
                continue
            self._failing.pop(neighbour, None)
            return (keys if keys is not None else [p.key for p in pads]), path
        raise ApiError(503, f"no route from {self.me} to {message.destination} took the key: {'; '.join(failures)}")

    async def _take(self, neighbour: str, number: int, size_bytes: int) -> tuple[list[DeliveredKey], DeliveredKey]:
        """Fresh pads and a tag key from the link to ``neighbour``, in the direction this KME is master of."""
        link_id = self.link_ids[neighbour]
        direction = direction_for(link_id, self.me)
        pads, tag = (
            self.pool.submit_take_new_keys(
                link_id=link_id,
                direction=direction,
                master_sae=RELAY_SAE,
                slave_sae=neighbour,
                number=n,
                size_bits=bits,
            )
            for n, bits in ((number, 8 * size_bytes), (1, TAG_KEY_BITS))
        )
        results = await asyncio.gather(asyncio.wrap_future(pads), asyncio.wrap_future(tag), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        pad_keys, tag_keys = results
        assert isinstance(pad_keys, list) and isinstance(tag_keys, list)  # noqa: S101 - narrowed for mypy
        return pad_keys, tag_keys[0]

    async def _receive(
        self, link_id: str, sender: str, ids: Sequence[str], positions: Sequence[tuple[int, int, int]], deadline: float
    ) -> list[bytes]:
        """Our copy of the key the sender names, taken (spent) here; a position spent before is a replay."""
        direction = direction_for(link_id, sender)
        key_ids = [UUID(k) for k in ids]
        places = [KeyPosition(direction, *p) for p in positions]
        pair = {"master_sae": RELAY_SAE, "slave_sae": self.me}
        try:
            await asyncio.wrap_future(
                self.pool.submit_reserve_keys(
                    link_id=link_id, direction=direction, **pair, key_ids=key_ids, positions=places
                )
            )
        except (KeyPoolError, ValueError) as exc:
            raise RelayRefused(f"it names key of {link_id} spent before (a replay?): {exc}") from None
        while True:
            try:
                taken: list[DeliveredKey] = await asyncio.wrap_future(
                    self.pool.submit_take_keys_by_id(link_id=link_id, direction=direction, **pair, key_ids=key_ids)
                )
            except KeyNotYetCommitted:  # the sender's end committed the block first; ours follows within moments
                if time.monotonic() > deadline:
                    why = f"{self.me}: the block of {link_id} the hop uses is not committed here yet"
                    raise ApiError(503, why) from None
                await asyncio.sleep(_COMMIT_POLL_S)
                continue
            except KeyNotFound as exc:
                raise RelayRefused(f"it names key of {link_id} spent before (a replay?): {exc}") from None
            return [k.key for k in taken]

    def snapshot(self) -> dict[str, Any]:
        """What this KME did (for ``qkdnet network status``): routes, keys relayed in the clear, refusals."""
        return {
            "routes": dict(self.routes),
            "relayed_keys": self.relayed_keys,
            "refused_relays": self.refused,
            "held_relayed_keys": self.pool.held_relayed_count(),
        }


def _route_asked(request: KeyRequest) -> str | None:
    """The ``qkdnet_route`` a Key request asks for (None: any); an unknown value is a 400."""
    values = [
        extension[ROUTE_EXTENSION]
        for extension in (*(request.extension_mandatory or ()), *(request.extension_optional or ()))
        if ROUTE_EXTENSION in extension
    ]
    asked = {value if isinstance(value, str) else repr(value) for value in values}  # a list is named, not hashed
    if len(asked) > 1 or not asked <= set(ROUTES):
        details = [{ROUTE_EXTENSION: sorted(asked)}]
        raise ApiError(400, f"{ROUTE_EXTENSION} must be one of {', '.join(ROUTES)}, once", details)
    return next(iter(asked), None)


def _position(key: DeliveredKey) -> tuple[int, int, int]:
    assert key.position is not None  # noqa: S101 - take_new_keys always places its keys
    return key.position.block_id, key.position.offset_bytes, key.position.size_bytes


def create_network_app(
    config: NetworkNodeConfig, pool: SqliteKeyPool, suspect: Callable[[], Iterable[str]] = tuple
) -> tuple[FastAPI, NetworkKmeService]:
    """The network KME's FastAPI application (ETSI routes and the relay endpoint), and its service.

    ``suspect()`` names the neighbours whose links abort block after block: routes try them last.
    """
    service = NetworkKmeService(config, pool, suspect)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.clients = {
            kme: NeighbourClient(kme, entry.url, config) for kme, entry in config.network.neighbours.items()
        }
        try:
            yield
        finally:
            for client in service.clients.values():
                await client.aclose()

    app = etsi_app(service, config.api, title=f"qkdnet network KME {config.kme.id}", lifespan=lifespan)

    @app.post(RELAY_PATH, tags=["qkdnet KME to KME"])
    async def relay(request: Request, body: HopMessage) -> JSONResponse:
        """A relayed key's hop from a neighbour KME (accepted only from the neighbour the hop names)."""
        return JSONResponse(await service.relay(caller_id(request), body))

    return app, service


__all__ = ["HopFailed", "NeighbourClient", "NetworkKmeService", "create_network_app"]
