"""Due-date reminders: "due soon" before an enrolment's or an assignment's due date, "overdue" after it.

One platform-wide query (the operator's session) finds what is due, leaving out what was already sent:
the notification's dedupe key names the kind, the item, the learner and the due date, so each learner
hears once per kind and due date however often the job runs, and again only when the date moves.
Each tenant's reminders are then written on its own tenant-bound session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.queries import course_facts
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from lms.notifications.services import notify

# "Due soon" this long before the due date; "overdue" for this long after it (older ones are left alone,
# which also bounds what every run reads).
DUE_SOON = timedelta(hours=48)
OVERDUE_WINDOW = timedelta(days=7)

# Active learners in active enrolments with a due date, and learners of a course whose assignment is due
# and who have not submitted it, in active tenants. Both read a partial index on due_at (migration 0603).
_DUE_ITEMS = text(
    """
    with due as (
        select e.tenant_id, e.user_id, 'course' as what, e.id as item_id, e.course_id,
               null::uuid as lesson_id, null::text as title, e.due_at
          from enrollments e
          join users u on u.tenant_id = e.tenant_id and u.id = e.user_id and u.status <> 'deactivated'
         where e.status = 'active' and e.due_at is not null and e.due_at > :oldest and e.due_at <= :horizon
        union all
        select a.tenant_id, e.user_id, 'assignment', a.id, a.course_id, a.lesson_id, a.title::text, a.due_at
          from assignments a
          join enrollments e on e.tenant_id = a.tenant_id and e.course_id = a.course_id and e.status = 'active'
          join users u on u.tenant_id = e.tenant_id and u.id = e.user_id and u.status <> 'deactivated'
         where a.due_at is not null and a.due_at > :oldest and a.due_at <= :horizon
           and not exists (
               select 1 from assignment_submissions s
                where s.tenant_id = a.tenant_id and s.assignment_id = a.id and s.user_id = e.user_id)
    ), keyed as (
        select due.*,
               (case when due.due_at <= :now then 'overdue' else 'due_soon' end) || ':' || due.what || ':'
                   || due.item_id || ':' || due.user_id || ':' || floor(extract(epoch from due.due_at))::bigint
                   as dedupe_key
          from due
    )
    select k.tenant_id, k.user_id, k.what, k.item_id, k.course_id, k.lesson_id, k.title, k.due_at, k.dedupe_key
      from keyed k
      join tenants t on t.id = k.tenant_id and t.status = 'active'
     where not exists (
         select 1 from notifications n where n.tenant_id = k.tenant_id and n.dedupe_key = k.dedupe_key)
     order by k.tenant_id, k.due_at
    """
)


@dataclass(frozen=True)
class DueItem:
    tenant_id: UUID
    user_id: UUID
    # course (an enrolment's due date) | assignment
    what: str
    course_id: UUID
    lesson_id: UUID | None
    title: str | None
    due_at: datetime
    dedupe_key: str

    @property
    def kind(self) -> str:
        return self.dedupe_key.split(":", 1)[0]

    @property
    def link(self) -> str:
        if self.lesson_id is not None:
            return f"/courses/{self.course_id}/lessons/{self.lesson_id}"
        return f"/courses/{self.course_id}"


async def due_items(
    session: AsyncSession, now: datetime, soon: timedelta = DUE_SOON, window: timedelta = OVERDUE_WINDOW
) -> list[DueItem]:
    """Every reminder owed across tenants and not yet sent (the operator's platform-wide session)."""
    rows = await session.execute(_DUE_ITEMS, {"now": now, "horizon": now + soon, "oldest": now - window})
    return [
        DueItem(r.tenant_id, r.user_id, r.what, r.course_id, r.lesson_id, r.title, r.due_at, r.dedupe_key) for r in rows
    ]


async def send_reminders(session: AsyncSession, settings: Settings, tenant_id: UUID, items: list[DueItem]) -> int:
    """Write one tenant's reminders (on its tenant-bound session); a key already used writes nothing."""
    sent = 0
    for item in items:
        title = item.title
        if title is None:
            course = await course_facts(session, item.course_id)
            title = course.title if course else ""
        written = await notify(
            session,
            tenant_id,
            item.user_id,
            item.kind,
            {"course": title, "due": item.due_at.isoformat()},
            link=item.link,
            dedupe_key=item.dedupe_key,
            settings=settings,
        )
        sent += written
    return sent


async def send_due_reminders(
    db: Database, settings: Settings, now: datetime | None = None, soon: timedelta = DUE_SOON
) -> int:
    """The hourly job: one query over what is due, then each tenant's reminders in its own transaction."""
    now = now or clock.now()
    async with db.operator_sessions() as session:
        items = await due_items(session, now, soon)
    sent = 0
    for tenant_id, owed in groupby(items, key=lambda item: item.tenant_id):
        async with tenant_session(db.app_sessions, tenant_id) as session:
            sent += await send_reminders(session, settings, tenant_id, list(owed))
    return sent
