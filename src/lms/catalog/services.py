"""Authoring the catalogue: courses, modules, lessons, ordering, publishing, versions, rollback.

Runs on the request's tenant-bound session, so RLS scopes every query: a tenant sees its own rows
and the shared catalogue, and can change only its own rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.models import Course, CourseStatus, CourseVersion, Lesson, LessonType, Module
from lms.catalog.schemas import (
    CourseCreate,
    CourseOut,
    CourseUpdate,
    LessonCreate,
    LessonOut,
    LessonUpdate,
    ModuleCreate,
    ModuleOut,
    ModuleUpdate,
    VersionOut,
)
from lms.identity.models import Role
from lms.identity.principal import Principal
from lms.lib.errors import Conflict, Forbidden, NotFound, ValidationFailed


def now() -> datetime:
    return datetime.now(UTC)


def is_visible_to_learners(course: Course, at: datetime | None = None) -> bool:
    """Published, and its scheduled release time (if any) has passed."""
    at = at or now()
    return course.status is CourseStatus.PUBLISHED and (course.publish_at is None or course.publish_at <= at)


def lesson_out(lesson: Lesson) -> LessonOut:
    return LessonOut(
        id=lesson.id,
        module_id=lesson.module_id,
        title=lesson.title,
        type=lesson.type,
        position=lesson.position,
        duration_seconds=lesson.duration_seconds,
        required=lesson.required,
        media_asset_id=lesson.media_asset_id,
        content=lesson.content,
    )


def module_out(module: Module, lessons: Sequence[Lesson] = ()) -> ModuleOut:
    return ModuleOut(
        id=module.id,
        title=module.title,
        position=module.position,
        prerequisites=module.prerequisites,
        lessons=[lesson_out(lesson) for lesson in lessons],
    )


def course_out(course: Course, version_number: int | None, modules: list[ModuleOut] | None = None) -> CourseOut:
    return CourseOut(
        id=course.id,
        title=course.title,
        slug=course.slug,
        summary=course.summary,
        description=course.description,
        category=course.category,
        difficulty=course.difficulty,
        language=course.language,
        tags=list(course.tags),
        price_cents=course.price_cents,
        currency=course.currency,
        instructor_ids=list(course.instructor_ids),
        status=course.status,
        publish_at=course.publish_at,
        self_enrollment=course.self_enrollment,
        shared=course.is_shared,
        completion_rules=course.completion_rules,
        current_version=version_number,
        enrollment_count=course.enrollment_count,
        created_at=course.created_at,
        modules=modules,
    )


class CatalogueService:
    """Courses of the current tenant plus the shared catalogue (read-only here)."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    @property
    def is_author(self) -> bool:
        return self.principal.has_role(Role.INSTRUCTOR, Role.TENANT_ADMIN)

    # --- reads -------------------------------------------------------------------------------
    async def get_course(self, course_id: UUID) -> Course:
        """A course the caller may see: authors see drafts of their tenant, learners only released ones."""
        course = await self.session.get(Course, course_id)
        if course is None or not (self.is_author or is_visible_to_learners(course)):
            raise NotFound("course not found", field="course_id")
        return course

    async def list_courses(
        self, limit: int, offset: int, status: CourseStatus | None = None
    ) -> tuple[list[Course], int]:
        query = select(Course)
        if not self.is_author:
            query = query.where(
                Course.status == CourseStatus.PUBLISHED, (Course.publish_at.is_(None)) | (Course.publish_at <= now())
            )
        elif status is not None:
            query = query.where(Course.status == status)
        total = (await self.session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        rows = await self.session.execute(query.order_by(Course.created_at.desc()).limit(limit).offset(offset))
        return list(rows.scalars()), total

    async def version_numbers(self, courses: Sequence[Course]) -> dict[UUID, int]:
        ids = [c.current_version_id for c in courses if c.current_version_id]
        if not ids:
            return {}
        rows = await self.session.execute(
            select(CourseVersion.id, CourseVersion.number).where(CourseVersion.id.in_(ids))
        )
        return {row.id: row.number for row in rows}

    async def describe(self, course: Course, with_structure: bool = False) -> CourseOut:
        numbers = await self.version_numbers([course])
        modules = await self.structure(course.id) if with_structure else None
        return course_out(
            course, numbers.get(course.current_version_id) if course.current_version_id else None, modules
        )

    async def structure(self, course_id: UUID) -> list[ModuleOut]:
        modules = (
            await self.session.execute(select(Module).where(Module.course_id == course_id).order_by(Module.position))
        ).scalars()
        lessons = (
            await self.session.execute(select(Lesson).where(Lesson.course_id == course_id).order_by(Lesson.position))
        ).scalars()
        by_module: dict[UUID, list[Lesson]] = {}
        for lesson in lessons:
            by_module.setdefault(lesson.module_id, []).append(lesson)
        return [module_out(m, by_module.get(m.id, [])) for m in modules]

    # --- authoring ---------------------------------------------------------------------------
    async def editable_course(self, course_id: UUID, lock: bool = False) -> Course:
        """The course, if the caller may change it: a tenant admin, or one of its instructors."""
        query = select(Course).where(Course.id == course_id)
        if lock:
            # Serialises structural edits (reorder, add, publish) of one course.
            query = query.with_for_update()
        course = (await self.session.execute(query)).scalar_one_or_none()
        if course is None:
            raise NotFound("course not found", field="course_id")
        if course.is_shared:
            raise Forbidden("courses of the shared catalogue are read-only")
        if not self.principal.has_role(Role.TENANT_ADMIN) and self.principal.user_id not in course.instructor_ids:
            raise Forbidden("only the course's instructors or a tenant admin can change it")
        return course

    async def create_course(self, data: CourseCreate) -> Course:
        instructors = list(dict.fromkeys([*data.instructor_ids, self.principal.user_id]))
        course = Course(
            tenant_id=self.principal.tenant_id,
            title=data.title,
            slug=data.slug,
            summary=data.summary,
            description=data.description,
            category=data.category,
            difficulty=data.difficulty,
            language=data.language,
            tags=list(dict.fromkeys(data.tags)),
            price_cents=data.price_cents,
            currency=data.currency,
            instructor_ids=instructors,
            self_enrollment=data.self_enrollment,
            publish_at=data.publish_at,
            completion_rules=msgspec.to_builtins(data.completion_rules),
            status=CourseStatus.DRAFT,
        )
        self.session.add(course)
        await self._flush_unique("slug", f"a course with slug '{data.slug}' already exists")
        return course

    async def update_course(self, course_id: UUID, data: CourseUpdate) -> Course:
        course = await self.editable_course(course_id)
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        if "completion_rules" in changes:
            changes["completion_rules"] = msgspec.to_builtins(changes["completion_rules"])
        if "tags" in changes:
            changes["tags"] = list(dict.fromkeys(changes["tags"]))
        for key, value in changes.items():
            setattr(course, key, value)
        await self._flush_unique("slug", "a course with this slug already exists")
        return course

    async def add_module(self, course_id: UUID, data: ModuleCreate) -> Module:
        course = await self.editable_course(course_id, lock=True)
        prerequisites = await self._checked_prerequisites(course.id, data.prerequisites, None)
        position = await self._next_position(select(func.max(Module.position)).where(Module.course_id == course.id))
        module = Module(
            tenant_id=course.tenant_id,
            course_id=course.id,
            title=data.title,
            position=position,
            prerequisites=prerequisites,
        )
        self.session.add(module)
        await self.session.flush()
        return module

    async def update_module(self, course_id: UUID, module_id: UUID, data: ModuleUpdate) -> Module:
        course = await self.editable_course(course_id, lock=True)
        module = await self._module(course.id, module_id)
        if data.title is not msgspec.UNSET:
            module.title = data.title
        if data.prerequisites is not msgspec.UNSET:
            module.prerequisites = await self._checked_prerequisites(course.id, data.prerequisites, module.id)
        await self.session.flush()
        return module

    async def delete_module(self, course_id: UUID, module_id: UUID) -> None:
        course = await self.editable_course(course_id, lock=True)
        module = await self._module(course.id, module_id)
        await self.session.delete(module)
        await self.session.flush()
        await self._renumber_modules(course.id)

    async def add_lesson(self, course_id: UUID, module_id: UUID, data: LessonCreate) -> Lesson:
        course = await self.editable_course(course_id, lock=True)
        module = await self._module(course.id, module_id)
        if data.type is LessonType.VIDEO and not data.duration_seconds:
            raise ValidationFailed("a video lesson needs its duration in seconds", field="duration_seconds")
        position = await self._next_position(select(func.max(Lesson.position)).where(Lesson.module_id == module.id))
        lesson = Lesson(
            tenant_id=course.tenant_id,
            course_id=course.id,
            module_id=module.id,
            title=data.title,
            type=data.type,
            position=position,
            duration_seconds=data.duration_seconds,
            content=data.content,
            media_asset_id=data.media_asset_id,
            required=data.required,
        )
        self.session.add(lesson)
        await self.session.flush()
        return lesson

    async def update_lesson(self, course_id: UUID, lesson_id: UUID, data: LessonUpdate) -> Lesson:
        course = await self.editable_course(course_id)
        lesson = await self._lesson(course.id, lesson_id)
        for key, value in msgspec.structs.asdict(data).items():
            if value is not msgspec.UNSET:
                setattr(lesson, key, value)
        if lesson.type is LessonType.VIDEO and not lesson.duration_seconds:
            raise ValidationFailed("a video lesson needs its duration in seconds", field="duration_seconds")
        await self.session.flush()
        return lesson

    async def delete_lesson(self, course_id: UUID, lesson_id: UUID) -> None:
        course = await self.editable_course(course_id, lock=True)
        lesson = await self._lesson(course.id, lesson_id)
        module_id = lesson.module_id
        await self.session.delete(lesson)
        await self.session.flush()
        await self._renumber_lessons(module_id)

    async def reorder_modules(self, course_id: UUID, ids: list[UUID]) -> list[Module]:
        """Set the complete order of a course's modules; the course row lock serialises editors."""
        course = await self.editable_course(course_id, lock=True)
        modules = list((await self.session.execute(select(Module).where(Module.course_id == course.id))).scalars())
        self._check_same_set({m.id for m in modules}, ids, "module")
        by_id = {m.id: m for m in modules}
        for position, module_id in enumerate(ids, start=1):
            by_id[module_id].position = position
        await self.session.flush()
        return [by_id[i] for i in ids]

    async def reorder_lessons(self, course_id: UUID, module_id: UUID, ids: list[UUID]) -> list[Lesson]:
        course = await self.editable_course(course_id, lock=True)
        module = await self._module(course.id, module_id)
        lessons = list((await self.session.execute(select(Lesson).where(Lesson.module_id == module.id))).scalars())
        self._check_same_set({lesson.id for lesson in lessons}, ids, "lesson")
        by_id = {lesson.id: lesson for lesson in lessons}
        for position, lesson_id in enumerate(ids, start=1):
            by_id[lesson_id].position = position
        await self.session.flush()
        return [by_id[i] for i in ids]

    # --- publishing and versions -------------------------------------------------------------
    async def publish(self, course_id: UUID, note: str, publish_at: datetime | None) -> CourseVersion:
        """Snapshot the course as a new version; new enrolments start on it, existing ones stay put."""
        course = await self.editable_course(course_id, lock=True)
        structure = await self.structure(course.id)
        if not any(m.lessons for m in structure):
            raise Conflict("a course needs at least one lesson before it is published")
        number = await self._next_position(
            select(func.max(CourseVersion.number)).where(CourseVersion.course_id == course.id)
        )
        version = CourseVersion(
            tenant_id=course.tenant_id,
            course_id=course.id,
            number=number,
            snapshot=snapshot(course, structure),
            published_by=self.principal.user_id,
            note=note,
        )
        self.session.add(version)
        await self.session.flush()
        course.current_version_id = version.id
        course.status = CourseStatus.PUBLISHED
        if publish_at is not None:
            course.publish_at = publish_at
        await self.session.flush()
        return version

    async def archive(self, course_id: UUID) -> Course:
        course = await self.editable_course(course_id, lock=True)
        course.status = CourseStatus.ARCHIVED
        await self.session.flush()
        return course

    async def versions(self, course_id: UUID) -> list[VersionOut]:
        course = await self.get_course(course_id)
        rows = await self.session.execute(
            select(CourseVersion).where(CourseVersion.course_id == course.id).order_by(CourseVersion.number.desc())
        )
        return [
            VersionOut(
                id=v.id,
                number=v.number,
                note=v.note,
                published_by=v.published_by,
                created_at=v.created_at,
                current=v.id == course.current_version_id,
            )
            for v in rows.scalars()
        ]

    async def version(self, course_id: UUID, number: int) -> CourseVersion:
        version = (
            await self.session.execute(
                select(CourseVersion).where(CourseVersion.course_id == course_id, CourseVersion.number == number)
            )
        ).scalar_one_or_none()
        if version is None:
            raise NotFound(f"course has no version {number}", field="number")
        return version

    async def rollback(self, course_id: UUID, number: int) -> CourseVersion:
        """Make an earlier version current again and restore the draft's content to it.

        New enrolments start on that version; existing enrolments keep theirs until migrated.
        Draft modules and lessons that did not exist in that version are kept (after the restored
        ones) so nothing learners have progress on disappears; delete them explicitly if unwanted.
        """
        course = await self.editable_course(course_id, lock=True)
        version = await self.version(course.id, number)
        data: dict[str, Any] = version.snapshot
        for key in ("title", "summary", "description", "category", "tags", "completion_rules"):
            if key in data.get("course", {}):
                setattr(course, key, data["course"][key])
        modules = {
            m.id: m for m in (await self.session.execute(select(Module).where(Module.course_id == course.id))).scalars()
        }
        lessons = {
            lesson.id: lesson
            for lesson in (await self.session.execute(select(Lesson).where(Lesson.course_id == course.id))).scalars()
        }
        module_order: list[UUID] = []
        for m in data.get("modules", []):
            module_id = UUID(m["id"])
            module = modules.get(module_id)
            if module is None:
                module = Module(id=module_id, tenant_id=course.tenant_id, course_id=course.id, position=0, title="")
                self.session.add(module)
                modules[module_id] = module
            module.title = m["title"]
            module.prerequisites = m.get("prerequisites", [])
            module_order.append(module_id)
        await self.session.flush()
        lesson_order: dict[UUID, list[UUID]] = {}
        for m in data.get("modules", []):
            for item in m.get("lessons", []):
                lesson_id = UUID(item["id"])
                lesson = lessons.get(lesson_id)
                if lesson is None:
                    lesson = Lesson(id=lesson_id, tenant_id=course.tenant_id, course_id=course.id, position=0)
                    self.session.add(lesson)
                    lessons[lesson_id] = lesson
                lesson.module_id = UUID(m["id"])
                lesson.title = item["title"]
                lesson.type = LessonType(item["type"])
                lesson.duration_seconds = item.get("duration_seconds")
                lesson.content = item.get("content", {})
                lesson.media_asset_id = UUID(item["media_asset_id"]) if item.get("media_asset_id") else None
                lesson.required = item.get("required", True)
                lesson_order.setdefault(lesson.module_id, []).append(lesson_id)
        # Restored items first in their recorded order, draft-only items after them.
        module_order += [i for i in sorted(modules, key=lambda i: modules[i].position) if i not in module_order]
        for position, module_id in enumerate(module_order, start=1):
            modules[module_id].position = position
        for lesson in sorted(lessons.values(), key=lambda x: x.position):
            if lesson.id not in lesson_order.get(lesson.module_id, []):
                lesson_order.setdefault(lesson.module_id, []).append(lesson.id)
        for ids in lesson_order.values():
            for position, lesson_id in enumerate(ids, start=1):
                lessons[lesson_id].position = position
        course.current_version_id = version.id
        course.status = CourseStatus.PUBLISHED
        await self.session.flush()
        return version

    # --- internals ---------------------------------------------------------------------------
    async def _module(self, course_id: UUID, module_id: UUID) -> Module:
        module = await self.session.get(Module, module_id)
        if module is None or module.course_id != course_id:
            raise NotFound("module not found in this course", field="module_id")
        return module

    async def _lesson(self, course_id: UUID, lesson_id: UUID) -> Lesson:
        lesson = await self.session.get(Lesson, lesson_id)
        if lesson is None or lesson.course_id != course_id:
            raise NotFound("lesson not found in this course", field="lesson_id")
        return lesson

    async def _next_position(self, query: Any) -> int:
        return int((await self.session.execute(query)).scalar() or 0) + 1

    async def _renumber_modules(self, course_id: UUID) -> None:
        rows = (
            await self.session.execute(select(Module).where(Module.course_id == course_id).order_by(Module.position))
        ).scalars()
        for position, module in enumerate(rows, start=1):
            module.position = position
        await self.session.flush()

    async def _renumber_lessons(self, module_id: UUID) -> None:
        rows = (
            await self.session.execute(select(Lesson).where(Lesson.module_id == module_id).order_by(Lesson.position))
        ).scalars()
        for position, lesson in enumerate(rows, start=1):
            lesson.position = position
        await self.session.flush()

    @staticmethod
    def _check_same_set(current: set[UUID], ids: list[UUID], noun: str) -> None:
        if len(set(ids)) != len(ids):
            raise ValidationFailed(f"each {noun} may appear once", field="ids")
        unknown = set(ids) - current
        if unknown:
            raise ValidationFailed(f"unknown {noun} ids: {', '.join(sorted(map(str, unknown)))}", field="ids")
        missing = current - set(ids)
        if missing:
            # Someone added an item since the editor loaded the list: make them reload.
            raise Conflict(
                f"the order must list every {noun}; missing: {', '.join(sorted(map(str, missing)))}", field="ids"
            )

    async def _checked_prerequisites(
        self, course_id: UUID, items: Sequence[Any], module_id: UUID | None
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            field = f"prerequisites[{index}]"
            if hasattr(item, "module_id"):
                target = await self.session.get(Module, item.module_id)
                if target is None or target.course_id != course_id or target.id == module_id:
                    raise ValidationFailed("prerequisite module must be another module of this course", field=field)
                result.append({"kind": "module_completed", "module_id": str(item.module_id)})
            else:
                lesson = await self.session.get(Lesson, item.lesson_id)
                if lesson is None or lesson.course_id != course_id or lesson.type is not LessonType.QUIZ:
                    raise ValidationFailed("prerequisite must be a quiz lesson of this course", field=field)
                result.append({"kind": "quiz_passed", "lesson_id": str(item.lesson_id)})
        return result

    async def _flush_unique(self, field: str, message: str) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(message, field=field) from exc


def snapshot(course: Course, structure: list[ModuleOut]) -> dict[str, Any]:
    """Everything a learner on this version needs, frozen at publish time."""
    return {
        "course": {
            "title": course.title,
            "summary": course.summary,
            "description": course.description,
            "category": course.category,
            "tags": list(course.tags),
            "completion_rules": course.completion_rules,
        },
        "modules": msgspec.to_builtins(structure),
    }


async def bump_enrollment_count(session: AsyncSession, course_id: UUID, delta: int) -> None:
    """Popularity for search sorting; the shared catalogue's counts are not tenant-writable."""
    await session.execute(
        update(Course)
        .where(Course.id == course_id, Course.tenant_id.is_not(None))
        .values(enrollment_count=Course.enrollment_count + delta)
    )
