"""Assessment notifications through an outbox: a row in the same transaction, a job after commit.

A rolled-back request leaves neither row nor job; a committed one always has both. The job (see
`workers/assessments.py`) hands the row to the notification service (inbox and e-mail, as the learner chose).
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.models import AssessmentOutboxEntry
from lms.lib import clock
from lms.lib.jobs import enqueue_after_commit
from lms.lib.outbox import write_once
from lms.notifications import services as notifications

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
    """Write a notification once per dedupe key and send it after commit; True when written now.
    `payload` holds the parameters of the notification kind's text (title, score, due, link)."""
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
    """Hand one notification to the notification service; idempotent (a dispatched entry is left alone,
    and the entry's id is the notification's dedupe key)."""
    entry = await session.get(AssessmentOutboxEntry, entry_id, with_for_update=True)
    if entry is None:
        return "missing"
    if entry.dispatched_at is not None:
        return "already_dispatched"
    params = {"title": entry.subject, **(entry.payload or {})}
    link = params.pop("link", None)
    kind = entry.kind if entry.kind in notifications.KINDS else "announcement"
    if kind == "announcement":
        params = {"subject": entry.subject, "message": entry.body}
    await notifications.notify(
        session, entry.tenant_id, entry.user_id, kind, params, link=link, dedupe_key=f"assessments:{entry.id}"
    )
    entry.dispatched_at = clock.now()
    return "dispatched"
