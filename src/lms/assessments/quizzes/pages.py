"""The quiz lesson in the browser: the rules and past attempts, start, answer (autosaved with htmx,
saved by a plain button without scripts), submit, and the result with the review the policy allows.

The server keeps the time: the countdown on the page only shows the attempt's deadline and submits
at zero; an answer that arrives later is refused by the attempt service.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.assessments.models import Quiz
from lms.assessments.pages import LessonPages, LessonVisit
from lms.assessments.queries import my_attempts, quiz_of_lesson
from lms.assessments.quizzes.schemas import AttemptOut
from lms.assessments.quizzes.services.attempts import AttemptService, TimeLimitPassed
from lms.learning.schemas import LessonViewOut
from lms.lib.errors import DomainError, NotFound, ValidationFailed
from lms.lib.params import AppRequest
from lms.web.forms import FormErrors, service_message
from lms.web.i18n import gettext as _
from lms.web.layout import page

QUIZ = "assessments/quiz.html"
ATTEMPT = "assessments/attempt.html"
MAX_ANSWER = 1000


def field_name(question_id: str, part: str = "") -> str:
    """The form field (and element id) of a question, or of one part of it (an item, a prompt)."""
    return f"q-{question_id}-{part}" if part else f"q-{question_id}"


def answers_from_form(form: Any, attempt: AttemptOut, errors: FormErrors) -> dict[str, Any]:
    """Form fields -> the API's answer shapes; a blank question is left out (stays unanswered)."""
    answers: dict[str, Any] = {}
    for item in attempt.questions:
        qid, view = item.question_id, item.question
        kind = view["type"]
        name = field_name(qid)
        if kind == "multiple_choice":
            chosen = [str(v) for v in form.getall(name, [])]
            if chosen:
                answers[qid] = chosen
            continue
        if kind in ("ordering", "matching"):
            keys = [i["id"] for i in view["items" if kind == "ordering" else "prompts"]]
            parts = {key: str(form.get(field_name(qid, key), "")).strip() for key in keys}
            if not any(parts.values()):
                continue
            if kind == "matching":
                answers[qid] = {key: value for key, value in parts.items() if value}
                continue
            positions = {key: value for key, value in parts.items() if value.isdigit()}
            if len(positions) != len(keys) or len(set(positions.values())) != len(keys):
                errors[field_name(qid, keys[0])] = _("Give each item a different position.")
                continue
            answers[qid] = sorted(keys, key=lambda key: int(positions[key]))
            continue
        value = str(form.get(name, "")).strip()
        if not value:
            continue
        if len(value) > MAX_ANSWER:
            errors[name] = _("Enter at most %(count)s characters.", count=MAX_ANSWER)
        elif kind == "true_false":
            answers[qid] = value == "true"
        elif kind == "numeric":
            try:
                answers[qid] = float(value.replace(",", "."))
            except ValueError:
                errors[name] = _("Enter a number, for example 12.5.")
        else:
            answers[qid] = value
    return answers


def error_field(exc: DomainError) -> str:
    """The service names a bad answer `answers.<question id>`; the page's field is `q-<question id>`."""
    field = exc.field or ""
    return field_name(field.removeprefix("answers.")) if field.startswith("answers.") else "answers"


class QuizPagesController(LessonPages):
    path = "/courses/{course_id:uuid}/lessons/{lesson_id:uuid}/quiz"

    @get("/")
    async def overview(self, visit: NamedDependency[LessonVisit]) -> Template:
        """The quiz's rules, the learner's attempts so far and the button that starts (or resumes) one."""
        lesson, quiz = await _lesson_quiz(visit)
        return await _overview(visit, lesson, quiz)

    @post("/attempts", status_code=HTTP_200_OK)
    async def start(self, visit: NamedDependency[LessonVisit]) -> Template | Redirect:
        lesson, quiz = await _lesson_quiz(visit)
        try:
            attempt, _quiz, _new = await AttemptService(visit.db_session, visit.principal).start(quiz.id)
        except DomainError as exc:
            if exc.status != 409:
                raise
            return await _overview(visit, lesson, quiz, FormErrors(start=service_message(exc)), 409)
        return Redirect(_attempt_url(visit, attempt.id), status_code=303)

    @get("/attempts/{attempt_id:uuid}")
    async def attempt(
        self, visit: NamedDependency[LessonVisit], attempt_id: FromPath[UUID], saved: FromQuery[bool] = False
    ) -> Template:
        """An open attempt is the question form; a finished one is the result and, if allowed, the review."""
        lesson, quiz = await _lesson_quiz(visit)
        out = await _attempt_out(visit, quiz, attempt_id)
        return _attempt_page(visit.request, lesson, quiz, out, flash=_("Your answers are saved.") if saved else None)

    @post("/attempts/{attempt_id:uuid}/answers", status_code=HTTP_200_OK)
    async def save(self, visit: NamedDependency[LessonVisit], attempt_id: FromPath[UUID]) -> Template | Redirect:
        """Autosave (htmx: a status line comes back) or the "Save answers" button (the page again)."""
        return await _write(visit, attempt_id, submit=False)

    @post("/attempts/{attempt_id:uuid}/submit", status_code=HTTP_200_OK)
    async def submit(self, visit: NamedDependency[LessonVisit], attempt_id: FromPath[UUID]) -> Template | Redirect:
        return await _write(visit, attempt_id, submit=True)


