"""Operators change a tenant's plan, seats and branding (PATCH, audited); the console is reachable
only on the platform's host, only after the token and the second factor, and refuses bad input
without writing anything."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pyotp
from sqlalchemy import select

from lms.db.engines import Database
from lms.tenancy.models import OperatorAuditEntry, Tenant, TenantStatus
from lms.tenancy.services.operators import create_operator
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.identity.helpers import outbox
from tests.integration.tenancy.test_operator_api import OPS, Client, bearer
from tests.support import TEST_BASE_DOMAIN

CONSOLE = f"http://{TEST_BASE_DOMAIN}/operator"
CSRF = "test-csrf-token-value"


async def audit_of(db: Database, tenant_id: Any) -> list[OperatorAuditEntry]:
    async with db.operator_sessions() as session:
        rows = await session.execute(
            select(OperatorAuditEntry)
            .where(OperatorAuditEntry.target_tenant_id == tenant_id)
            .order_by(OperatorAuditEntry.created_at)
        )
        return list(rows.scalars())


async def tenant_row(db: Database, tenant_id: Any) -> Tenant | None:
    async with db.operator_sessions() as session:
        return await session.get(Tenant, tenant_id)


# --- PATCH /api/v1/operator/tenants/{id} ------------------------------------------------------------


async def test_operator_changes_plan_seats_and_branding_and_it_is_audited(
    client: Client, db: Database, operator_token: str, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    changed = await client.patch(
        f"{OPS}/tenants/{tenant.id}",
        json={"plan": "enterprise", "seats": 900, "branding": {"primary_color": "#123456"}},
        headers=bearer(operator_token),
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["plan"], body["seats"], body["branding"]) == ("enterprise", 900, {"primary_color": "#123456"})
    assert body["name"] == tenant.name  # not sent, not changed
    (entry,) = [e for e in await audit_of(db, tenant.id) if e.action == "tenant.update"]
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["seats"], entry.after["seats"]) == (tenant.seats, 900)


async def test_bad_changes_are_refused_naming_the_field_and_change_nothing(
    client: Client, db: Database, operator_token: str, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    for payload, field in [
        ({"plan": "platinum"}, "plan"),
        ({"seats": -1}, "seats"),
        ({"branding": {"primary_color": "red"}}, "branding.primary_color"),
        ({"owner": "me"}, "owner"),
    ]:
        answer = await client.patch(f"{OPS}/tenants/{tenant.id}", json=payload, headers=bearer(operator_token))
        assert answer.status_code in (400, 422), answer.text
        assert field in answer.json()["error"].get("field", "") + answer.json()["error"]["message"]
    unchanged = await tenant_row(db, tenant.id)
    assert unchanged is not None
    assert (unchanged.plan, unchanged.seats) == (tenant.plan, tenant.seats)
    missing = await client.patch(f"{OPS}/tenants/{uuid.uuid4()}", json={"seats": 1}, headers=bearer(operator_token))
    assert missing.status_code == 404
    await client.delete(f"{OPS}/tenants/{tenant.id}", headers=bearer(operator_token))
    gone = await client.patch(f"{OPS}/tenants/{tenant.id}", json={"seats": 1}, headers=bearer(operator_token))
    assert gone.status_code == 409


async def test_only_operators_may_change_a_tenant(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    anonymous = await client.patch(f"{OPS}/tenants/{tenant.id}", json={"seats": 1})
    tenant_admin = await client.patch(f"{OPS}/tenants/{tenant.id}", json={"seats": 1}, headers=await login(admin))
    assert anonymous.status_code == 401
    assert tenant_admin.status_code == 403


# --- the console --------------------------------------------------------------------------------------


class Browser:
    """Cookies kept by hand: the console's are Secure, which httpx sends only over https."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.cookies: dict[str, str] = {"lms_csrf": CSRF}

    def _headers(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "Accept": "text/html"}

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in header or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    async def get(self, url: str) -> httpx.Response:
        return self._keep(await self.client.get(url, headers=self._headers(), follow_redirects=False))

    async def post(self, url: str, data: dict[str, str], csrf: bool = True) -> httpx.Response:
        form = {"csrf_token": CSRF, **data} if csrf else data
        return self._keep(await self.client.post(url, data=form, headers=self._headers(), follow_redirects=False))


