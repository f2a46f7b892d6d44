"""Publishing: version snapshots, scheduled release, archive, rollback."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select

from lms.catalog.models import Course, CourseStatus, CourseVersion, Lesson, LessonType, Module
from lms.catalog.schemas import ModuleOut, VersionOut
from lms.catalog.services.base import CatalogueBase, snapshot
from lms.lib.errors import Conflict, NotFound
from lms.media.queries import assets_not_ready


class Versions(CatalogueBase):
    """Publish snapshots; learners keep theirs until migrated."""

    async def publish(self, course_id: UUID, note: str, publish_at: datetime | None) -> CourseVersion:
        """Snapshot the course as a new version; new enrolments start on it, existing ones stay put."""
        course = await self.editable_course(course_id, lock=True)
        structure = await self.structure(course.id)
        if not any(m.lessons for m in structure):
            raise Conflict("a course needs at least one lesson before it is published")
        await self._require_ready_videos(structure)
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

    async def _require_ready_videos(self, structure: list[ModuleOut]) -> None:
        """A lesson showing an uploaded video is publishable only once that video is transcoded."""
        videos = {lesson.media_asset_id: lesson for m in structure for lesson in m.lessons if lesson.media_asset_id}
        pending = await assets_not_ready(self.session, set(videos))
        if pending:
            titles = ", ".join(sorted(f"'{videos[a].title}'" for a in pending))
            raise Conflict(f"the video of lesson {titles} is not ready yet; publish once processing has finished")

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
