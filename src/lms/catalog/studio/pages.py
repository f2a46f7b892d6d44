"""Studio pages: my courses, create a course, its settings, the outline (modules and lessons, moved
by buttons without scripts or dragged with studio.js), the lesson editor, publishing and versions.

Every write is a plain form post answered with a redirect (303) or the form again with field errors
(422); the course service decides who may change a course (its instructors and tenant admins).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.catalog.guards import requires_author
from lms.catalog.schemas import (
    CompletionRules,
    CourseCreate,
    CourseOut,
    CourseUpdate,
    Difficulty,
    LessonCreate,
    LessonType,
    LessonUpdate,
    ModuleCreate,
    ModuleOut,
    ModuleUpdate,
)
from lms.catalog.services import CatalogueService, draft_changes, lock_reasons, render_lesson_text
from lms.catalog.services.chapters import MAX_CHAPTERS, ChapterError, chapters_text, parse_chapters
from lms.catalog.services.covers import MAX_COVER_BYTES, remove_cover, set_cover
from lms.catalog.services.lesson_images import MAX_IMAGE_BYTES, add_lesson_image
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.identity.queries import user_contacts, user_ids_by_email
from lms.learning.services import EnrollmentService
from lms.lib.errors import DomainError, NotFound, ValidationFailed
from lms.lib.params import AppRequest, VersionNumber
from lms.lib.storage import Storage
from lms.media.queries import asset_exists
from lms.media.services import AssetService, app_storage
from lms.media.services.delivery import poster_url
from lms.web.forms import FormData, FormErrors, service_message
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, page

Notice = Annotated[str, QueryParameter(name="notice", max_length=20)]


def _notice(key: str) -> str | None:
    """The confirmation a redirect asks for (`?notice=saved`), in the page's language."""
    notices = {
        "created": _("Your course is created. Add a module to start its outline."),
        "saved": _("Your changes are saved."),
        "cover": _("The cover image is saved."),
        "moved": _("The order is saved."),
        "deleted": _("Deleted."),
        "captions": _("The captions are saved."),
        "published": _("Your course is published."),
        "rolled": _("The earlier version is current again."),
        "migrated": _("Your learners are on this version now."),
    }
    return notices.get(key)


def _chapter_message(exc: ChapterError) -> str:
    """The parser's complaint in the page's language, naming the line."""
    text = str(exc)
    if text.startswith("at most"):
        return _("Enter at most %(count)s chapters.", count=MAX_CHAPTERS)
    line = text.split(":", 1)[0].removeprefix("line ")
    if "starts after" in text:
        return _("Line %(line)s: each chapter starts after the one before.", line=line)
    return _("Line %(line)s: write a time and a title, for example 1:30 Fire exits.", line=line)


