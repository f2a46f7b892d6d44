"""Operations: health, readiness, Prometheus metrics (on their own listener only) and request ids."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.app import create_app
from lms.config import Settings
from lms.db.engines import Database
from lms.lib.telemetry import start_metrics_listener
from lms.tenancy.services import Actor, TenantAdmin
from tests.conftest import Login, MakeTenant, MakeUser, host

Client = AsyncTestClient[Litestar]


async def test_health_and_ready(client: Client) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_ready_reports_an_unreachable_redis(settings: Settings) -> None:
    broken = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    async with AsyncTestClient(app=broken) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["redis"].startswith("error")


@pytest.fixture(scope="module")
def metrics_url() -> Iterator[str]:
    """This process's metrics listener, as `lms api` starts it next to the public app."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = start_metrics_listener("127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


async def test_metrics_count_requests_by_route_status_and_tenant(
    client: Client, make_tenant: MakeTenant, metrics_url: str
) -> None:
    tenant = await make_tenant()
    await client.get(f"{host(tenant)}/")
    async with httpx.AsyncClient() as scraper:
        metrics = (await scraper.get(f"{metrics_url}/metrics")).text
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("lms_requests_total{") and f'tenant="{tenant.slug}"' in line
    )
    assert 'path="/"' in line
    assert 'status_code="200"' in line
    assert "lms_request_duration_seconds_bucket" in metrics


async def test_metrics_label_a_path_with_ids_by_its_route_template(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login, metrics_url: str
) -> None:
    # Labels by raw path would grow a series per id: the label is the route's template.
    tenant = await make_tenant()
    headers = await login(await make_user(tenant))
    course_id = uuid.uuid4()
    assert (await client.get(f"{host(tenant)}/api/v1/courses/{course_id}", headers=headers)).status_code == 404
    async with httpx.AsyncClient() as scraper:
        metrics = (await scraper.get(f"{metrics_url}/metrics")).text
    assert str(course_id) not in metrics
    assert any(
        line.startswith("lms_requests_total{")
        and 'path="/api/v1/courses/{course_id}"' in line
        and f'tenant="{tenant.slug}"' in line
        and 'status_code="404"' in line
        for line in metrics.splitlines()
    )


@pytest.mark.parametrize("path", ["/", "/health", "/metrics/", "/api/v1/operator/tenants"])
async def test_the_metrics_listener_serves_metrics_only(metrics_url: str, path: str) -> None:
    async with httpx.AsyncClient() as scraper:
        assert (await scraper.get(f"{metrics_url}{path}")).status_code == 404


async def test_the_public_listener_never_serves_metrics_on_any_host(
    client: Client, make_tenant: MakeTenant, settings: Settings, db: Database
) -> None:
    tenant = await make_tenant()
    suffix = tenant.slug
    async with db.operator_sessions() as session, session.begin():
        admin = TenantAdmin(session, Actor(name="test"), settings.public_base_domain)
        await admin.add_domain(tenant.id, f"learn.{suffix}.example", primary=False)
        await admin.verify_domain(tenant.id, f"learn.{suffix}.example")
        await admin.add_domain(tenant.id, f"pending.{suffix}.example", primary=False)
    await client.get(f"{host(tenant)}/")  # so that there is a tenant slug to leak
    hosts = [
        "evil.example.com",
        f"pending.{suffix}.example",  # a custom domain not verified yet
        f"learn.{suffix}.example",
        f"{tenant.slug}.{settings.public_base_domain}",
        settings.public_base_domain,
        "localhost:8000",
        "10.0.0.7:8000",  # a scrape by pod address
    ]
    for name in hosts:
        for path in ("/metrics", "/metrics/"):
            refused = await client.get(f"http://{name}{path}")
            assert refused.status_code == 404, (name, path)
            assert "lms_requests_total" not in refused.text
            assert tenant.slug not in refused.text


async def test_request_id_is_echoed_or_generated(client: Client) -> None:
    echoed = await client.get("/health", headers={"X-Request-ID": "abc123"})
    assert echoed.headers["x-request-id"] == "abc123"
    generated = await client.get("/health")
    assert len(generated.headers["x-request-id"]) == 32