async def signed_in_operator(client: Client, db: Database) -> Browser:
    email = f"op-{uuid.uuid4().hex[:8]}@platform.test"
    async with db.operator_sessions() as session, session.begin():
        _, token = await create_operator(session, email, "Console test")
    browser = Browser(client)
    answer = await browser.post(f"{CONSOLE}/sign-in", {"email": email, "token": token})
    assert answer.status_code == 303, answer.text
    enrol = await browser.get(f"http://{TEST_BASE_DOMAIN}" + answer.headers["location"])
    secret = re.search(r'class="secret">([A-Z2-7]+)<', enrol.text)
    sealed = re.search(r'name="sealed" value="([^"]+)"', enrol.text)
    assert secret
    assert sealed
    done = await browser.post(
        f"{CONSOLE}/two-step", {"code": pyotp.TOTP(secret.group(1)).now(), "sealed": sealed.group(1)}
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/operator"
    return browser


async def test_the_console_needs_token_and_second_factor_and_lives_on_the_platform_host(
    client: Client, db: Database, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    browser = Browser(client)
    # On a tenant's host the console does not exist.
    tenant_host = await browser.get(f"http://{tenant.slug}.{TEST_BASE_DOMAIN}/operator/sign-in")
    assert tenant_host.status_code == 404
    signed_out = await browser.get(f"{CONSOLE}/health")
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/operator/sign-in?next=/operator/health"
    wrong = await browser.post(f"{CONSOLE}/sign-in", {"email": "nobody@platform.test", "token": "lmsop_wrong"})
    assert wrong.status_code == 401
    assert "operator token is not right" in wrong.text
    no_csrf = await browser.post(f"{CONSOLE}/sign-in", {"email": "a@b.c", "token": "x"}, csrf=False)
    assert no_csrf.status_code == 403
    # The token alone opens nothing: the second step is still to come.
    email = f"op-{uuid.uuid4().hex[:8]}@platform.test"
    async with db.operator_sessions() as session, session.begin():
        _, token = await create_operator(session, email, "Half signed in")
    await browser.post(f"{CONSOLE}/sign-in", {"email": email, "token": token})
    assert (await browser.get(CONSOLE)).status_code == 303
    bad_code = await browser.post(f"{CONSOLE}/two-step", {"code": "000000", "sealed": "forged"})
    # The enrolment form's sealed secret was not ours: the form is shown again, nothing enrolled.
    assert bad_code.status_code == 401
    assert "This form has expired" in bad_code.text

    operator = await signed_in_operator(client, db)
    tenants = await operator.get(CONSOLE)
    assert tenants.status_code == 200
    assert "Tenants" in tenants.text


async def test_suspending_needs_a_reason_and_confirmation_then_the_site_is_suspended(
    client: Client, db: Database, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    operator = await signed_in_operator(client, db)
    url = f"{CONSOLE}/tenants/{tenant.id}/status"

    unconfirmed = await operator.post(url, {"action": "suspend", "reason": "abuse report"})
    no_reason = await operator.post(url, {"action": "suspend", "reason": "", "confirm": "yes"})
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm" in unconfirmed.text
    assert no_reason.status_code == 422
    assert (await tenant_row(db, tenant.id)).status is TenantStatus.ACTIVE  # type: ignore[union-attr]

    done = await operator.post(url, {"action": "suspend", "reason": "abuse report", "confirm": "yes"})
    assert done.status_code == 303
    assert (await tenant_row(db, tenant.id)).status is TenantStatus.SUSPENDED  # type: ignore[union-attr]
    site = await client.get(f"http://{tenant.slug}.{TEST_BASE_DOMAIN}/", headers={"Accept": "text/html"})
    assert site.status_code == 403
    suspend = [e for e in await audit_of(db, tenant.id) if e.action == "tenant.suspend"]
    assert suspend[0].after is not None
    assert suspend[0].after["reason"] == "abuse report"

    wrong_slug = await operator.post(url, {"action": "delete", "reason": "closed", "confirm": "not-the-slug"})
    assert wrong_slug.status_code == 422
    assert (await tenant_row(db, tenant.id)).status is TenantStatus.SUSPENDED  # type: ignore[union-attr]


async def test_creating_a_tenant_invites_its_first_admin_and_bad_input_writes_nothing(
    client: Client, db: Database
) -> None:
    operator = await signed_in_operator(client, db)
    slug = f"new-{uuid.uuid4().hex[:6]}"
    bad = await operator.post(
        f"{CONSOLE}/tenants/new", {"slug": slug, "name": "Initech", "plan": "team", "admin_email": "not-an-address"}
    )
    assert bad.status_code == 422
    assert 'href="#admin_email"' in bad.text
    async with db.operator_sessions() as session:
        assert (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none() is None

    made = await operator.post(
        f"{CONSOLE}/tenants/new",
        {"slug": slug, "name": "Initech", "plan": "team", "seats": "40", "admin_email": "boss@initech.example"},
    )
    assert made.status_code == 303, made.text
    async with db.operator_sessions() as session:
        tenant = (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one()
    assert (tenant.plan.value, tenant.seats) == ("team", 40)
    invitations = await outbox(db, tenant, "boss@initech.example")
    assert len(invitations) == 1
    actions = {e.action for e in await audit_of(db, tenant.id)}
    assert {"tenant.create", "tenant.invite_admin"} <= actions
    page = await operator.get(f"{CONSOLE}/tenants/{tenant.id}")
    assert page.status_code == 200
    assert "Initech" in page.text

    taken = await operator.post(
        f"{CONSOLE}/tenants/new", {"slug": slug, "name": "Again", "plan": "team", "admin_email": "x@initech.example"}
    )
    assert taken.status_code == 409
