"""Catalogue API: courses, modules, lessons, ordering, publishing and versions under /api/v1/courses."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, MediaType, Response, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, PathParameter, QueryParameter, RawBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from lms.catalog.guards import requires_author
from lms.catalog.models import Course, CourseStatus, Difficulty
from lms.catalog.schemas import (
    CourseCreate,
    CourseListItem,
    CourseOut,
    CourseUpdate,
    LessonCreate,
    LessonOut,
    LessonUpdate,
    ModuleCreate,
    ModuleOut,
    ModuleUpdate,
    PriceFilter,
    ProgramCoursesIn,
    ProgramCreate,
    ProgramOut,
    ProgramStatusIn,
    PublishIn,
    ReorderIn,
    SearchQuery,
    SearchResult,
    SharedCourseAdminOut,
    SharedCourseOut,
    ShareIn,
    SortOrder,
    VersionOut,
)
from lms.catalog.services import CatalogueService, course_page, lesson_out, module_out
from lms.catalog.services.covers import MAX_COVER_BYTES, read_cover, remove_cover, set_cover
from lms.catalog.services.lesson_images import read_lesson_image
from lms.catalog.services.programs import ProgramService
from lms.catalog.services.search import CourseSearch
from lms.catalog.services.shared import SharedCatalogueAdmin
from lms.config import Settings
from lms.db.engines import Database
from lms.db.providers import DbSession, Reads
from lms.identity.guards import Principal, requires_user
from lms.lib.pagination import DEFAULT_LIMIT, Page, PageParams
from lms.lib.params import AppRequest, Limit, Offset, VersionNumber
from lms.lib.storage import Storage
from lms.tenancy.guards import requires_operator
from lms.tenancy.services import Actor


async def provide_catalogue(db_session: DbSession, principal: NamedDependency[Principal]) -> CatalogueService:
    return CatalogueService(db_session, principal)


class CourseController(Controller):
    path = "/api/v1/courses"
    guards = [requires_user]
    dependencies = {
        "catalogue": Provide(provide_catalogue),
    }
    tags = ["catalogue"]

    @get("/")
    async def list_courses(
        self,
        reads: Reads,
        principal: NamedDependency[Principal],
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
        status: FromQuery[CourseStatus | None] = None,
    ) -> Response[Page[CourseListItem]]:
        """Learners see released courses (own and shared); authors also see drafts and archived ones.
        Each item is a catalogue card; the description and outline come with the course itself."""
        # The hottest list: sessionless reads and plain bounds (no `catalogue`, `db_session` or `page`
        # dependencies to build, nor a task group resolving them side by side); the page arrives as JSON.
        body: Any = await course_page(reads, principal, limit, offset, status)
        return Response(body, media_type=MediaType.JSON)

    @post("/", guards=[requires_author], status_code=HTTP_201_CREATED)
    async def create_course(
        self, catalogue: NamedDependency[CatalogueService], data: JSONBody[CourseCreate]
    ) -> CourseOut:
        """Create a draft course."""
        return await catalogue.describe(await catalogue.create_course(data))

    @get("/{course_id:uuid}")
    async def get_course(self, catalogue: NamedDependency[CatalogueService], course_id: FromPath[UUID]) -> CourseOut:
        """Authors get the editable structure; learners get the published outline (no lesson content)."""
        course = await catalogue.get_course(course_id)
        if catalogue.is_author and not course.is_shared:
            return await catalogue.describe(course, with_structure=True)
        out = await catalogue.describe(course, with_structure=True)
        for module in out.modules or []:
            for lesson in module.lessons:
                lesson.content = {}
        return out

    @patch("/{course_id:uuid}", guards=[requires_author])
    async def update_course(
        self, catalogue: NamedDependency[CatalogueService], course_id: FromPath[UUID], data: JSONBody[CourseUpdate]
    ) -> CourseOut:
        """Change a course's details (the fields given)."""
        return await catalogue.describe(await catalogue.update_course(course_id, data))

    @post("/{course_id:uuid}/publish", guards=[requires_author], status_code=HTTP_200_OK)
    async def publish(
        self, catalogue: NamedDependency[CatalogueService], course_id: FromPath[UUID], data: JSONBody[PublishIn]
    ) -> VersionOut:
        """Publish the draft as a new version (now, or at `publish_at`)."""
        version = await catalogue.publish(course_id, data.note, data.publish_at)
        return VersionOut(
            id=version.id,
            number=version.number,
            note=version.note,
            published_by=version.published_by,
            created_at=version.created_at,
            current=True,
        )

    @post("/{course_id:uuid}/archive", guards=[requires_author], status_code=HTTP_200_OK)
    async def archive(self, catalogue: NamedDependency[CatalogueService], course_id: FromPath[UUID]) -> CourseOut:
        """Archive a course."""
        return await catalogue.describe(await catalogue.archive(course_id))

    @put("/{course_id:uuid}/cover", guards=[requires_author], request_max_body_size=MAX_COVER_BYTES + 1)
    async def upload_cover(
        self,
        catalogue: NamedDependency[CatalogueService],
        storage: NamedDependency[Storage],
        course_id: FromPath[UUID],
        body: RawBody,
    ) -> CourseOut:
        """The cover image (the body: PNG, JPEG or WebP, at most 2 MB and 4,000 pixels a side; SVG refused)."""
        await set_cover(catalogue, storage, course_id, body)
        return await catalogue.describe(await catalogue.get_course(course_id))

    @delete("/{course_id:uuid}/cover", guards=[requires_author], status_code=HTTP_200_OK)
    async def delete_cover(self, catalogue: NamedDependency[CatalogueService], course_id: FromPath[UUID]) -> CourseOut:
        """No cover image any more."""
        await remove_cover(catalogue, course_id)
        return await catalogue.describe(await catalogue.get_course(course_id))

    @get("/{course_id:uuid}/versions", guards=[requires_author])
    async def versions(
        self, catalogue: NamedDependency[CatalogueService], course_id: FromPath[UUID], page: NamedDependency[PageParams]
    ) -> Page[VersionOut]:
        """The course's published versions, newest first; `current` marks the one learners start on."""
        return page.slice(await catalogue.versions(course_id))

    @post("/{course_id:uuid}/versions/{number:int}/rollback", guards=[requires_author], status_code=HTTP_200_OK)
    async def rollback(
        self, catalogue: NamedDependency[CatalogueService], course_id: FromPath[UUID], number: VersionNumber
    ) -> CourseOut:
        """Make an earlier published version the course's current one again."""
        await catalogue.rollback(course_id, number)
        return await catalogue.describe(await catalogue.get_course(course_id), with_structure=True)

    @post("/{course_id:uuid}/modules", guards=[requires_author], status_code=HTTP_201_CREATED)
    async def add_module(
        self, catalogue: NamedDependency[CatalogueService], course_id: FromPath[UUID], data: JSONBody[ModuleCreate]
    ) -> ModuleOut:
        """Add a module to a course."""
        return module_out(await catalogue.add_module(course_id, data))

    @patch("/{course_id:uuid}/modules/{module_id:uuid}", guards=[requires_author])
    async def update_module(
        self,
        catalogue: NamedDependency[CatalogueService],
        course_id: FromPath[UUID],
        module_id: FromPath[UUID],
        data: JSONBody[ModuleUpdate],
    ) -> ModuleOut:
        """Change a module (the fields given)."""
        return module_out(await catalogue.update_module(course_id, module_id, data))

    @delete("/{course_id:uuid}/modules/{module_id:uuid}", guards=[requires_author], status_code=HTTP_200_OK)
    async def delete_module(
        self, catalogue: NamedDependency[CatalogueService], course_id: FromPath[UUID], module_id: FromPath[UUID]
    ) -> dict[str, str]:
        """Delete a module and its lessons from the course's draft."""
        await catalogue.delete_module(course_id, module_id)
        return {"status": "deleted", "id": str(module_id)}

    @put("/{course_id:uuid}/modules/order", guards=[requires_author])
    async def reorder_modules(
        self, catalogue: NamedDependency[CatalogueService], course_id: FromPath[UUID], data: JSONBody[ReorderIn]
    ) -> list[ModuleOut]:
        """Set the order of the course's modules (all of its module ids, in order)."""
        return [module_out(m) for m in await catalogue.reorder_modules(course_id, data.ids)]

    @post("/{course_id:uuid}/modules/{module_id:uuid}/lessons", guards=[requires_author], status_code=HTTP_201_CREATED)
    async def add_lesson(
        self,
        catalogue: NamedDependency[CatalogueService],
        course_id: FromPath[UUID],
        module_id: FromPath[UUID],
        data: JSONBody[LessonCreate],
    ) -> LessonOut:
        """Add a lesson to a module of a draft course."""
        return lesson_out(await catalogue.add_lesson(course_id, module_id, data))

    @put("/{course_id:uuid}/modules/{module_id:uuid}/lessons/order", guards=[requires_author])
    async def reorder_lessons(
        self,
        catalogue: NamedDependency[CatalogueService],
        course_id: FromPath[UUID],
        module_id: FromPath[UUID],
        data: JSONBody[ReorderIn],
    ) -> list[LessonOut]:
        """Set the order of a module's lessons (all of its lesson ids, in order)."""
        return [lesson_out(lesson) for lesson in await catalogue.reorder_lessons(course_id, module_id, data.ids)]

    @patch("/{course_id:uuid}/lessons/{lesson_id:uuid}", guards=[requires_author])
    async def update_lesson(
        self,
        catalogue: NamedDependency[CatalogueService],
        course_id: FromPath[UUID],
        lesson_id: FromPath[UUID],
        data: JSONBody[LessonUpdate],
    ) -> LessonOut:
        """Change a lesson (the fields given)."""
        return lesson_out(await catalogue.update_lesson(course_id, lesson_id, data))

    @delete("/{course_id:uuid}/lessons/{lesson_id:uuid}", guards=[requires_author], status_code=HTTP_200_OK)
    async def delete_lesson(
        self, catalogue: NamedDependency[CatalogueService], course_id: FromPath[UUID], lesson_id: FromPath[UUID]
    ) -> dict[str, str]:
        """Delete a lesson from the course's draft (published versions keep it)."""
        await catalogue.delete_lesson(course_id, lesson_id)
        return {"status": "deleted", "id": str(lesson_id)}


