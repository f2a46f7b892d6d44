"""Overdue escalation: a manager hears, once per due date, that someone in their team has not
completed training a rule assigned (through the notifications service: inbox and e-mail digest).
Reminders to the learners themselves are the notifications domain's business, not this one's."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.queries import course_titles
from lms.compliance.models import TrainingRule
from lms.identity.queries import managers_of, user_contacts
from lms.learning.queries import enrollments_in_course
from lms.lib import clock
from lms.notifications.services import notify
from lms.web import i18n


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated in the manager's language when sent."""
    return message


SUBJECT = N_("Overdue training in your team")
MESSAGE = N_("%(person)s has not completed %(course)s, which was due on %(due)s.")


async def escalate_overdue(session: AsyncSession, rule: TrainingRule, targets: list[UUID]) -> int:
    """Tell the managers of the rule's people whose enrolment is past due; how many were told now.
    The dedupe key (enrolment and due date) makes a second run quiet, and a new due date (after a
    recertification) a new escalation."""
    now = clock.now()
    overdue = [
        e
        for e in await enrollments_in_course(session, rule.course_id, targets)
        if e.status.value == "active" and e.due_at is not None and e.due_at < now
    ]
    managers = await managers_of(session, [e.user_id for e in overdue])
    if not managers:
        return 0
    people = await user_contacts(session, set(managers) | set(managers.values()))
    course = (await course_titles(session, {rule.course_id})).get(rule.course_id, "")
    told = 0
    for e in overdue:
        manager_id = managers.get(e.user_id)
        manager = people.get(manager_id) if manager_id else None
        person = people.get(e.user_id)
        if manager is None or person is None or e.due_at is None:
            continue
        with i18n.using_locale(manager.locale or "en", manager.time_zone or "UTC"):
            params = {
                "subject": i18n.gettext(SUBJECT),
                "message": i18n.gettext(
                    MESSAGE, person=person.display_name, course=course, due=i18n.format_due(e.due_at)
                ),
            }
        told += await notify(
            session,
            rule.tenant_id,
            manager.id,
            "announcement",
            params,
            link="/team",
            dedupe_key=f"training-overdue:{e.id}:{e.due_at.date().isoformat()}",
        )
    return told