def struct_from_form(kind: type[Any], fields: dict[str, Any], errors: FormErrors) -> Any:
    """Convert form values to an API struct; a constraint that fails becomes the field's error."""
    try:
        return msgspec.convert(fields, kind, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        field = message.rsplit("`$.", 1)[-1].split("`", 1)[0].split("[", 1)[0] if "`$." in message else "title"
        errors[field] = _("Check this field: %(problem)s", problem=message.split(" - at ", 1)[0])
        return None


def tag_list(raw: str) -> list[str]:
    return [tag.strip() for tag in raw.replace("\n", ",").split(",") if tag.strip()]


@dataclass(frozen=True)
class CourseVisit:
    """One studio request about a course: who asks, on which session, for which course."""

    request: AppRequest
    db_session: DbSession
    principal: Principal
    course_id: UUID

    def parts(self) -> tuple[AppRequest, DbSession, Principal, UUID]:
        return self.request, self.db_session, self.principal, self.course_id

    @property
    def catalogue(self) -> CatalogueService:
        return CatalogueService(self.db_session, self.principal)

    async def moved(self, anchor: str, move: Callable[[CatalogueService, int], Awaitable[object]]) -> Redirect:
        """One step up or down (the form's `direction`), then back to the outline at the item."""
        form = await FormData.read(self.request)
        await move(self.catalogue, -1 if form.fields.get("direction") == "up" else 1)
        return Redirect(f"/teach/courses/{self.course_id}?notice=moved#{anchor}", status_code=303)

    async def reordered(
        self, reorder: Callable[[CatalogueService, list[UUID]], Awaitable[object]]
    ) -> Template | Redirect:
        """The whole order at once, as a drag and drop sends it (`ids`, in order)."""
        await reorder(self.catalogue, await _ids(self.request))
        return await _after_drag(self.request, self.db_session, self.principal, self.course_id)

    async def deleted(self, field: str, delete: Callable[[CatalogueService], Awaitable[object]]) -> Template | Redirect:
        """Deleted, or the outline again with the refusal (409: still in use) at the item."""
        try:
            await delete(self.catalogue)
        except DomainError as exc:
            if exc.status != 409:
                raise
            errors = FormErrors({field: service_message(exc)})
            return await _outline_page(
                self.request, self.db_session, self.principal, self.course_id, errors=errors, status=409
            )
        return Redirect(f"/teach/courses/{self.course_id}?notice=deleted", status_code=303)


async def provide_course_visit(
    request: AppRequest,
    db_session: DbSession,
    principal: NamedDependency[Principal],
    course_id: FromPath[UUID],
) -> CourseVisit:
    return CourseVisit(request, db_session, principal, course_id)


class StudioPagesController(Controller):
    guards = [requires_user, requires_author]
    include_in_schema = False
    before_request = staticmethod(before_page)
    path = "/teach"
    dependencies = {"visit": Provide(provide_course_visit)}

    @get("/")
    async def my_courses(
        self, request: AppRequest, db_session: DbSession, principal: NamedDependency[Principal]
    ) -> Template:
        """The courses the instructor teaches (every course of the tenant for an admin)."""
        courses = await CatalogueService(db_session, principal).taught_courses()
        return page(request, "catalog/studio/courses.html", courses=courses)

    @get("/courses/new")
    async def new_course(self, request: AppRequest) -> Template:
        return _settings_page(request, None, FormErrors(), {"language": "en", "difficulty": "beginner"})

    @post("/courses", status_code=HTTP_200_OK)
    async def create_course(
        self, request: AppRequest, db_session: DbSession, principal: NamedDependency[Principal]
    ) -> Template | Redirect:
        form = await FormData.read(request)
        fields = _course_fields(form)
        data = struct_from_form(CourseCreate, fields, form.errors) if not form.errors else None
        if data is not None:
            try:
                course = await CatalogueService(db_session, principal).create_course(data)
            except DomainError as exc:
                if exc.status not in (409, 422):
                    raise
                form.errors[exc.field or "title"] = service_message(exc)
            else:
                return Redirect(f"/teach/courses/{course.id}?notice=created", status_code=303)
        return _settings_page(request, None, form.errors, form.fields, status=422)

    @get("/courses/{course_id:uuid}")
    async def outline(
        self,
        visit: NamedDependency[CourseVisit],
        notice: Notice = "",
    ) -> Template:
        """The outline editor: modules and lessons in order, their lock reasons, and every action."""
        request, db_session, principal, course_id = visit.parts()
        return await _outline_page(request, db_session, principal, course_id, flash=_notice(notice))

    @get("/courses/{course_id:uuid}/settings")
    async def settings(
        self,
        visit: NamedDependency[CourseVisit],
        notice: Notice = "",
    ) -> Template:
        request, db_session, principal, course_id = visit.parts()
        catalogue = CatalogueService(db_session, principal)
        course = await catalogue.describe(await catalogue.editable_course(course_id))
        values = await _course_values(db_session, course)
        return _settings_page(request, course, FormErrors(), values, flash=_notice(notice))

    @post("/courses/{course_id:uuid}/cover", status_code=HTTP_200_OK, request_max_body_size=MAX_COVER_BYTES + 64 * 1024)
    async def upload_cover(
        self,
        visit: NamedDependency[CourseVisit],
        storage: NamedDependency[Storage],
    ) -> Template | Redirect:
        """The cover image from the settings page's upload form; a refused file is shown at the field."""
        request, db_session, course_id = visit.request, visit.db_session, visit.course_id
        upload = (await request.form()).get("cover")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        errors = FormErrors()
        if not data:
            errors["cover"] = _("Choose an image file.")
        else:
            try:
                await set_cover(visit.catalogue, storage, course_id, data)
            except ValidationFailed as exc:
                errors["cover"] = service_message(exc)
        if not errors:
            return Redirect(f"/teach/courses/{course_id}/settings?notice=cover", status_code=303)
        course = await visit.catalogue.describe(await visit.catalogue.editable_course(course_id))
        return _settings_page(request, course, errors, await _course_values(db_session, course), status=422)

    @post(
        "/courses/{course_id:uuid}/lessons/{lesson_id:uuid}/images",
        status_code=HTTP_200_OK,
        request_max_body_size=MAX_IMAGE_BYTES + 64 * 1024,
    )
    async def upload_lesson_image(
        self,
        visit: NamedDependency[CourseVisit],
        storage: NamedDependency[Storage],
        lesson_id: FromPath[UUID],
    ) -> Template:
        """An image for a text lesson; the page then shows the Markdown line that places it."""
        request, db_session, principal, course_id = visit.parts()
        upload = (await request.form()).get("image")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        errors, markdown = FormErrors(), ""
        if not data:
            errors["image"] = _("Choose an image file.")
        else:
            try:
                url = await add_lesson_image(visit.catalogue, storage, course_id, lesson_id, data)
            except ValidationFailed as exc:
                errors["image"] = service_message(exc)
            else:
                alt = _("Describe the image")
                markdown = f"![{alt}]({url})"
        course, lesson = await _course_lesson(db_session, principal, course_id, lesson_id)
        values = _lesson_values(lesson)
        return _lesson_page(
            request, course, lesson, errors, values, status=422 if errors else 200, image_markdown=markdown
        )

    @post("/courses/{course_id:uuid}/cover/remove", status_code=HTTP_200_OK)
    async def remove_cover(self, visit: NamedDependency[CourseVisit]) -> Redirect:
        await remove_cover(visit.catalogue, visit.course_id)
        return Redirect(f"/teach/courses/{visit.course_id}/settings?notice=saved", status_code=303)

    @post("/courses/{course_id:uuid}/settings", status_code=HTTP_200_OK)
    async def save_settings(
        self,
        visit: NamedDependency[CourseVisit],
    ) -> Template | Redirect:
        request, db_session, principal, course_id = visit.parts()
        catalogue = CatalogueService(db_session, principal)
        course = await catalogue.describe(await catalogue.editable_course(course_id))
        form = await FormData.read(request)
        fields = _course_fields(form)
        instructor_ids = await _instructor_ids(db_session, course, form)
        if instructor_ids is not None:
            fields["instructor_ids"] = [str(i) for i in instructor_ids]
        data = struct_from_form(CourseUpdate, fields, form.errors) if not form.errors else None
        if data is not None:
            try:
                await catalogue.update_course(course_id, data)
            except DomainError as exc:
                if exc.status not in (409, 422):
                    raise
                form.errors[exc.field or "title"] = service_message(exc)
            else:
                return Redirect(f"/teach/courses/{course_id}/settings?notice=saved", status_code=303)
        return _settings_page(request, course, form.errors, form.fields, status=422)

    @post("/courses/{course_id:uuid}/modules", status_code=HTTP_200_OK)
    async def add_module(
        self,
        visit: NamedDependency[CourseVisit],
    ) -> Template | Redirect:
        request, db_session, principal, course_id = visit.parts()
        form = await FormData.read(request)
        title = form.text("module_title", 200, required=_("Enter the module's title."))
        if not form.errors:
            await CatalogueService(db_session, principal).add_module(course_id, ModuleCreate(title=title))
            return Redirect(f"/teach/courses/{course_id}?notice=saved", status_code=303)
        return await _outline_page(request, db_session, principal, course_id, errors=form.errors, status=422)

    @post("/courses/{course_id:uuid}/modules/{module_id:uuid}", status_code=HTTP_200_OK)
    async def save_module(
        self,
        visit: NamedDependency[CourseVisit],
        module_id: FromPath[UUID],
    ) -> Template | Redirect:
        """Rename a module and set its prerequisites (other modules completed, quizzes passed)."""
        request, db_session, principal, course_id = visit.parts()
        raw = await request.form()
        form = await FormData.read(request)
        field = f"title-{module_id}"
        title = form.text(field, 200, required=_("Enter the module's title."))
        prerequisites: list[dict[str, str]] = []
        for value in raw.getall("prerequisites", []):
            kind, _sep, ref = str(value).partition(":")
            if kind == "module":
                prerequisites.append({"kind": "module_completed", "module_id": ref})
            elif kind == "quiz":
                prerequisites.append({"kind": "quiz_passed", "lesson_id": ref})
        if not form.errors:
            data = struct_from_form(ModuleUpdate, {"title": title, "prerequisites": prerequisites}, form.errors)
            if data is not None:
                try:
                    await CatalogueService(db_session, principal).update_module(course_id, module_id, data)
                except DomainError as exc:
                    if exc.status != 422:
                        raise
                    form.errors[f"prerequisites-{module_id}"] = service_message(exc)
                else:
                    return Redirect(f"/teach/courses/{course_id}?notice=saved#module-{module_id}", status_code=303)
        return await _outline_page(request, db_session, principal, course_id, errors=form.errors, status=422)

    @post("/courses/{course_id:uuid}/modules/{module_id:uuid}/move", status_code=HTTP_200_OK)
    async def move_module(
        self,
        visit: NamedDependency[CourseVisit],
        module_id: FromPath[UUID],
    ) -> Redirect:
        return await visit.moved(f"module-{module_id}", lambda c, step: c.move_module(visit.course_id, module_id, step))

    @post("/courses/{course_id:uuid}/modules/{module_id:uuid}/delete", status_code=HTTP_200_OK)
    async def delete_module(
        self,
        visit: NamedDependency[CourseVisit],
        module_id: FromPath[UUID],
    ) -> Template | Redirect:
        return await visit.deleted(f"module-{module_id}", lambda c: c.delete_module(visit.course_id, module_id))

    @post("/courses/{course_id:uuid}/modules/order", status_code=HTTP_200_OK)
    async def order_modules(
        self,
        visit: NamedDependency[CourseVisit],
    ) -> Template | Redirect:
        return await visit.reordered(lambda c, ids: c.reorder_modules(visit.course_id, ids))

    @post("/courses/{course_id:uuid}/modules/{module_id:uuid}/lessons/order", status_code=HTTP_200_OK)
    async def order_lessons(
        self,
        visit: NamedDependency[CourseVisit],
        module_id: FromPath[UUID],
    ) -> Template | Redirect:
        return await visit.reordered(lambda c, ids: c.reorder_lessons(visit.course_id, module_id, ids))

    @post("/courses/{course_id:uuid}/modules/{module_id:uuid}/lessons", status_code=HTTP_200_OK)
    async def add_lesson(
        self,
        visit: NamedDependency[CourseVisit],
        module_id: FromPath[UUID],
    ) -> Template | Redirect:
        request, db_session, principal, course_id = visit.parts()
        form = await FormData.read(request)
        title_field, type_field = f"lesson-title-{module_id}", f"lesson-type-{module_id}"
        title = form.text(title_field, 200, required=_("Enter the lesson's title."))
        kind = form.fields.get(type_field, "")
        if kind not in set(LessonType):
            form.errors[type_field] = _("Choose the kind of lesson.")
        minutes = form.text(f"lesson-minutes-{module_id}", 4)
        seconds = int(minutes) * 60 if minutes.isdigit() and 0 < int(minutes) <= 1440 else None
        if kind == LessonType.VIDEO and seconds is None:
            form.errors[f"lesson-minutes-{module_id}"] = _("Enter the video's length in minutes (1 to 1440).")
        if not form.errors:
            data = LessonCreate(title=title, type=LessonType(kind), duration_seconds=seconds)
            lesson = await CatalogueService(db_session, principal).add_lesson(course_id, module_id, data)
            return Redirect(f"/teach/courses/{course_id}/lessons/{lesson.id}?notice=created", status_code=303)
        return await _outline_page(request, db_session, principal, course_id, errors=form.errors, status=422)

    @post("/courses/{course_id:uuid}/lessons/{lesson_id:uuid}/move", status_code=HTTP_200_OK)
    async def move_lesson(
        self,
        visit: NamedDependency[CourseVisit],
        lesson_id: FromPath[UUID],
    ) -> Redirect:
        return await visit.moved(f"lesson-{lesson_id}", lambda c, step: c.move_lesson(visit.course_id, lesson_id, step))

    @post("/courses/{course_id:uuid}/lessons/{lesson_id:uuid}/delete", status_code=HTTP_200_OK)
    async def delete_lesson(
        self,
        visit: NamedDependency[CourseVisit],
        lesson_id: FromPath[UUID],
    ) -> Template | Redirect:
        return await visit.deleted(f"lesson-{lesson_id}", lambda c: c.delete_lesson(visit.course_id, lesson_id))

    @get("/courses/{course_id:uuid}/lessons/{lesson_id:uuid}")
    async def lesson(
        self,
        visit: NamedDependency[CourseVisit],
        lesson_id: FromPath[UUID],
        notice: Notice = "",
        caption_error: Annotated[str, QueryParameter(name="caption_error", max_length=400)] = "",
    ) -> Template:
        """The lesson editor: title, length, required; the text (Markdown) of a text lesson with its
        preview; a video lesson's upload, processing status and captions."""
        request, db_session, principal, course_id = visit.parts()
        course, lesson = await _course_lesson(db_session, principal, course_id, lesson_id)
        values = _lesson_values(lesson)
        video = await _video_of(request, db_session, lesson)
        errors = FormErrors()
        if caption_error:
            field, _sep, message = caption_error.partition(":")
            errors[field if field in ("language", "label", "file") else "file"] = message[:300]
        return _lesson_page(request, course, lesson, errors, values, flash=_notice(notice), video=video)

    @post("/courses/{course_id:uuid}/lessons/{lesson_id:uuid}", status_code=HTTP_200_OK)
    async def save_lesson(
        self,
        visit: NamedDependency[CourseVisit],
        lesson_id: FromPath[UUID],
    ) -> Template | Redirect:
        request, db_session, principal, course_id = visit.parts()
        course, lesson = await _course_lesson(db_session, principal, course_id, lesson_id)
        form = await FormData.read(request)
        title = form.text("title", 200, required=_("Enter the lesson's title."))
        minutes = form.text("minutes", 4)
        if minutes and not (minutes.isdigit() and 0 < int(minutes) <= 1440):
            form.errors["minutes"] = _("Enter the length in whole minutes, from 1 to 1440.")
        content = dict(lesson["content"])
        if lesson["type"] == LessonType.TEXT:
            body = form.text("body", 100_000, strip=False)
            content.update(body=body, html=render_lesson_text(body))
        elif lesson["type"] == LessonType.FILE:
            url = form.text("url", 2000)
            if url and not (url.startswith(("https://", "http://", "/")) and not url.startswith("//")):
                form.errors["url"] = _("Enter a web address starting with https:// or a path on this site.")
            content.update(url=url, filename=form.text("filename", 200))
        elif lesson["type"] == LessonType.VIDEO:
            try:
                content["chapters"] = parse_chapters(form.text("chapters", 10_000))
            except ChapterError as exc:
                form.errors["chapters"] = _chapter_message(exc)
        if not form.errors:
            data = LessonUpdate(
                title=title,
                duration_seconds=int(minutes) * 60 if minutes else lesson["duration_seconds"],
                required=form.fields.get("required") == "on",
                content=content,
            )
            try:
                await CatalogueService(db_session, principal).update_lesson(course_id, lesson_id, data)
            except DomainError as exc:
                if exc.status != 422:
                    raise
                form.errors["minutes" if exc.field == "duration_seconds" else "title"] = service_message(exc)
            else:
                return Redirect(f"/teach/courses/{course_id}/lessons/{lesson_id}?notice=saved", status_code=303)
        video = await _video_of(request, db_session, lesson)
        return _lesson_page(request, course, lesson, form.errors, form.fields, status=422, video=video)

    @post("/courses/{course_id:uuid}/lessons/{lesson_id:uuid}/video", status_code=HTTP_200_OK)
    async def attach_video(
        self,
        visit: NamedDependency[CourseVisit],
        lesson_id: FromPath[UUID],
    ) -> Template | Redirect:
        """Point a video lesson at an uploaded video (the upload script sends it once the upload starts,
        so the lesson names its video while it uploads and transcodes)."""
        request, db_session, principal, course_id = visit.parts()
        _course, lesson = await _course_lesson(db_session, principal, course_id, lesson_id)
        form = await FormData.read(request)
        try:
            asset_id = UUID(form.fields.get("asset_id", ""))
        except ValueError:
            raise ValidationFailed("choose an uploaded video", field="asset_id") from None
        if lesson["type"] != LessonType.VIDEO:
            raise ValidationFailed("only a video lesson shows a video", field="lesson_id")
        if not await asset_exists(db_session, asset_id):
            raise NotFound("no such video", field="asset_id")
        data = LessonUpdate(media_asset_id=asset_id)
        await CatalogueService(db_session, principal).update_lesson(course_id, lesson_id, data)
        if request.headers.get("x-requested-with"):
            return page(request, "assessments/_saved.html", message=_("The video is attached to the lesson."))
        return Redirect(f"/teach/courses/{course_id}/lessons/{lesson_id}?notice=saved", status_code=303)

    @get("/courses/{course_id:uuid}/publish")
    async def publishing(
        self,
        visit: NamedDependency[CourseVisit],
        notice: Notice = "",
    ) -> Template:
        """What the draft changes against the published version, the publish form and the versions."""
        request, db_session, principal, course_id = visit.parts()
        return await _publish_page(request, db_session, principal, course_id, flash=_notice(notice))

    @post("/courses/{course_id:uuid}/publish", status_code=HTTP_200_OK)
    async def publish(
        self,
        visit: NamedDependency[CourseVisit],
    ) -> Template | Redirect:
        """Publish a new version; a video still processing is refused with its lesson named."""
        request, db_session, principal, course_id = visit.parts()
        form = await FormData.read(request)
        note = form.text("note", 500)
        if not form.errors:
            try:
                await CatalogueService(db_session, principal).publish(course_id, note, None)
            except DomainError as exc:
                if exc.status != 409:
                    raise
                form.errors["note"] = service_message(exc)
            else:
                return Redirect(f"/teach/courses/{course_id}/publish?notice=published", status_code=303)
        return await _publish_page(request, db_session, principal, course_id, errors=form.errors, status=409)

    @post("/courses/{course_id:uuid}/versions/{number:int}/rollback", status_code=HTTP_200_OK)
    async def rollback(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        number: VersionNumber,
    ) -> Redirect:
        await CatalogueService(db_session, principal).rollback(course_id, number)
        return Redirect(f"/teach/courses/{course_id}/publish?notice=rolled", status_code=303)

    @post("/courses/{course_id:uuid}/versions/{number:int}/migrate", status_code=HTTP_200_OK)
    async def migrate(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        number: VersionNumber,
    ) -> Redirect:
        """Move every active learner of the course onto this version (their progress is kept)."""
        await CatalogueService(db_session, principal).editable_course(course_id)
        await EnrollmentService(db_session, principal).migrate(course_id, number, None)
        return Redirect(f"/teach/courses/{course_id}/publish?notice=migrated", status_code=303)


def _course_fields(form: FormData) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": form.text("title", 200, required=_("Enter the course's title.")),
        "slug": form.text("slug", 120, required=_("Enter a short web name, for example safety-basics.")),
        "summary": form.text("summary", 1000),
        "description": form.text("description", 50_000),
        "category": form.text("category", 80) or None,
        "difficulty": form.text("difficulty", 20) or "beginner",
        "language": form.text("language", 16) or "en",
        "tags": tag_list(form.text("tags", 2000)),
        "self_enrollment": form.fields.get("self_enrollment") == "on",
    }
    rules: dict[str, Any] = {}
    for kind, key, name in (("video", "watched_pct", "video_pct"), ("text", "scroll_pct", "text_pct")):
        value = form.text(name, 5)
        if value:
            if value.isdigit() and 0 <= int(value) <= 100:
                rules[kind] = {key: float(value)}
            else:
                form.errors[name] = _("Enter a percentage from 0 to 100.")
    fields["completion_rules"] = msgspec.to_builtins(msgspec.convert(rules, CompletionRules))
    return fields


