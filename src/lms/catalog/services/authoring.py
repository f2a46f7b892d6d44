"""Authoring: courses, modules, lessons and their order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import func, select

from lms.catalog.models import Course, CourseStatus, Lesson, LessonType, Module
from lms.catalog.schemas import (
    CourseCreate,
    CourseUpdate,
    LessonCreate,
    LessonUpdate,
    ModuleCreate,
    ModuleUpdate,
)
from lms.catalog.services.base import CatalogueBase
from lms.catalog.services.chapters import check_chapters
from lms.lib.errors import Conflict, ValidationFailed


class Authoring(CatalogueBase):
    """Create and change a tenant's courses (instructors of the course, tenant admins)."""

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
        lesson_ids = list(
            (await self.session.execute(select(Lesson.id).where(Lesson.module_id == module.id))).scalars()
        )
        await self._refuse_if_in_use(course.id, lesson_ids, "module")
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
        if "chapters" in (lesson.content or {}):
            check_chapters(lesson.content["chapters"])
        await self.session.flush()
        return lesson

    async def delete_lesson(self, course_id: UUID, lesson_id: UUID) -> None:
        course = await self.editable_course(course_id, lock=True)
        lesson = await self._lesson(course.id, lesson_id)
        await self._refuse_if_in_use(course.id, [lesson.id], "lesson")
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
