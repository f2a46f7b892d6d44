"""The compliance report: for one course (optionally one group with its subgroups), where each
person stands (assigned, in progress, completed, overdue, expired), with counts and a CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.queries import assignable_courses
from lms.certificates.queries import expired_certificate_dates, expired_certificate_dates_of_users
from lms.compliance.models import TrainingRule
from lms.compliance.schemas import ComplianceRow, ComplianceState
from lms.compliance.services.rules import completion_lapsed, months_before
from lms.identity.queries import group_members, reports_of, user_contacts
from lms.learning.queries import enrollments_in_course
from lms.learning.schemas import EnrollmentStatus
from lms.lib import clock
from lms.lib.spreadsheet import safe_cell
from lms.organisation.queries import group_names_within
from lms.web.i18n import shown_name


@dataclass(frozen=True)
class ComplianceReport:
    counts: dict[str, int]
    rows: list[ComplianceRow]


class EnrolmentFacts(Protocol):
    """What decides where a person stands with a course (an enrolment as any domain reads it)."""

    @property
    def status(self) -> EnrollmentStatus: ...
    @property
    def completion_pct(self) -> float: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def completed_at(self) -> datetime | None: ...


class CourseEnrolmentFacts(EnrolmentFacts, Protocol):
    @property
    def course_id(self) -> UUID: ...


def state_of(
    e: EnrolmentFacts, now: datetime, recertify_before: datetime | None, certificate_expired_at: datetime | None
) -> ComplianceState | None:
    """The one state of an enrolment (the five are exclusive: an overdue enrolment is not also in
    progress); None for enrolments that are no training owed (refunded)."""
    status = e.status.value
    if status == "expired":
        return ComplianceState.EXPIRED
    if status == "completed":
        lapsed = completion_lapsed(e.completed_at, recertify_before, certificate_expired_at)
        return ComplianceState.EXPIRED if lapsed else ComplianceState.COMPLETED
    if status != "active":
        return None
    if e.due_at is not None and e.due_at < now:
        return ComplianceState.OVERDUE
    return ComplianceState.IN_PROGRESS if e.completion_pct > 0 else ComplianceState.ASSIGNED


async def states_of(
    session: AsyncSession, enrolments: Sequence[tuple[UUID, CourseEnrolmentFacts]], now: datetime
) -> list[ComplianceState | None]:
    """The state of each (person, enrolment) of any courses (a manager's team, a person's page), by
    `state_of` with each course's recurrence and each person's certificate expiry, as the compliance
    report decides it."""
    if not enrolments:
        return []
    courses = {e.course_id for _, e in enrolments}
    recurrences = await session.execute(
        select(TrainingRule.course_id, func.min(TrainingRule.recur_months))
        .where(TrainingRule.course_id.in_(courses), TrainingRule.recur_months.is_not(None))
        .group_by(TrainingRule.course_id)
    )
    recertify_before = {course: months_before(now, int(months)) for course, months in recurrences.all() if months}
    expired = await expired_certificate_dates_of_users(session, list({user for user, _ in enrolments}), now)
    return [
        state_of(e, now, recertify_before.get(e.course_id), expired.get((user, e.course_id))) for user, e in enrolments
    ]


async def compliance_report(
    session: AsyncSession,
    course_id: UUID,
    group_id: UUID | None = None,
    state: ComplianceState | None = None,
    among: list[UUID] | None = None,
) -> ComplianceReport:
    """Everyone enrolled in the course (in the group, and among `among` people, when given): counts
    over all of them, and the rows of those in `state` (all when None), overdue first."""
    now = clock.now()
    scope: list[UUID] | None = among
    if group_id is not None:
        members = await group_members(session, await group_names_within(session, group_id))
        scope = members if scope is None else [m for m in members if m in set(scope)]
    # The strictest recurrence among the course's rules decides when a completion lapses.
    recur = await session.scalar(select(func.min(TrainingRule.recur_months)).where(TrainingRule.course_id == course_id))
    recertify_before = months_before(now, int(recur)) if recur else None
    expired = await expired_certificate_dates(session, course_id, now)
    enrolments = await enrollments_in_course(session, course_id, scope)
    people = await user_contacts(session, {e.user_id for e in enrolments})
    counts = {s.value: 0 for s in ComplianceState}
    rows: list[ComplianceRow] = []
    for e in enrolments:
        current = state_of(e, now, recertify_before, expired.get(e.user_id))
        person = people.get(e.user_id)
        if current is None or person is None:
            continue
        counts[current.value] += 1
        if state is None or current is state:
            rows.append(
                ComplianceRow(
                    user_id=e.user_id,
                    display_name=person.display_name,
                    email=person.email,
                    state=current,
                    completion_pct=e.completion_pct,
                    due_at=e.due_at,
                    completed_at=e.completed_at,
                )
            )
    order = list(ComplianceState)
    rows.sort(key=lambda r: (-(r.state is ComplianceState.OVERDUE), order.index(r.state), r.display_name.lower()))
    return ComplianceReport(counts, rows)


async def report_courses(session: AsyncSession) -> list[tuple[UUID, str]]:
    """The courses a report can be about: the site's published courses, by title."""
    return await assignable_courses(session)


async def team_report(
    session: AsyncSession, manager_id: UUID, course_id: UUID, state: ComplianceState | None = None
) -> ComplianceReport:
    """The compliance report of a manager's direct and indirect reports (read-only for managers)."""
    people = [person.id for person in await reports_of(session, manager_id)]
    return await compliance_report(session, course_id, None, state, among=people)


def report_csv(rows: list[ComplianceRow], header: list[str], state_names: dict[str, str]) -> str:
    """The rows as CSV; every text cell is made safe for spreadsheets (no formulas)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for r in rows:
        writer.writerow(
            [
                safe_cell(shown_name(r.display_name)),
                safe_cell(r.email),
                state_names.get(r.state.value, r.state.value),
                f"{r.completion_pct:g}",
                r.due_at.date().isoformat() if r.due_at else "",
                r.completed_at.date().isoformat() if r.completed_at else "",
            ]
        )
    return out.getvalue()
