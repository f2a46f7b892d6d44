"""A request that cannot get a database connection within DB_POOL_TIMEOUT is refused at once with
503 + Retry-After (a real pool of one connection, held elsewhere), and served again once one is free."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncConnection

from lms.app import create_app
from lms.config import Settings
from lms.lib.errors import RETRY_AFTER_SECONDS
from tests.conftest import Login, MakeTenant, MakeUser, host

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
