"""A manager's team page: direct and indirect reports, their progress and overdue training."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.compliance.schemas import ComplianceState
from lms.compliance.services.report import states_of
from lms.identity.queries import Report, reports_of
from lms.learning.queries import LearnerEnrollment, enrollments_of_users
from lms.lib import clock


@dataclass
class TeamMember:
    """A report and their enrolments, each in exactly one of the compliance report's states (an
    overdue enrolment counts as overdue only, not also as in progress)."""

    person: Report
    enrollments: list[LearnerEnrollment] = field(default_factory=list)
    states: list[ComplianceState | None] = field(default_factory=list)

    def count(self, state: ComplianceState) -> int:
        return sum(1 for s in self.states if s is state)

    @property
    def overdue(self) -> list[LearnerEnrollment]:
        return [e for e, s in zip(self.enrollments, self.states, strict=True) if s is ComplianceState.OVERDUE]

    @property
    def not_started(self) -> int:
        return self.count(ComplianceState.ASSIGNED)

    @property
    def in_progress(self) -> int:
        return self.count(ComplianceState.IN_PROGRESS)

    @property
    def completed(self) -> int:
        return self.count(ComplianceState.COMPLETED)

    @property
    def expired(self) -> int:
        return self.count(ComplianceState.EXPIRED)


@dataclass(frozen=True)
class Team:
    members: list[TeamMember]
    as_of: datetime

    @property
    def overdue_count(self) -> int:
        return sum(len(m.overdue) for m in self.members)

    @property
    def counts(self) -> Counter[ComplianceState]:
        """The whole team's enrolments per state."""
        return Counter(s for m in self.members for s in m.states if s is not None)


async def team_of(session: AsyncSession, manager_id: UUID) -> Team:
    now = clock.now()
    people = await reports_of(session, manager_id)
    by_user: dict[UUID, TeamMember] = {p.id: TeamMember(p) for p in people}
    enrolments = await enrollments_of_users(session, list(by_user))
    states = await states_of(session, [(e.user_id, e) for e in enrolments], now)
    for enrollment, state in zip(enrolments, states, strict=True):
        member = by_user[enrollment.user_id]
        member.enrollments.append(enrollment)
        member.states.append(state)
    # Whoever has overdue training first, then the closest reports, then by name.
    members = sorted(by_user.values(), key=lambda m: (-len(m.overdue), m.person.depth, m.person.display_name.lower()))
    return Team(members, now)
