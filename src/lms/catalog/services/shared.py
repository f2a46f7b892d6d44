"""The platform-shared catalogue, curated by operators on the `lms_operator` role (audited).

An operator shares a tenant's published course: its current version is copied into a new course
with `tenant_id` NULL (new ids, version 1). Tenants then see it in /api/v1/catalog/shared and
offer it to their learners. Media stay with the tenant that owns them, so copied video lessons
keep their duration and content but no media asset until the operator attaches a shared one.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.models import Course, CourseStatus, CourseVersion, Difficulty, Lesson, LessonType, Module
from lms.catalog.schemas import ShareIn
from lms.lib.errors import Conflict, NotFound
from lms.lib.ids import new_id
from lms.tenancy.services import Actor, TenantAdmin


class SharedCatalogueAdmin:
    """Operator-side writes to the shared catalogue."""

    def __init__(self, session: AsyncSession, actor: Actor, base_domain: str) -> None:
        self.session = session
        self.actor = actor
        self.audit = TenantAdmin(session, actor, base_domain).audit

    async def list_shared(self) -> list[Course]:
        rows = await self.session.execute(select(Course).where(Course.tenant_id.is_(None)).order_by(Course.title))
        return list(rows.scalars())

    async def share(self, data: ShareIn) -> Course:
        source = (
            await self.session.execute(
                select(Course).where(Course.id == data.course_id, Course.tenant_id == data.tenant_id)
            )
        ).scalar_one_or_none()
        if source is None or source.current_version_id is None:
            raise NotFound("no published course with this id in that tenant", field="course_id")
        version = await self.session.get(CourseVersion, source.current_version_id)
        assert version is not None
        snapshot: dict[str, Any] = version.snapshot
        course = Course(
            tenant_id=None,
            title=source.title,
            slug=data.slug or source.slug,
            summary=source.summary,
            description=source.description,
            category=source.category,
            difficulty=Difficulty(source.difficulty),
            language=source.language,
            tags=list(source.tags),
            price_cents=0,
            currency=source.currency,
            instructor_ids=[],
            status=CourseStatus.PUBLISHED,
            self_enrollment=True,
            completion_rules=dict(source.completion_rules),
        )
        self.session.add(course)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("the shared catalogue already has a course with this slug", field="slug") from exc
        modules_out: list[dict[str, Any]] = []
        lessons: list[Lesson] = []
        for m in snapshot.get("modules", []):
            module = Module(tenant_id=None, course_id=course.id, title=m["title"], position=m["position"])
            module.id = new_id()
            self.session.add(module)
            lessons_out = []
            for item in m.get("lessons", []):
                lesson = Lesson(
                    tenant_id=None,
                    course_id=course.id,
                    module_id=module.id,
                    title=item["title"],
                    type=LessonType(item["type"]),
                    position=item["position"],
                    duration_seconds=item.get("duration_seconds"),
                    content=item.get("content") or {},
                    media_asset_id=None,
                    required=item.get("required", True),
                )
                lesson.id = new_id()
                lessons.append(lesson)
                lessons_out.append({**item, "id": str(lesson.id), "module_id": str(module.id), "media_asset_id": None})
            # Prerequisites point at the source's ids; they do not carry over to the copy.
            modules_out.append({**m, "id": str(module.id), "prerequisites": [], "lessons": lessons_out})
        # Modules first: without ORM relationships the unit of work does not order these inserts.
        await self.session.flush()
        self.session.add_all(lessons)
        await self.session.flush()
        copy = CourseVersion(
            tenant_id=None,
            course_id=course.id,
            number=1,
            snapshot={"course": snapshot.get("course", {}), "modules": modules_out},
            note=f"shared from tenant {data.tenant_id}, course {data.course_id} version {version.number}",
        )
        self.session.add(copy)
        await self.session.flush()
        course.current_version_id = copy.id
        await self.session.flush()
        await self.audit(
            "catalog.share",
            data.tenant_id,
            None,
            {"source_course_id": str(data.course_id), "shared_course_id": str(course.id), "slug": course.slug},
        )
        return course

    async def archive(self, course_id: UUID) -> Course:
        course = (
            await self.session.execute(select(Course).where(Course.id == course_id, Course.tenant_id.is_(None)))
        ).scalar_one_or_none()
        if course is None:
            raise NotFound("no shared course with this id", field="course_id")
        course.status = CourseStatus.ARCHIVED
        await self.session.flush()
        await self.audit("catalog.archive_shared", None, None, {"shared_course_id": str(course.id)})
        return course
