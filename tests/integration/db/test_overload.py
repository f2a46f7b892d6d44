"""A request that cannot get a database connection within DB_POOL_TIMEOUT is refused at once with
503 + Retry-After (a real pool of one connection, held elsewhere), and served again once one is free."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncConnection

from lms.app import create_app
from lms.config import Settings
from lms.lib.errors import RETRY_AFTER_SECONDS
from tests.conftest import TEST_BASE_DOMAIN, Login, MakeTenant, MakeUser, host

POOL_TIMEOUT = 0.3
ROUTES = ["/api/v1/me", "/api/v1/courses?limit=50", "/api/v1/me/learning/courses", "/api/v1/me/certificates"]


@pytest.fixture
def small_pool_app(settings: Settings) -> Litestar:
    # The tenant cache keeps the host lookup off the pool, so the route's own query meets the busy pool.
    return create_app(
        replace(
            settings,
            db_pool_size=1,
            db_pool_overflow=0,
            db_pool_timeout=POOL_TIMEOUT,
            profile_cache_seconds=0,
            tenant_cache_seconds=60,
        )
    )


async def _take_connection(app: Litestar) -> AsyncConnection:
    connection = app.state.db.app_engine.connect()
    await connection.start()
    return connection


@pytest.mark.parametrize("path", ROUTES)
async def test_a_busy_pool_answers_503_with_retry_after_then_recovers(
    small_pool_app: Litestar, make_tenant: MakeTenant, make_user: MakeUser, login: Login, path: str
) -> None:
    tenant = await make_tenant()
    user = await make_user(tenant)
    headers = await login(user)
    async with AsyncTestClient(app=small_pool_app, base_url=host(tenant)) as client:
        assert (await client.get(path, headers=headers)).status_code == 200  # warms tenant cache, revocations
        # The app runs on the client's own event loop: take the pool's only connection there.
        held = client.blocking_portal.call(_take_connection, small_pool_app)
        try:
            started = time.monotonic()
            refused = await client.get(path, headers=headers)
            waited = time.monotonic() - started
        finally:
            client.blocking_portal.call(held.close)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
        assert refused.json()["error"]["code"] == "overloaded"
        assert POOL_TIMEOUT <= waited < POOL_TIMEOUT + 2.0
        assert (await client.get(path, headers=headers)).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/courses?limit=50"])
async def test_a_burst_beyond_the_pool_gets_fast_answers_or_fast_refusals(
    settings: Settings, make_tenant: MakeTenant, make_user: MakeUser, login: Login, path: str
) -> None:
    """60 requests at once on a process with 2 connections and room for 8 requests: each is served or
    refused with 503 + Retry-After, none fails and none waits much longer than the pool timeout."""
    app = create_app(
        replace(
            settings,
            db_pool_size=2,
            db_pool_overflow=0,
            db_pool_timeout=POOL_TIMEOUT,
            max_in_flight_requests=8,
            profile_cache_seconds=0,
            tenant_cache_seconds=60,
        )
    )
    tenant = await make_tenant()
    headers = await login(await make_user(tenant))
    async with AsyncTestClient(app=app, base_url=host(tenant)) as client:
        assert (await client.get(path, headers=headers)).status_code == 200

        # Straight into the app on its own event loop, all at once (the test client sends one at a time).
        answers = client.blocking_portal.call(_burst, app, f"{tenant.slug}.{TEST_BASE_DOMAIN}", path, headers, 60)
    statuses = {status for status, _, _ in answers}
    assert statuses <= {200, 503}, answers
    assert statuses == {200, 503}  # some served, the rest refused at once
    assert all(retry == str(RETRY_AFTER_SECONDS) for status, retry, _ in answers if status == 503)
    assert max(seconds for _, _, seconds in answers) < POOL_TIMEOUT + 5.0


async def _burst(
    app: Litestar, hostname: str, path: str, headers: dict[str, str], count: int
) -> list[tuple[int, str | None, float]]:
    raw_path, _, query = path.partition("?")
    scope_headers = [(b"host", hostname.encode()), *((k.lower().encode(), v.encode()) for k, v in headers.items())]

    async def one() -> tuple[int, str | None, float]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": raw_path,
            "raw_path": raw_path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": scope_headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }
        started: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)

        began = time.monotonic()
        await app(scope, receive, send)  # type: ignore[arg-type]
        retry = dict(started.get("headers", [])).get(b"retry-after")
        return started["status"], retry.decode() if retry else None, time.monotonic() - began

    return list(await asyncio.gather(*(one() for _ in range(count))))
