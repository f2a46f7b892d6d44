"""Admission control: a process serves at most MAX_IN_FLIGHT_REQUESTS requests at once and refuses
the rest at the door with 503 + Retry-After, before any authentication or database work.

Past that many requests an event loop only grows its queue (every request slower, none refused), so
under a burst clients get fast answers or fast refusals instead of multi-second waits. Health and
metrics routes are never refused.
"""

from __future__ import annotations

import json

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from lms.lib.errors import RETRY_AFTER_SECONDS, error_body

EXEMPT_PATHS = frozenset({"/health", "/ready", "/metrics"})
_BODY = json.dumps(error_body("overloaded", "the service is busy; retry shortly")).encode()
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_BODY)).encode()),
    (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
]


class Admission:
    """The process-wide count of requests in flight (shared by every route's middleware instance)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0


class InFlightLimit:
    """ASGI middleware: admit a request while `gate` has room, else refuse it at once."""

    def __init__(self, app: ASGIApp, gate: Admission) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gate = self.gate
        if scope["type"] != ScopeType.HTTP or gate.limit <= 0 or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if gate.in_flight >= gate.limit:
            await send({"type": "http.response.start", "status": 503, "headers": _HEADERS})
            await send({"type": "http.response.body", "body": _BODY, "more_body": False})
            return
        gate.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            gate.in_flight -= 1
