"""A tenant admin creates a SCIM token on the console page (shown once), sees when it was last used,
and revokes it after a confirmation; the identity provider using it is refused from then on."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import ScimToken
from lms.tenancy.models import Plan
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def test_admin_creates_uses_and_revokes_a_scim_token(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = browser_headers(await bearer(login, await make_user(tenant, roles=["tenant_admin"])))
    base = secure_host(tenant)

    empty = await client.get(f"{base}/admin/scim", headers=headers)
    assert empty.status_code == 200
    assert empty.headers["content-type"].startswith("text/html")
    assert "No SCIM token yet" in empty.text
    assert f"{base}/scim/v2" in empty.text

    nameless = await client.post(f"{base}/admin/scim", data={"csrf_token": CSRF, "name": " "}, headers=headers)
    assert nameless.status_code == 422
    assert nameless.text.count("Enter a name, such as the identity provider that uses it.") == 2
    too_long = await client.post(f"{base}/admin/scim", data={"csrf_token": CSRF, "name": "x" * 201}, headers=headers)
    assert too_long.status_code == 422
    assert "Enter at most 200 characters." in too_long.text

    created = await client.post(f"{base}/admin/scim", data={"csrf_token": CSRF, "name": "Okta"}, headers=headers)
    assert created.status_code == 201
    raw = re.search(r'id="new-token">(scim_[A-Za-z0-9_-]+)<', created.text)
    assert raw is not None
    token = raw.group(1)

    # Shown once: the list never carries it again.
    listed = await client.get(f"{base}/admin/scim", headers=headers)
    assert "Okta" in listed.text
    assert token not in listed.text
    assert "Never" in listed.text

    scim = {"Authorization": f"Bearer {token}"}
    assert (await client.get(f"{base}/scim/v2/Users", headers=scim)).status_code == 200
    used = await client.get(f"{base}/admin/scim", headers=headers)
    assert "Never" not in used.text

    async with tenant_session(db.app_sessions, tenant.id) as session:
        token_id = (await session.execute(select(ScimToken.id))).scalar_one()
    confirm = await client.get(f"{base}/admin/scim/{token_id}/revoke", headers=headers)
    assert confirm.status_code == 200
    assert "Revoke the token “Okta”?" in confirm.text
    revoked = await client.post(
        f"{base}/admin/scim/{token_id}/revoke", data={"csrf_token": CSRF}, headers=headers, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert (await client.get(f"{base}/scim/v2/Users", headers=scim)).status_code == 401
    after = await client.get(f"{base}/admin/scim?done=revoked", headers=headers)
    assert "The token is revoked." in after.text
    assert "1 revoked token" in after.text
    # A revoked token has no revoke page any more.
    assert (await client.get(f"{base}/admin/scim/{token_id}/revoke", headers=headers)).status_code == 404


async def test_scim_pages_are_for_this_sites_admins_on_plans_with_scim(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    headers = browser_headers(await bearer(login, await make_user(tenant, roles=["tenant_admin"])))
    other_headers = browser_headers(await bearer(login, await make_user(other, roles=["tenant_admin"])))
    made = await client.post(
        f"{secure_host(other)}/admin/scim", data={"csrf_token": CSRF, "name": "Theirs"}, headers=other_headers
    )
    assert made.status_code == 201
    async with tenant_session(db.app_sessions, other.id) as session:
        foreign_id = (await session.execute(select(ScimToken.id))).scalar_one()
    base = secure_host(tenant)
    assert (await client.get(f"{base}/admin/scim/{foreign_id}/revoke", headers=headers)).status_code == 404
    refused = await client.post(f"{base}/admin/scim/{foreign_id}/revoke", data={"csrf_token": CSRF}, headers=headers)
    assert refused.status_code == 404
    assert "Theirs" not in (await client.get(f"{base}/admin/scim", headers=headers)).text

    learner = browser_headers(await bearer(login, await make_user(tenant, roles=["learner"])))
    denied = await client.get(f"{base}/admin/scim", headers=learner)
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("text/html")

    trial = await make_tenant(plan=Plan.TRIAL)
    trial_headers = browser_headers(await bearer(login, await make_user(trial, roles=["tenant_admin"])))
    gated = await client.get(f"{secure_host(trial)}/admin/scim", headers=trial_headers)
    assert gated.status_code == 402
    assert "/admin/billing" in gated.text
    overview = await client.get(f"{secure_host(trial)}/admin/sso", headers=trial_headers)
    assert "Your plan does not include SCIM provisioning." in overview.text
