"""Platform operators create, inspect, suspend, resume and delete tenants; nobody else can."""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.db.engines import Database
from lms.tenancy.services.operators import create_operator
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.support import TEST_BASE_DOMAIN

Client = AsyncTestClient[Litestar]
OPS = f"http://{TEST_BASE_DOMAIN}/api/v1/operator"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_operator_creates_lists_and_inspects_a_tenant(client: Client, operator_token: str) -> None:
    slug = f"acme-{uuid.uuid4().hex[:6]}"
    created = await client.post(
        f"{OPS}/tenants",
        json={
            "slug": slug,
            "name": "Acme Corp",
            "plan": "business",
            "seats": 250,
            "branding": {"primary_color": "#0b5fff"},
        },
        headers=bearer(operator_token),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["slug"] == slug
    assert body["status"] == "active"
    assert body["usage"]["users"] == 0

    # The list is a page of every tenant (this run has made many): walk the pages.
    slugs: list[str] = []
    offset, total = 0, 1
    while offset < total:
        listed = await client.get(
            f"{OPS}/tenants", params={"limit": 200, "offset": offset}, headers=bearer(operator_token)
        )
        assert listed.status_code == 200
        page = listed.json()
        slugs += [t["slug"] for t in page["items"]]
        offset, total = offset + 200, page["total"]
    assert slug in slugs

    fetched = await client.get(f"{OPS}/tenants/{body['id']}", headers=bearer(operator_token))
    assert fetched.json()["branding"] == {"primary_color": "#0b5fff"}

    site = await client.get(f"http://{slug}.{TEST_BASE_DOMAIN}/")
    assert site.status_code == 200
    assert "Acme Corp" in site.text


async def test_usage_counts_users(
    client: Client, operator_token: str, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    for _ in range(3):
        await make_user(tenant)
    fetched = await client.get(f"{OPS}/tenants/{tenant.id}", headers=bearer(operator_token))
    assert fetched.json()["usage"]["users"] == 3


async def test_bad_input_names_the_field_and_duplicates_conflict(
    client: Client, operator_token: str, make_tenant: MakeTenant
) -> None:
    bad_slug = await client.post(
        f"{OPS}/tenants", json={"slug": "Not A Slug", "name": "x"}, headers=bearer(operator_token)
    )
    assert bad_slug.status_code == 422
    assert bad_slug.json()["error"]["field"] == "slug"

    bad_colour = await client.post(
        f"{OPS}/tenants",
        json={"slug": f"c-{uuid.uuid4().hex[:6]}", "name": "x", "branding": {"primary_color": "red;}"}},
        headers=bearer(operator_token),
    )
    assert bad_colour.status_code == 422
    assert bad_colour.json()["error"]["field"] == "branding.primary_color"

    existing = await make_tenant()
    duplicate = await client.post(
        f"{OPS}/tenants", json={"slug": existing.slug, "name": "x"}, headers=bearer(operator_token)
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["field"] == "slug"

    missing = await client.get(f"{OPS}/tenants/{uuid.uuid4()}", headers=bearer(operator_token))
    assert missing.status_code == 404


async def test_suspend_resume_delete_are_audited_and_take_effect(
    client: Client, operator_token: str, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    suspended = await client.post(
        f"{OPS}/tenants/{tenant.id}/suspend", json={"reason": "unpaid"}, headers=bearer(operator_token)
    )
    assert suspended.json()["status"] == "suspended"
    assert (await client.get(f"{host(tenant)}/")).status_code == 403

    resumed = await client.post(f"{OPS}/tenants/{tenant.id}/resume", headers=bearer(operator_token))
    assert resumed.json()["status"] == "active"
    assert (await client.get(f"{host(tenant)}/")).status_code == 200

    again = await client.post(f"{OPS}/tenants/{tenant.id}/resume", headers=bearer(operator_token))
    assert again.status_code == 409

    deleted = await client.delete(f"{OPS}/tenants/{tenant.id}", headers=bearer(operator_token))
    assert deleted.json()["status"] == "deleted"
    assert (await client.get(f"{host(tenant)}/")).status_code == 404

    audit = await client.get(f"{OPS}/audit", params={"tenant_id": str(tenant.id)}, headers=bearer(operator_token))
    entries = audit.json()["items"]
    assert [e["action"] for e in entries][:3] == ["tenant.delete", "tenant.resume", "tenant.suspend"]
    suspend = entries[2]
    assert suspend["before"]["status"] == "active"
    assert suspend["after"]["status"] == "suspended"
    assert suspend["after"]["reason"] == "unpaid"
    assert suspend["actor"].startswith("ops-")
    assert suspend["request_id"]


async def test_domains_are_added_unverified_then_verified(
    client: Client, operator_token: str, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    hostname = f"learn-{tenant.slug}.example.com"
    added = await client.post(
        f"{OPS}/tenants/{tenant.id}/domains",
        json={"hostname": hostname, "primary": True},
        headers=bearer(operator_token),
    )
    assert added.status_code == 201
    assert added.json()["verified"] is False
    assert added.json()["verification_record"].startswith(f"_lms-verify.{hostname} TXT ")
    assert (await client.get(f"http://{hostname}/")).status_code == 404

    taken = await client.post(
        f"{OPS}/tenants/{tenant.id}/domains", json={"hostname": hostname}, headers=bearer(operator_token)
    )
    assert taken.status_code == 409

    platform_host = await client.post(
        f"{OPS}/tenants/{tenant.id}/domains", json={"hostname": f"x.{TEST_BASE_DOMAIN}"}, headers=bearer(operator_token)
    )
    assert platform_host.status_code == 422
    assert platform_host.json()["error"]["field"] == "hostname"

    verified = await client.post(f"{OPS}/tenants/{tenant.id}/domains/{hostname}/verify", headers=bearer(operator_token))
    assert verified.json()["verified"] is True
    assert (await client.get(f"http://{hostname}/")).status_code == 200


async def test_non_operators_are_refused(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    assert (await client.get(f"{OPS}/tenants")).status_code == 401
    assert (await client.get(f"{OPS}/tenants", headers=bearer("lmsop_forged"))).status_code == 403

    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    tenant_admin = await client.get(f"{OPS}/tenants", headers=await login(admin))
    assert tenant_admin.status_code == 403
    on_tenant_host = await client.post(
        f"{host(tenant)}/api/v1/operator/tenants/{tenant.id}/suspend",
        json={"reason": "x"},
        headers=await login(admin),
    )
    assert on_tenant_host.status_code == 403

    async with db.operator_sessions() as session, session.begin():
        operator, token = await create_operator(session, f"gone-{uuid.uuid4().hex[:6]}@platform.test", "Gone")
        operator.disabled = True
    disabled = await client.get(f"{OPS}/tenants", headers=bearer(token))
    assert disabled.status_code == 403
    assert "disabled" in disabled.json()["error"]["message"]
