"""Course analytics from the rollups: nothing shows until the worker's refresh has run; after it the
charts, their tables and the gradebook (filter, sort, CSV) show the learners' progress. Only the
course's staff open them, and another tenant's rows never count."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.analytics.courses.services import refresh_all, refresh_tenant
from lms.catalog.models import Course
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.models import EnrollmentStatus, LessonProgress, ProgressStatus
from tests.conftest import Login, MakeTenant, MakeUser
from tests.factories.base import add
from tests.factories.catalog import make_lesson, make_module
from tests.factories.learning import make_enrollment
from tests.integration.catalog.test_studio_pages import create_course, headers_of
from tests.integration.identity.helpers import secure_host

Client = AsyncTestClient[Litestar]


async def test_rollups_feed_the_charts_and_the_gradebook(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    instructor = await make_user(tenant, roles=["instructor"])
    headers = await headers_of(login, instructor)
    site = secure_host(tenant)
    course_id = await create_course(client, site, headers)
    ada = await make_user(tenant, display_name="Ada Lovelace", email="ada@example.com")
    bob = await make_user(tenant, display_name="=Bob", email="bob@example.com")
    async with tenant_session(db.app_sessions, tenant.id) as session:
        cid = UUID(course_id)
        course = await session.get(Course, cid)
        module = await make_module(session, tenant.id, course, title="Basics", position=1)
        first = await make_lesson(session, tenant.id, module, title="Exits", type="text", position=1)
        second = await make_lesson(session, tenant.id, module, title="Alarms", type="text", position=2)
        done = datetime(2026, 11, 20, 10, tzinfo=UTC)
        for user, pct, lessons in ((ada, 100.0, [first, second]), (bob, 50.0, [first])):
            enrollment = await make_enrollment(
                session, tenant.id, user_id=user.id, course_id=cid, completion_pct=pct, last_activity_at=done,
                status=EnrollmentStatus.COMPLETED if pct == 100 else EnrollmentStatus.ACTIVE,
                completed_at=done if pct == 100 else None,
            )  # fmt: skip
            for lesson in lessons:
                await add(
                    session,
                    LessonProgress(
                        tenant_id=tenant.id, enrollment_id=enrollment.id, user_id=user.id, lesson_id=lesson.id,
                        lesson_owner=tenant.id, status=ProgressStatus.COMPLETED, score=80.0, last_event_at=done,
                    ),
                )  # fmt: skip
            if user is bob:  # started the second lesson, did not finish it
                started = LessonProgress(
                    tenant_id=tenant.id, enrollment_id=enrollment.id, user_id=user.id, lesson_id=second.id,
                    lesson_owner=tenant.id, status=ProgressStatus.IN_PROGRESS, last_event_at=done,
                )  # fmt: skip
                await add(session, started)

    base = f"{site}/teach/courses/{course_id}"
    before = await client.get(f"{base}/analytics", headers=headers)
    assert before.status_code == 200
    assert "No enrolments yet." in before.text  # pages read the rollups, not the learning rows

    assert await refresh_all(db) >= 1
    page = await client.get(f"{base}/analytics", headers=headers)
    assert page.status_code == 200
    assert '<svg class="chart"' in page.text
    assert 'role="img"' in page.text
    assert "Alarms" in page.text
    assert ">2</strong> enrolled" in page.text
    assert ">1</strong> completed" in page.text

    book = await client.get(f"{base}/gradebook?sort=progress", headers=headers)
    assert book.status_code == 200
    assert book.text.index("Ada Lovelace") < book.text.index("=Bob")
    filtered = await client.get(f"{base}/gradebook?status=completed", headers=headers)
    assert "Ada Lovelace" in filtered.text
    assert "=Bob" not in filtered.text
    exported = await client.get(f"{base}/gradebook.csv?sort=name", headers=headers)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r["name"] for r in rows] == ["'=Bob", "Ada Lovelace"]  # a formula-like name stays text
    assert rows[1]["progress_pct"] == "100.0"

    # A refresh with no new activity rewrites nothing and keeps the figures.
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert await refresh_tenant(session, tenant.id) == 0
    assert ">2</strong> enrolled" in (await client.get(f"{base}/analytics", headers=headers)).text

    colleague = await headers_of(login, await make_user(tenant, roles=["instructor"]))
    assert (await client.get(f"{base}/gradebook", headers=colleague)).status_code == 403
    assert (await client.get(f"{base}/gradebook.csv", headers=colleague)).status_code == 403
    other = await make_tenant()
    stranger = await headers_of(login, await make_user(other, roles=["tenant_admin"]))
    foreign = f"{secure_host(other)}/teach/courses/{course_id}/analytics"
    assert (await client.get(foreign, headers=stranger)).status_code == 404
