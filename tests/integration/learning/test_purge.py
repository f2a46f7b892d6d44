"""Purging a deleted tenant removes its learning data and leaves the shared catalogue alone."""

from __future__ import annotations

from sqlalchemy import text

from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.tenancy.services import Actor, TenantAdmin
from lms.tenancy.services.purge import purge_tenant
from tests.conftest import MakeTenant
from tests.factories import catalog, learning
from tests.support import TEST_BASE_DOMAIN


async def test_purge_removes_catalogue_enrolments_and_progress(db: Database, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    async with db.operator_sessions() as session, session.begin():
        shared = await catalog.make_course(session, None, status="published")
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await learning.make_outbox_entry(session, tenant.id)
        await learning.make_lesson_progress(session, tenant.id)
        await learning.make_progress_event(session, tenant.id)
        await catalog.make_program_course(session, tenant.id)
        await catalog.make_shared_course_offer(session, tenant.id, course_id=shared.id)
        await learning.make_enrollment(session, tenant.id, course_id=shared.id, course_owner=shared.catalogue_owner)
    async with db.operator_sessions() as session, session.begin():
        await TenantAdmin(session, Actor(name="test"), TEST_BASE_DOMAIN).delete(tenant.id)

    deleted = await purge_tenant(db, tenant.id)

    assert deleted["enrollments"] == 3
    assert deleted["courses"] >= 3
    assert deleted["lesson_progress"] == 1
    assert deleted["shared_course_offers"] == 1
    async with db.operator_sessions() as session:
        left = (
            await session.execute(text("select count(*) from courses where tenant_id = :t"), {"t": tenant.id})
        ).scalar_one()
        still_shared = (
            await session.execute(text("select count(*) from courses where id = :id"), {"id": shared.id})
        ).scalar_one()
    assert left == 0
    assert still_shared == 1
