"""An identity provider (Okta, Entra ID) provisions and deprovisions a tenant's people over SCIM 2.0."""

from __future__ import annotations

import json
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.identity.accounts.services import directory
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser, host

Client = AsyncTestClient[Litestar]
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def scim_token(client: Client, tenant: Tenant, make_user: MakeUser, login: Login) -> dict[str, str]:
    admin = await make_user(tenant, roles=["tenant_admin"])
    created = await client.post(f"{host(tenant)}/api/v1/scim-tokens", json={"name": "Okta"}, headers=await login(admin))
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['token']}", "Content-Type": "application/scim+json"}


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def new_user(email: str, **extra: Any) -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA],
        "userName": email,
        "externalId": f"okta-{email}",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": email, "primary": True, "type": "work"}],
        "active": True,
        **extra,
    }


async def test_provision_find_patch_and_deprovision_a_user(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await scim_token(client, tenant, make_user, login)
    base = f"{host(tenant)}/scim/v2"

    created = await client.post(f"{base}/Users", content=_json(new_user("ada@acme.com")), headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith("application/scim+json")
    user = created.json()
    assert user["displayName"] == "Ada Lovelace"
    assert user["active"] is True
    assert user["meta"]["location"].endswith(f"/scim/v2/Users/{user['id']}")

    fetched = await client.get(f"{base}/Users/{user['id']}", headers=headers)
    assert fetched.json()["userName"] == "ada@acme.com"

    found = await client.get(f'{base}/Users?filter=userName eq "ADA@acme.com"', headers=headers)
    assert found.json()["totalResults"] == 1
    assert found.json()["Resources"][0]["id"] == user["id"]
    by_external = await client.get(f'{base}/Users?filter=externalId eq "okta-ada@acme.com"', headers=headers)
    assert by_external.json()["totalResults"] == 1
    none = await client.get(f'{base}/Users?filter=userName eq "nobody@acme.com"', headers=headers)
    assert none.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }

    patched = await client.patch(
        f"{base}/Users/{user['id']}",
        content=_json(
            {
                "schemas": [PATCH_SCHEMA],
                "Operations": [
                    {"op": "Replace", "path": "displayName", "value": "Ada King"},
                    {"op": "add", "path": "roles", "value": [{"value": "instructor"}]},
                ],
            }
        ),
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["displayName"] == "Ada King"
    assert {r["value"] for r in patched.json()["roles"]} == {"learner", "instructor"}

    freed: list[str] = []

    async def record(_session, _tenant_id, user_id) -> None:  # type: ignore[no-untyped-def]
        freed.append(str(user_id))

    directory.seat_release_hooks.append(record)
    try:
        # Entra ID's deprovisioning: a path-less replace with the string "False".
        deactivated = await client.patch(
            f"{base}/Users/{user['id']}",
            content=_json({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "Replace", "value": {"active": "False"}}]}),
            headers=headers,
        )
    finally:
        directory.seat_release_hooks.remove(record)
    assert deactivated.json()["active"] is False
    assert freed == [user["id"]]

    reactivated = await client.patch(
        f"{base}/Users/{user['id']}",
        content=_json({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": True}]}),
        headers=headers,
    )
    assert reactivated.json()["active"] is True
    assert (await client.delete(f"{base}/Users/{user['id']}", headers=headers)).status_code == 204
    assert (await client.get(f"{base}/Users/{user['id']}", headers=headers)).json()["active"] is False


async def test_groups_carry_members(client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login) -> None:
    tenant = await make_tenant()
    headers = await scim_token(client, tenant, make_user, login)
    base = f"{host(tenant)}/scim/v2"
    ada = (await client.post(f"{base}/Users", content=_json(new_user("ada@acme.com")), headers=headers)).json()
    bob = (await client.post(f"{base}/Users", content=_json(new_user("bob@acme.com")), headers=headers)).json()

    group = await client.post(
        f"{base}/Groups",
        content=_json({"displayName": "Sales", "members": [{"value": ada["id"]}]}),
        headers=headers,
    )
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    added = await client.patch(
        f"{base}/Groups/{group_id}",
        content=_json(
            {
                "schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": bob["id"]}]}],
            }
        ),
        headers=headers,
    )
    assert {m["value"] for m in added.json()["members"]} == {ada["id"], bob["id"]}
    removed = await client.patch(
        f"{base}/Groups/{group_id}",
        content=_json(
            {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove", "path": f'members[value eq "{ada["id"]}"]'}]}
        ),
        headers=headers,
    )
    assert [m["value"] for m in removed.json()["members"]] == [bob["id"]]
    bob_now = (await client.get(f"{base}/Users/{bob['id']}", headers=headers)).json()
    assert bob_now["groups"] == [{"display": "Sales"}]
    listed = await client.get(f'{base}/Groups?filter=displayName eq "Sales"', headers=headers)
    assert listed.json()["totalResults"] == 1
    assert (await client.delete(f"{base}/Groups/{group_id}", headers=headers)).status_code == 204
    assert (await client.get(f"{base}/Users/{bob['id']}", headers=headers)).json()["groups"] == []


async def test_errors_use_the_scim_error_format(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await scim_token(client, tenant, make_user, login)
    base = f"{host(tenant)}/scim/v2"
    await client.post(f"{base}/Users", content=_json(new_user("ada@acme.com")), headers=headers)

    cases = [
        (
            await client.post(f"{base}/Users", content=_json(new_user("ADA@acme.com")), headers=headers),
            409,
            "uniqueness",
        ),
        (await client.get(f"{base}/Users/00000000-0000-0000-0000-000000000000", headers=headers), 404, None),
        (await client.get(f'{base}/Users?filter=title co "x"', headers=headers), 400, "invalidFilter"),
        (
            await client.post(f"{base}/Users", content=_json({"userName": "no-at-sign"}), headers=headers),
            400,
            "invalidValue",
        ),
        (await client.post(f"{base}/Users", content=b"{not json", headers=headers), 400, "invalidSyntax"),
        (await client.get(f"{base}/Users"), 401, None),
    ]
    for response, status, scim_type in cases:
        body = response.json()
        assert response.status_code == status, body
        assert body["schemas"] == [ERROR_SCHEMA]
        assert body["status"] == str(status)
        assert body.get("scimType") == scim_type
        assert body["detail"]


async def test_scim_token_is_bound_to_its_tenant_and_revocable(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant_a, tenant_b = await make_tenant(), await make_tenant()
    headers_a = await scim_token(client, tenant_a, make_user, login)
    user_b = await make_user(tenant_b)
    assert (await client.get(f"{host(tenant_b)}/scim/v2/Users", headers=headers_a)).status_code == 401
    assert (await client.get(f"{host(tenant_a)}/scim/v2/Users/{user_b.id}", headers=headers_a)).status_code == 404
    # A user's access token is not a SCIM credential.
    admin = await make_user(tenant_a, roles=["tenant_admin"])
    admin_headers = await login(admin)
    assert (await client.get(f"{host(tenant_a)}/scim/v2/Users", headers=admin_headers)).status_code == 401

    listed = await client.get(f"{host(tenant_a)}/api/v1/scim-tokens", headers=admin_headers)
    assert listed.status_code == 200, listed.text
    tokens = listed.json()["items"]
    admin_b = await login(await make_user(tenant_b, roles=["tenant_admin"]))
    foreign = await client.delete(f"{host(tenant_b)}/api/v1/scim-tokens/{tokens[0]['id']}", headers=admin_b)
    assert foreign.status_code == 404
    revoked = await client.delete(f"{host(tenant_a)}/api/v1/scim-tokens/{tokens[0]['id']}", headers=admin_headers)
    assert revoked.json()["revoked"] is True
    assert (await client.get(f"{host(tenant_a)}/scim/v2/Users", headers=headers_a)).status_code == 401


async def test_discovery_documents(client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login) -> None:
    tenant = await make_tenant()
    headers = await scim_token(client, tenant, make_user, login)
    base = f"{host(tenant)}/scim/v2"
    config = (await client.get(f"{base}/ServiceProviderConfig", headers=headers)).json()
    assert config["patch"]["supported"] is True
    assert config["filter"]["supported"] is True
    types = (await client.get(f"{base}/ResourceTypes", headers=headers)).json()
    assert {r["id"] for r in types["Resources"]} == {"User", "Group"}
    schemas = (await client.get(f"{base}/Schemas", headers=headers)).json()
    assert USER_SCHEMA in {s["id"] for s in schemas["Resources"]}
