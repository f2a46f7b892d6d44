"""What the quiz and assignment lesson pages share: the controller's guards, the lesson a request
opens (enrolment and prerequisites checked, of the right type), bounded text fields and field errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Controller
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.learning.queries import open_lesson
from lms.learning.schemas import LessonViewOut
from lms.lib.errors import NotFound
from lms.lib.params import AppRequest
from lms.web.forms import FormErrors
from lms.web.i18n import gettext as _
from lms.web.layout import before_page


@dataclass(frozen=True)
class LessonVisit:
    """One request to a lesson page: who asks, on which session, for which course and lesson."""

    request: AppRequest
    db_session: DbSession
    principal: Principal
    course_id: UUID
    lesson_id: UUID

    async def lesson(self, kind: str, not_this_kind: str) -> LessonViewOut:
        """The lesson as the learner may open it; a lesson of another type is not found."""
        lesson = await open_lesson(self.db_session, self.principal, self.course_id, self.lesson_id)
        if lesson.type != kind:
            raise NotFound(not_this_kind, field="lesson_id")
        return lesson

    def url(self, suffix: str = "") -> str:
        return f"/courses/{self.course_id}/lessons/{self.lesson_id}/{suffix}"


async def provide_visit(
    request: AppRequest,
    db_session: DbSession,
    principal: NamedDependency[Principal],
    course_id: FromPath[UUID],
    lesson_id: FromPath[UUID],
) -> LessonVisit:
    return LessonVisit(request, db_session, principal, course_id, lesson_id)


class LessonPages(Controller):
    """Base of a lesson type's pages: signed-in users only, the page's language set first, and the
    `visit` dependency in every handler."""

    guards = [requires_user]
    include_in_schema = False
    before_request = staticmethod(before_page)
    dependencies = {"visit": Provide(provide_visit)}


def text_field(form: Any, name: str, limit: int, errors: FormErrors) -> str:
    """A form's text field, stripped; a NUL byte or more than `limit` characters is a field error."""
    value = form.get(name, "")
    value = value.strip() if isinstance(value, str) else ""
    if "\x00" in value:
        errors[name] = _("This field contains a character that is not allowed.")
    elif len(value) > limit:
        errors[name] = _("Enter at most %(count)s characters.", count=limit)
    return value


def form_state(
    errors: FormErrors | None, values: dict[str, str] | None, default_values: dict[str, str] | None = None
) -> dict[str, Any]:
    """The template context of a form shown again: its errors and the values typed so far."""
    return {"errors": errors or FormErrors(), "values": values or default_values or {}}
