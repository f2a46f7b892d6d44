"""A learner who finished course A is recommended what learners of A also took, with the reason; never a
course of another tenant, one already finished or in progress, nor one closed to self-enrolment. Next in
a program and popular in the team are blended in; streaks and the weekly goal show on My learning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from lms.analytics.recommendations.services import count_streak, recommend, recompute_similarities, streak_of
from lms.catalog.models import Course, CourseStatus
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.models import EnrollmentStatus
from lms.tenancy.models import Tenant
from tests.conftest import Login, MakeTenant, MakeUser
from tests.factories.catalog import make_course, make_program
from tests.factories.identity import make_user
from tests.factories.learning import make_enrollment, make_progress_event
from tests.integration.identity.helpers import secure_host
from tests.integration.web.test_pages import bearer, browser_headers

Client = AsyncTestClient[Litestar]


async def published(session: AsyncSession, tenant: Tenant, title: str, **fields: object) -> Course:
    return await make_course(session, tenant.id, title=title, status=CourseStatus.PUBLISHED, **fields)


async def take(session: AsyncSession, tenant: Tenant, user_id: UUID, *courses: Course, done: bool = False) -> None:
    for course in courses:
        status = EnrollmentStatus.COMPLETED if done else EnrollmentStatus.ACTIVE
        await make_enrollment(session, tenant.id, user_id=user_id, course_id=course.id, status=status)


async def test_a_finished_course_leads_to_what_its_learners_also_took_and_never_elsewhere(
    client: Client, db: Database, make_tenant: MakeTenant, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        privacy = await published(session, tenant, "Data privacy")
        phishing = await published(session, tenant, "Phishing awareness")
        passwords = await published(session, tenant, "Password hygiene")
        closed = await published(session, tenant, "Board briefing", self_enrollment=False)
        cooking = await published(session, tenant, "Cooking for teams")
        for _ in range(4):
            peer = await make_user(session, tenant.id)
            await take(session, tenant, peer.id, privacy, phishing, passwords, closed, done=True)
        loner = await make_user(session, tenant.id)
        await take(session, tenant, loner.id, cooking)
        learner = await make_user(session, tenant.id)
        await take(session, tenant, learner.id, privacy, done=True)
        await take(session, tenant, learner.id, passwords)
        assert await recompute_similarities(session, tenant.id) > 0
    async with tenant_session(db.app_sessions, other.id) as session:
        foreign = await published(session, other, "Privacy deep dive")
        for _ in range(5):
            peer = await make_user(session, other.id)
            await take(session, other, peer.id, foreign)
        await recompute_similarities(session, other.id)

    async with tenant_session(db.app_sessions, tenant.id) as session:
        found = await recommend(session, learner.id)
    assert [(r.title, r.reason, r.because) for r in found] == [("Phishing awareness", "similar", "Data privacy")]

    site = secure_host(tenant)
    learner_user = await _user(db, tenant, learner.id)
    api = (await client.get(f"{site}/api/v1/me/recommendations", headers=await login(learner_user))).json()
    assert [(i["title"], i["reason_text"]) for i in api["items"]] == [
        ("Phishing awareness", "Because you took Data privacy")
    ]
    home = await client.get(f"{site}/", headers=browser_headers(await bearer(login, learner_user)))
    assert "Recommended for you" in home.text
    assert "Because you took Data privacy" in home.text
    assert "Privacy deep dive" not in home.text
    assert "Board briefing" not in home.text


async def _user(db: Database, tenant: Tenant, user_id: UUID):  # type: ignore[no-untyped-def]
    from lms.identity.models import User

    async with tenant_session(db.app_sessions, tenant.id) as session:
        return await session.get(User, user_id)


async def test_next_in_program_and_popular_in_the_team_are_blended_with_their_reasons(
    db: Database, make_tenant: MakeTenant
) -> None:
    from lms.catalog.models import ProgramCourse

    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        basics = await published(session, tenant, "Safety basics")
        advanced = await published(session, tenant, "Safety advanced")
        forklift = await published(session, tenant, "Forklift licence")
        program = await make_program(session, tenant.id, title="Warehouse path", status=CourseStatus.PUBLISHED)
        for position, course in enumerate((basics, advanced), start=1):
            session.add(
                ProgramCourse(
                    tenant_id=tenant.id,
                    program_id=program.id,
                    course_id=course.id,
                    course_owner=course.catalogue_owner,
                    position=position,
                )
            )
        for _ in range(3):
            mate = await make_user(session, tenant.id, groups=["Warehouse"])
            await take(session, tenant, mate.id, forklift)
        learner = await make_user(session, tenant.id, groups=["Warehouse"])
        await take(session, tenant, learner.id, basics, done=True)
        await session.flush()
        found = await recommend(session, learner.id)
    assert [(r.title, r.reason, r.because) for r in found] == [
        ("Safety advanced", "track", "Safety basics"),
        ("Forklift licence", "team", "Warehouse"),
    ]


def test_a_streak_counts_consecutive_days_up_to_today_or_yesterday() -> None:
    today = datetime(2026, 11, 29).date()
    days = {today - timedelta(days=n) for n in (1, 2, 3, 5)}
    assert count_streak(days, today) == 3
    assert count_streak(days | {today}, today) == 4
    assert count_streak({today - timedelta(days=2)}, today) == 0


async def test_streak_and_weekly_goal_on_my_learning(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    learner = await make_user(tenant, time_zone="Europe/Paris")
    now = datetime.now(UTC)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        for days_ago in (0, 1, 2):
            for minute in range(10):
                at = now - timedelta(days=days_ago, minutes=minute)
                await make_progress_event(session, tenant.id, user_id=learner.id, occurred_at=at)
        streak = await streak_of(session, learner.id, "Europe/Paris", now)
    assert streak.days == 3
    assert streak.active_today
    site = secure_host(tenant)
    api = await login(learner)
    bad = await client.put(f"{site}/api/v1/me/learning-goal", json={"weekly_minutes": -5}, headers=api)
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "weekly_minutes")
    saved = await client.put(f"{site}/api/v1/me/learning-goal", json={"weekly_minutes": 90}, headers=api)
    assert saved.json() == {"weekly_minutes": 90}
    shown = (await client.get(f"{site}/api/v1/me/streak", headers=api)).json()
    assert shown["streak_days"] == 3
    assert shown["weekly_goal_minutes"] == 90
    home = await client.get(f"{site}/", headers=browser_headers(await bearer(login, learner)))
    assert "3 day streak" in home.text
    assert "of 90 minutes this week" in home.text
