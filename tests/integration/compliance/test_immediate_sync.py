"""Assigned training reaches a new member within seconds: a change of membership (by hand, a dynamic
group's rule, SCIM) sends one sync of the tenant's rules with its commit, run by the real worker and not
by the 15-minute job. A burst of changes sends one sync; a rolled-back change sends none; a change that
joins a pending sync is seen by it; leaving a group keeps the enrolment."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from lms.compliance.models import ComplianceSyncRequest
from lms.compliance.services import schedule_sync
from lms.compliance.services.jobs import sync_tenant
from lms.compliance.tasks import SYNC_TENANT_TASK
from lms.db.binding import bind_tenant, tenant_session
from lms.db.engines import Database
from lms.identity.models import User
from lms.learning.models import EnrollmentSource
from lms.lib import jobs
from lms.tenancy.models import Tenant
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser, eventually, host
from tests.integration.compliance.test_training_rules import enrolments, group, published_course

Client = AsyncTestClient[Litestar]
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# The sync waits a second for a burst to settle; the worker then needs a moment more.
PROMPTLY = 15.0


async def pending_requests(db: Database, tenant: Tenant) -> int:
    async with tenant_session(db.app_sessions, tenant.id) as session:
        return int(await session.scalar(select(func.count()).select_from(ComplianceSyncRequest)) or 0)


async def assign(client: Client, tenant: Tenant, headers: dict[str, str], course_id: UUID, group_id: UUID) -> None:
    created = await client.post(
        f"{host(tenant)}/api/v1/admin/training-assignments",
        json={"course_id": str(course_id), "group_id": str(group_id), "due_days": 14},
        headers=headers,
    )
    assert created.status_code == 201, created.text


async def test_a_person_added_to_a_group_by_hand_is_enrolled_within_seconds_and_keeps_it_on_leaving(
    client: Client, db: Database, worker: Any, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    headers = await login(admin)
    course_id = await published_course(db, tenant)
    sales = await group(db, tenant, "Sales")
    await assign(client, tenant, headers, course_id, sales)
    newcomer = await make_user(tenant, email="new@corp.example")
    assert "new@corp.example" not in await enrolments(db, tenant, course_id)

    added = await client.patch(
        f"{host(tenant)}/api/v1/users/{newcomer.id}", json={"groups": ["Sales"]}, headers=headers
    )
    assert added.status_code == 200, added.text

    async def enrolled() -> Any:
        return (await enrolments(db, tenant, course_id)).get("new@corp.example")

    enrolment = await eventually(enrolled, timeout=PROMPTLY)
    assert enrolment.source is EnrollmentSource.GROUP
    assert enrolment.assigned_by == admin.id
    assert enrolment.due_at is not None
    assert await eventually(lambda: _none_pending(db, tenant), timeout=PROMPTLY)

    left = await client.patch(f"{host(tenant)}/api/v1/users/{newcomer.id}", json={"groups": []}, headers=headers)
    assert left.status_code == 200, left.text
    # Leaving is a change of membership too: its sync runs and keeps the enrolment as it is.
    assert await eventually(lambda: _none_pending(db, tenant), timeout=PROMPTLY)
    assert (await enrolments(db, tenant, course_id))["new@corp.example"].id == enrolment.id


async def _none_pending(db: Database, tenant: Tenant) -> bool:
    return await pending_requests(db, tenant) == 0


async def test_a_dynamic_group_picks_up_a_scim_person_whose_department_changes_and_enrols_them(
    client: Client, db: Database, worker: Any, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    headers = await login(admin)
    course_id = await published_course(db, tenant)
    made = await client.post(
        f"{host(tenant)}/api/v1/admin/groups",
        json={"name": "Sales team", "rule_attribute": "department", "rule_value": "Sales"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    await assign(client, tenant, headers, course_id, UUID(made.json()["id"]))
    token = await client.post(f"{host(tenant)}/api/v1/scim-tokens", json={"name": "Okta"}, headers=headers)
    scim = {"Authorization": f"Bearer {token.json()['token']}", "Content-Type": "application/scim+json"}
    base = f"{host(tenant)}/scim/v2"

    person = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "userName": "mover@corp.example",
        "name": {"givenName": "Mo", "familyName": "Ver"},
        "active": True,
        ENTERPRISE_SCHEMA: {"department": "Operations"},
    }
    created = await client.post(f"{base}/Users", content=json.dumps(person).encode(), headers=scim)
    assert created.status_code == 201, created.text
    assert created.json()[ENTERPRISE_SCHEMA]["department"] == "Operations"
    user_id = created.json()["id"]
    assert await eventually(lambda: _none_pending(db, tenant), timeout=PROMPTLY)
    assert "mover@corp.example" not in await enrolments(db, tenant, course_id)

    patch = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "replace", "path": f"{ENTERPRISE_SCHEMA}:department", "value": "Sales"}],
    }
    moved = await client.patch(f"{base}/Users/{user_id}", content=json.dumps(patch).encode(), headers=scim)
    assert moved.status_code == 200, moved.text
    assert moved.json()[ENTERPRISE_SCHEMA]["department"] == "Sales"

    async def enrolled() -> Any:
        return (await enrolments(db, tenant, course_id)).get("mover@corp.example")

    enrolment = await eventually(enrolled, timeout=PROMPTLY)
    assert enrolment.source is EnrollmentSource.GROUP
    async with tenant_session(db.app_sessions, tenant.id) as session:
        user = await session.get(User, UUID(user_id))
        assert user is not None
        assert user.groups == ["Sales team"]
        assert user.attributes == {"department": "Sales"}


async def test_a_burst_of_changes_sends_one_sync_and_a_rollback_none(
    db: Database, make_tenant: MakeTenant, sent: list[jobs.Job]
) -> None:
    tenant = await make_tenant()
    async with db.app_sessions() as session:
        bind_tenant(session, tenant.id)
        assert await schedule_sync(session) is True
        await session.rollback()
    assert sent == []
    assert await pending_requests(db, tenant) == 0

    for _ in range(3):
        async with tenant_session(db.app_sessions, tenant.id) as session:
            await schedule_sync(session)
            await schedule_sync(session)
    assert [(job.name, job.args[0]) for job in sent] == [(SYNC_TENANT_TASK, str(tenant.id))]
    assert await pending_requests(db, tenant) == 1

    await sync_tenant(db.app_sessions, tenant.id)
    assert await pending_requests(db, tenant) == 0
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert await schedule_sync(session) is True
    assert len(sent) == 2


async def test_a_change_joining_a_pending_sync_is_seen_by_it(
    db: Database, make_tenant: MakeTenant, make_user: MakeUser, sent: list[jobs.Job]
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    course_id = await published_course(db, tenant)
    sales = await group(db, tenant, "Sales")
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await factories.compliance.make_training_rule(
            session, tenant.id, course_id=course_id, group_id=sales, created_by=admin.id
        )
    late = await make_user(tenant, email="late@corp.example")
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await schedule_sync(session)

    # A second change joins the pending request and is still open when the job starts.
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert await schedule_sync(session) is False
        job = asyncio.create_task(sync_tenant(db.app_sessions, tenant.id))
        await asyncio.sleep(0.5)
        assert not job.done()
        await session.execute(update(User).where(User.id == late.id).values(groups=["Sales"]))
    done = await asyncio.wait_for(job, 30)

    assert done.enrolled == 1
    assert "late@corp.example" in await enrolments(db, tenant, course_id)
    assert len(sent) == 1
