"""The hourly reminder job: "due soon" before an enrolment's or assignment's due date, "overdue" after it;
once per learner, item and due date however often it runs, and only to the tenant's own learners."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import select, update

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.models import Enrollment, EnrollmentStatus
from lms.lib import clock
from lms.notifications.models import Notification
from lms.notifications.services.emails import title_of
from lms.notifications.services.reminders import send_due_reminders
from lms.tenancy.models import Tenant, TenantStatus
from lms.web import i18n
from tests import factories
from tests.conftest import MakeTenant, MakeUser


async def reminders_of(db: Database, tenant_id: UUID, user_id: UUID) -> list[tuple[str, str]]:
    async with tenant_session(db.app_sessions, tenant_id) as session:
        rows = await session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id, Notification.kind.in_(("due_soon", "overdue")))
            .order_by(Notification.kind, Notification.created_at)
        )
        return sorted((item.kind, item.params["course"]) for item in rows)


async def enrol(db: Database, tenant: Tenant, user_id: UUID, title: str, due_in: timedelta | None) -> Enrollment:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        course = await factories.catalog.make_course(session, tenant.id, title=title)
        due_at = clock.now() + due_in if due_in is not None else None
        return await factories.learning.make_enrollment(
            session, tenant.id, user_id=user_id, course_id=course.id, due_at=due_at
        )


async def test_a_course_due_tomorrow_and_one_overdue_are_each_reminded_once(
    db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    learner = await make_user(tenant)
    await enrol(db, tenant, learner.id, "Fire safety", timedelta(days=1))
    await enrol(db, tenant, learner.id, "Ladder safety", timedelta(hours=-3))
    await enrol(db, tenant, learner.id, "Next month", timedelta(days=30))
    await enrol(db, tenant, learner.id, "No due date", None)
    await enrol(db, tenant, learner.id, "Long overdue", timedelta(days=-40))
    done = await enrol(db, tenant, learner.id, "Finished", timedelta(hours=5))
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await session.execute(
            update(Enrollment).where(Enrollment.id == done.id).values(status=EnrollmentStatus.COMPLETED)
        )

    await send_due_reminders(db, settings)
    await send_due_reminders(db, settings)  # the next hour's run sends nothing again

    assert await reminders_of(db, tenant.id, learner.id) == [("due_soon", "Fire safety"), ("overdue", "Ladder safety")]
    async with tenant_session(db.app_sessions, tenant.id) as session:
        soon = await session.scalar(
            select(Notification).where(Notification.user_id == learner.id, Notification.kind == "due_soon")
        )
    assert soon is not None
    assert (soon.link or "").startswith("/courses/")
    # Stored as a moment; each reader sees it in their language and time zone.
    due = datetime.fromisoformat(soon.params["due"])
    with i18n.using_locale("de", "Europe/Berlin"):
        shown = title_of("due_soon", soon.params)
    berlin = format_datetime(due, "short", tzinfo=ZoneInfo("Europe/Berlin"), locale="de")
    assert shown == f"Fire safety ist am {berlin} fällig"

    # A day later the course due tomorrow is overdue: one "overdue" more, still one "due soon".
    await send_due_reminders(db, settings, now=clock.now() + timedelta(days=2))
    await send_due_reminders(db, settings, now=clock.now() + timedelta(days=2))
    assert await reminders_of(db, tenant.id, learner.id) == [
        ("due_soon", "Fire safety"),
        ("overdue", "Fire safety"),
        ("overdue", "Ladder safety"),
    ]


async def test_a_moved_due_date_is_reminded_again(
    db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    learner = await make_user(tenant)
    enrollment = await enrol(db, tenant, learner.id, "Fire safety", timedelta(hours=20))
    await send_due_reminders(db, settings)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await session.execute(
            update(Enrollment).where(Enrollment.id == enrollment.id).values(due_at=clock.now() + timedelta(hours=30))
        )
    await send_due_reminders(db, settings)
    await send_due_reminders(db, settings)
    assert await reminders_of(db, tenant.id, learner.id) == [("due_soon", "Fire safety"), ("due_soon", "Fire safety")]


async def test_an_assignment_due_soon_reminds_enrolled_learners_who_have_not_submitted(
    db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    waiting, submitted, finished = [await make_user(tenant) for _ in range(3)]
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assignment = await factories.assessments.make_assignment(
            session, tenant.id, title="Risk report", due_at=clock.now() + timedelta(hours=10)
        )
        for user in (waiting, submitted, finished):
            await factories.learning.make_enrollment(
                session,
                tenant.id,
                user_id=user.id,
                course_id=assignment.course_id,
                status=EnrollmentStatus.COMPLETED if user is finished else EnrollmentStatus.ACTIVE,
            )
        await factories.assessments.make_submission(
            session, tenant.id, assignment_id=assignment.id, user_id=submitted.id
        )

    await send_due_reminders(db, settings)
    await send_due_reminders(db, settings)

    assert await reminders_of(db, tenant.id, waiting.id) == [("due_soon", "Risk report")]
    assert await reminders_of(db, tenant.id, submitted.id) == []
    assert await reminders_of(db, tenant.id, finished.id) == []
    async with tenant_session(db.app_sessions, tenant.id) as session:
        link = await session.scalar(select(Notification.link).where(Notification.user_id == waiting.id))
    assert link == f"/courses/{assignment.course_id}/lessons/{assignment.lesson_id}"


async def test_each_tenants_learners_get_only_their_own_tenants_reminders(
    db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    acme, globex = await make_tenant(), await make_tenant()
    acme_learner, globex_learner = await make_user(acme), await make_user(globex)
    await enrol(db, acme, acme_learner.id, "Acme onboarding", timedelta(hours=12))
    await enrol(db, globex, globex_learner.id, "Not due yet", timedelta(days=20))

    await send_due_reminders(db, settings)

    assert await reminders_of(db, acme.id, acme_learner.id) == [("due_soon", "Acme onboarding")]
    assert await reminders_of(db, globex.id, globex_learner.id) == []
    # Acme's reminder is invisible from Globex's side, and no row names Globex's learner under Acme.
    async with tenant_session(db.app_sessions, globex.id) as session:
        seen = await session.scalars(select(Notification).where(Notification.user_id == acme_learner.id))
        assert seen.all() == []
    assert await reminders_of(db, acme.id, globex_learner.id) == []


async def test_a_suspended_tenants_learners_are_not_reminded(
    db: Database, settings: Settings, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant = await make_tenant()
    learner = await make_user(tenant)
    await enrol(db, tenant, learner.id, "Fire safety", timedelta(hours=12))
    async with db.operator_sessions() as session, session.begin():
        await session.execute(update(Tenant).where(Tenant.id == tenant.id).values(status=TenantStatus.SUSPENDED))
    await send_due_reminders(db, settings)
    assert await reminders_of(db, tenant.id, learner.id) == []
