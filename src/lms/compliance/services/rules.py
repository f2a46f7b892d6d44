"""Training rules: create (and enrol the targeted people now), list, delete, and keep applied.

Applying a rule is idempotent: it enrols only people in the rule's group (or subgroups), or the rule's
person, who have no enrolment in the course yet. People already enrolled keep their enrolment and due
date. Recurring rules also reopen completions that have lapsed (see `recertify`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.queries import assignable_courses, assignable_programs, course_titles, program_course_ids
from lms.certificates.queries import expired_certificate_dates
from lms.compliance.models import TrainingRule
from lms.compliance.schemas import ProgramAssignmentCreate, TrainingRuleCreate
from lms.compliance.services.escalation import escalate_overdue
from lms.identity.guards import Principal
from lms.identity.queries import group_members, user_contacts, user_ids_by_email
from lms.identity.schemas import Role
from lms.learning.queries import enrollments_in_course, without_enrollment
from lms.learning.schemas import EnrollmentSource
from lms.learning.services import EnrollmentService
from lms.learning.services.recertification import reopen_for_recertification
from lms.lib import clock
from lms.lib.errors import Conflict, DomainError, NotFound, ValidationFailed
from lms.organisation.queries import group_names, group_names_within
from lms.tenancy.services.audit import AdminAudit

log = structlog.get_logger("lms.compliance.services")


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the 31st falls back to the month's last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = moment.day
    while True:
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:
            day -= 1


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), UTC)


@dataclass(frozen=True)
class RuleView:
    rule: TrainingRule
    course_title: str
    group_name: str | None
    user_email: str | None


async def rule_targets(session: AsyncSession, rule: TrainingRule) -> list[UUID]:
    """The active people a rule is about: its group's members (with subgroups) or its one person."""
    if rule.group_id is not None:
        return await group_members(session, await group_names_within(session, rule.group_id))
    return [rule.user_id] if rule.user_id is not None else []


def due_for(rule: TrainingRule, now: datetime) -> datetime:
    if rule.due_date is not None:
        return end_of_day(rule.due_date)
    return now + timedelta(days=rule.due_days or 0)


async def apply_rule(session: AsyncSession, rule: TrainingRule, targets: list[UUID]) -> int:
    """Enrol the rule's people (`targets`) who have no enrolment in its course yet; how many were enrolled."""
    missing = await without_enrollment(session, rule.course_id, targets)
    if not missing:
        return 0
    assigner = Principal(user_id=rule.created_by, tenant_id=rule.tenant_id, roles=frozenset({Role.TENANT_ADMIN.value}))
    source = EnrollmentSource.GROUP if rule.group_id is not None else EnrollmentSource.ADMIN
    results = await EnrollmentService(session, assigner).bulk_enroll(
        rule.course_id, missing, due_for(rule, clock.now()), source
    )
    return sum(1 for r in results if r.status == "enrolled")


def completion_lapsed(
    completed_at: datetime | None, recertify_before: datetime | None, certificate_expired_at: datetime | None
) -> bool:
    """A completion older than the recurrence period, or one whose certificates have all expired since
    (a completion after that expiry is a new one, however old the certificate is)."""
    if completed_at is None:
        return False
    if recertify_before is not None and completed_at < recertify_before:
        return True
    return certificate_expired_at is not None and completed_at < certificate_expired_at


async def recertify(session: AsyncSession, rule: TrainingRule, targets: list[UUID]) -> int:
    """For a recurring rule: reopen its people's lapsed completions (see `completion_lapsed`), due
    `due_days` after reopening."""
    if rule.recur_months is None:
        return 0
    now = clock.now()
    cutoff = months_before(now, rule.recur_months)
    expired = await expired_certificate_dates(session, rule.course_id, now)
    lapsed = [
        e.id
        for e in await enrollments_in_course(session, rule.course_id, targets)
        if e.status.value == "completed" and completion_lapsed(e.completed_at, cutoff, expired.get(e.user_id))
    ]
    return await reopen_for_recertification(session, lapsed, due_for(rule, now))


