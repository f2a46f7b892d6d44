"""Groups: nested under a parent, and dynamic groups whose rule (department = Sales) picks up new
hires from an import and lets go of people who move; another tenant's groups are out of reach."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.identity.helpers import secure_host
from tests.integration.organisation.test_imports import people_csv, preview_and_apply, upload
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def groups_of(db: Database, tenant_id: object, email: str) -> list[str]:
    async with tenant_session(db.app_sessions, tenant_id) as session:  # type: ignore[arg-type]
        user = (await session.execute(select(User).where(User.email == email))).scalar_one()
        return list(user.groups)


async def test_a_dynamic_group_picks_up_a_new_hire_from_an_import_and_lets_go_of_a_mover(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(seats=0)
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    url = f"{host(tenant)}/api/v1/admin/groups"
    company = await client.post(url, json={"name": "Company"}, headers=headers)
    assert company.status_code == 201, company.text
    sales = await client.post(
        url,
        json={
            "name": "Sales",
            "parent_id": company.json()["id"],
            "rule_attribute": "department",
            "rule_value": "Sales",
        },
        headers=headers,
    )
    assert sales.status_code == 201, sales.text
    assert sales.json()["depth"] == 1

    header = ["Email", "Name", "Department"]
    hire = people_csv([["hire@corp.example", "New Hire", "Sales"], ["ops@corp.example", "Ops Person", "Ops"]], header)
    record = await upload(client, tenant, headers, hire)
    configured = await client.put(
        f"{host(tenant)}/api/v1/admin/imports/{record['id']}/settings",
        json={"mapping": {"email": "Email", "display_name": "Name", "attr:department": "Department"}},
        headers=headers,
    )
    assert configured.status_code == 200, configured.text
    await preview_and_apply(client, tenant, headers, record["id"])
    assert await groups_of(db, tenant.id, "hire@corp.example") == ["Sales"]
    assert await groups_of(db, tenant.id, "ops@corp.example") == []
    listed = {g["name"]: g for g in (await client.get(url, headers=headers)).json()["items"]}
    assert listed["Sales"]["members"] == 1
    assert [g["name"] for g in (await client.get(url, headers=headers)).json()["items"]] == ["Company", "Sales"]

    moved = people_csv([["hire@corp.example", "New Hire", "Ops"]], header)
    again = await upload(client, tenant, headers, moved)
    await client.put(
        f"{host(tenant)}/api/v1/admin/imports/{again['id']}/settings",
        json={"mapping": {"email": "Email", "display_name": "Name", "attr:department": "Department"}},
        headers=headers,
    )
    await preview_and_apply(client, tenant, headers, again["id"])
    assert await groups_of(db, tenant.id, "hire@corp.example") == []


async def test_a_department_column_is_kept_as_the_attribute_dynamic_groups_read(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(seats=0)
    admin = await make_user(tenant, roles=["tenant_admin"])
    headers = await login(admin)
    url = f"{host(tenant)}/api/v1/admin/groups"
    sales = await client.post(
        url, json={"name": "Field sales", "rule_attribute": "department", "rule_value": "Sales"}, headers=headers
    )
    assert sales.status_code == 201, sales.text

    data = people_csv([["hire@corp.example", "New Hire", "Sales"]], ["Email", "Name", "Department"])
    record = await upload(client, tenant, headers, data)
    # The suggested mapping keeps Department as the `department` attribute (not as a group name)...
    assert record["mapping"] == {"email": "Email", "display_name": "Name", "attr:department": "Department"}
    page = await client.get(
        f"{secure_host(tenant)}/admin/imports/{record['id']}", headers=browser_headers(await bearer(login, admin))
    )
    assert 'name="keep_2" checked' in page.text
    # ... so the import, as suggested, puts the new hire in the dynamic group.
    await preview_and_apply(client, tenant, headers, record["id"])
    assert await groups_of(db, tenant.id, "hire@corp.example") == ["Field sales"]
    async with tenant_session(db.app_sessions, tenant.id) as session:
        user = (await session.execute(select(User).where(User.email == "hire@corp.example"))).scalar_one()
        assert user.attributes == {"department": "Sales"}


async def test_group_rules_are_checked_and_names_are_unique(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    theirs = await client.post(
        f"{host(other)}/api/v1/admin/groups",
        json={"name": "Theirs"},
        headers=await login(await make_user(other, roles=["tenant_admin"])),
    )
    url = f"{host(tenant)}/api/v1/admin/groups"
    half_rule = await client.post(url, json={"name": "X", "rule_attribute": "department"}, headers=headers)
    assert half_rule.status_code in (400, 422)
    assert half_rule.json()["error"]["field"] == "rule_value"
    foreign_parent = await client.post(url, json={"name": "Y", "parent_id": theirs.json()["id"]}, headers=headers)
    assert foreign_parent.status_code in (400, 422)
    assert foreign_parent.json()["error"]["field"] == "parent_id"
    assert (await client.post(url, json={"name": "Z"}, headers=headers)).status_code == 201
    duplicate = await client.post(url, json={"name": "Z"}, headers=headers)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["field"] == "name"
    assert [g["name"] for g in (await client.get(url, headers=headers)).json()["items"]] == ["Z"]
    learner = await login(await make_user(tenant))
    assert (await client.get(url, headers=learner)).status_code == 403


async def test_admin_adds_a_nested_group_on_the_page(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    token = await bearer(login, await make_user(tenant, roles=["tenant_admin"]))
    site = secure_host(tenant)
    empty = await client.get(f"{site}/admin/groups", headers=browser_headers(token))
    assert empty.status_code == 200
    assert "No groups yet" in empty.text
    missing = await client.post(f"{site}/admin/groups", data={"csrf_token": CSRF}, headers=browser_headers(token))
    assert missing.status_code == 422
    assert "Enter a name for the group." in missing.text
    added = await client.post(
        f"{site}/admin/groups",
        data={"csrf_token": CSRF, "name": "Engineering", "rule_attribute": "department", "rule_value": "Eng"},
        headers=browser_headers(token),
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    listed = await client.get(f"{site}/admin/groups", headers=browser_headers(token))
    assert "Engineering" in listed.text
    assert "department = Eng" in listed.text


async def test_admin_puts_a_person_in_groups_by_hand(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    token = await bearer(login, await make_user(tenant, roles=["tenant_admin"]))
    person = await make_user(tenant, email="hand@corp.example")
    saved = await client.post(
        f"{secure_host(tenant)}/admin/users/{person.id}/groups",
        data={"csrf_token": CSRF, "groups": "Sales, Berlin; Sales"},
        headers=browser_headers(token),
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    assert await groups_of(db, tenant.id, "hand@corp.example") == ["Berlin", "Sales"]
    too_long = await client.post(
        f"{secure_host(tenant)}/admin/users/{person.id}/groups",
        data={"csrf_token": CSRF, "groups": "x" * 201},
        headers=browser_headers(token),
    )
    assert too_long.status_code == 422
    assert "at most 200 characters" in too_long.text


async def test_an_admin_renames_moves_and_deletes_groups_and_members_follow(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    api = await login(admin)
    member = await make_user(tenant, email="mia@corp.example", groups=["Sales"])
    url = f"{host(tenant)}/api/v1/admin/groups"
    sales = (await client.post(url, json={"name": "Sales"}, headers=api)).json()
    north = (await client.post(url, json={"name": "North", "parent_id": sales["id"]}, headers=api)).json()

    # A rename keeps the members; a group cannot move inside its own subgroup; a taken name is refused.
    renamed = await client.put(f"{url}/{sales['id']}", json={"name": "Sales EMEA"}, headers=api)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["members"] == 1
    assert await groups_of(db, tenant.id, member.email) == ["Sales EMEA"]
    loop = await client.put(f"{url}/{sales['id']}", json={"name": "Sales EMEA", "parent_id": north["id"]}, headers=api)
    assert loop.status_code == 422
    assert loop.json()["error"]["field"] == "parent_id"
    taken = await client.put(f"{url}/{north['id']}", json={"name": "Sales EMEA", "parent_id": sales["id"]}, headers=api)
    assert taken.status_code == 409

    # The page edits the same way; deleting the parent moves its subgroup up and its members out.
    pages = browser_headers(await bearer(login, admin))
    site = secure_host(tenant)
    form = await client.get(f"{site}/admin/groups/{sales['id']}", headers=pages)
    assert 'value="Sales EMEA"' in form.text
    assert f'<option value="{north["id"]}"' not in form.text  # its own subgroup is not offered as a parent
    edit_url = f"{site}/admin/groups/{sales['id']}"
    empty = await client.post(edit_url, data={"csrf_token": CSRF, "name": ""}, headers=pages)
    assert empty.status_code == 422
    assert "Enter a name for the group." in empty.text
    deleted = await client.post(
        f"{site}/admin/groups/{sales['id']}/delete", data={"csrf_token": CSRF}, headers=pages, follow_redirects=False
    )
    assert deleted.status_code == 303
    assert await groups_of(db, tenant.id, member.email) == []
    listed = (await client.get(url, headers=api)).json()["items"]
    assert [(g["name"], g["parent_id"]) for g in listed] == [("North", None)]

    # Another site's admin gets 404, a learner 403.
    other = await make_tenant()
    stranger = await login(await make_user(other, roles=["tenant_admin"]))
    foreign = f"{host(other)}/api/v1/admin/groups/{north['id']}"
    assert (await client.delete(foreign, headers=stranger)).status_code == 404
    learner = await login(await make_user(tenant))
    assert (await client.delete(f"{url}/{north['id']}", headers=learner)).status_code == 403