async def _overview(
    visit: LessonVisit, lesson: LessonViewOut, quiz: Quiz, errors: FormErrors | None = None, status: int = 200
) -> Template:
    attempts = await my_attempts(visit.db_session, visit.principal.user_id, quiz.id)
    used = len(attempts)
    return page(
        visit.request,
        QUIZ,
        status_code=status,
        lesson=lesson,
        quiz=quiz,
        attempts=attempts,
        open_attempt=next((a for a in attempts if a.status == "in_progress"), None),
        attempts_left=None if quiz.max_attempts is None else max(0, quiz.max_attempts - used),
        errors=errors or FormErrors(),
    )


async def _write(visit: LessonVisit, attempt_id: UUID, *, submit: bool) -> Template | Redirect:
    request = visit.request
    lesson, quiz = await _lesson_quiz(visit)
    out = await _attempt_out(visit, quiz, attempt_id)
    url = _attempt_url(visit, attempt_id)
    htmx = bool(request.headers.get("hx-request"))
    if out.status != "in_progress":
        # Submitted meanwhile (another tab, or the server closed it at the time limit).
        if htmx:
            return page(request, "assessments/_saved.html", status_code=409, message=_("This attempt is closed."))
        return Redirect(url, status_code=303)
    errors = FormErrors()
    answers = answers_from_form(await request.form(), out, errors)
    service = AttemptService(visit.db_session, visit.principal)
    if not errors:
        try:
            await (service.submit if submit else service.save_answers)(attempt_id, answers)
        except TimeLimitPassed:
            return Redirect(url, status_code=303)
        except ValidationFailed as exc:
            errors[error_field(exc)] = service_message(exc)
    if errors:
        if htmx:
            return page(request, "assessments/_saved.html", status_code=422, message=next(iter(errors.values())))
        out.answers = {**out.answers, **answers}
        return _attempt_page(request, lesson, quiz, out, errors=errors, status=422)
    if htmx:
        return page(request, "assessments/_saved.html", message=_("Answers saved."))
    return Redirect(url if submit else f"{url}?saved=1", status_code=303)


async def _lesson_quiz(visit: LessonVisit) -> tuple[LessonViewOut, Quiz]:
    """The lesson (enrolment and prerequisites checked) and its quiz."""
    lesson = await visit.lesson("quiz", "this lesson is not a quiz")
    return lesson, await quiz_of_lesson(visit.db_session, visit.lesson_id)


async def _attempt_out(visit: LessonVisit, quiz: Quiz, attempt_id: UUID) -> AttemptOut:
    service = AttemptService(visit.db_session, visit.principal)
    attempt, attempt_quiz = await service.get(attempt_id, own=False)
    if attempt_quiz.id != quiz.id or attempt.user_id != visit.principal.user_id:
        raise NotFound("attempt not found", field="attempt_id")
    return await service.out(attempt, attempt_quiz)


def _attempt_url(visit: LessonVisit, attempt_id: UUID) -> str:
    return visit.url(f"quiz/attempts/{attempt_id}")


def _attempt_page(
    request: AppRequest,
    lesson: LessonViewOut,
    quiz: Quiz,
    attempt: AttemptOut,
    *,
    errors: FormErrors | None = None,
    status: int = 200,
    flash: str | None = None,
) -> Template:
    feedback = {f.question_id: f for f in attempt.feedback or []}
    return page(
        request,
        ATTEMPT,
        status_code=status,
        lesson=lesson,
        quiz=quiz,
        attempt=attempt,
        feedback=feedback,
        field_name=field_name,
        errors=errors or FormErrors(),
        flash=flash,
        base=f"/courses/{lesson.course_id}/lessons/{lesson.id}/quiz",
    )
