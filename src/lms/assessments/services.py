"""Assessment notifications through an outbox: a row in the same transaction, a job after commit.

A rolled-back request leaves neither row nor job; a committed one always has both. The job (see
`workers/assessments.py`) turns the row into an e-mail through the identity domain's mail outbox.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.models import AssessmentOutboxEntry
from lms.config import get_settings
from lms.identity.queries import user_contact
from lms.lib import clock
from lms.lib.jobs import enqueue_after_commit
from lms.lib.mail import queue_email
from lms.lib.outbox import write_once

DISPATCH_TASK = "assessments.dispatch_notification"
REASSIGN_TASK = "assessments.reassign_missed_reviews"


async def notify(
    session: AsyncSession,
    tenant_id: UUID,
    user_id: UUID,
    kind: str,
    subject: str,
    body: str,
    dedupe_key: str,
    payload: dict[str, str] | None = None,
) -> bool:
    """Write a notification once per dedupe key and send it after commit; True when written now."""
    entry_id = await write_once(
        session,
        AssessmentOutboxEntry.__table__,  # type: ignore[arg-type]
        tenant_id,
        dedupe_key,
        user_id=user_id,
        kind=kind,
        subject=subject[:200],
        body=body,
        payload=payload or {},
    )
    if entry_id is not None:
        enqueue_after_commit(session, DISPATCH_TASK, str(tenant_id), str(entry_id))
    return entry_id is not None


async def dispatch(session: AsyncSession, entry_id: UUID) -> str:
    """Deliver one notification as an e-mail; idempotent (a dispatched entry is left alone)."""
    entry = await session.get(AssessmentOutboxEntry, entry_id, with_for_update=True)
    if entry is None:
        return "missing"
    if entry.dispatched_at is not None:
        return "already_dispatched"
    user = await user_contact(session, entry.user_id)
    if user is not None:
        await queue_email(session, get_settings(), entry.tenant_id, user.email, entry.subject, entry.body)
    entry.dispatched_at = clock.now()
    return "dispatched"