class SharedCatalogueController(Controller):
    path = "/api/v1/catalog/shared"
    guards = [requires_author]
    dependencies = {
        "catalogue": Provide(provide_catalogue),
    }
    tags = ["catalogue"]

    @get("/")
    async def list_shared(
        self, catalogue: NamedDependency[CatalogueService], page: NamedDependency[PageParams]
    ) -> Page[SharedCourseOut]:
        """The platform's shared catalogue, with whether this site offers each course."""
        rows, total = await catalogue.shared_catalogue(page.limit, page.offset)
        items = [
            SharedCourseOut(id=c.id, title=c.title, slug=c.slug, summary=c.summary, offered=offered)
            for c, offered in rows
        ]
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @put("/{course_id:uuid}/offer")
    async def offer(self, catalogue: NamedDependency[CatalogueService], course_id: FromPath[UUID]) -> SharedCourseOut:
        """Offer a shared course to this site's learners (tenant admins; idempotent)."""
        course = await catalogue.offer_shared(course_id)
        return SharedCourseOut(id=course.id, title=course.title, slug=course.slug, summary=course.summary, offered=True)

    @delete("/{course_id:uuid}/offer", status_code=HTTP_200_OK)
    async def withdraw(self, catalogue: NamedDependency[CatalogueService], course_id: FromPath[UUID]) -> dict[str, str]:
        """Stop offering a shared course to this site's learners (idempotent)."""
        await catalogue.withdraw_shared(course_id)
        return {"status": "withdrawn", "course_id": str(course_id)}


