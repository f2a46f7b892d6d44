"""Fixtures shared by every test: settings for a fresh migrated database, the app, factories."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.app import create_app
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database, create_database
from lms.db.migrate import migrate
from lms.identity.models import User
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.tokens import issue_access_token
from lms.tenancy.models import Plan, Tenant
from lms.tenancy.schemas import Branding
from lms.tenancy.services import Actor, TenantAdmin
from lms.tenancy.services.operators import create_operator
from tests import factories
from tests.support import TEST_BASE_DOMAIN, celery_worker, fresh_database, patience, test_services

# Fixtures that start processes of their own (a browser, an app server, a Celery worker).
PROCESS_FIXTURES = frozenset({"web_server", "chromium", "worker", "media_worker", "ready_video", "media_live_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules that start processes (browser stories, worker tests) first, each kept whole: they take
    the longest, and started last they would leave one test process finishing alone (with
    `--no-loadscope-reorder`, xdist hands out modules in this order)."""
    heavy_modules = {
        item.path
        for item in items
        if item.get_closest_marker("e2e")
        or item.get_closest_marker("worker")
        or "e2e" in item.path.parts
        or PROCESS_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    }
    items.sort(key=lambda item: item.path not in heavy_modules)


@pytest.fixture(scope="session")
def server_settings() -> Iterator[Settings]:
    # Not under pytest's 0700 tmp dirs: embedded PostgreSQL runs as its own system user.
    services_dir = Path(tempfile.mkdtemp(prefix="lms-test-services-"))
    services_dir.chmod(0o755)
    try:
        with test_services(services_dir) as settings:
            yield settings
    finally:
        shutil.rmtree(services_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(server_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A migrated database of this run's own, a private Celery queue and local storage."""
    data_dir = tmp_path_factory.mktemp("data")
    base = replace(
        server_settings,
        data_dir=data_dir,
        celery_queue=f"test-{uuid.uuid4().hex[:8]}",
        storage_url=f"file://{data_dir / 'storage'}",
        tenant_cache_seconds=0.0,
        log_json=False,
        log_level="WARNING",
    )
    with fresh_database(base) as settings:
        migrate(settings)
        yield settings


@pytest.fixture(scope="session")
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = create_database(settings)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url=f"http://demo.{TEST_BASE_DOMAIN}") as client:
        yield client


@pytest.fixture(scope="session")
def worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Celery worker; only tests that ask for it pay for starting it."""
    with celery_worker(settings, tmp_path_factory.mktemp("worker") / "worker.log") as process:
        yield process


MakeTenant = Callable[..., Awaitable[Tenant]]


@pytest.fixture
def make_tenant(db: Database, settings: Settings) -> MakeTenant:
    """Create a tenant through the operator service, as an operator would."""

    async def make(
        slug: str | None = None, name: str | None = None, branding: Branding | None = None, **fields: Any
    ) -> Tenant:
        slug = slug or f"t-{uuid.uuid4().hex[:10]}"
        async with db.operator_sessions() as session, session.begin():
            admin = TenantAdmin(session, Actor(name="test"), settings.public_base_domain)
            tenant = await admin.create(slug, name or slug.title(), Plan.ENTERPRISE, 10, branding)
            if fields:
                await admin.update(tenant, **fields)
        return tenant

    return make


@pytest.fixture(scope="session")
async def operator_token(db: Database) -> str:
    async with db.operator_sessions() as session, session.begin():
        _, token = await create_operator(session, f"ops-{uuid.uuid4().hex[:6]}@platform.test", "Test operator")
    return token


MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(db: Database) -> MakeUser:
    """Create a user in a tenant (through the app role, with the tenant bound)."""

    async def make(tenant: Tenant, roles: list[str] | None = None, **fields: Any) -> User:
        async with tenant_session(db.app_sessions, tenant.id) as session:
            return await factories.identity.make_user(session, tenant.id, roles=roles or ["learner"], **fields)

    return make


Login = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture(scope="session")
def key_ring(db: Database, settings: Settings) -> KeyRing:
    """The same key table the app uses, read on the test's own event loop."""
    return KeyRing(db.app_sessions, settings.secret_key)


@pytest.fixture(scope="session")
def login(key_ring: KeyRing) -> Login:
    """`headers = await login(user)`: a bearer access token for the user, as sign-in would issue."""

    async def make(user: User, lifetime_seconds: int = 900) -> dict[str, str]:
        token = await issue_access_token(key_ring, user.id, user.tenant_id, list(user.roles), lifetime_seconds)
        return {"Authorization": f"Bearer {token}"}

    return make


def host(tenant: Tenant) -> str:
    return f"http://{tenant.slug}.{TEST_BASE_DOMAIN}"


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    """Await `check` until it returns something truthy (for work done by the Celery worker)."""
    timeout = patience(timeout)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.2)


__all__ = ["Login", "MakeTenant", "MakeUser", "eventually", "host"]

# Media fixtures (generated videos, a loopback-addressed media site, a live server, a ready video).
from tests.media_fixtures import (  # noqa: E402, F401
    media_client,
    media_live_server,
    media_site,
    media_sources,
    media_worker,
    ready_video,
)