async def _instructor_ids(db_session: DbSession, course: CourseOut, form: FormData) -> list[UUID] | None:
    """Instructors by e-mail, one a line; an address that is no user of this tenant is a field error."""
    raw = form.text("instructors", 5000)
    if not raw:
        form.errors["instructors"] = _("A course needs at least one instructor.")
        return None
    wanted = [line.strip().lower() for line in raw.replace(",", "\n").splitlines() if line.strip()]
    current = await user_contacts(db_session, set(course.instructor_ids))
    by_email = {contact.email.lower(): user_id for user_id, contact in current.items()}
    unknown = [email for email in wanted if email not in by_email]
    if unknown:
        found = await user_ids_by_email(db_session, unknown)
        by_email.update(found)
        missing = [email for email in unknown if email not in found]
        if missing:
            message = _("No one with this e-mail address here: %(emails)s", emails=", ".join(missing))
            form.errors["instructors"] = message
            return None
    return list(dict.fromkeys(by_email[email] for email in wanted))


async def _course_values(db_session: DbSession, course: CourseOut) -> dict[str, str]:
    contacts = await user_contacts(db_session, set(course.instructor_ids))
    rules = course.completion_rules
    return {
        "title": course.title,
        "slug": course.slug,
        "summary": course.summary,
        "description": course.description,
        "category": course.category or "",
        "difficulty": course.difficulty.value,
        "language": course.language,
        "tags": ", ".join(course.tags),
        "self_enrollment": "on" if course.self_enrollment else "",
        "instructors": "\n".join(contacts[i].email for i in course.instructor_ids if i in contacts),
        "video_pct": str(int(rules.get("video", {}).get("watched_pct", 90))),
        "text_pct": str(int(rules.get("text", {}).get("scroll_pct", 80))),
    }