@dataclass
class RulesApplied:
    """What one run of the rules did: people enrolled, completions reopened, managers told."""

    enrolled: int = 0
    reopened: int = 0
    escalated: int = 0

    def add(self, other: RulesApplied) -> None:
        self.enrolled += other.enrolled
        self.reopened += other.reopened
        self.escalated += other.escalated


async def apply_all_rules(session: AsyncSession) -> RulesApplied:
    """Every rule of the bound tenant: enrol new people, reopen lapsed completions, escalate overdue."""
    done = RulesApplied()
    rule_ids = list((await session.execute(select(TrainingRule.id).order_by(TrainingRule.created_at))).scalars())
    for rule_id in rule_ids:
        # Loaded one by one: a savepoint rolled back below expires the rows it touched.
        rule = (
            await session.execute(
                select(TrainingRule).where(TrainingRule.id == rule_id).execution_options(populate_existing=True)
            )
        ).scalar_one()
        course_id = rule.course_id
        step = RulesApplied()
        try:
            # One rule's trouble (its course was archived since) leaves the tenant's other rules applied.
            async with session.begin_nested():
                targets = await rule_targets(session, rule)
                step.enrolled = await apply_rule(session, rule, targets)
                step.reopened = await recertify(session, rule, targets)
                step.escalated = await escalate_overdue(session, rule, targets)
        except DomainError as exc:
            log.warning("training_rule_skipped", rule_id=str(rule_id), course_id=str(course_id), reason=exc.message)
            continue
        done.add(step)
    return done


@dataclass(frozen=True)
class RuleOptions:
    """What a rule can assign (published courses and programs) and to whom (groups), by name."""

    courses: list[tuple[UUID, str]]
    programs: list[tuple[UUID, str]]
    groups: list[tuple[UUID, str]]


