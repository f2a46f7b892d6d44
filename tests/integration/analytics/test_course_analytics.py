"""Course analytics from the rollups: nothing shows until the worker's refresh has run; after it the
charts, their tables and the gradebook (filter, sort, CSV) show the learners' progress. Only the
course's staff open them, and another tenant's rows never count."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from lms.analytics.courses.models import CourseDay, LearnerStats, LessonStats
from lms.analytics.courses.services import rebuild_course, refresh_all, refresh_tenant
from lms.catalog.models import Course
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.models import Enrollment, EnrollmentStatus, LessonProgress, ProgressStatus
from lms.learning.services.recertification import reopen_for_recertification
from lms.lib import clock
from tests.conftest import Login, MakeTenant, MakeUser
from tests.factories.base import add
from tests.factories.catalog import make_course, make_lesson, make_module
from tests.factories.learning import make_enrollment
from tests.integration.catalog.test_studio_pages import create_course, headers_of
from tests.integration.identity.helpers import secure_host

Client = AsyncTestClient[Litestar]
NOW = timedelta(0)  # no settling time: the tests write nothing concurrently


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

    assert await refresh_all(db, settle=NOW) >= 1
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
        assert await refresh_tenant(session, tenant.id, settle=NOW) == 0
    assert ">2</strong> enrolled" in (await client.get(f"{base}/analytics", headers=headers)).text

    colleague = await headers_of(login, await make_user(tenant, roles=["instructor"]))
    assert (await client.get(f"{base}/gradebook", headers=colleague)).status_code == 403
    assert (await client.get(f"{base}/gradebook.csv", headers=colleague)).status_code == 403
    other = await make_tenant()
    stranger = await headers_of(login, await make_user(other, roles=["tenant_admin"]))
    foreign = f"{secure_host(other)}/teach/courses/{course_id}/analytics"
    assert (await client.get(foreign, headers=stranger)).status_code == 404


async def _rollups(session: Any, course_id: UUID) -> dict[str, list[tuple[Any, ...]]]:
    """A course's rollup rows without their ids and timestamps, in a fixed order (averages rounded:
    summing the same scores in another order may differ in the last bit)."""

    def rounded(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(round(v, 9) if isinstance(v, float) else v for v in row)

    tables = {
        "days": (CourseDay, ["day", "enrolments", "completions"]),
        "lessons": (LessonStats, ["lesson_id", "started", "completed", "average_score"]),
        "learners": (
            LearnerStats,
            [
                "user_id",
                "status",
                "enrolled_at",
                "completion_pct",
                "lessons_completed",
                "average_score",
                "completed_at",
                "last_activity_at",
                "progress_activity_at",
            ],
        ),
    }
    result = {}
    for name, (model, columns) in tables.items():
        cols = [getattr(model, c) for c in columns]
        rows = await session.execute(select(*cols).where(model.course_id == course_id).order_by(cols[0]))
        result[name] = [rounded(tuple(row)) for row in rows]
    return result


async def test_refresh_after_new_activity_gives_the_rows_of_a_full_rebuild(
    db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    people = [await make_user(tenant) for _ in range(5)]
    ada, bob, cy, dee, eve = people
    day = datetime(2026, 11, 20, 10, tzinfo=UTC)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        course = await make_course(session, tenant.id)
        other_course = await make_course(session, tenant.id)
        module = await make_module(session, tenant.id, course)
        lessons = [
            await make_lesson(session, tenant.id, module, title=f"Lesson {n}", type="text", position=n)
            for n in range(1, 5)
        ]
        enrolments = {}
        for n, user in enumerate((ada, bob, cy, dee)):
            enrolments[user.id] = await make_enrollment(
                session, tenant.id, user_id=user.id, course_id=course.id, completion_pct=25.0 * n,
                last_activity_at=day, created_at=day - timedelta(days=n),
            )  # fmt: skip
            for position, lesson in enumerate(lessons[: n + 1]):
                await add(
                    session,
                    LessonProgress(
                        tenant_id=tenant.id, enrollment_id=enrolments[user.id].id, user_id=user.id,
                        lesson_id=lesson.id, lesson_owner=tenant.id,
                        status=ProgressStatus.COMPLETED if position < n else ProgressStatus.IN_PROGRESS,
                        score=50.0 + 10 * position if position % 2 else None, last_event_at=day,
                    ),
                )  # fmt: skip
        await make_enrollment(session, tenant.id, user_id=ada.id, course_id=other_course.id, last_activity_at=day)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert await refresh_tenant(session, tenant.id, settle=NOW) == 2

    later = clock.now()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        # Ada completes her lesson with a score (the fold writes the row and the enrolment).
        progress = await session.scalar(
            select(LessonProgress).where(LessonProgress.user_id == ada.id, LessonProgress.lesson_id == lessons[0].id)
        )
        assert progress is not None
        progress.status, progress.score, progress.last_event_at, progress.updated_at = (
            ProgressStatus.COMPLETED, 91.0, later, later,
        )  # fmt: skip
        ada_enrolment = await session.get(Enrollment, enrolments[ada.id].id)
        assert ada_enrolment is not None
        ada_enrolment.completion_pct, ada_enrolment.last_activity_at = 100.0, later
        ada_enrolment.status, ada_enrolment.completed_at = EnrollmentStatus.COMPLETED, later
        # Bob's enrolment alone changes (activity elsewhere in the course, no progress row written).
        bob_enrolment = await session.get(Enrollment, enrolments[bob.id].id)
        assert bob_enrolment is not None
        bob_enrolment.last_activity_at, bob_enrolment.updated_at = later, later
        # Eve enrols and starts a lesson; Dee's enrolment is removed (her progress goes with it).
        eve_enrolment = await make_enrollment(
            session, tenant.id, user_id=eve.id, course_id=course.id, last_activity_at=later
        )
        await add(
            session,
            LessonProgress(
                tenant_id=tenant.id, enrollment_id=eve_enrolment.id, user_id=eve.id, lesson_id=lessons[3].id,
                lesson_owner=tenant.id, status=ProgressStatus.IN_PROGRESS, score=70.0, last_event_at=later,
            ),
        )  # fmt: skip
        dee_enrolment = await session.get(Enrollment, enrolments[dee.id].id)
        await session.delete(dee_enrolment)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert await refresh_tenant(session, tenant.id, settle=NOW) == 1  # only the course with activity
        refreshed = await _rollups(session, course.id)
        await rebuild_course(session, tenant.id, course.id)
        assert refreshed == await _rollups(session, course.id)

    # Cy's enrolment is reopened for recertification: her progress rows go, her completion starts again.
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert await reopen_for_recertification(session, [enrolments[cy.id].id], clock.now()) == 0  # not completed
        cy_enrolment = await session.get(Enrollment, enrolments[cy.id].id)
        assert cy_enrolment is not None
        cy_enrolment.status = EnrollmentStatus.COMPLETED
        await session.flush()
        assert await reopen_for_recertification(session, [cy_enrolment.id], clock.now()) == 1
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert await refresh_tenant(session, tenant.id, settle=NOW) == 1
    async with tenant_session(db.app_sessions, tenant.id) as session:
        refreshed = await _rollups(session, course.id)
        await rebuild_course(session, tenant.id, course.id)
        rebuilt = await _rollups(session, course.id)

    assert refreshed == rebuilt
    learners = {row[0]: row for row in refreshed["learners"]}
    assert set(learners) == {ada.id, bob.id, cy.id, eve.id}
    assert learners[cy.id][4] == 0  # her completed lessons went with the reopening
    assert learners[ada.id][1] == "completed"
    assert learners[ada.id][4] == 1
    assert learners[bob.id][7] == later  # the enrolment's activity
    assert {row[0]: row[1] for row in refreshed["lessons"]}[lessons[3].id] == 1  # Eve only, Dee gone
