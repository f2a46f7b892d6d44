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
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from lms.lib.headers import header_value
from lms.lib.logs import configure_logging

__all__ = [
    "configure_logging",
    "request_context_middleware",
    "request_metrics_middleware",
    "start_metrics_listener",
]

access_log = structlog.get_logger("lms.access")


class _RequestMetrics:
    """The request metrics, registered once per process (every app a process builds shares them)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["method", "path", "status_code", "app_name", "tenant"]
        self.total = Counter("lms_requests_total", "Total requests", labels, registry=registry)
        self.duration = Histogram(
            "lms_request_duration_seconds", "Request duration, in seconds", labels, registry=registry
        )
        self.errors = Counter("lms_requests_error_total", "Total errors in requests", labels, registry=registry)
        self.in_progress = Gauge(
            "lms_requests_in_progress",
            "Total requests currently in progress",
            labels,
            multiprocess_mode="livesum",
            registry=registry,
        )
        # Labelled children by label values: `.labels()` takes a lock and builds its key on every call.
        self.children: dict[tuple[str, ...], tuple[Any, Any, Any]] = {}
        self.gauges: dict[tuple[str, ...], Any] = {}


_metrics: _RequestMetrics | None = None


def _request_metrics() -> _RequestMetrics:
    global _metrics
    if _metrics is None:
        _metrics = _RequestMetrics(REGISTRY)
    return _metrics


def request_metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Count and time each request by method, route template, status and tenant (`lms_requests_total`,
    `lms_request_duration_seconds`, `lms_requests_error_total` for 5xx, `lms_requests_in_progress`).

    A plain ASGI middleware: it reads the scope directly (no `Request` built per request) and keeps each
    label combination's metric children, so a request costs a few dictionary lookups and increments.
    Labelled by route template, not raw path (bounded cardinality), and by the tenant's slug ("-" on
    platform routes); run it inside the tenant middleware."""
    metrics = _request_metrics()

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        tenant = scope.get("state", {}).get("tenant")
        route = (
            scope["method"],
            scope.get("path_template") or scope["path"],
            tenant.slug if tenant is not None else "-",
        )
        gauge = metrics.gauges.get(route)
        if gauge is None:
            gauge = metrics.gauges[route] = metrics.in_progress.labels(route[0], route[1], "200", "lms", route[2])
        started = time.perf_counter()
        status = 200
        duration = 0.0

        async def send_observed(message: Message) -> None:
            nonlocal status, duration
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                duration = time.perf_counter() - started
            await send(message)

        gauge.inc()
        try:
            await app(scope, receive, send_observed)
        finally:
            gauge.dec()
            key = (*route, str(status))
            children = metrics.children.get(key)
            if children is None:
                values = (route[0], route[1], key[3], "lms", route[2])
                children = metrics.children[key] = (
                    metrics.total.labels(*values),
                    metrics.duration.labels(*values),
                    metrics.errors.labels(*values),
                )
            children[0].inc()
            children[1].observe(duration)
            if status >= 500:
                children[2].inc()

    return middleware


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
        incoming = header_value(scope, b"x-request-id")[:64]
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
