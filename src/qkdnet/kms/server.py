"""Serve a KME's ETSI GS QKD 014 API with uvicorn over mutual TLS (``qkdnet kme --config node.toml``).

uvicorn verifies the client certificate (``ssl_cert_reqs=CERT_REQUIRED`` against the node's CA, TLS 1.2 or
higher) but does not hand it to the application; :func:`tls_protocol` wraps uvicorn's HTTP protocol so every
request carries the ASGI TLS extension (``scope["extensions"]["tls"]["client_cert_chain"]``), from which the
application reads the caller's CN. The access log shows method, path and status; key material travels only
in response bodies, which are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from qkdnet.kms.config import ApiSection, NodeConfig, prepare_key_files
from qkdnet.kms.pki import harden
from qkdnet.kms.pool import SqliteKeyPool

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

logger = logging.getLogger("qkdnet.kms.server")
#: Allocations between young-generation collections (CPython's default: 700); see :func:`quiet_gc`.
GC_YOUNG_THRESHOLD = 20_000


def tls_protocol(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """``base`` (a uvicorn HTTP protocol) that adds the peer's verified certificate to every request's scope."""

    class TlsClientCertProtocol(base):  # type: ignore[valid-type,misc]
        app: Any

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            if der is None:
                return
            tls = {
                "server_cert": None,
                "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)],
                "client_cert_name": None,
                "client_cert_error": None,
                "tls_version": None,
                "cipher_suite": None,
            }
            inner = self.app

            async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
                scope.setdefault("extensions", {})["tls"] = tls
                await inner(scope, receive, send)

            self.app = app

    TlsClientCertProtocol.__name__ = f"TlsClientCert{base.__name__}"
    return TlsClientCertProtocol


def _http_protocol() -> type[asyncio.Protocol]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return tls_protocol(HttpToolsProtocol)
    except ImportError:  # httptools is optional: h11 is pure Python and always there
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return tls_protocol(H11Protocol)


def uvicorn_config(
    app: FastAPI,
    api: ApiSection,
    *,
    port: int | None = None,
    access_log: bool = True,
    log_level: str = "info",
    configure_logging: bool = True,
) -> uvicorn.Config:
    """uvicorn's settings for a KME's ``[api]``: its address, mutual TLS with its CA, our TLS-aware protocol."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    def context(cfg: uvicorn.Config, default: Any) -> ssl.SSLContext:
        ctx: ssl.SSLContext = default()
        return harden(ctx, api.tls_min_version)  # ETSI GS QKD 014 clause 5.1: TLS 1.2 or higher

    return uvicorn.Config(
        app,
        host=api.host,
        port=api.port if port is None else port,
        ssl_certfile=str(api.cert),
        ssl_keyfile=str(api.key),
        ssl_ca_certs=str(api.ca),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        ssl_context_factory=context,
        http=_http_protocol(),
        lifespan="on",
        access_log=access_log,
        log_level=log_level,
        timeout_keep_alive=30,
        server_header=False,
        log_config=LOGGING_CONFIG if configure_logging else None,
    )


def embedded_server(settings: uvicorn.Config) -> uvicorn.Server:
    """uvicorn inside a daemon's own event loop: the daemon owns the signals, so uvicorn installs none.

    On SIGTERM, a connection mid-request or mid-handshake (a peer KME's, an SAE's) gets 1 s, then its task is
    cancelled: without a bound the daemon waited for it until its own 5 s limit cancelled the lifespan.
    """
    import uvicorn

    class EmbeddedServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    settings.timeout_graceful_shutdown = 1
    return EmbeddedServer(settings)


def quiet_gc() -> None:
    """Keep the cyclic garbage collector from stalling requests: freeze what start-up made, collect less often.

    Measured with benchmarks/kms_load.py (32 clients, saturated): with CPython's defaults the KME's p99 was
    46-50 ms against a p50 of ~15 ms, the tail being collections that walk every object FastAPI, pydantic and
    uvicorn created at import; with the start-up objects frozen (never scanned again) and young collections
    every 20,000 allocations instead of 700, p99 fell to ~21 ms and throughput rose ~14 %. A request's own
    objects are freed by reference counting; the collector only has the rare cycles left to find.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(config: NodeConfig, *, access_log: bool = True) -> None:
    """Open the node's key pool and serve its API until SIGINT or SIGTERM; then return normally.

    uvicorn finishes the requests in flight, then re-raises the signal it caught; both signals end here as a
    clean return (exit code 0), after the pool's pending writes are on disk. Call it from the main thread.
    """
    import uvicorn

    from qkdnet.kms.api import create_app

    prepare_key_files(config)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with SqliteKeyPool(config.kme.db) as pool:
            server = uvicorn.Server(uvicorn_config(create_app(config, pool), config.api, access_log=access_log))
            quiet_gc()
            with contextlib.suppress(KeyboardInterrupt):
                server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)


__all__ = ["embedded_server", "quiet_gc", "serve", "tls_protocol", "uvicorn_config"]
