"""Operator API for the shared catalogue under /api/v1/operator/catalog (operator credentials only)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from lms.catalog.models import Course
from lms.catalog.shared import SharedCatalogueAdmin, SharedCourseAdminOut, ShareIn
from lms.config import Settings
from lms.db.engines import Database
from lms.lib.pagination import Page, PageParams
from lms.lib.params import AppRequest
from lms.tenancy.guards import requires_operator
from lms.tenancy.services import Actor


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