def provide_course_search(reads: Reads, principal: NamedDependency[Principal]) -> CourseSearch:
    """A hot read: sessionless (`reads` depends on `principal` alone, so no session is built at all)."""
    return CourseSearch(reads, principal.tenant_id)


class CatalogueSearchController(Controller):
    path = "/api/v1/catalog/search"
    guards = [requires_user]
    dependencies = {"search": Provide(provide_course_search, sync_to_thread=False)}
    tags = ["catalogue"]

    @get("/")
    async def search(
        self,
        search: NamedDependency[CourseSearch],
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        category: Annotated[str | None, QueryParameter(max_length=80)] = None,
        difficulty: FromQuery[Difficulty | None] = None,
        language: Annotated[str | None, QueryParameter(max_length=16)] = None,
        instructor_id: Annotated[UUID | None, QueryParameter(name="instructor")] = None,
        price: FromQuery[PriceFilter | None] = None,
        sort: FromQuery[SortOrder] = "relevance",
        limit: Annotated[int, QueryParameter(ge=1, le=100, description="How many results (1 to 100).")] = 20,
        offset: Annotated[int, QueryParameter(ge=0, le=10_000, description="How many results to skip.")] = 0,
    ) -> SearchResult:
        """Released courses of this site and the shared catalogue; facets count the current results."""
        query = SearchQuery(
            q=q,
            category=category,
            difficulty=difficulty,
            language=language,
            instructor_id=instructor_id,
            price=price,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        return await search.search(query)


async def provide_programs(db_session: DbSession, principal: NamedDependency[Principal]) -> ProgramService:
    return ProgramService(db_session, principal)


class ProgramController(Controller):
    path = "/api/v1/programs"
    guards = [requires_user]
    dependencies = {
        "programs": Provide(provide_programs),
    }
    tags = ["catalogue"]

    @get("/")
    async def list_programs(
        self, programs: NamedDependency[ProgramService], page: NamedDependency[PageParams]
    ) -> Page[ProgramOut]:
        """Programs of this site."""
        items, total = await programs.list_programs(page.limit, page.offset)
        return Page(
            items=[await programs.describe(p) for p in items], total=total, limit=page.limit, offset=page.offset
        )

    @post("/", guards=[requires_author], status_code=HTTP_201_CREATED)
    async def create_program(
        self, programs: NamedDependency[ProgramService], data: JSONBody[ProgramCreate]
    ) -> ProgramOut:
        """Create a program: an ordered path of courses."""
        return await programs.describe(await programs.create(data))

    @get("/{program_id:uuid}")
    async def get_program(self, programs: NamedDependency[ProgramService], program_id: FromPath[UUID]) -> ProgramOut:
        """One program with its ordered courses."""
        return await programs.describe(await programs.get(program_id))

    @put("/{program_id:uuid}/courses", guards=[requires_author])
    async def set_courses(
        self, programs: NamedDependency[ProgramService], program_id: FromPath[UUID], data: JSONBody[ProgramCoursesIn]
    ) -> ProgramOut:
        """Replace the ordered course list (also how courses are reordered)."""
        return await programs.describe(await programs.set_courses(program_id, data.course_ids))

    @post("/{program_id:uuid}/status", guards=[requires_author], status_code=HTTP_200_OK)
    async def set_status(
        self, programs: NamedDependency[ProgramService], program_id: FromPath[UUID], data: JSONBody[ProgramStatusIn]
    ) -> ProgramOut:
        """Release, or archive, a program."""
        return await programs.describe(await programs.set_status(program_id, data.status))


async def provide_shared_admin(
    request: AppRequest, database: NamedDependency[Database], settings: NamedDependency[Settings]
) -> AsyncGenerator[SharedCatalogueAdmin, None]:
    operator = request.state.operator
    actor = Actor(name=operator.email, operator_id=operator.id, request_id=request.scope["state"].get("request_id"))
    async with database.operator_sessions() as session:
        try:
            yield SharedCatalogueAdmin(session, actor, settings.public_base_domain)
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def shared_out(
    course: Course, source_tenant: UUID | None = None, source_course: UUID | None = None
) -> SharedCourseAdminOut:
    return SharedCourseAdminOut(
        id=course.id,
        title=course.title,
        slug=course.slug,
        status=course.status,
        source_tenant_id=source_tenant,
        source_course_id=source_course,
    )


class SharedCatalogueOperatorController(Controller):
    path = "/api/v1/operator/catalog"
    guards = [requires_operator]
    dependencies = {"admin": Provide(provide_shared_admin)}
    tags = ["operator"]

    @get("/courses")
    async def list_shared(
        self, admin: NamedDependency[SharedCatalogueAdmin], page: NamedDependency[PageParams]
    ) -> Page[SharedCourseAdminOut]:
        """Every course of the platform's shared catalogue."""
        return page.slice([shared_out(c) for c in await admin.list_shared()])

    @post("/courses", status_code=HTTP_201_CREATED)
    async def share(
        self, admin: NamedDependency[SharedCatalogueAdmin], data: JSONBody[ShareIn]
    ) -> SharedCourseAdminOut:
        """Copy a tenant's published course into the shared catalogue."""
        return shared_out(await admin.share(data), data.tenant_id, data.course_id)

    @post("/courses/{course_id:uuid}/archive", status_code=HTTP_200_OK)
    async def archive(
        self, admin: NamedDependency[SharedCatalogueAdmin], course_id: FromPath[UUID]
    ) -> SharedCourseAdminOut:
        """Archive a course of the shared catalogue."""
        return shared_out(await admin.archive(course_id))


class CourseCoverController(Controller):
    """A course's images (its cover, the images of its text lessons), for the people who can see the
    course. Each name is derived from the content: a new image is a new name, so none ever changes."""

    path = "/courses/{course_id:uuid}"
    guards = [requires_user]
    dependencies = {"catalogue": Provide(provide_catalogue)}
    include_in_schema = False

    @get("/images/{name:str}", media_type="application/octet-stream")
    async def lesson_image(
        self,
        catalogue: NamedDependency[CatalogueService],
        storage: NamedDependency[Storage],
        course_id: FromPath[UUID],
        name: Annotated[str, PathParameter(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")],
    ) -> Response[bytes]:
        data, content_type = await read_lesson_image(catalogue, storage, course_id, name)
        return Response(data, media_type=content_type, headers={"Cache-Control": IMMUTABLE})

    @get("/cover/{name:str}", media_type="application/octet-stream")
    async def cover(
        self,
        catalogue: NamedDependency[CatalogueService],
        storage: NamedDependency[Storage],
        course_id: FromPath[UUID],
        name: Annotated[str, PathParameter(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")],
    ) -> Response[bytes]:
        data, content_type = await read_cover(catalogue, storage, course_id, name)
        return Response(data, media_type=content_type, headers={"Cache-Control": IMMUTABLE})


IMMUTABLE = "private, max-age=31536000, immutable"
