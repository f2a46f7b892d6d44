"""A tenant admin onboards staff: create or invite, list and filter, change roles, deactivate."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.db.engines import Database
from lms.identity.accounts.services import directory
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.identity.helpers import PASSWORD, link_token, make_member, outbox

Client = AsyncTestClient[Litestar]


async def test_admin_invites_a_user_who_accepts_and_signs_in(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    headers = await login(admin)

    created = await client.post(
        f"{host(tenant)}/api/v1/users",
        json={"email": "Grace.Hopper@Acme.com", "display_name": "Grace", "roles": ["instructor", "learner"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "invited"
    assert body["roles"] == ["instructor", "learner"]
    assert body["has_password"] is False

    [mail] = await outbox(db, tenant, "Grace.Hopper@Acme.com")
    assert mail.status == "logged"  # no SMTP configured in tests: kept in the outbox and logged
    assert f"{tenant.slug}.lms.test/accept-invitation?token=" in mail.body
    token = link_token(mail)

    weak = await client.post(
        f"{host(tenant)}/api/v1/auth/invitations/accept", json={"token": token, "password": "short"}
    )
    assert weak.status_code == 422
    assert weak.json()["error"]["field"] == "password"

    accepted = await client.post(
        f"{host(tenant)}/api/v1/auth/invitations/accept", json={"token": token, "password": PASSWORD}
    )
    assert accepted.status_code == 200, accepted.text
    me = await client.get(
        f"{host(tenant)}/api/v1/me", headers={"Authorization": f"Bearer {accepted.json()['access_token']}"}
    )
    assert me.json()["status"] == "active"
    # Accepting signs the person in, so it counts as their first sign-in; a token refresh does not.
    account = f"{host(tenant)}/api/v1/users/{body['id']}"
    first = (await client.get(account, headers=headers)).json()["last_login_at"]
    assert first is not None
    refreshed = await client.post(
        f"{host(tenant)}/api/v1/auth/refresh", json={"refresh_token": accepted.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert (await client.get(account, headers=headers)).json()["last_login_at"] == first

    again = await client.post(
        f"{host(tenant)}/api/v1/auth/invitations/accept", json={"token": token, "password": PASSWORD + "!"}
    )
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_link"

    signed_in = await client.post(
        f"{host(tenant)}/api/v1/auth/login", json={"email": "grace.hopper@acme.com", "password": PASSWORD}
    )
    assert signed_in.status_code == 200


async def test_email_is_unique_per_tenant_case_insensitively(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    other_headers = await login(await make_user(other, roles=["tenant_admin"]))
    payload = {"email": "dup@acme.com", "display_name": "Dup", "send_invitation": False}
    assert (await client.post(f"{host(tenant)}/api/v1/users", json=payload, headers=headers)).status_code == 201
    payload["email"] = "DUP@acme.com"
    duplicate = await client.post(f"{host(tenant)}/api/v1/users", json=payload, headers=headers)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["field"] == "email"
    # The same address is a different person in another tenant.
    elsewhere = await client.post(f"{host(other)}/api/v1/users", json=payload, headers=other_headers)
    assert elsewhere.status_code == 201


async def test_bad_input_names_the_field(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    for payload, field in [
        ({"email": "not-an-email", "display_name": "X"}, "email"),
        ({"email": "a@b.co", "display_name": ""}, "display_name"),
        ({"email": "a@b.co", "display_name": "X", "roles": ["superuser"]}, "roles[0]"),
        ({"email": "a@b.co", "display_name": "X", "manager_id": "nope"}, "manager_id"),
    ]:
        response = await client.post(f"{host(tenant)}/api/v1/users", json=payload, headers=headers)
        assert response.status_code in (400, 422), response.text
        assert response.json()["error"]["field"] == field, response.text


async def test_admin_lists_updates_and_deactivates_users(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    headers = await login(admin)
    manager = await make_user(tenant, roles=["instructor"], display_name="Mona Manager")
    learner = await make_member(make_user, tenant, display_name="Lena Learner")

    listed = await client.get(f"{host(tenant)}/api/v1/users?role=instructor", headers=headers)
    assert [u["id"] for u in listed.json()["items"]] == [str(manager.id)]
    searched = await client.get(f"{host(tenant)}/api/v1/users?q=lena", headers=headers)
    assert searched.json()["total"] == 1

    updated = await client.patch(
        f"{host(tenant)}/api/v1/users/{learner.id}",
        json={"roles": ["learner", "instructor"], "manager_id": str(manager.id), "groups": ["sales", "emea"]},
        headers=headers,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["manager_id"] == str(manager.id)
    assert updated.json()["groups"] == ["emea", "sales"]
    assert updated.json()["display_name"] == "Lena Learner"

    freed: list[str] = []

    async def record_seat(_session, _tenant_id, user_id) -> None:  # type: ignore[no-untyped-def]
        freed.append(str(user_id))

    directory.seat_release_hooks.append(record_seat)
    try:
        signed_in = await client.post(
            f"{host(tenant)}/api/v1/auth/login", json={"email": learner.email, "password": PASSWORD}
        )
        refresh = signed_in.json()["refresh_token"]
        deactivated = await client.post(f"{host(tenant)}/api/v1/users/{learner.id}/deactivate", headers=headers)
    finally:
        directory.seat_release_hooks.remove(record_seat)
    assert deactivated.json()["status"] == "deactivated"
    assert freed == [str(learner.id)]
    refused = await client.post(
        f"{host(tenant)}/api/v1/auth/login", json={"email": learner.email, "password": PASSWORD}
    )
    assert refused.status_code == 403
    assert (
        await client.post(f"{host(tenant)}/api/v1/auth/refresh", json={"refresh_token": refresh})
    ).status_code == 401

    self_deactivate = await client.post(f"{host(tenant)}/api/v1/users/{admin.id}/deactivate", headers=headers)
    assert self_deactivate.status_code == 422


async def test_only_tenant_admins_manage_accounts(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    instructor = await make_user(tenant, roles=["instructor", "learner"])
    assert (await client.get(f"{host(tenant)}/api/v1/users")).status_code == 401
    forbidden = await client.get(f"{host(tenant)}/api/v1/users", headers=await login(instructor))
    assert forbidden.status_code == 403


async def test_admin_cannot_reach_another_tenants_users(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant_a, tenant_b = await make_tenant(), await make_tenant()
    admin_a = await make_user(tenant_a, roles=["tenant_admin"])
    user_b = await make_user(tenant_b)
    headers = await login(admin_a)
    assert (await client.get(f"{host(tenant_a)}/api/v1/users/{user_b.id}", headers=headers)).status_code == 404
    patched = await client.patch(
        f"{host(tenant_a)}/api/v1/users/{user_b.id}", json={"display_name": "Owned"}, headers=headers
    )
    assert patched.status_code == 404
    assert (
        await client.post(f"{host(tenant_a)}/api/v1/users/{user_b.id}/deactivate", headers=headers)
    ).status_code == 404
    listed = await client.get(f"{host(tenant_a)}/api/v1/users", headers=headers)
    assert str(user_b.id) not in {u["id"] for u in listed.json()["items"]}
    # A's token on B's host is refused outright.
    assert (await client.get(f"{host(tenant_b)}/api/v1/users", headers=headers)).status_code == 401


async def test_profile_changes_show_at_once_in_me(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin_headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    learner = await make_user(tenant, display_name="Old Name")
    headers = await login(learner)
    assert (await client.get(f"{host(tenant)}/api/v1/me", headers=headers)).json()["display_name"] == "Old Name"
    await client.patch(
        f"{host(tenant)}/api/v1/users/{learner.id}", json={"display_name": "New Name"}, headers=admin_headers
    )
    assert (await client.get(f"{host(tenant)}/api/v1/me", headers=headers)).json()["display_name"] == "New Name"
