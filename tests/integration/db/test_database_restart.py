"""When PostgreSQL drops the API's connections (a restart, a failover), a request that meets a dead
pooled connection is answered 503 with Retry-After, never 500, and the next request is served again."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from lms.app import create_app
from lms.config import Settings
from lms.lib.errors import RETRY_AFTER_SECONDS
from tests.conftest import Login, MakeTenant, MakeUser, host

ROUTES = ["/api/v1/me", "/api/v1/courses?limit=5", "/api/v1/me/learning/courses"]


@pytest.fixture
def app_with_its_own_pool(settings: Settings) -> Litestar:
    # Its own engine (the session app's pool stays healthy for other tests); the tenant cache keeps
    # the host lookup off the database, so the route's own query meets the dead connection.
    return create_app(replace(settings, profile_cache_seconds=0, tenant_cache_seconds=60, db_pool_size=2))


async def _pooled_backend(app: Litestar) -> int:
    """The server process behind the app's pooled connection (requests one at a time use just one)."""
    async with app.state.db.app_engine.connect() as connection:
        return int(await connection.scalar(text("select pg_backend_pid()")))


def _end_backend(settings: Settings, pid: int) -> bool:
    """What a PostgreSQL restart does to the API's connection: its server process ends."""
    with psycopg.connect(settings.database_url or "", autocommit=True) as admin:
        row = admin.execute("select pg_terminate_backend(%s)", (pid,)).fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize("path", ROUTES)
async def test_a_dropped_database_connection_is_a_503_then_the_next_request_is_served(
    app_with_its_own_pool: Litestar,
    settings: Settings,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
    path: str,
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant))
    async with AsyncTestClient(app=app_with_its_own_pool, base_url=host(tenant)) as client:
        assert (await client.get(path, headers=headers)).status_code == 200  # the pool holds a connection
        # The app runs on the client's own event loop: ask its pool there.
        assert _end_backend(settings, client.blocking_portal.call(_pooled_backend, app_with_its_own_pool))

        answers = [await client.get(path, headers=headers) for _ in range(3)]
        statuses = [answer.status_code for answer in answers]
        assert 500 not in statuses, [answer.text for answer in answers]
        assert statuses[-1] == 200  # the pool dropped the dead connections and opened new ones
        for refused in (answer for answer in answers if answer.status_code == 503):
            assert refused.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
            assert refused.json()["error"]["code"] == "unavailable"
