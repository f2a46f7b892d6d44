"""The learner's pages: the home ("My learning": where to continue, what is due, in progress and
completed; signed-out visitors get the site's welcome) and a lesson with "mark as complete"."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.analytics.recommendations.services import recommend, streak_of
from lms.catalog.services import CatalogueService
from lms.db.providers import DbSession
from lms.identity.guards import Principal, allows_anonymous, requires_user
from lms.learning.models import EnrollmentStatus
from lms.learning.services.ingest import StreamKeys, ingest_append, ingest_events
from lms.learning.services.views import continue_learning, my_courses, open_lesson
from lms.lib import clock
from lms.lib.errors import ValidationFailed
from lms.lib.pagination import PageParams
from lms.lib.params import MAX_LIMIT, AppRequest
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, load_viewer, page


class MyLearningPagesController(Controller):
    include_in_schema = False
    guards = [allows_anonymous("the site's landing page, with the tenant's branding, precedes sign-in")]
    before_request = staticmethod(before_page)

    @get("/")
    async def home(self, request: AppRequest, db_session: DbSession, goal: FromQuery[str] = "") -> Template:
        viewer = await load_viewer(request)
        if viewer is None:
            return page(request, "home.html")
        principal: Principal = request.scope["state"]["principal"]
        mine = await my_courses(db_session, principal, PageParams(limit=MAX_LIMIT, offset=0))
        courses = mine.items
        # Every enrolment is on the page: recommendations need not read them again.
        statuses = {c.course_id: c.status for c in courses} if mine.total <= len(courses) else None
        due = sorted(
            (c for c in courses if c.due_at is not None and c.status is EnrollmentStatus.ACTIVE),
            key=lambda c: c.due_at or 0,
        )
        return page(
            request,
            "learning/my_learning.html",
            recommendations=await recommend(db_session, principal.user_id, statuses=statuses),
            streak=await streak_of(db_session, principal.user_id, viewer.time_zone),
            flash=_("Your weekly goal is saved.") if goal == "saved" else None,
            continue_card=await continue_learning(db_session, principal),
            due=due,
            in_progress=[c for c in courses if c.status is EnrollmentStatus.ACTIVE and c.due_at is None],
            completed=[c for c in courses if c.status is EnrollmentStatus.COMPLETED],
        )


class LessonPagesController(Controller):
    guards = [requires_user]
    include_in_schema = False
    before_request = staticmethod(before_page)

    @get("/courses/{course_id:uuid}/lessons/{lesson_id:uuid}")
    async def lesson(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        lesson_id: FromPath[UUID],
        done: FromQuery[bool] = False,
    ) -> Template:
        """The lesson from the learner's course version; a locked one is the 403 page naming what is missing."""
        lesson = await open_lesson(db_session, principal, course_id, lesson_id)
        ordered = await lesson_order(db_session, principal, course_id)
        position = ordered.index(lesson_id) if lesson_id in ordered else -1
        next_id = ordered[position + 1] if 0 <= position < len(ordered) - 1 else None
        body = str(lesson.content.get("body", "")) if lesson.type in ("text", "file") else ""
        return page(
            request,
            "learning/lesson.html",
            lesson=lesson,
            paragraphs=[part.strip() for part in body.split("\n\n") if part.strip()],
            next_lesson_id=next_id,
            file_link=file_link(lesson.content) if lesson.type == "file" else None,
            flash=_("Lesson marked as complete.") if done else None,
        )

    @post("/courses/{course_id:uuid}/lessons/{lesson_id:uuid}/complete", status_code=HTTP_200_OK)
    async def complete(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        lesson_id: FromPath[UUID],
    ) -> Redirect:
        """A text lesson read to the end: the same `text_scrolled` event the JSON API takes (a page
        without scripts cannot measure scrolling; the button sits below the whole text); a file
        lesson opened (`lesson_viewed`). Video and assessed lessons complete by their own events."""
        lesson = await open_lesson(db_session, principal, course_id, lesson_id)
        if lesson.type not in ("text", "file"):
            raise ValidationFailed("only a text or file lesson is completed with this button", field="lesson_id")
        event = {
            "type": "text_scrolled" if lesson.type == "text" else "lesson_viewed",
            "client_event_id": f"page-{uuid.uuid4().hex}",
            "lesson_id": str(lesson_id),
            "course_id": str(course_id),
            "occurred_at": clock.now().isoformat(),
            **({"depth": 1.0} if lesson.type == "text" else {}),
        }
        state = request.app.state
        keys = StreamKeys.for_queue(state.settings.celery_queue)
        raw = [msgspec.Raw(msgspec.json.encode(event))]
        out = await ingest_events(state.db, ingest_append(state), keys, principal, raw)
        if not out.accepted:
            raise ValidationFailed("this lesson cannot be completed now", field="lesson_id")
        return Redirect(f"/courses/{course_id}/lessons/{lesson_id}?done=1", status_code=303)


def file_link(content: dict[str, Any]) -> tuple[str, str] | None:
    """The file lesson's download address and name; only web addresses and paths of this site, so a
    stored `javascript:` link never becomes a link."""
    url = str(content.get("url", ""))
    if not url.startswith(("https://", "http://", "/")) or url.startswith("//"):
        return None
    return url, str(content.get("filename") or url.rsplit("/", 1)[-1] or url)


async def lesson_order(db_session: DbSession, principal: Principal, course_id: UUID) -> list[UUID]:
    catalogue = CatalogueService(db_session, principal)
    course = await catalogue.describe(await catalogue.get_course(course_id), with_structure=True)
    return [lesson.id for module in course.modules or [] for lesson in module.lessons]
