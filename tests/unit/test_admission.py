"""Admission control: past the in-flight limit a request is refused at once (503, Retry-After, the
error envelope), health checks never are, and a freed slot admits the next request."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lms.lib.admission import Admission, InFlightLimit
from lms.lib.errors import RETRY_AFTER_SECONDS


class SlowApp:
    """An ASGI app that answers 200 once `release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok", "more_body": False})


async def call(app: InFlightLimit, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await app({"type": "http", "path": path, "method": "GET", "headers": []}, receive, send)  # type: ignore[arg-type]
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


async def test_past_the_limit_requests_are_refused_at_once_and_health_is_not() -> None:
    inner = SlowApp()
    gate = Admission(limit=2)
    app = InFlightLimit(inner, gate)  # type: ignore[arg-type]
    other_route = InFlightLimit(inner, gate)  # type: ignore[arg-type]  # each route has its own instance
    first = [asyncio.create_task(call(app, "/api/v1/courses")), asyncio.create_task(call(other_route, "/api/v1/me"))]
    await asyncio.sleep(0.05)
    assert gate.in_flight == 2

    status, headers, body = await asyncio.wait_for(call(app, "/api/v1/courses"), timeout=0.5)
    assert status == 503
    assert headers[b"retry-after"] == str(RETRY_AFTER_SECONDS).encode()
    assert json.loads(body)["error"]["code"] == "overloaded"

    health = asyncio.create_task(call(app, "/health"))  # admitted even at the limit
    inner.release.set()
    assert [s for s, _, _ in await asyncio.gather(*first, health)] == [200, 200, 200]
    assert gate.in_flight == 0
    assert (await call(app, "/api/v1/courses"))[0] == 200


async def test_a_limit_of_zero_admits_everything() -> None:
    inner = SlowApp()
    inner.release.set()
    app = InFlightLimit(inner, Admission(limit=0))  # type: ignore[arg-type]
    assert [s for s, _, _ in await asyncio.gather(*(call(app, "/x") for _ in range(5)))] == [200] * 5
