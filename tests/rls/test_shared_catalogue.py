"""The platform-shared catalogue: readable by every tenant, writable only by the operator role."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from lms.catalog.models import SHARED_CATALOGUE_OWNER
from lms.db.binding import tenant_session
from lms.db.engines import Database
from tests.conftest import MakeTenant
from tests.factories import catalog, identity, learning


async def test_shared_rows_are_read_only_to_tenants(db: Database, make_tenant: MakeTenant) -> None:
    a = await make_tenant()
    async with db.operator_sessions() as session, session.begin():
        lesson = await catalog.make_lesson(session, None)
    assert lesson.catalogue_owner == SHARED_CATALOGUE_OWNER

    async with tenant_session(db.app_sessions, a.id) as session:
        visible = (
            await session.execute(text("select count(*) from lessons where id = :id"), {"id": lesson.id})
        ).scalar_one()
        updated = await session.execute(text("update courses set title = 'x' where id = :id"), {"id": lesson.course_id})
        deleted = await session.execute(text("delete from lessons where id = :id"), {"id": lesson.id})
    assert visible == 1
    assert updated.rowcount == 0  # type: ignore[attr-defined]
    assert deleted.rowcount == 0  # type: ignore[attr-defined]

    async with tenant_session(db.app_sessions, None) as session:
        unbound = (
            await session.execute(text("select count(*) from lessons where id = :id"), {"id": lesson.id})
        ).scalar_one()
    assert unbound == 0

    with pytest.raises(DBAPIError, match="row-level security"):
        async with tenant_session(db.app_sessions, a.id) as session:
            await catalog.make_course(session, None)


async def test_enrolments_reach_own_or_shared_courses_only(db: Database, make_tenant: MakeTenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    async with db.operator_sessions() as session, session.begin():
        shared = await catalog.make_course(session, None)
    async with tenant_session(db.app_sessions, b.id) as session:
        foreign = await catalog.make_course(session, b.id)

    async with tenant_session(db.app_sessions, a.id) as session:
        user = await identity.make_user(session, a.id)
        enrollment = await learning.make_enrollment(
            session, a.id, user_id=user.id, course_id=shared.id, course_owner=SHARED_CATALOGUE_OWNER
        )
    assert enrollment.course_id == shared.id

    # Pointing at B's course under A's own owner key: no such (owner, course) pair.
    with pytest.raises(IntegrityError, match="foreign key"):
        async with tenant_session(db.app_sessions, a.id) as session:
            await learning.make_enrollment(session, a.id, user_id=user.id, course_id=foreign.id, course_owner=a.id)
    # Claiming B as the owner is refused by the check constraint.
    with pytest.raises(IntegrityError, match="ck_enrollments_course_owner"):
        async with tenant_session(db.app_sessions, a.id) as session:
            await learning.make_enrollment(session, a.id, user_id=user.id, course_id=foreign.id, course_owner=b.id)
