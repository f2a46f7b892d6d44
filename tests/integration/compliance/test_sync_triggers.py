"""Every way someone can join a group sends the tenant's compliance sync with its commit: the admin
API and pages (a person's groups, an invitation with groups, a reactivation), groups (a rule, a new
parent), SCIM (users and groups) and single sign-on (a first sign-in, new asserted groups). Changes
that bring nobody in (a new name, a group without a rule) send nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.compliance.services.jobs import sync_tenant
from lms.compliance.tasks import SYNC_TENANT_TASK
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import SsoProvider
from lms.identity.sso.services.accounts import provision_user
from lms.identity.sso.services.provisioning import AssertedIdentity
from lms.lib import jobs
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser, host

Client = AsyncTestClient[Litestar]


async def syncs_sent(db: Database, tenant: Tenant, sent: list[jobs.Job], change: Callable[[], Awaitable[Any]]) -> int:
    """How many syncs `change` sent; the pending request is taken afterwards, as the job would."""
    before = len(sent)
    await change()
    count = sum(1 for job in sent[before:] if job.name == SYNC_TENANT_TASK and job.args[0] == str(tenant.id))
    await sync_tenant(db.app_sessions, tenant.id)
    return count


async def test_admin_changes_that_bring_someone_into_a_group_send_a_sync(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login, sent: list[jobs.Job]
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    users = f"{host(tenant)}/api/v1/users"
    groups = f"{host(tenant)}/api/v1/admin/groups"
    person = await make_user(tenant, email="pat@corp.example")

    async def call(method: str, url: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == status, response.text
        return response.json()

    def edit(body: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        return lambda: call("PATCH", f"{users}/{person.id}", body)

    assert await syncs_sent(db, tenant, sent, edit({"groups": ["Sales"]})) == 1
    assert await syncs_sent(db, tenant, sent, edit({"display_name": "Pat"})) == 0
    assert await syncs_sent(db, tenant, sent, edit({"groups": ["Sales"]})) == 0
    invite = {"email": "new@corp.example", "display_name": "New", "groups": ["Sales"], "send_invitation": False}
    assert await syncs_sent(db, tenant, sent, lambda: call("POST", users, invite, 201)) == 1
    await call("POST", f"{users}/{person.id}/deactivate")
    assert await syncs_sent(db, tenant, sent, lambda: call("POST", f"{users}/{person.id}/reactivate")) == 1

    plain = {"name": "Everyone"}
    assert await syncs_sent(db, tenant, sent, lambda: call("POST", groups, plain, 201)) == 0
    ruled = {"name": "Berlin", "rule_attribute": "location", "rule_value": "Berlin"}
    made: dict[str, Any] = {}

    async def make_ruled() -> None:
        made.update(await call("POST", groups, ruled, 201))

    assert await syncs_sent(db, tenant, sent, make_ruled) == 1
    moved = {"name": "Berlin", "parent_id": None, "rule_attribute": "location", "rule_value": "Berlin Mitte"}
    assert await syncs_sent(db, tenant, sent, lambda: call("PUT", f"{groups}/{made['id']}", moved)) == 1

    # An attribute the rule matches: the sync puts the person in the dynamic group.
    assert await syncs_sent(db, tenant, sent, edit({"attributes": {"location": "Berlin Mitte"}})) == 1
    person_now = await call("GET", f"{users}/{person.id}")
    assert person_now["attributes"] == {"location": "Berlin Mitte"}
    assert sorted(person_now["groups"]) == ["Berlin", "Sales"]
    assert await syncs_sent(db, tenant, sent, edit({"attributes": {"location": "Berlin Mitte"}})) == 0
    refused = await client.patch(f"{users}/{person.id}", json={"attributes": {"Bad Name": "x"}}, headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "attributes"


async def test_scim_users_and_groups_send_a_sync(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login, sent: list[jobs.Job]
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    token = await client.post(f"{host(tenant)}/api/v1/scim-tokens", json={"name": "Okta"}, headers=headers)
    scim = {"Authorization": f"Bearer {token.json()['token']}", "Content-Type": "application/scim+json"}
    base = f"{host(tenant)}/scim/v2"
    created: dict[str, Any] = {}

    async def post(path: str, doc: dict[str, Any]) -> None:
        response = await client.post(f"{base}/{path}", content=json.dumps(doc).encode(), headers=scim)
        assert response.status_code == 201, response.text
        created[path] = response.json()

    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@corp.example"}
    assert await syncs_sent(db, tenant, sent, lambda: post("Users", user)) == 1
    team = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Sales",
        "members": [{"value": created["Users"]["id"]}],
    }
    assert await syncs_sent(db, tenant, sent, lambda: post("Groups", team)) == 1


async def test_single_sign_on_sends_a_sync_on_a_first_sign_in_and_on_new_groups(
    db: Database, make_tenant: MakeTenant, sent: list[jobs.Job]
) -> None:
    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        provider = SsoProvider(tenant_id=tenant.id, kind="oidc", name="Acme", config={"trust_unverified_email": True})
        session.add(provider)
        await session.flush()
        provider_id = provider.id
    subject = f"sub-{uuid.uuid4().hex}"

    def sign_in(groups: list[str]) -> Callable[[], Awaitable[Any]]:
        identity = AssertedIdentity(
            subject=subject,
            email="sso@corp.example",
            email_verified=True,
            display_name="Sso Person",
            groups=groups,
            group_roles=frozenset(),
        )

        async def run() -> None:
            async with tenant_session(db.app_sessions, tenant.id) as session:
                row = await session.get(SsoProvider, provider_id)
                assert row is not None
                await provision_user(session, row, identity)

        return run

    assert await syncs_sent(db, tenant, sent, sign_in(["Sales"])) == 1
    assert await syncs_sent(db, tenant, sent, sign_in(["Sales"])) == 0
    assert await syncs_sent(db, tenant, sent, sign_in(["Sales", "Support"])) == 1
