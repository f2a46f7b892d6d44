"""Learning API: enrolments, progress events, resume, learner views, version migration."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.dto import MsgspecDTO
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_422_UNPROCESSABLE_ENTITY
from litestar.typing import FieldDefinition

from lms.catalog.guards import requires_author
from lms.catalog.schemas import MigrateIn
from lms.config import Settings
from lms.db.engines import Database
from lms.db.providers import DbSession, Reads, Session
from lms.identity.guards import Principal, requires_user
from lms.learning.models import EnrollmentSource, EnrollmentStatus
from lms.learning.schemas import (
    BulkEnrollIn,
    BulkResult,
    ContinueOut,
    EnrollIn,
    EnrollmentOut,
    EventsIn,
    EventsOut,
    LessonViewOut,
    MyCourseOut,
    ReceivedBatch,
    ResumeOut,
    StatusIn,
)
from lms.learning.services import EnrollmentService, enrollment_out, views
from lms.learning.services.dead_letters import DeadLetterOut, list_dead_letters
from lms.learning.services.ingest import StreamKeys, decode_batch, ingest_append, ingest_events
from lms.lib.edge import JSON_CHECKED_BY_HANDLER_OPT
from lms.lib.pagination import DEFAULT_LIMIT, Page, PageParams
from lms.lib.params import AppRequest, Limit, Offset, VersionNumber
from lms.tenancy.guards import requires_operator


async def provide_enrollments(db_session: DbSession, principal: NamedDependency[Principal]) -> EnrollmentService:
    return EnrollmentService(db_session, principal)


class EnrollmentController(Controller):
    path = "/api/v1/enrollments"
    guards = [requires_user]
    dependencies = {
        "enrollments": Provide(provide_enrollments),
    }
    tags = ["learning"]

    @post("/", responses={200: ResponseSpec(EnrollmentOut, description="Already enrolled: the existing enrolment.")})
    async def enroll(
        self, enrollments: NamedDependency[EnrollmentService], data: JSONBody[EnrollIn]
    ) -> Response[EnrollmentOut]:
        """Idempotent per (user, course): 201 when created, 200 with the existing enrolment otherwise."""
        enrollment, created = await enrollments.enroll(data.course_id, data.user_id, data.due_at, data.expires_at)
        out = (await enrollment_out(enrollments.session, [enrollment]))[0]
        return Response(out, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @post("/bulk", guards=[requires_author], status_code=HTTP_200_OK)
    async def bulk(
        self, enrollments: NamedDependency[EnrollmentService], data: JSONBody[BulkEnrollIn]
    ) -> list[BulkResult]:
        """Assign a course to many learners (e.g. a group's members) with an optional due date."""
        return await enrollments.bulk_enroll(
            data.course_id, data.user_ids, data.due_at, EnrollmentSource.GROUP, data.expires_at
        )

    @get("/")
    async def list_enrollments(
        self,
        enrollments: NamedDependency[EnrollmentService],
        page: NamedDependency[PageParams],
        course_id: FromQuery[UUID | None] = None,
        user_id: FromQuery[UUID | None] = None,
        status: FromQuery[EnrollmentStatus | None] = None,
    ) -> Page[EnrollmentOut]:
        """Authors see everyone's; learners only their own."""
        items, total = await enrollments.list_enrollments(page.limit, page.offset, course_id, user_id, status)
        return Page(
            items=await enrollment_out(enrollments.session, items), total=total, limit=page.limit, offset=page.offset
        )

    @get("/{enrollment_id:uuid}")
    async def get_enrollment(
        self, enrollments: NamedDependency[EnrollmentService], enrollment_id: FromPath[UUID]
    ) -> EnrollmentOut:
        """One enrolment with its progress."""
        return (await enrollment_out(enrollments.session, [await enrollments.get(enrollment_id)]))[0]

    @post("/{enrollment_id:uuid}/status", status_code=HTTP_200_OK)
    async def set_status(
        self, enrollments: NamedDependency[EnrollmentService], enrollment_id: FromPath[UUID], data: JSONBody[StatusIn]
    ) -> EnrollmentOut:
        """Change an enrolment's status."""
        enrollment = await enrollments.set_status(enrollment_id, data.status)
        return (await enrollment_out(enrollments.session, [enrollment]))[0]


class CourseVersionMigrationController(Controller):
    path = "/api/v1/courses/{course_id:uuid}/versions/{number:int}/migrate"
    guards = [requires_author]
    dependencies = {"enrollments": Provide(provide_enrollments)}
    tags = ["learning"]

    @post("/", status_code=HTTP_200_OK)
    async def migrate(
        self,
        enrollments: NamedDependency[EnrollmentService],
        course_id: FromPath[UUID],
        number: VersionNumber,
        data: JSONBody[MigrateIn],
    ) -> dict[str, int]:
        """Move learners onto version `number` (listed enrolments, or every active one)."""
        return {"migrated": await enrollments.migrate(course_id, number, data.enrollment_ids)}


class EventsBodyDTO(MsgspecDTO[EventsIn]):
    """Documents the body as EventsIn but decodes it in one pass into a ReceivedBatch: the hottest
    route skips the generic JSON-to-dict step, and each event is then decoded on its own."""

    def decode_bytes(self, value: bytes) -> Any:
        return decode_batch(value)

    @classmethod
    def create_openapi_schema(cls, field_definition: Any, handler_id: str, schema_creator: Any) -> Any:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(EventsIn))


