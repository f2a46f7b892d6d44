"""Notification task wrappers: the hourly digest run, due-date reminders and the e-mails an announcement owes."""

from __future__ import annotations

from uuid import UUID

from lms.config import get_settings
from lms.db.binding import tenant_session
from lms.notifications.services.digest import send_digests, send_pending
from lms.notifications.services.reminders import send_due_reminders
from lms.notifications.tasks import DIGEST_TASK, DUE_REMINDERS_TASK, SEND_PENDING_TASK
from lms.tenancy.queries import active_tenant_ids
from workers.app import celery_app
from workers.runtime import TransientFailure, database, run


async def _digests_of_every_tenant() -> int:
    db = database()
    async with db.operator_sessions() as session:
        tenant_ids = await active_tenant_ids(session)
    sent = 0
    for tenant_id in tenant_ids:
        async with tenant_session(db.app_sessions, tenant_id) as session:
            sent += await send_digests(session, get_settings(), tenant_id)
    return sent


async def _pending_of(tenant_id: UUID) -> int:
    """Batch after batch, each in its own transaction, until nothing is owed."""
    sent = 0
    while True:
        async with tenant_session(database().app_sessions, tenant_id) as session:
            batch = await send_pending(session, get_settings(), tenant_id)
        sent += batch
        if batch == 0:
            return sent


@celery_app.task(name=DIGEST_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
def send_digests_task() -> int:
    """Beat, hourly: each user's daily digest at their local morning; idempotent (sent items leave it)."""
    return run(_digests_of_every_tenant())


@celery_app.task(
    name=SEND_PENDING_TASK, acks_late=True, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5
)
def send_pending_task(tenant_id: str) -> int:
    return run(_pending_of(UUID(tenant_id)))


@celery_app.task(name=DUE_REMINDERS_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
def send_due_reminders_task() -> int:
    """Beat, hourly: "due soon" and "overdue" reminders; idempotent (each is keyed by item and due date)."""
    return run(send_due_reminders(database(), get_settings()))
