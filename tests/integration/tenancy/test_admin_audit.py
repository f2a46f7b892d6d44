"""A tenant admin reads what the site's administrators changed: who, what, when, before and after;
filters it, exports it safely for a spreadsheet; nobody else (learners, other tenants) reads it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def test_role_change_and_deactivation_are_recorded_with_before_and_after(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"], email="ada@acme.test")
    member = await make_user(tenant, roles=["learner"], email="grace@acme.test")
    headers = await login(admin)
    site = host(tenant)

    promoted = await client.patch(
        f"{site}/api/v1/users/{member.id}", json={"roles": ["instructor", "learner"]}, headers=headers
    )
    assert promoted.status_code == 200, promoted.text
    unchanged = await client.patch(
        f"{site}/api/v1/users/{member.id}", json={"roles": ["learner", "instructor"]}, headers=headers
    )
    assert unchanged.status_code == 200
    assert (await client.post(f"{site}/api/v1/users/{member.id}/deactivate", headers=headers)).status_code == 200

    log = await client.get(f"{site}/api/v1/admin/audit", headers=headers)
    assert log.status_code == 200, log.text
    body = log.json()
    assert body["total"] == 2  # re-saving the same roles is not a change
    deactivated, changed = body["items"]  # newest first
    assert changed["action"] == "user.updated"
    assert changed["actor"] == "ada@acme.test"
    assert changed["actor_user_id"] == str(admin.id)
    assert changed["target"] == "grace@acme.test"
    assert changed["before"] == {"roles": ["learner"]}
    assert changed["after"] == {"roles": ["instructor", "learner"]}
    assert changed["request_id"]
    assert deactivated["action"] == "user.deactivated"
    assert deactivated["before"] == {"status": "active"}
    assert deactivated["after"] == {"status": "deactivated"}

    only = await client.get(f"{site}/api/v1/admin/audit", params={"action": "user.deactivated"}, headers=headers)
    assert [e["action"] for e in only.json()["items"]] == ["user.deactivated"]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    future = await client.get(f"{site}/api/v1/admin/audit", params={"since": tomorrow}, headers=headers)
    assert future.json()["total"] == 0
    bad = await client.get(f"{site}/api/v1/admin/audit", params={"since": "yesterday"}, headers=headers)
    assert bad.status_code == 422
    assert "since" in bad.text


async def test_sso_and_scim_changes_are_recorded_without_secrets(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    site = host(tenant)

    token = await client.post(f"{site}/api/v1/scim-tokens", json={"name": "Okta"}, headers=headers)
    assert token.status_code == 201, token.text
    revoked = await client.delete(f"{site}/api/v1/scim-tokens/{token.json()['id']}", headers=headers)
    assert revoked.status_code == 200
    again = await client.delete(f"{site}/api/v1/scim-tokens/{token.json()['id']}", headers=headers)
    assert again.status_code == 200
    settings = await client.put(
        f"{site}/api/v1/identity/settings", json={"mfa_required_for_staff": True}, headers=headers
    )
    assert settings.status_code == 200, settings.text

    entries = (await client.get(f"{site}/api/v1/admin/audit", headers=headers)).json()["items"]
    assert [e["action"] for e in entries] == [
        "settings.mfa_required_changed",
        "scim.token_revoked",  # once: revoking a revoked token changes nothing
        "scim.token_created",
    ]
    assert entries[0]["before"] == {"mfa_required_for_staff": False}
    assert entries[0]["after"] == {"mfa_required_for_staff": True}
    assert entries[2]["target"] == "Okta"
    assert token.json()["token"] not in str(entries)


async def test_export_is_csv_that_a_spreadsheet_cannot_execute(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    site = host(tenant)
    created = await client.post(
        f"{site}/api/v1/users",
        json={"email": "mallory@acme.test", "display_name": '=HYPERLINK("http://evil.test","x")'},
        headers=headers,
    )
    assert created.status_code == 201, created.text

    export = await client.get(f"{site}/api/v1/admin/audit/export.csv", headers=headers)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][:3] == ["time", "actor", "action"]
    [row] = rows[1:]
    assert row[2] == "user.invited"
    assert row[5] == "mallory@acme.test"
    after = row[7]
    assert "=HYPERLINK" in after
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)


async def test_learners_and_other_tenants_read_nothing(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    admin_headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    member = await make_user(tenant, roles=["learner"])
    await client.post(f"{host(tenant)}/api/v1/users/{member.id}/deactivate", headers=admin_headers)

    learner = await login(await make_user(tenant, roles=["learner", "instructor"]))
    assert (await client.get(f"{host(tenant)}/api/v1/admin/audit", headers=learner)).status_code == 403
    assert (await client.get(f"{host(tenant)}/api/v1/admin/audit/export.csv", headers=learner)).status_code == 403
    assert (await client.get(f"{host(tenant)}/api/v1/admin/audit")).status_code == 401

    other_admin = await login(await make_user(other, roles=["tenant_admin"]))
    theirs = await client.get(f"{host(other)}/api/v1/admin/audit", headers=other_admin)
    assert theirs.json()["total"] == 0
    # Their token on this tenant's host is refused outright.
    assert (await client.get(f"{host(tenant)}/api/v1/admin/audit", headers=other_admin)).status_code in (401, 403)


async def test_admin_reads_the_log_as_a_page(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    member = await make_user(tenant, roles=["learner"], email="linus@acme.test")
    await client.post(f"{host(tenant)}/api/v1/users/{member.id}/deactivate", headers=await login(admin))
    site = secure_host(tenant)

    page = await client.get(f"{site}/admin/audit", headers=browser_headers(await bearer(login, admin)))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Audit log" in page.text
    assert "Deactivated a user" in page.text
    assert "linus@acme.test" in page.text
    assert 'href="/api/v1/admin/audit/export.csv' in page.text

    german = await client.get(
        f"{site}/admin/audit",
        headers={**browser_headers(await bearer(login, admin)), "Accept-Language": "de"},
    )
    assert "Deactivated a user" not in german.text

    learner_page = await client.get(
        f"{site}/admin/audit", headers=browser_headers(await bearer(login, member)), follow_redirects=False
    )
    assert learner_page.status_code in (401, 403)