def _settings_page(
    request: AppRequest,
    course: CourseOut | None,
    errors: FormErrors,
    values: dict[str, Any],
    *,
    status: int = 200,
    flash: str | None = None,
) -> Template:
    labels = {"beginner": _("Beginner"), "intermediate": _("Intermediate"), "advanced": _("Advanced")}
    difficulties = [(d.value, labels[d.value]) for d in Difficulty]
    return page(
        request,
        "catalog/studio/settings.html",
        status_code=status,
        course=course,
        errors=errors,
        values=values,
        difficulties=difficulties,
        flash=flash,
    )


async def _outline_page(
    request: AppRequest,
    db_session: DbSession,
    principal: Principal,
    course_id: UUID,
    *,
    errors: FormErrors | None = None,
    status: int = 200,
    flash: str | None = None,
) -> Template:
    catalogue = CatalogueService(db_session, principal)
    course = await catalogue.describe(await catalogue.editable_course(course_id), with_structure=True)
    modules: list[ModuleOut] = course.modules or []
    quizzes = [(lesson.id, lesson.title) for m in modules for lesson in m.lessons if lesson.type == LessonType.QUIZ]
    return page(
        request,
        "catalog/studio/outline.html",
        status_code=status,
        course=course,
        modules=modules,
        locks={m.id: lock_reasons(m, modules) for m in modules},
        chosen={m.id: {_prerequisite_value(p) for p in m.prerequisites} for m in modules},
        quizzes=quizzes,
        lesson_types=[(t.value, _lesson_type_label(t.value)) for t in LessonType],
        type_label=_lesson_type_label,
        errors=errors or FormErrors(),
        flash=flash,
    )


