"""A learner opens their company's address and gets their company's site, or a clear refusal."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.db.engines import Database
from lms.tenancy.schemas import Branding
from lms.tenancy.services import Actor, TenantAdmin
from tests.conftest import MakeTenant, host
from tests.support import TEST_BASE_DOMAIN

Client = AsyncTestClient[Litestar]


async def test_subdomain_serves_the_tenant_branded_home(client: Client, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant(name="Acme Corp", branding=Branding(primary_color="#0b5fff", accent_color="#ff8800"))
    response = await client.get(f"{host(tenant)}/")
    assert response.status_code == 200
    assert "Acme Corp" in response.text
    assert "--brand-primary: #0b5fff" in response.text
    assert "--brand-accent: #ff8800" in response.text


async def test_verified_custom_domain_serves_the_tenant(client: Client, db: Database, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant(name="Globex Learning")
    hostname = f"learn.{tenant.slug}.example.com"
    async with db.operator_sessions() as session, session.begin():
        admin = TenantAdmin(session, Actor(name="test"), TEST_BASE_DOMAIN)
        await admin.add_domain(tenant.id, hostname, primary=True)

    unverified = await client.get(f"http://{hostname}/")
    assert unverified.status_code == 404

    async with db.operator_sessions() as session, session.begin():
        await TenantAdmin(session, Actor(name="test"), TEST_BASE_DOMAIN).verify_domain(tenant.id, hostname)
    verified = await client.get(f"http://{hostname.upper()}:443/")
    assert verified.status_code == 200
    assert "Globex Learning" in verified.text


async def test_unknown_host_is_not_found_as_json_and_html(client: Client) -> None:
    api = await client.get(f"http://nobody.{TEST_BASE_DOMAIN}/api/v1/me")
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"
    page = await client.get("http://unknown.example.org/", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "No learning site" in page.text


async def test_suspended_tenant_is_refused_with_a_clear_message(
    client: Client, db: Database, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant(name="Initech")
    async with db.operator_sessions() as session, session.begin():
        await TenantAdmin(session, Actor(name="test"), TEST_BASE_DOMAIN).suspend(tenant.id, "unpaid invoice")
    response = await client.get(f"{host(tenant)}/api/v1/me")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "tenant_suspended"
    assert "Initech" in response.json()["error"]["message"]


async def test_deleted_tenant_is_not_found(client: Client, db: Database, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    async with db.operator_sessions() as session, session.begin():
        await TenantAdmin(session, Actor(name="test"), TEST_BASE_DOMAIN).delete(tenant.id)
    response = await client.get(f"{host(tenant)}/")
    assert response.status_code == 404


async def test_platform_routes_answer_on_any_host(client: Client) -> None:
    assert (await client.get("http://whatever.example.org/health")).status_code == 200
    assert (await client.get(f"http://nobody.{TEST_BASE_DOMAIN}/ready")).status_code == 200
