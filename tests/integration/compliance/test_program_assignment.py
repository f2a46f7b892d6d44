"""An administrator assigns a program: each of its published courses is assigned to the group, once."""

from __future__ import annotations

from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.catalog.models import ProgramCourse
from lms.catalog.schemas import CourseStatus
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.tenancy.models import Tenant
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.factories.base import add
from tests.integration.compliance.test_training_rules import enrolments, group, published_course
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import CSRF, bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def onboarding_program(db: Database, tenant: Tenant, courses: list[UUID]) -> UUID:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        program = await factories.catalog.make_program(
            session, tenant.id, title="Onboarding", status=CourseStatus.PUBLISHED
        )
        for position, course_id in enumerate(courses, 1):
            await add(
                session,
                ProgramCourse(
                    tenant_id=tenant.id,
                    program_id=program.id,
                    course_id=course_id,
                    course_owner=tenant.id,
                    position=position,
                ),
            )
        return program.id


async def test_a_program_assigns_each_published_course_once(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    fire = await published_course(db, tenant, "Fire safety")
    privacy = await published_course(db, tenant, "Privacy")
    async with tenant_session(db.app_sessions, tenant.id) as session:
        draft = (await factories.catalog.make_course(session, tenant.id, title="Not yet")).id
    program_id = await onboarding_program(db, tenant, [fire, draft, privacy])
    team = await group(db, tenant, "Team")
    await make_user(tenant, email="new@corp.example", groups=["Team"])
    url = f"{host(tenant)}/api/v1/admin/training-assignments"
    # Fire safety is already assigned to the team: the program adds the rest.
    assert (
        await client.post(url, json={"course_id": str(fire), "group_id": str(team), "due_days": 10}, headers=headers)
    ).status_code == 201

    made = await client.post(
        f"{url}/programs",
        json={"program_id": str(program_id), "group_id": str(team), "due_days": 30},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    assert [(r["course_title"], r["enrolled"]) for r in made.json()] == [("Privacy", 1)]
    assert set(await enrolments(db, tenant, privacy)) == {"new@corp.example"}
    assert await enrolments(db, tenant, draft) == {}

    again = await client.post(
        f"{url}/programs",
        json={"program_id": str(program_id), "group_id": str(team), "due_days": 30},
        headers=headers,
    )
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "program_id"
    unknown = await client.post(
        f"{url}/programs", json={"program_id": str(team), "group_id": str(team), "due_days": 30}, headers=headers
    )
    assert unknown.status_code in (400, 422)
    assert unknown.json()["error"]["field"] == "program_id"
    no_due = await client.post(
        f"{url}/programs", json={"program_id": str(program_id), "user_email": "new@corp.example"}, headers=headers
    )
    assert no_due.status_code in (400, 422)
    assert no_due.json()["error"]["field"] == "due_date"
    assert len((await client.get(url, headers=headers)).json()["items"]) == 2


async def test_admin_assigns_a_program_on_the_page(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    token = await bearer(login, await make_user(tenant, roles=["tenant_admin"]))
    site = secure_host(tenant)
    first = await published_course(db, tenant, "First steps")
    second = await published_course(db, tenant, "Second steps")
    program_id = await onboarding_program(db, tenant, [first, second])
    await make_user(tenant, email="pat@corp.example")
    form = await client.get(f"{site}/admin/training", headers=browser_headers(token))
    assert f'value="program:{program_id}"' in form.text
    assert "Program: Onboarding" in form.text
    added = await client.post(
        f"{site}/admin/training",
        data={
            "csrf_token": CSRF,
            "course_id": f"program:{program_id}",
            "target": "person",
            "user_email": "pat@corp.example",
            "due": "date",
            "due_date": "2099-06-30",
        },
        headers=browser_headers(token),
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    assert set(await enrolments(db, tenant, first)) == {"pat@corp.example"}
    assert set(await enrolments(db, tenant, second)) == {"pat@corp.example"}
