"""Jobs run for one tenant: `tenant_job` binds it, commits or rolls back as one unit, and a
redelivered job finds its work already done."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import anyio.to_thread
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.models import AssessmentOutboxEntry
from lms.assessments.tasks import DISPATCH_TASK
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib.jobs import build_celery, run_in_tenant
from lms.lib.mail import EmailMessage
from lms.lib.outbox import write_once
from tests.conftest import MakeTenant, MakeUser


async def _write_entry(db: Database, tenant_id: UUID, user_id: UUID, dedupe_key: str) -> UUID | None:
    async with tenant_session(db.app_sessions, tenant_id) as session:
        return await write_once(
            session,
            AssessmentOutboxEntry.__table__,  # type: ignore[arg-type]
            tenant_id,
            dedupe_key,
            user_id=user_id,
            kind="graded",
            subject="Graded",
            body="Your submission was graded.",
            payload={},
        )


async def test_a_job_sees_only_its_tenant_and_commits_as_one_unit(db: Database, make_tenant: MakeTenant) -> None:
    tenant_a, tenant_b = await make_tenant(), await make_tenant()
    async with tenant_session(db.app_sessions, tenant_b.id) as session:
        foreign = EmailMessage(tenant_id=tenant_b.id, recipient="b@example.com", subject="B", body="b")
        session.add(foreign)

    async def handler(session: AsyncSession, tenant_id: UUID, message_id: UUID) -> tuple[str, Any]:
        bound = (await session.execute(text("select current_setting('app.tenant_id', true)"))).scalar_one()
        session.add(EmailMessage(tenant_id=tenant_id, recipient="a@example.com", subject="A", body="a"))
        return bound, await session.get(EmailMessage, message_id)

    bound, seen = await run_in_tenant(db.app_sessions, "test.job", tenant_a.id, foreign.id, handler)
    assert bound == str(tenant_a.id)
    assert seen is None  # the other tenant's row is invisible to the job
    async with tenant_session(db.app_sessions, tenant_a.id) as session:
        assert [m.subject for m in await session.scalars(select(EmailMessage))] == ["A"]


async def test_a_failing_job_leaves_nothing_half_written(db: Database, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()

    async def handler(session: AsyncSession, tenant_id: UUID, _: UUID) -> None:
        session.add(EmailMessage(tenant_id=tenant_id, recipient="a@example.com", subject="A", body="a"))
        await session.flush()
        raise ConnectionError("the mail relay went away")

    with pytest.raises(ConnectionError):
        await run_in_tenant(db.app_sessions, "test.job", tenant.id, uuid.uuid4(), handler)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        assert list(await session.scalars(select(EmailMessage))) == []


async def test_outbox_entries_are_written_once_per_dedupe_key(
    db: Database, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant_a, tenant_b = await make_tenant(), await make_tenant()
    user_a, user_b = await make_user(tenant_a), await make_user(tenant_b)
    first = await _write_entry(db, tenant_a.id, user_a.id, "graded:1")
    again = await _write_entry(db, tenant_a.id, user_a.id, "graded:1")
    other_tenant = await _write_entry(db, tenant_b.id, user_b.id, "graded:1")
    assert first is not None
    assert again is None
    assert other_tenant is not None  # dedupe keys are scoped per tenant


@pytest.mark.worker
async def test_the_worker_binds_the_job_tenant_and_skips_work_already_done(
    db: Database, settings: Settings, worker: Any, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    user = await make_user(tenant)
    entry_id = await _write_entry(db, tenant.id, user.id, f"graded:{uuid.uuid4()}")
    celery = build_celery(settings)

    def run_job(tenant_id: UUID) -> Any:
        return celery.send_task(DISPATCH_TASK, args=[str(tenant_id), str(entry_id)]).get(timeout=60)

    assert await anyio.to_thread.run_sync(run_job, other.id) == "missing"
    assert await anyio.to_thread.run_sync(run_job, tenant.id) == "dispatched"
    assert await anyio.to_thread.run_sync(run_job, tenant.id) == "already_dispatched"
    async with tenant_session(db.app_sessions, tenant.id) as session:
        mails = list(await session.scalars(select(EmailMessage).where(EmailMessage.recipient == user.email)))
    assert [m.subject for m in mails] == [f"{tenant.name}: Graded: Graded"]