def _prerequisite_value(item: dict[str, Any]) -> str:
    if item.get("kind") == "module_completed":
        return f"module:{item.get('module_id')}"
    return f"quiz:{item.get('lesson_id')}"


def _lesson_type_label(kind: str) -> str:
    labels = {
        "video": _("Video"),
        "text": _("Text"),
        "quiz": _("Quiz"),
        "assignment": _("Assignment"),
        "file": _("File"),
    }
    return labels.get(kind, kind)


async def _ids(request: AppRequest) -> list[UUID]:
    raw = await request.form()
    ids = []
    for value in raw.getall("ids", [])[:500]:
        try:
            ids.append(UUID(str(value)))
        except ValueError:
            raise ValidationFailed("ids must be the ids of this course's items", field="ids") from None
    return ids


async def _after_drag(
    request: AppRequest, db_session: DbSession, principal: Principal, course_id: UUID
) -> Template | Redirect:
    if request.headers.get("hx-request") or request.headers.get("x-requested-with"):
        return page(request, "assessments/_saved.html", message=_("The order is saved."))
    return Redirect(f"/teach/courses/{course_id}?notice=moved", status_code=303)


async def _course_lesson(
    db_session: DbSession, principal: Principal, course_id: UUID, lesson_id: UUID
) -> tuple[CourseOut, dict[str, Any]]:
    catalogue = CatalogueService(db_session, principal)
    course = await catalogue.describe(await catalogue.editable_course(course_id), with_structure=True)
    for module in course.modules or []:
        for lesson in module.lessons:
            if lesson.id == lesson_id:
                return course, {**msgspec.structs.asdict(lesson), "module_title": module.title}
    raise NotFound("lesson not found in this course", field="lesson_id")