class TrainingRules:
    """The bound tenant's training rules, for its administrators; changes go to the audit log."""

    def __init__(self, session: AsyncSession, principal: Principal, audit: AdminAudit) -> None:
        self.session = session
        self.principal = principal
        self.audit = audit

    async def list_rules(self) -> list[RuleView]:
        rules = list((await self.session.execute(select(TrainingRule).order_by(TrainingRule.created_at))).scalars())
        titles = await course_titles(self.session, {r.course_id for r in rules})
        groups = await group_names(self.session)
        people = await user_contacts(self.session, {r.user_id for r in rules if r.user_id is not None})
        return [
            RuleView(
                rule,
                titles.get(rule.course_id, ""),
                groups.get(rule.group_id) if rule.group_id else None,
                people[rule.user_id].email if rule.user_id in people else None,
            )
            for rule in rules
        ]

    async def options(self) -> RuleOptions:
        groups = sorted((await group_names(self.session)).items(), key=lambda item: item[1].lower())
        return RuleOptions(await assignable_courses(self.session), await assignable_programs(self.session), groups)

    async def view(self, rule: TrainingRule) -> RuleView:
        return next(v for v in await self.list_rules() if v.rule.id == rule.id)

    async def create(self, data: TrainingRuleCreate) -> tuple[TrainingRule, int]:
        """Check, store, and enrol the targeted people now: (rule, how many were enrolled)."""
        if data.course_id not in dict(await assignable_courses(self.session)):
            raise ValidationFailed("choose a published course of this site", field="course_id")
        if (data.group_id is None) == (data.user_email is None):
            raise ValidationFailed("choose a group or enter one person's e-mail", field="group_id")
        user_id: UUID | None = None
        if data.group_id is not None and data.group_id not in await group_names(self.session):
            raise ValidationFailed("no such group in this site", field="group_id")
        if data.user_email is not None:
            user_id = await self._target_user(data.user_email)
            if user_id is None:
                raise ValidationFailed("nobody in this site has this e-mail", field="user_email")
        if (data.due_date is None) == (data.due_days is None):
            raise ValidationFailed("give a due date or a number of days", field="due_date")
        if data.due_date is not None and data.due_date < clock.now().date():
            raise ValidationFailed("the due date is in the past", field="due_date")
        if data.recur_months is not None and data.due_days is None:
            raise ValidationFailed("a recurring assignment is due a number of days after each start", field="due_days")
        rule = TrainingRule(
            tenant_id=self.principal.tenant_id,
            course_id=data.course_id,
            group_id=data.group_id,
            user_id=user_id,
            due_date=data.due_date,
            due_days=data.due_days,
            recur_months=data.recur_months,
            created_by=self.principal.user_id,
        )
        self.session.add(rule)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("this course is already assigned to them", field="course_id") from exc
        enrolled = await apply_rule(self.session, rule, await rule_targets(self.session, rule))
        view = await self.view(rule)
        await self.audit.record(
            "training_rule.created",
            "training_rule",
            rule.id,
            f"{view.course_title} → {view.group_name or view.user_email}",
            after={
                "course_id": str(rule.course_id),
                "group_id": str(rule.group_id) if rule.group_id else None,
                "user_id": str(rule.user_id) if rule.user_id else None,
                "due_date": rule.due_date.isoformat() if rule.due_date else None,
                "due_days": rule.due_days,
                "recur_months": rule.recur_months,
                "enrolled": enrolled,
            },
        )
        return rule, enrolled

    async def create_for_program(self, data: ProgramAssignmentCreate) -> list[tuple[TrainingRule, int]]:
        """One assignment per published course of the program, skipping courses already assigned to
        the same group or person; (rule, enrolled now) for each assignment made."""
        if data.program_id not in dict(await assignable_programs(self.session)):
            raise ValidationFailed("choose a published program of this site", field="program_id")
        assignable = dict(await assignable_courses(self.session))
        courses = [c for c in await program_course_ids(self.session, data.program_id) if c in assignable]
        if not courses:
            raise ValidationFailed("this program has no published course of this site", field="program_id")
        if (data.group_id is None) == (data.user_email is None):
            raise ValidationFailed("choose a group or enter one person's e-mail", field="group_id")
        target = await self._target_user(data.user_email) if data.user_email is not None else None
        if data.group_id is not None or target is not None:
            same_target = (
                TrainingRule.group_id == data.group_id if data.group_id is not None else TrainingRule.user_id == target
            )
            taken = set(
                (
                    await self.session.execute(
                        select(TrainingRule.course_id).where(TrainingRule.course_id.in_(courses), same_target)
                    )
                ).scalars()
            )
            courses = [c for c in courses if c not in taken]
            if not courses:
                raise Conflict("every course of this program is already assigned to them", field="program_id")
        made: list[tuple[TrainingRule, int]] = []
        for course_id in courses:
            # The first course checks the target and due date; the rest can then not fail on them.
            made.append(
                await self.create(
                    TrainingRuleCreate(
                        course_id=course_id,
                        group_id=data.group_id,
                        user_email=data.user_email,
                        due_date=data.due_date,
                        due_days=data.due_days,
                        recur_months=data.recur_months,
                    )
                )
            )
        return made

    async def _target_user(self, user_email: str) -> UUID | None:
        email = user_email.strip().lower()
        return (await user_ids_by_email(self.session, [email])).get(email)

    async def get(self, rule_id: UUID) -> TrainingRule:
        rule = (await self.session.execute(select(TrainingRule).where(TrainingRule.id == rule_id))).scalar_one_or_none()
        if rule is None:
            raise NotFound("training assignment not found", field="rule_id")
        return rule

    async def delete(self, rule_id: UUID) -> None:
        """Stop assigning; the enrolments the rule made stay as they are."""
        rule = await self.get(rule_id)
        view = await self.view(rule)
        await self.session.delete(rule)
        await self.session.flush()
        await self.audit.record(
            "training_rule.deleted",
            "training_rule",
            rule_id,
            f"{view.course_title} → {view.group_name or view.user_email}",
        )
