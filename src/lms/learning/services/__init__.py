"""Enrolment: self-enrolment, assignment with due dates, bulk assignment, status changes.

POST /api/v1/enrollments is idempotent per (user, course): the unique index decides, and a
repeated call returns the existing enrolment. Every new enrolment passes the seat hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.queries import has_paid_for_course
from lms.catalog.queries import CourseOffer, course_facts, course_offer, course_price, version_id_of, version_numbers
from lms.catalog.schemas import CourseStatus
from lms.catalog.services import bump_enrollment_count
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.guards import Principal
from lms.identity.queries import user_status
from lms.identity.schemas import Role, UserStatus
from lms.learning.models import Enrollment, EnrollmentSource, EnrollmentStatus
from lms.learning.schemas import BulkResult, EnrollmentOut

# Operators handle dead letters from the console; the progress stream's keys show the fold's lag.
from lms.learning.services.dead_letters import DeadLetterOut as DeadLetterOut
from lms.learning.services.dead_letters import discard_dead_letter as discard_dead_letter
from lms.learning.services.dead_letters import list_dead_letters as list_dead_letters
from lms.learning.services.dead_letters import retry_dead_letter as retry_dead_letter
from lms.learning.services.ingest import StreamKeys as StreamKeys
from lms.learning.services.progress import migrate_enrollments

# Assessments record graded results through this service module.
from lms.learning.services.progress import record_assessment_result as record_assessment_result
from lms.learning.services.seats import reserve_seat
from lms.lib import clock
from lms.lib.errors import DomainError, Forbidden, NotFound, ValidationFailed
from lms.lib.ids import new_id
from lms.lib.pagination import count_and_fetch
from lms.notifications import services as notifications
from lms.tenancy.queries import active_tenant_ids

ACTIVE_STATES = (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED)


class PaymentRequired(DomainError):
    """A priced course a learner has not paid for (billing's record decides)."""

    status = 402
    code = "payment_required"


@dataclass(frozen=True)
class CourseRef:
    """The course fields an enrolment copies; plain values survive savepoint rollbacks (which expire ORM rows)."""

    id: UUID
    owner: UUID
    version_id: UUID | None

    @classmethod
    def of(cls, course: CourseOffer) -> CourseRef:
        return cls(course.id, course.owner, course.current_version_id)


async def enrollment_out(session: AsyncSession, enrollments: list[Enrollment]) -> list[EnrollmentOut]:
    numbers = await version_numbers(session, {e.version_id for e in enrollments if e.version_id})
    return [
        EnrollmentOut(
            id=e.id,
            user_id=e.user_id,
            course_id=e.course_id,
            status=e.status,
            source=e.source,
            version=numbers.get(e.version_id) if e.version_id else None,
            due_at=e.due_at,
            expires_at=e.expires_at,
            completion_pct=e.completion_pct,
            completed_at=e.completed_at,
            last_lesson_id=e.last_lesson_id,
            last_activity_at=e.last_activity_at,
            created_at=e.created_at,
        )
        for e in enrollments
    ]


class EnrollmentService:
    """Enrolments of the current tenant."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    @property
    def can_assign(self) -> bool:
        return self.principal.has_role(Role.TENANT_ADMIN, Role.INSTRUCTOR)

    async def enroll(
        self,
        course_id: UUID,
        user_id: UUID | None = None,
        due_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[Enrollment, bool]:
        """(enrolment, created). Self-enrolment needs a released course that allows it."""
        target = user_id or self.principal.user_id
        assigning = target != self.principal.user_id or due_at is not None or expires_at is not None
        if assigning and not self.can_assign:
            raise Forbidden("only an instructor or a tenant admin can enrol other people or set due dates")
        course = CourseRef.of(await self._enrollable_course(course_id, assigning))
        await self._active_user(target)
        if not assigning:
            await self._paid_for(course_id, target)
        source = EnrollmentSource.ADMIN if assigning else EnrollmentSource.SELF
        return await self._enroll_one(course, target, due_at, source, expires_at)

    async def bulk_enroll(
        self,
        course_id: UUID,
        user_ids: list[UUID],
        due_at: datetime | None,
        source: EnrollmentSource,
        expires_at: datetime | None = None,
    ) -> list[BulkResult]:
        """Assign many learners (a group's members) at once; each gets its own result."""
        if not self.can_assign:
            raise Forbidden("only an instructor or a tenant admin can assign courses")
        course = CourseRef.of(await self._enrollable_course(course_id, True))
        results: list[BulkResult] = []
        for user_id in dict.fromkeys(user_ids):
            try:
                async with self.session.begin_nested():
                    await self._active_user(user_id)
                    enrollment, created = await self._enroll_one(course, user_id, due_at, source, expires_at)
            except DomainError as exc:
                error: dict[str, Any] = {"code": exc.code, "message": exc.message}
                results.append(BulkResult(user_id=user_id, status="rejected", error=error))
                continue
            results.append(
                BulkResult(
                    user_id=user_id,
                    status="enrolled" if created else "already_enrolled",
                    enrollment_id=enrollment.id,
                )
            )
        return results

    async def get(self, enrollment_id: UUID) -> Enrollment:
        enrollment = await self.session.get(Enrollment, enrollment_id)
        if enrollment is None or (enrollment.user_id != self.principal.user_id and not self.can_assign):
            raise NotFound("enrollment not found", field="enrollment_id")
        return enrollment

    async def list_enrollments(
        self,
        limit: int,
        offset: int,
        course_id: UUID | None = None,
        user_id: UUID | None = None,
        status: EnrollmentStatus | None = None,
    ) -> tuple[list[Enrollment], int]:
        query = select(Enrollment)
        if not self.can_assign:
            user_id = self.principal.user_id
        if user_id is not None:
            query = query.where(Enrollment.user_id == user_id)
        if course_id is not None:
            query = query.where(Enrollment.course_id == course_id)
        if status is not None:
            query = query.where(Enrollment.status == status)
        return await count_and_fetch(self.session, query.order_by(Enrollment.created_at.desc()), limit, offset)

    async def set_status(self, enrollment_id: UUID, status: EnrollmentStatus) -> Enrollment:
        """Refund, expire or reactivate (reactivation takes a seat again)."""
        if not self.principal.has_role(Role.TENANT_ADMIN):
            raise Forbidden("only a tenant admin can change an enrolment's status")
        enrollment = await self.get(enrollment_id)
        if status is EnrollmentStatus.COMPLETED:
            raise ValidationFailed("completion is recorded from progress, not set by hand", field="status")
        if status is EnrollmentStatus.ACTIVE and enrollment.status is not EnrollmentStatus.ACTIVE:
            await reserve_seat(self.session, enrollment.tenant_id, enrollment.user_id)
        enrollment.status = status
        await self.session.flush()
        return enrollment

    async def migrate(self, course_id: UUID, number: int, enrollment_ids: list[UUID] | None) -> int:
        """Move learners onto another published version of the course (instructors, admins)."""
        if not self.can_assign:
            raise Forbidden("only an instructor or a tenant admin can migrate learners")
        course = await course_facts(self.session, course_id)
        if course is None:
            raise NotFound("course not found", field="course_id")
        if course.is_shared:
            raise Forbidden("learners on shared courses follow the shared catalogue's versions")
        version_id = await version_id_of(self.session, course_id, number)
        if version_id is None:
            raise NotFound(f"course has no version {number}", field="number")
        return await migrate_enrollments(self.session, course_id, version_id, enrollment_ids)

    # --- internals ---------------------------------------------------------------------------
    async def _enrollable_course(self, course_id: UUID, assigning: bool) -> CourseOffer:
        course = await course_offer(self.session, course_id)
        if course is None or (not assigning and not course.visible_to_learners):
            raise NotFound("course not found", field="course_id")
        if not course.offered:
            raise NotFound("this site does not offer that shared course", field="course_id")
        if course.status is not CourseStatus.PUBLISHED:
            raise ValidationFailed(
                f"this course is {course.status.value}; only published courses take enrolments", field="course_id"
            )
        if not assigning and not course.self_enrollment:
            raise Forbidden("this course does not allow self-enrolment; ask an administrator to assign it")
        return course

    async def _paid_for(self, course_id: UUID, user_id: UUID) -> None:
        """A priced course is self-enrolled only after a completed Checkout payment (billing's
        record); an admin or instructor assigning it enrols on the organisation's behalf."""
        price = await course_price(self.session, course_id)
        if price is None or price.price_cents <= 0:
            return
        if await self._existing(user_id, course_id) is not None:
            return
        if not await has_paid_for_course(self.session, user_id, course_id):
            raise PaymentRequired(
                f"this course costs {price.price_cents / 100:.2f} {price.currency}; buy it to enrol", field="course_id"
            )

    async def _active_user(self, user_id: UUID) -> None:
        status = await user_status(self.session, user_id)
        if status is None:
            raise NotFound("user not found", field="user_id")
        if status is UserStatus.DEACTIVATED:
            raise ValidationFailed("this user is deactivated", field="user_id")

    async def _existing(self, user_id: UUID, course_id: UUID) -> Enrollment | None:
        return (
            await self.session.execute(
                select(Enrollment).where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)
            )
        ).scalar_one_or_none()

    async def _enroll_one(
        self,
        course: CourseRef,
        user_id: UUID,
        due_at: datetime | None,
        source: EnrollmentSource,
        expires_at: datetime | None = None,
    ) -> tuple[Enrollment, bool]:
        existing = await self._existing(user_id, course.id)
        if existing is not None:
            # A repeated assignment may move the dates; it never creates a second enrolment.
            if due_at is not None:
                existing.due_at = due_at
            if expires_at is not None:
                existing.expires_at = expires_at
            await self.session.flush()
            return existing, False
        await reserve_seat(self.session, self.principal.tenant_id, user_id)
        now = clock.now()
        inserted = await self.session.execute(
            pg_insert(Enrollment.__table__)  # type: ignore[arg-type]
            .values(
                id=new_id(),
                tenant_id=self.principal.tenant_id,
                user_id=user_id,
                course_id=course.id,
                course_owner=course.owner,
                version_id=course.version_id,
                status=EnrollmentStatus.ACTIVE,
                source=source,
                assigned_by=self.principal.user_id if source is not EnrollmentSource.SELF else None,
                due_at=due_at,
                expires_at=expires_at,
                completion_pct=0.0,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "user_id", "course_id"])
            .returning(Enrollment.__table__.c.id)
        )
        created = inserted.first() is not None
        enrollment = await self._existing(user_id, course.id)
        assert enrollment is not None  # inserted now or by a concurrent request
        if created:
            await bump_enrollment_count(self.session, course.id, 1)
            await _tell_enrolled(self.session, enrollment)
        return enrollment, created