async def _video_of(request: AppRequest, db_session: DbSession, lesson: dict[str, Any]) -> dict[str, Any]:
    """The video lesson's asset (status, progress) and its captions; empty before an upload."""
    if lesson["type"] != LessonType.VIDEO or lesson["media_asset_id"] is None:
        return {}
    assets = AssetService(db_session, app_storage(request.app.state, request.app.state.settings))
    asset = await assets.find(lesson["media_asset_id"])
    if asset is None:
        return {}
    poster = poster_url(request.app.state.settings, asset)
    return {"asset": asset, "captions": await assets.captions(asset.id), "poster_url": poster}


def _lesson_values(lesson: dict[str, Any]) -> dict[str, Any]:
    """The lesson editor's fields, as the lesson is stored."""
    return {
        "title": lesson["title"],
        "minutes": str((lesson["duration_seconds"] or 0) // 60 or ""),
        "required": "on" if lesson["required"] else "",
        "body": str(lesson["content"].get("body", "")),
        "url": str(lesson["content"].get("url", "")),
        "filename": str(lesson["content"].get("filename", "")),
        "chapters": chapters_text(lesson["content"].get("chapters") or []),
    }


def _lesson_page(
    request: AppRequest,
    course: CourseOut,
    lesson: dict[str, Any],
    errors: FormErrors,
    values: dict[str, Any],
    *,
    status: int = 200,
    flash: str | None = None,
    video: dict[str, Any] | None = None,
    image_markdown: str = "",
) -> Template:
    preview = render_lesson_text(str(values.get("body", ""))) if lesson["type"] == LessonType.TEXT else ""
    return page(
        request,
        "catalog/studio/lesson.html",
        status_code=status,
        course=course,
        lesson=lesson,
        type_label=_lesson_type_label(lesson["type"]),
        preview=preview,
        video=video or {},
        errors=errors,
        values=values,
        flash=flash,
        image_markdown=image_markdown,
    )


async def _publish_page(
    request: AppRequest,
    db_session: DbSession,
    principal: Principal,
    course_id: UUID,
    *,
    errors: FormErrors | None = None,
    status: int = 200,
    flash: str | None = None,
) -> Template:
    catalogue = CatalogueService(db_session, principal)
    course = await catalogue.describe(await catalogue.editable_course(course_id), with_structure=True)
    snapshot = await catalogue.published_snapshot(course_id)
    return page(
        request,
        "catalog/studio/publish.html",
        status_code=status,
        course=course,
        changes=draft_changes(snapshot, course),
        versions=await catalogue.versions(course_id),
        errors=errors or FormErrors(),
        flash=flash,
    )
