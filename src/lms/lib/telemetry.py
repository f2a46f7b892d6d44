"""Structured JSON logs carrying the request id and tenant, and Prometheus metrics.

Metrics are served by their own listener on METRICS_HOST:METRICS_PORT (an internal port that the
public ingress never routes to), not by the public application: its counters carry every tenant's
slug.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

import structlog
from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from lms.lib.logs import configure_logging

__all__ = ["configure_logging", "prometheus_config", "request_context_middleware", "start_metrics_listener"]

access_log = structlog.get_logger("lms.access")


def tenant_label(request: Any) -> str:
    tenant = request.scope.get("state", {}).get("tenant")
    return tenant.slug if tenant is not None else "-"


def prometheus_config() -> PrometheusConfig:
    return PrometheusConfig(
        app_name="lms",
        prefix="lms",
        group_path=True,  # label by route template, not raw path: bounded cardinality
        labels={"tenant": tenant_label},
    )


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds are not worth a log line each."""


def start_metrics_listener(host: str, port: int, registry: CollectorRegistry = REGISTRY) -> WSGIServer:
    """Serve GET /metrics (and nothing else) of this process on host:port, from a daemon thread."""
    exposition = make_wsgi_app(registry)

    def metrics_only(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not found\n"]
        body: Iterable[bytes] = exposition(environ, start_response)
        return body

    server = make_server(host, port, metrics_only, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-listener", daemon=True).start()
    return server


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    """Bind a request id (from X-Request-ID or new) to every log line and echo it back."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = incoming or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "request",
                method=scope.get("method", ""),
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )

    return middleware
