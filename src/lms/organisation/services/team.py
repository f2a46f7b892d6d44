"""A manager's team page: direct and indirect reports, their progress and overdue training."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.queries import Report, reports_of
from lms.learning.queries import LearnerEnrollment, enrollments_of_users
from lms.lib import clock

OPEN_STATUSES = ("active",)


@dataclass
class TeamMember:
    person: Report
    enrollments: list[LearnerEnrollment] = field(default_factory=list)
    overdue: list[LearnerEnrollment] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return sum(1 for e in self.enrollments if e.status.value == "completed")

    @property
    def in_progress(self) -> int:
        return sum(1 for e in self.enrollments if e.status.value == "active")


@dataclass(frozen=True)
class Team:
    members: list[TeamMember]
    as_of: datetime

    @property
    def overdue_count(self) -> int:
        return sum(len(m.overdue) for m in self.members)


def is_overdue(enrollment: LearnerEnrollment, now: datetime) -> bool:
    """Due in the past and not completed (an expired or refunded enrolment is not training owed)."""
    return (
        enrollment.due_at is not None
        and enrollment.due_at < now
        and enrollment.status.value in OPEN_STATUSES
        and enrollment.completed_at is None
    )


async def team_of(session: AsyncSession, manager_id: UUID) -> Team:
    now = clock.now()
    people = await reports_of(session, manager_id)
    by_user: dict[UUID, TeamMember] = {p.id: TeamMember(p) for p in people}
    for enrollment in await enrollments_of_users(session, list(by_user)):
        member = by_user[enrollment.user_id]
        member.enrollments.append(enrollment)
        if is_overdue(enrollment, now):
            member.overdue.append(enrollment)
    # Whoever has overdue training first, then the closest reports, then by name.
    members = sorted(by_user.values(), key=lambda m: (-len(m.overdue), m.person.depth, m.person.display_name.lower()))
    return Team(members, now)
