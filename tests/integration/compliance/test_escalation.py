"""A person's assigned training is overdue: their manager hears it once (in the manager's language),
not the people whose training is on time or who have no manager."""

from __future__ import annotations

from datetime import timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from lms.compliance.services.jobs import apply_training_rules
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.models import Enrollment
from lms.lib import clock
from lms.notifications.models import Notification
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.compliance.test_training_rules import group, published_course

Client = AsyncTestClient[Litestar]


async def test_the_manager_is_told_once_about_overdue_assigned_training(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    headers = await login(await make_user(tenant, roles=["tenant_admin"]))
    course_id = await published_course(db, tenant, "Fire safety")
    await group(db, tenant, "Plant")
    manager = await make_user(tenant, display_name="Mia Manager", locale="de")
    late = await make_user(tenant, display_name="Lou Late", groups=["Plant"], manager_id=manager.id)
    await make_user(tenant, display_name="Tim Timely", groups=["Plant"], manager_id=manager.id)
    nobody_told = await make_user(tenant, display_name="Nora Nomanager", groups=["Plant"])
    groups = await client.get(f"{host(tenant)}/api/v1/admin/groups", headers=headers)
    plant_id = groups.json()["items"][0]["id"]
    made = await client.post(
        f"{host(tenant)}/api/v1/admin/training-assignments",
        json={"course_id": str(course_id), "group_id": plant_id, "due_days": 10},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["enrolled"] == 3

    # Lou and Nora are past due; Tim still has time.
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await session.execute(
            update(Enrollment)
            .where(Enrollment.course_id == course_id, Enrollment.user_id.in_([late.id, nobody_told.id]))
            .values(due_at=clock.now() - timedelta(days=2))
        )

    assert (await apply_training_rules(db)).escalated >= 1
    await apply_training_rules(db)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        told = list((await session.execute(select(Notification).where(Notification.user_id == manager.id))).scalars())
    assert len(told) == 1
    assert told[0].kind == "announcement"
    assert told[0].link == "/team"
    assert "Lou Late" in told[0].params["message"]
    assert "Fire safety" in told[0].params["message"]
    assert told[0].params["subject"] == "Überfällige Schulung in Ihrem Team"