async def _tell_enrolled(session: AsyncSession, enrollment: Enrollment) -> None:
    """The learner's "you are enrolled" notification, in the enrolment's transaction (once per enrolment)."""
    course = await course_facts(session, enrollment.course_id)
    params = {"course": course.title if course else ""}
    if enrollment.due_at is not None:
        params["due"] = f"{enrollment.due_at:%Y-%m-%d}"
    await notifications.notify(
        session,
        enrollment.tenant_id,
        enrollment.user_id,
        "enrolment",
        params,
        link=f"/courses/{enrollment.course_id}",
        dedupe_key=f"enrolment:{enrollment.id}",
    )


async def expire_enrollments(db: Database) -> int:
    """Mark active enrolments whose access window has passed as expired, tenant by tenant."""
    async with db.operator_sessions() as session:
        tenants = await active_tenant_ids(session)
    expired = 0
    for tenant_id in tenants:
        async with tenant_session(db.app_sessions, tenant_id) as session:
            result = await session.execute(
                update(Enrollment)
                .where(Enrollment.status == EnrollmentStatus.ACTIVE, Enrollment.expires_at < func.now())
                .values(status=EnrollmentStatus.EXPIRED)
                .execution_options(synchronize_session=False)
            )
            expired += result.rowcount  # type: ignore[attr-defined]
    return expired


async def enroll_purchased(session: AsyncSession, tenant_id: UUID, user_id: UUID, course_id: UUID) -> UUID:
    """Enrol a learner whose payment for the course completed (billing calls this); idempotent, and an
    enrolment ended by an earlier refund becomes active again."""
    service = EnrollmentService(session, Principal(user_id=user_id, tenant_id=tenant_id, roles=frozenset({"learner"})))
    existing = await service._existing(user_id, course_id)
    if existing is not None:
        if existing.status is EnrollmentStatus.REFUNDED:
            await reserve_seat(session, tenant_id, user_id)
            existing.status = EnrollmentStatus.ACTIVE
            await session.flush()
        return existing.id
    enrollment, _ = await service.enroll(course_id)
    return enrollment.id


async def end_refunded(session: AsyncSession, user_id: UUID, course_id: UUID) -> bool:
    """A refunded purchase ends the enrolment (status `refunded`): access to the course ends, and the
    seat is released. A completed enrolment keeps its record of completion."""
    result = await session.execute(
        update(Enrollment)
        .where(
            Enrollment.user_id == user_id,
            Enrollment.course_id == course_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
        .values(status=EnrollmentStatus.REFUNDED)
    )
    return bool(getattr(result, "rowcount", 0))
