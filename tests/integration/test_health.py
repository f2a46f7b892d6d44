"""Operations: health, readiness, Prometheus metrics and request ids."""

from __future__ import annotations

from dataclasses import replace

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.app import create_app
from lms.config import Settings
from lms.db.engines import Database
from lms.lib.jobs import build_celery, set_job_sender
from lms.tenancy.services import Actor, TenantAdmin
from tests.conftest import MakeTenant, host

Client = AsyncTestClient[Litestar]


async def test_health_and_ready(client: Client) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_ready_reports_an_unreachable_redis(settings: Settings) -> None:
    broken = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    try:
        async with AsyncTestClient(app=broken) as client:
            response = await client.get("/ready")
    finally:
        # The app's start-up installs its (unreachable) job sender process-wide; later tests need the real one.
        set_job_sender(build_celery(settings))
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["redis"].startswith("error")


async def test_metrics_count_requests_by_route_status_and_tenant(client: Client, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    await client.get(f"{host(tenant)}/")
    metrics = (await client.get("http://10.0.0.7:8000/metrics")).text  # a scrape by pod address
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("lms_requests_total{") and f'tenant="{tenant.slug}"' in line
    )
    assert 'path="/"' in line
    assert 'status_code="200"' in line
    assert "lms_request_duration_seconds_bucket" in metrics


async def test_metrics_never_answer_on_learner_facing_hosts(
    client: Client, make_tenant: MakeTenant, settings: Settings, db: Database
) -> None:
    tenant = await make_tenant()
    async with db.operator_sessions() as session, session.begin():
        admin = TenantAdmin(session, Actor(name="test"), settings.public_base_domain)
        await admin.add_domain(tenant.id, "learn.metrics-test.example", primary=False)
        await admin.verify_domain(tenant.id, "learn.metrics-test.example")
    for url in (
        f"{host(tenant)}/metrics",
        f"http://{settings.public_base_domain}/metrics",
        f"http://nobody.{settings.public_base_domain}/metrics",
        "http://learn.metrics-test.example/metrics",
    ):
        refused = await client.get(url)
        assert refused.status_code == 404, url
        assert "lms_requests_total" not in refused.text
    assert (await client.get("http://localhost:8000/metrics")).status_code == 200


async def test_request_id_is_echoed_or_generated(client: Client) -> None:
    echoed = await client.get("/health", headers={"X-Request-ID": "abc123"})
    assert echoed.headers["x-request-id"] == "abc123"
    generated = await client.get("/health")
    assert len(generated.headers["x-request-id"]) == 32
