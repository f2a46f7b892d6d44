"""A new tenant without a shell: the operator creates it with its first admin's e-mail, the admin
accepts the invitation and lands on the setup checklist, whose items tick as the tenant is set up."""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from lms.tenancy.models import Tenant
from lms.tenancy.schemas import Branding
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.identity.helpers import PASSWORD, link_token, outbox, secure_host
from tests.integration.web.test_pages import browser_headers
from tests.support import TEST_BASE_DOMAIN

Client = AsyncTestClient[Litestar]
OPS = f"http://{TEST_BASE_DOMAIN}/api/v1/operator"


async def test_operator_creates_a_tenant_with_its_first_admin_who_lands_on_the_checklist(
    client: Client, db: Database, operator_token: str
) -> None:
    slug = f"onb-{uuid.uuid4().hex[:6]}"
    created = await client.post(
        f"{OPS}/tenants",
        json={"slug": slug, "name": "Onboarded", "admin_email": "Ada@Onboarded.example", "admin_name": "Ada"},
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["first_admin"]["email"] == "Ada@Onboarded.example"
    assert body["first_admin"]["invited"] is True

    async with db.operator_sessions() as session:
        tenant = (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one()
    [mail] = await outbox(db, tenant, "Ada@Onboarded.example")
    assert f"{slug}.{TEST_BASE_DOMAIN}" in mail.body
    accepted = await client.post(
        f"{host(tenant)}/api/v1/auth/invitations/accept", json={"token": link_token(mail), "password": PASSWORD}
    )
    assert accepted.status_code == 200, accepted.text
    token = accepted.json()["access_token"]

    checklist = await client.get(f"{host(tenant)}/api/v1/admin/setup", headers={"Authorization": f"Bearer {token}"})
    assert checklist.status_code == 200, checklist.text
    assert [(i["key"], i["done"]) for i in checklist.json()["items"]] == [
        ("branding", False),
        ("domain", False),
        ("sso", False),
        ("users", False),
        ("course", False),
    ]
    page = await client.get(f"{secure_host(tenant)}/admin", headers=browser_headers(token))
    assert page.status_code == 200
    assert "Set up your learning site" in page.text
    assert 'href="/admin/users"' in page.text


async def test_first_admin_fields_are_checked_before_anything_is_written(
    client: Client, db: Database, operator_token: str
) -> None:
    slug = f"bad-{uuid.uuid4().hex[:6]}"
    refused = await client.post(
        f"{OPS}/tenants",
        json={"slug": slug, "name": "Bad", "admin_email": "not-an-address"},
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert refused.status_code in (400, 422)
    assert refused.json()["error"]["field"] == "admin_email"
    name_only = await client.post(
        f"{OPS}/tenants",
        json={"slug": slug, "name": "Bad", "admin_name": "Ada"},
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert name_only.status_code in (400, 422)
    assert name_only.json()["error"]["field"] == "admin_email"
    listed = await client.get(
        f"{OPS}/tenants", params={"limit": 200}, headers={"Authorization": f"Bearer {operator_token}"}
    )
    assert slug not in {t["slug"] for t in listed.json()["items"]}


async def test_checklist_items_tick_from_the_tenants_real_state(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(branding=Branding(primary_color="#0b5fff"))
    admin = await make_user(tenant, roles=["tenant_admin"])
    headers = await login(admin)
    url = f"{host(tenant)}/api/v1/admin/setup"

    before = {i["key"]: i["done"] for i in (await client.get(url, headers=headers)).json()["items"]}
    assert before == {"branding": True, "domain": False, "sso": False, "users": False, "course": False}

    await make_user(tenant, roles=["learner"])
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await factories.catalog.make_course(session, tenant.id)
        await factories.identity.make_sso_provider(session, tenant.id)
    async with db.operator_sessions() as session, session.begin():
        domain = await factories.tenancy.make_domain(session, tenant.id)
        domain.verified = True
    after = (await client.get(url, headers=headers)).json()
    assert after["complete"] is True
    assert after["done"] == after["total"] == 5


async def test_only_tenant_admins_of_this_tenant_see_the_console(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    learner = await make_user(tenant, roles=["learner"])
    foreign_admin = await make_user(other, roles=["tenant_admin"])
    url = f"{host(tenant)}/api/v1/admin/setup"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=await login(learner))).status_code == 403
    assert (await client.get(url, headers=await login(foreign_admin))).status_code in (401, 403)
    signed_out = await client.get(f"{secure_host(tenant)}/admin", headers=browser_headers(), follow_redirects=False)
    assert signed_out.status_code in (302, 303)
    assert "/sign-in" in signed_out.headers["location"]
    token = (await login(learner))["Authorization"].removeprefix("Bearer ")
    forbidden = await client.get(f"{secure_host(tenant)}/admin", headers=browser_headers(token))
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("text/html")


async def test_the_first_admin_is_a_tenant_admin_in_the_new_tenant_only(
    client: Client, db: Database, operator_token: str
) -> None:
    slug = f"one-{uuid.uuid4().hex[:6]}"
    created = await client.post(
        f"{OPS}/tenants",
        json={"slug": slug, "name": "One", "admin_email": "first@one.example"},
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert created.status_code == 201, created.text
    tenant_id = uuid.UUID(created.json()["id"])
    async with tenant_session(db.app_sessions, tenant_id) as session:
        [user] = (await session.execute(select(User))).scalars().all()
    assert user.email == "first@one.example"
    assert set(user.roles) == {"tenant_admin", "learner"}
    assert user.status.value == "invited"
    assert user.display_name == "first"
