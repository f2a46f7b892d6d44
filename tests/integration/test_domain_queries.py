"""The reads domains offer each other (`queries.py`) answer for the bound tenant only: another
tenant's course, lesson, enrolment, user or video is unknown to them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Uuid, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog import queries as catalogue
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity import queries as identity
from lms.learning import queries as learning
from lms.learning.schemas import EnrollmentStatus
from lms.media import queries as media
from lms.media.models import AssetStatus
from lms.tenancy import queries as tenancy
from tests import factories
from tests.conftest import MakeTenant


@dataclass(frozen=True)
class World:
    """One tenant's rows: an instructor's course with a video lesson and an enrolled learner."""

    tenant_id: UUID
    course_id: UUID
    lesson_id: UUID
    asset_id: UUID
    instructor_id: UUID
    learner_id: UUID
    enrollment_id: UUID


async def build_world(db: Database, tenant_id: UUID) -> World:
    async with tenant_session(db.app_sessions, tenant_id) as session:
        instructor = await factories.identity.make_user(session, tenant_id, roles=["instructor"])
        learner = await factories.identity.make_user(session, tenant_id)
        asset = await factories.media.make_asset(session, tenant_id, status=AssetStatus.READY)
        course = await factories.catalog.make_course(session, tenant_id, instructor_ids=[instructor.id])
        module = await factories.catalog.make_module(session, tenant_id, course=course)
        lesson = await factories.catalog.make_lesson(session, tenant_id, module=module, media_asset_id=asset.id)
        enrollment = await factories.learning.make_enrollment(
            session, tenant_id, user_id=learner.id, course_id=course.id, status=EnrollmentStatus.ACTIVE
        )
        return World(tenant_id, course.id, lesson.id, asset.id, instructor.id, learner.id, enrollment.id)


Query = Callable[[AsyncSession, World], Awaitable[Any]]


async def _playable(session: AsyncSession, asset_id: UUID) -> bool:
    return asset_id not in await media.assets_not_ready(session, {asset_id})


async def _listed(rows: Awaitable[list[tuple[UUID, int]]], wanted: UUID) -> bool:
    return wanted in [item for item, _ in await rows]


async def _contains(ids: Awaitable[list[UUID]], wanted: UUID) -> bool:
    return wanted in await ids


async def _title_of(session: AsyncSession, course_id: UUID) -> str | None:
    # The scalar subquery as another domain selects it, over a one-row values list of the id.
    ids = select(literal(course_id, Uuid).label("course_id")).subquery()
    return await session.scalar(select(catalogue.course_title_of(ids.c.course_id)))


async def _address_of(session: AsyncSession, tenant_id: UUID) -> tuple[Any, ...]:
    # The columns as another domain selects them, over a one-row values list of the id.
    ids = select(literal(tenant_id, Uuid).label("tenant_id")).subquery()
    return tuple((await session.execute(select(*tenancy.tenant_address_of(ids.c.tenant_id)))).one())


QUERIES: dict[str, tuple[Query, Any]] = {
    # name: (the read, asked about `world`; what it answers when the world is another tenant's)
    "course_facts": (lambda s, w: catalogue.course_facts(s, w.course_id), None),
    "course_offer": (lambda s, w: catalogue.course_offer(s, w.course_id), None),
    "lesson_facts": (lambda s, w: catalogue.lesson_facts(s, w.lesson_id), None),
    "course_title_of": (lambda s, w: _title_of(s, w.course_id), None),
    "lesson_exists": (lambda s, w: catalogue.lesson_exists(s, w.lesson_id), False),
    "course_lessons": (lambda s, w: catalogue.course_lessons(s, w.course_id), []),
    "courses_showing_asset": (lambda s, w: catalogue.courses_showing_asset(s, w.asset_id), []),
    "instructs_course_showing": (
        lambda s, w: catalogue.instructs_course_showing(s, w.instructor_id, w.asset_id),
        False,
    ),
    "is_enrolled": (lambda s, w: learning.is_enrolled(s, w.learner_id, w.course_id), False),
    "enrolled_user_ids": (lambda s, w: learning.enrolled_user_ids(s, w.course_id), set()),
    "enrolled_unexpired_in_any": (
        lambda s, w: learning.enrolled_unexpired_in_any(s, w.learner_id, [w.course_id]),
        False,
    ),
    "enrollment_facts": (lambda s, w: learning.enrollment_facts(s, w.enrollment_id), None),
    "user_contact": (lambda s, w: identity.user_contact(s, w.learner_id), None),
    "user_contacts": (lambda s, w: identity.user_contacts(s, {w.learner_id}), {}),
    "user_status": (lambda s, w: identity.user_status(s, w.learner_id), None),
    "course_titles": (lambda s, w: catalogue.course_titles(s, {w.course_id}), {}),
    "course_statuses_of": (lambda s, w: learning.course_statuses_of(s, w.learner_id), {}),
    "popular_among": (lambda s, w: learning.popular_among(s, [w.learner_id], 5), []),
    "most_enrolled": (lambda s, w: _listed(learning.most_enrolled(s, 1000), w.course_id), False),
    "tenant_address_of": (lambda s, w: _address_of(s, w.tenant_id), (None, None)),
    "active_user_ids": (lambda s, w: _contains(identity.active_user_ids(s), w.learner_id), False),
    # The video is ready in its own tenant; another tenant cannot see it, so it is not playable there.
    "assets_not_ready": (lambda s, w: _playable(s, w.asset_id), False),
}


@pytest.fixture
async def worlds(db: Database, make_tenant: MakeTenant) -> tuple[World, World]:
    first, second = await make_tenant(), await make_tenant()
    return await build_world(db, first.id), await build_world(db, second.id)


@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_a_query_answers_for_its_own_tenant_and_not_for_another(
    db: Database, worlds: tuple[World, World], name: str
) -> None:
    query, foreign_answer = QUERIES[name]
    own, other = worlds
    async with tenant_session(db.app_sessions, own.tenant_id) as session:
        mine = await query(session, own)
        theirs = await query(session, other)
    assert theirs == foreign_answer
    assert mine != foreign_answer


async def test_tenant_profiles_and_the_active_list_come_from_the_operator_view(
    db: Database, worlds: tuple[World, World]
) -> None:
    own, _ = worlds
    async with db.operator_sessions() as session:
        profile = await tenancy.tenant_profile(session, own.tenant_id)
        active = await tenancy.active_tenant_ids(session)
    assert profile is not None
    assert profile.id == own.tenant_id
    assert own.tenant_id in active
