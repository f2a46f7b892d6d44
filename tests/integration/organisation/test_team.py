"""A manager opens their team page: direct and indirect reports, their progress, and the training
that is overdue; people outside their line (or tenant) never appear."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from babel.dates import format_date
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.compliance.services.rules import end_of_day
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def test_manager_sees_direct_and_indirect_reports_and_overdue_training(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    manager = await make_user(tenant, display_name="Mia Manager")
    lead = await make_user(tenant, display_name="Leo Lead", manager_id=manager.id)
    member = await make_user(tenant, display_name="Ivy Indirect", manager_id=lead.id)
    await make_user(tenant, display_name="Oscar Outsider")
    await make_user(tenant, display_name="Gone", manager_id=manager.id, status="deactivated")
    now = clock.now()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        fire = await factories.catalog.make_course(session, tenant.id, title="Fire safety")
        privacy = await factories.catalog.make_course(session, tenant.id, title="Privacy basics")
        await factories.learning.make_enrollment(
            session,
            tenant.id,
            user_id=member.id,
            course_id=fire.id,
            course_owner=tenant.id,
            due_at=now - timedelta(days=3),
            completion_pct=20,
        )
        await factories.learning.make_enrollment(
            session,
            tenant.id,
            user_id=lead.id,
            course_id=privacy.id,
            course_owner=tenant.id,
            due_at=now + timedelta(days=3),
            completion_pct=50,
        )
    team = await client.get(f"{host(tenant)}/api/v1/team", headers=await login(manager))
    assert team.status_code == 200, team.text
    body = team.json()
    assert body["overdue"] == 1
    assert [(m["display_name"], m["depth"], m["overdue"]) for m in body["members"]] == [
        ("Ivy Indirect", 2, 1),
        ("Leo Lead", 1, 0),
    ]
    assert body["members"][0]["enrollments"][0]["course_title"] == "Fire safety"
    assert body["members"][0]["enrollments"][0]["overdue"] is True

    token = await bearer(login, manager)
    page = await client.get(f"{secure_host(tenant)}/team", headers=browser_headers(token))
    assert page.status_code == 200
    assert "Ivy Indirect" in page.text
    assert "Fire safety" in page.text
    assert "1 course is overdue in your team." in page.text
    assert "Oscar Outsider" not in page.text

    # The lead sees only their own line; someone without reports sees an empty team.
    lead_team = (await client.get(f"{host(tenant)}/api/v1/team", headers=await login(lead))).json()
    assert [m["display_name"] for m in lead_team["members"]] == ["Ivy Indirect"]
    alone = (await client.get(f"{host(tenant)}/api/v1/team", headers=await login(member))).json()
    assert alone == {"members": [], "overdue": 0}
    # Nobody of another tenant is in anyone's line there, even a manager holding the same id.
    stranger = await make_user(other, display_name="Stranger", manager_id=None)
    foreign = (await client.get(f"{host(other)}/api/v1/team", headers=await login(stranger))).json()
    assert foreign["members"] == []
    assert (await client.get(f"{host(tenant)}/api/v1/team")).status_code == 401


async def test_each_enrolment_counts_in_one_state_and_due_dates_are_days(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    # East of UTC: a due date's last second (23:59:59 UTC) is already the next morning in Tokyo.
    manager = await make_user(tenant, display_name="Mia Manager", time_zone="Asia/Tokyo", locale="de")
    ann = await make_user(tenant, display_name="Ann Analyst", manager_id=manager.id)
    now = clock.now()
    due_day = (now - timedelta(days=3)).date()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        courses = [await factories.catalog.make_course(session, tenant.id, title=f"Course {i}") for i in range(4)]
        states: list[dict[str, Any]] = [
            # Started and past its due date: overdue only, not also in progress.
            {"due_at": end_of_day(due_day), "completion_pct": 40},
            {"due_at": now + timedelta(days=9), "completion_pct": 10},
            {"completion_pct": 0},
            {"status": "completed", "completion_pct": 100, "completed_at": now - timedelta(days=1)},
        ]
        for course, fields in zip(courses, states, strict=True):
            await factories.learning.make_enrollment(
                session, tenant.id, user_id=ann.id, course_id=course.id, course_owner=tenant.id, **fields
            )

    body = (await client.get(f"{host(tenant)}/api/v1/team", headers=await login(manager))).json()
    [member] = body["members"]
    counts = {k: member[k] for k in ("not_started", "in_progress", "completed", "overdue", "expired")}
    assert counts == {"not_started": 1, "in_progress": 1, "completed": 1, "overdue": 1, "expired": 0}
    assert sum(counts.values()) == len(member["enrollments"])
    assert {e["course_title"]: e["state"] for e in member["enrollments"]} == {
        "Course 0": "overdue",
        "Course 1": "in_progress",
        "Course 2": "assigned",
        "Course 3": "completed",
    }

    page = await client.get(f"{secure_host(tenant)}/team", headers=browser_headers(await bearer(login, manager)))
    assert page.status_code == 200
    shown = format_date(due_day, "medium", locale="de")
    assert f"Course 0 · fällig am {shown}" in page.text
    assert "23:59" not in page.text
    assert "08:59" not in page.text
