"""A tenant admin finds people (search, filters, sorting, paging), opens a person's page with their
enrolments, certificates and sign-ins, and changes roles, deactivates, reactivates, re-invites and
resets two-step sign-in; nothing of another tenant is reachable."""

from __future__ import annotations

from datetime import timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from lms.lib import clock
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.identity.helpers import make_member, outbox, secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def test_admin_filters_sorts_and_pages_the_user_list(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"], display_name="Zed Admin")
    boss = await make_user(tenant, display_name="Bea Boss", email="bea@corp.example")
    now = clock.now()
    await make_user(tenant, display_name="Al Sales", groups=["Sales"], manager_id=boss.id, last_login_at=now)
    await make_user(
        tenant, display_name="Cy Sales", groups=["Sales"], manager_id=boss.id, last_login_at=now - timedelta(days=200)
    )
    await make_user(tenant, display_name="Di Ops", groups=["Ops"], external_id="E-77")
    headers = await login(admin)
    url = f"{host(tenant)}/api/v1/users"

    async def names(**params: str | int) -> list[str]:
        answer = await client.get(url, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return [u["display_name"] for u in answer.json()["items"]]

    assert await names(group="Sales", sort="name") == ["Al Sales", "Cy Sales"]
    assert await names(manager_id=str(boss.id), sort="-name") == ["Cy Sales", "Al Sales"]
    assert await names(signed_in="30d") == ["Al Sales"]
    assert "Cy Sales" in await names(signed_in="over90d")
    assert await names(q="E-77") == ["Di Ops"]
    assert await names(sort="name", limit=2, offset=1) == ["Bea Boss", "Cy Sales"]
    bad = await client.get(url, params={"sort": "password"}, headers=headers)
    assert bad.status_code in (400, 422)

    token = await bearer(login, admin)
    listing = await client.get(
        f"{secure_host(tenant)}/admin/users", params={"group": "Sales", "sort": "name"}, headers=browser_headers(token)
    )
    assert listing.status_code == 200
    assert "Al Sales" in listing.text
    assert "Cy Sales" in listing.text
    assert "Di Ops" not in listing.text
    by_manager = await client.get(
        f"{secure_host(tenant)}/admin/users", params={"manager": "bea@corp.example"}, headers=browser_headers(token)
    )
    assert "Al Sales" in by_manager.text
    assert "Di Ops" not in by_manager.text


async def test_person_page_shows_learning_and_sign_ins_and_actions_work(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    person = await make_member(make_user, tenant, display_name="Grace Learner", mfa_enabled=True)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        course = await factories.catalog.make_course(session, tenant.id, title="Fire safety")
        await factories.learning.make_enrollment(
            session, tenant.id, user_id=person.id, course_id=course.id, course_owner=tenant.id, completion_pct=40
        )
    await login(person)
    headers = await login(admin)
    overview = await client.get(f"{host(tenant)}/api/v1/admin/users/{person.id}/overview", headers=headers)
    assert overview.status_code == 200, overview.text
    body = overview.json()
    assert body["enrollments"][0]["course_title"] == "Fire safety"
    assert body["enrollments"][0]["completion_pct"] == 40

    token = await bearer(login, admin)
    site = secure_host(tenant)
    page = await client.get(f"{site}/admin/users/{person.id}", headers=browser_headers(token))
    assert page.status_code == 200
    assert "Fire safety" in page.text
    assert "Reset two-step sign-in" in page.text

    async def act(action: str, **form: str) -> str:
        answer = await client.post(
            f"{site}/admin/users/{person.id}/{action}",
            data={"csrf_token": CSRF, **form},
            headers=browser_headers(token),
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    assert (await act("mfa-reset")).endswith("done=mfa")
    assert (await act("deactivate")).endswith("done=deactivated")
    assert (await act("reactivate")).endswith("done=reactivated")
    await act("roles", roles="instructor")
    async with tenant_session(db.app_sessions, tenant.id) as session:
        after = await session.get(User, person.id)
        assert after is not None
        assert after.mfa_enabled is False
        assert after.totp_secret_encrypted is None
        assert after.roles == ["instructor"]
        assert after.status.value == "active"

    # An admin cannot take their own admin role away or deactivate themselves: the page says why.
    own = await client.post(
        f"{site}/admin/users/{admin.id}/deactivate", data={"csrf_token": CSRF}, headers=browser_headers(token)
    )
    assert own.status_code == 422
    assert "cannot deactivate your own account" in own.text.lower()
    no_role = await client.post(
        f"{site}/admin/users/{person.id}/roles", data={"csrf_token": CSRF}, headers=browser_headers(token)
    )
    assert no_role.status_code == 422
    assert "Choose at least one role." in no_role.text


async def test_admin_invites_from_the_page_and_resends_the_invitation(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    token = await bearer(login, admin)
    site = secure_host(tenant)
    form = {"csrf_token": CSRF, "email": "new@corp.example", "display_name": "New Hire", "roles": "learner"}
    missing = await client.post(
        f"{site}/admin/users/new", data={**form, "email": "nope"}, headers=browser_headers(token)
    )
    assert missing.status_code == 422
    assert "right format" in missing.text
    created = await client.post(
        f"{site}/admin/users/new",
        data={**form, "send_invitation": "on"},
        headers=browser_headers(token),
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    user_path = location.split("?")[0]
    again = await client.post(
        f"{site}{user_path}/invitation",
        data={"csrf_token": CSRF},
        headers=browser_headers(token),
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert len(await outbox(db, tenant, "new@corp.example")) == 2
    duplicate = await client.post(f"{site}/admin/users/new", data=form, headers=browser_headers(token))
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.text


async def test_people_of_another_tenant_are_not_reachable(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    stranger = await make_user(other, display_name="Stranger")
    headers = await login(admin)
    token = await bearer(login, admin)
    site = secure_host(tenant)
    assert (
        await client.get(f"{host(tenant)}/api/v1/admin/users/{stranger.id}/overview", headers=headers)
    ).status_code == 404
    assert (
        await client.post(f"{host(tenant)}/api/v1/users/{stranger.id}/mfa/reset", headers=headers)
    ).status_code == 404
    assert (await client.get(f"{site}/admin/users/{stranger.id}", headers=browser_headers(token))).status_code == 404
    for action in ("deactivate", "reactivate", "invitation", "mfa-reset", "roles", "groups"):
        answer = await client.post(
            f"{site}/admin/users/{stranger.id}/{action}",
            data={"csrf_token": CSRF, "roles": "learner"},
            headers=browser_headers(token),
        )
        assert answer.status_code == 404, action
    listing = await client.get(f"{site}/admin/users", params={"q": "Stranger"}, headers=browser_headers(token))
    assert stranger.email not in listing.text
    assert "No users match" in listing.text
    learner = await make_user(tenant)
    learner_token = await bearer(login, learner)
    assert (await client.get(f"{site}/admin/users", headers=browser_headers(learner_token))).status_code == 403


async def test_admin_actions_and_imports_are_in_the_audit_log(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant(seats=0)
    admin = await make_user(tenant, roles=["tenant_admin"])
    person = await make_member(make_user, tenant, mfa_enabled=True)
    token = await bearer(login, admin)
    site = secure_host(tenant)
    reset = await client.post(
        f"{site}/admin/users/{person.id}/mfa-reset",
        data={"csrf_token": CSRF},
        headers=browser_headers(token),
        follow_redirects=False,
    )
    assert reset.status_code == 303
    log = await client.get(f"{host(tenant)}/api/v1/admin/audit", headers=await login(admin))
    assert log.status_code == 200, log.text
    assert "user.mfa_reset" in [e["action"] for e in log.json()["items"]]
