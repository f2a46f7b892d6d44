"""A manager reads the compliance report of their own line (direct and indirect reports), read-only:
people outside their line never appear, and the admin report stays closed to them."""

from __future__ import annotations

from datetime import timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.compliance.test_training_rules import published_course
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def test_a_manager_sees_the_training_of_their_line_only(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    manager = await make_user(tenant, display_name="Mia Manager")
    lead = await make_user(tenant, display_name="Leo Lead", manager_id=manager.id)
    indirect = await make_user(tenant, display_name="Ivy Indirect", manager_id=lead.id)
    outsider = await make_user(tenant, display_name="Oscar Outsider")
    course_id = await published_course(db, tenant, "Fire safety")
    now = clock.now()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        for person, due in ((lead, now + timedelta(days=5)), (indirect, now - timedelta(days=1)), (outsider, now)):
            await factories.learning.make_enrollment(
                session, tenant.id, user_id=person.id, course_id=course_id, due_at=due
            )

    headers = await login(manager)
    report = await client.get(
        f"{host(tenant)}/api/v1/team/compliance", params={"course_id": str(course_id)}, headers=headers
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert [r["display_name"] for r in body["items"]] == ["Ivy Indirect", "Leo Lead"]
    assert (body["counts"]["overdue"], body["counts"]["assigned"]) == (1, 1)
    overdue = await client.get(
        f"{host(tenant)}/api/v1/team/compliance",
        params={"course_id": str(course_id), "state": "overdue"},
        headers=headers,
    )
    assert [r["display_name"] for r in overdue.json()["items"]] == ["Ivy Indirect"]
    nobody = await client.get(
        f"{host(tenant)}/api/v1/team/compliance", params={"course_id": str(course_id)}, headers=await login(outsider)
    )
    assert nobody.json()["total"] == 0
    admin_report = await client.get(
        f"{host(tenant)}/api/v1/admin/compliance", params={"course_id": str(course_id)}, headers=headers
    )
    assert admin_report.status_code == 403

    token = await bearer(login, manager)
    site = secure_host(tenant)
    page = await client.get(f"{site}/team/training?course_id={course_id}", headers=browser_headers(token))
    assert page.status_code == 200
    assert "Ivy Indirect" in page.text
    assert "Oscar Outsider" not in page.text
    assert "/api/v1/admin/compliance/export.csv" not in page.text
    team = await client.get(f"{site}/team", headers=browser_headers(token))
    assert 'href="/team/training"' in team.text
