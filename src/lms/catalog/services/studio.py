"""What the instructor studio needs beyond authoring: the courses a person teaches, moving one
module or lesson a step (the keyboard and no-script path of reordering), lock reasons as learners
will read them, and lesson text rendered from Markdown and sanitised on the server."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from markdown_it import MarkdownIt
from sqlalchemy import select

from lms.catalog.models import Course, CourseVersion, Lesson, Module
from lms.catalog.schemas import CourseOut, ModuleOut
from lms.catalog.services.authoring import Authoring
from lms.catalog.services.base import course_out
from lms.catalog.services.versions import Versions
from lms.identity.schemas import Role
from lms.lib.errors import ValidationFailed
from lms.lib.markdown import render

# CommonMark without raw HTML; whatever still comes out passes the sanitiser's allow-list.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}


def render_lesson_text(markdown: str) -> str:
    """Markdown -> HTML that is safe to show learners: no scripts, handlers, styles or foreign schemes."""
    return render(_MARKDOWN, markdown, _TAGS, _ATTRIBUTES)


def lock_reasons(module: ModuleOut, structure: list[ModuleOut]) -> list[tuple[str, str]]:
    """The module's prerequisites as (kind, title): kind "module" (complete it first) or "quiz" (pass it)."""
    titles = {str(m.id): m.title for m in structure}
    lessons = {str(lesson.id): lesson.title for m in structure for lesson in m.lessons}
    reasons = []
    for item in module.prerequisites:
        if item.get("kind") == "module_completed":
            reasons.append(("module", titles.get(str(item.get("module_id")), "?")))
        else:
            reasons.append(("quiz", lessons.get(str(item.get("lesson_id")), "?")))
    return reasons


class Studio(Authoring, Versions):
    """The instructor's view of the catalogue: their courses, stepwise moves, draft-vs-published."""

    async def taught_courses(self) -> list[CourseOut]:
        """Tenant admins see every course of the tenant; instructors the ones they teach."""
        query = select(Course).where(Course.tenant_id.is_not(None)).order_by(Course.created_at.desc())
        if not self.principal.has_role(Role.TENANT_ADMIN):
            query = query.where(Course.instructor_ids.contains([self.principal.user_id]))
        courses = list((await self.session.execute(query.limit(500))).scalars())
        numbers = await self.version_numbers(courses)
        return [
            course_out(course, numbers.get(course.current_version_id) if course.current_version_id else None)
            for course in courses
        ]

    async def move_module(self, course_id: UUID, module_id: UUID, step: int) -> None:
        """One place up (-1) or down (+1); at either end nothing changes."""
        course = await self.editable_course(course_id, lock=True)
        modules = list(
            (
                await self.session.execute(
                    select(Module).where(Module.course_id == course.id).order_by(Module.position)
                )
            ).scalars()
        )
        await self.reorder_modules(course.id, _moved([m.id for m in modules], module_id, step, "module_id"))

    async def move_lesson(self, course_id: UUID, lesson_id: UUID, step: int) -> None:
        course = await self.editable_course(course_id, lock=True)
        lesson = await self._lesson(course.id, lesson_id)
        siblings = list(
            (
                await self.session.execute(
                    select(Lesson.id).where(Lesson.module_id == lesson.module_id).order_by(Lesson.position)
                )
            ).scalars()
        )
        await self.reorder_lessons(course.id, lesson.module_id, _moved(siblings, lesson_id, step, "lesson_id"))

    async def published_snapshot(self, course_id: UUID) -> dict[str, Any] | None:
        """The current version's snapshot, to compare the draft with; None before the first publish."""
        course = await self.editable_course(course_id)
        if course.current_version_id is None:
            return None
        version = await self.session.get(CourseVersion, course.current_version_id)
        return version.snapshot if version is not None else None


def _moved(ids: list[UUID], item: UUID, step: int, field: str) -> list[UUID]:
    if item not in ids:
        raise ValidationFailed("not found in this course", field=field)
    index = ids.index(item)
    target = min(max(index + step, 0), len(ids) - 1)
    ids.insert(target, ids.pop(index))
    return ids


def draft_changes(snapshot: dict[str, Any] | None, course: CourseOut) -> list[tuple[str, str]]:
    """What the draft changes against the published version: (kind, what) pairs, kind being
    added/removed/changed/moved, so a page can list them in order."""
    if snapshot is None:
        return [("added", course.title)]
    changes: list[tuple[str, str]] = []
    published_course = snapshot.get("course", {})
    for key in ("title", "summary", "description", "category", "tags", "completion_rules"):
        current = getattr(course, key)
        if published_course.get(key) != (list(current) if isinstance(current, list) else current):
            changes.append(("changed", key))
    old_modules = {m["id"]: m for m in snapshot.get("modules", [])}
    old_lessons = {item["id"]: item for m in snapshot.get("modules", []) for item in m.get("lessons", [])}
    new_modules = {str(m.id): m for m in course.modules or []}
    for module_id, module in new_modules.items():
        if module_id not in old_modules:
            changes.append(("added", module.title))
        elif old_modules[module_id]["title"] != module.title:
            changes.append(("changed", module.title))
        elif old_modules[module_id]["position"] != module.position:
            changes.append(("moved", module.title))
    for module_id, old in old_modules.items():
        if module_id not in new_modules:
            changes.append(("removed", old["title"]))
    new_lessons = {str(lesson.id): lesson for m in course.modules or [] for lesson in m.lessons}
    for lesson_id, lesson in new_lessons.items():
        old_lesson = old_lessons.get(lesson_id)
        if old_lesson is None:
            changes.append(("added", lesson.title))
        elif (
            old_lesson["title"] != lesson.title
            or old_lesson.get("content", {}) != lesson.content
            or old_lesson.get("duration_seconds") != lesson.duration_seconds
            or old_lesson.get("required", True) != lesson.required
            or str(old_lesson.get("media_asset_id") or "") != str(lesson.media_asset_id or "")
        ):
            changes.append(("changed", lesson.title))
        elif old_lesson["position"] != lesson.position or old_lesson["module_id"] != str(lesson.module_id):
            changes.append(("moved", lesson.title))
    for lesson_id, old_lesson in old_lessons.items():
        if lesson_id not in new_lessons:
            changes.append(("removed", old_lesson["title"]))
    return changes