class ProgressController(Controller):
    path = "/api/v1/progress"
    guards = [requires_user]
    tags = ["learning"]

    # Ingest's typed decoder bounds nesting and checks strings event by event (one bad event does
    # not sink its batch), so the edge only bounds the size of this hottest body.
    @post(
        "/events",
        dto=EventsBodyDTO,
        return_dto=None,
        status_code=HTTP_202_ACCEPTED,
        responses={422: ResponseSpec(EventsOut, description="No event was accepted; each result says why.")},
        opt={JSON_CHECKED_BY_HANDLER_OPT: True},
    )
    async def events(
        self, request: AppRequest, principal: NamedDependency[Principal], data: JSONBody[ReceivedBatch]
    ) -> Response[EventsOut]:
        """A batch of progress events: 202 with a result per event; 422 when none was accepted."""
        # The most frequent request: `principal` is its only dependency, and the rest comes from the app
        # state (independent dependencies would be resolved side by side in a task group of their own).
        state = request.app.state
        settings: Settings = state.settings
        database: Database = state.db
        keys = StreamKeys.for_queue(settings.celery_queue)
        out = await ingest_events(database, ingest_append(state), keys, principal, data.events)
        return Response(out, status_code=HTTP_202_ACCEPTED if out.accepted else HTTP_422_UNPROCESSABLE_ENTITY)

    @get("/lessons/{lesson_id:uuid}/resume")
    async def resume(self, reads: Reads, principal: NamedDependency[Principal], lesson_id: FromPath[UUID]) -> ResumeOut:
        """Where to resume a lesson (video position, scroll depth)."""
        # Every player opens with it: one statement, sessionless reads (`reads` depends on `principal`).
        return await views.resume(reads, principal, lesson_id)


class LearnerController(Controller):
    path = "/api/v1/me/learning"
    guards = [requires_user]
    tags = ["learning"]

    # Hot lists: sessionless reads (`reads` depends on `principal`, so no task group resolves them side by
    # side) and plain bounds instead of the `page` provider.
    @get("/courses")
    async def my_courses(
        self, reads: Reads, principal: NamedDependency[Principal], limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
    ) -> Page[MyCourseOut]:
        """Your enrolments with progress, most recently active first."""
        return await views.my_courses(reads, principal, PageParams(limit=limit, offset=offset))

    @get("/due")
    async def due(
        self, reads: Reads, principal: NamedDependency[Principal], limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
    ) -> Page[MyCourseOut]:
        """Assigned courses with a due date, soonest first; `overdue` marks the late ones."""
        return await views.my_courses(reads, principal, PageParams(limit=limit, offset=offset), due_only=True)

    @get("/continue")
    async def continue_learning(
        self, db_session: DbSession, principal: NamedDependency[Principal]
    ) -> ContinueOut | None:
        """Where to continue: the most recently active unfinished course and lesson."""
        return await views.continue_learning(db_session, principal)

    @get("/courses/{course_id:uuid}/lessons/{lesson_id:uuid}")
    async def open_lesson(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        lesson_id: FromPath[UUID],
    ) -> LessonViewOut:
        """The lesson from the learner's course version; 403 `lesson_locked` naming what is missing."""
        return await views.open_lesson(db_session, principal, course_id, lesson_id)


async def provide_operator_session(database: NamedDependency[Database]) -> AsyncGenerator[Session, None]:
    """A read-only, platform-wide session (the operator role) for one request."""
    async with database.operator_sessions() as session:
        yield session


class DeadLetterOperatorController(Controller):
    path = "/api/v1/operator/dead-letters"
    guards = [requires_operator]
    dependencies = {"operator_session": Provide(provide_operator_session)}
    tags = ["operator"]

    @get()
    async def list_dead_letters(
        self,
        operator_session: DbSession,
        page: NamedDependency[PageParams],
        tenant_id: FromQuery[UUID | None] = None,
    ) -> Page[DeadLetterOut]:
        """Progress events the fold could not store, newest first; `tenant_id` narrows to one tenant."""
        return await list_dead_letters(operator_session, tenant_id, page.limit, page.offset)
