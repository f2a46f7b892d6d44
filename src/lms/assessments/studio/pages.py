"""Studio pages of assessments: a course's question banks, a bank's questions (add any of the seven
types with a preview as learners see it, topic and difficulty tags, JSON export and import), and a
quiz lesson's set-up (pools, time limit, attempts, cooldown, pass mark, review policy, due date)
with the item analysis once learners have taken it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.assessments.assignments.schemas import AssignmentIn
from lms.assessments.assignments.services.assignments import AssignmentService, max_points
from lms.assessments.assignments.services.storage import submission_store
from lms.assessments.guards import staff_course
from lms.assessments.models import ReviewPolicy
from lms.assessments.queries import assignment_of_lesson, quiz_of_lesson
from lms.assessments.quizzes.schemas import BankIn, PoolIn, QuestionIn, QuizIn, QuizOut
from lms.assessments.quizzes.services.authoring import QuizAuthoring, checked_payload, question_out, quiz_out
from lms.assessments.studio.schemas import (
    QUESTION_TYPES,
    export_document,
    fields_from_question,
    import_document,
    payload_from_fields,
    rubric_from_text,
    rubric_to_text,
)
from lms.catalog.guards import requires_author
from lms.catalog.queries import course_facts, lesson_facts
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.lib.errors import DomainError, NotFound
from lms.lib.params import AppRequest
from lms.web.forms import FormData, FormErrors, service_message
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, page

Notice = Annotated[str, QueryParameter(name="notice", max_length=20)]
MAX_IMPORT_BYTES = 2 * 1024 * 1024


def type_labels() -> dict[str, str]:
    return {
        "single_choice": _("Single choice"),
        "multiple_choice": _("Multiple choice"),
        "true_false": _("True or false"),
        "short_answer": _("Short answer"),
        "numeric": _("Number"),
        "ordering": _("Put in order"),
        "matching": _("Matching"),
    }


def difficulty_labels() -> dict[str, str]:
    return {"easy": _("Easy"), "medium": _("Medium"), "hard": _("Hard")}


def _notice(key: str) -> str | None:
    return {
        "bank": _("The question bank is created."),
        "question": _("The question is added."),
        "saved": _("The question is saved."),
        "retired": _("The question is retired: quizzes no longer draw it."),
        "restored": _("The question is back in use."),
        "imported": _("The questions are imported."),
        "quiz": _("The quiz is set up."),
        "quiz-saved": _("The quiz is saved: attempts started from now on follow the new rules."),
        "assignment": _("The assignment is set up."),
        "assignment-saved": _("The assignment is saved."),
    }.get(key)


@dataclass(frozen=True)
class StudioView:
    """One studio request about a course; renders its pages with the course's title, errors and notice."""

    request: AppRequest
    db_session: DbSession
    principal: Principal
    course_id: UUID

    def parts(self) -> tuple[AppRequest, DbSession, Principal, UUID]:
        return self.request, self.db_session, self.principal, self.course_id

    async def render(
        self,
        template: str,
        *,
        errors: FormErrors | None = None,
        status: int = 200,
        flash: str | None = None,
        **context: Any,
    ) -> Template:
        title = await _course_title(self.db_session, self.principal, self.course_id)
        return page(
            self.request,
            template,
            status_code=status,
            course_id=self.course_id,
            course_title=title,
            errors=errors or FormErrors(),
            flash=flash,
            **context,
        )


async def provide_studio_view(
    request: AppRequest,
    db_session: DbSession,
    principal: NamedDependency[Principal],
    course_id: FromPath[UUID],
) -> StudioView:
    return StudioView(request, db_session, principal, course_id)


class AssessmentStudioPagesController(Controller):
    guards = [requires_user, requires_author]
    include_in_schema = False
    before_request = staticmethod(before_page)
    path = "/teach/courses/{course_id:uuid}"
    dependencies = {"view": Provide(provide_studio_view)}

    @get("/banks")
    async def banks(
        self,
        view: NamedDependency[StudioView],
        notice: Notice = "",
    ) -> Template:
        return await _banks_page(view, flash=_notice(notice))

    @post("/banks", status_code=HTTP_200_OK)
    async def create_bank(
        self,
        view: NamedDependency[StudioView],
    ) -> Template | Redirect:
        request, db_session, principal, course_id = view.parts()
        form = await FormData.read(request)
        title = form.text("title", 200, required=_("Enter the bank's title."))
        if form.errors:
            return await _banks_page(view, errors=form.errors, status=422)
        bank = await QuizAuthoring(db_session, principal).create_bank(BankIn(course_id=course_id, title=title))
        return Redirect(f"/teach/courses/{course_id}/banks/{bank.id}?notice=bank", status_code=303)

    @get("/banks/{bank_id:uuid}")
    async def bank(
        self,
        view: NamedDependency[StudioView],
        bank_id: FromPath[UUID],
        notice: Notice = "",
    ) -> Template:
        values = {"type": "single_choice", "topic": "general", "difficulty": "medium", "points": "1"}
        return await _bank_page(view, bank_id, values, flash=_notice(notice))

    @post("/banks/{bank_id:uuid}/questions", status_code=HTTP_200_OK)
    async def add_question(
        self,
        view: NamedDependency[StudioView],
        bank_id: FromPath[UUID],
    ) -> Template | Redirect:
        request, db_session, principal, course_id = view.parts()
        form = await FormData.read(request)
        data = _question_from_form(form)
        if data is not None:
            await QuizAuthoring(db_session, principal).add_question(bank_id, data)
            return Redirect(f"/teach/courses/{course_id}/banks/{bank_id}?notice=question", status_code=303)
        return await _bank_page(view, bank_id, form.fields, errors=form.errors, status=422)

    @get("/banks/{bank_id:uuid}/questions/{question_id:uuid}")
    async def question(
        self,
        view: NamedDependency[StudioView],
        bank_id: FromPath[UUID],
        question_id: FromPath[UUID],
    ) -> Template:
        """A question's edit form, filled in with what it asks now."""
        return await _question_page(view, bank_id, question_id, None)

    @post("/banks/{bank_id:uuid}/questions/{question_id:uuid}", status_code=HTTP_200_OK)
    async def update_question(
        self,
        view: NamedDependency[StudioView],
        bank_id: FromPath[UUID],
        question_id: FromPath[UUID],
    ) -> Template | Redirect:
        request, db_session, principal, course_id = view.parts()
        form = await FormData.read(request)
        data = _question_from_form(form)
        if data is not None:
            await QuizAuthoring(db_session, principal).update_question(bank_id, question_id, data)
            target = f"/teach/courses/{course_id}/banks/{bank_id}?notice=saved#question-{question_id}"
            return Redirect(target, status_code=303)
        return await _question_page(view, bank_id, question_id, form.fields, errors=form.errors, status=422)

    @post("/banks/{bank_id:uuid}/questions/{question_id:uuid}/state", status_code=HTTP_200_OK)
    async def set_question_state(
        self,
        view: NamedDependency[StudioView],
        bank_id: FromPath[UUID],
        question_id: FromPath[UUID],
    ) -> Redirect:
        """Retire a question (quizzes stop drawing it) or bring it back (`active` = true)."""
        request, db_session, principal, course_id = view.parts()
        active = (await FormData.read(request)).fields.get("active") == "true"
        await QuizAuthoring(db_session, principal).set_question_active(bank_id, question_id, active)
        notice = "restored" if active else "retired"
        target = f"/teach/courses/{course_id}/banks/{bank_id}?notice={notice}#question-{question_id}"
        return Redirect(target, status_code=303)

    @get("/banks/{bank_id:uuid}/export.json")
    async def export(
        self,
        view: NamedDependency[StudioView],
        bank_id: FromPath[UUID],
    ) -> Response[bytes]:
        """The bank's questions in the documented JSON format (README: question bank files)."""
        db_session, principal, course_id = view.db_session, view.principal, view.course_id
        authoring = QuizAuthoring(db_session, principal)
        bank = await _bank_of_course(authoring, course_id, bank_id)
        questions, _total = await authoring.list_questions(bank.id, 1000, 0)
        body = export_document([question_out(q) for q in questions])
        name = "".join(c if c.isalnum() else "-" for c in bank.title.lower()).strip("-") or "questions"
        return Response(
            body,
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}.json"', "Cache-Control": "no-store"},
        )

    @post("/banks/{bank_id:uuid}/import", status_code=HTTP_200_OK, request_max_body_size=MAX_IMPORT_BYTES + 64 * 1024)
    async def import_questions(
        self,
        view: NamedDependency[StudioView],
        bank_id: FromPath[UUID],
    ) -> Template | Redirect:
        """All questions of the file or none: each is checked before the first is written."""
        request, db_session, principal, course_id = view.parts()
        form = await request.form()
        upload = form.get("file")
        errors = FormErrors()
        questions: list[QuestionIn] = []
        if not isinstance(upload, UploadFile) or not upload.filename:
            errors["file"] = _("Choose a question bank file (.json).")
        else:
            try:
                questions = import_document(await upload.read())
                for index, question in enumerate(questions, start=1):
                    try:
                        checked_payload(question.payload)
                    except DomainError as exc:
                        raise ValueError(f"question {index}: {exc.message}") from exc
            except ValueError as exc:
                errors["file"] = _("This file cannot be imported: %(problem)s", problem=str(exc)[:300])
        if errors:
            values = {"type": "single_choice", "topic": "general", "difficulty": "medium", "points": "1"}
            return await _bank_page(view, bank_id, values, errors=errors, status=422)
        authoring = QuizAuthoring(db_session, principal)
        await _bank_of_course(authoring, course_id, bank_id)
        for question in questions:
            await authoring.add_question(bank_id, question)
        return Redirect(f"/teach/courses/{course_id}/banks/{bank_id}?notice=imported", status_code=303)

    @get("/lessons/{lesson_id:uuid}/quiz")
    async def quiz(
        self,
        view: NamedDependency[StudioView],
        lesson_id: FromPath[UUID],
        notice: Notice = "",
    ) -> Template:
        """The quiz of a quiz lesson: its rules, item analysis and the form that changes them, or the
        form that sets it up."""
        return await _quiz_page(view, lesson_id, None, flash=_notice(notice))

    @post("/lessons/{lesson_id:uuid}/quiz", status_code=HTTP_200_OK)
    async def save_quiz(
        self,
        view: NamedDependency[StudioView],
        lesson_id: FromPath[UUID],
    ) -> Template | Redirect:
        request, db_session, principal, course_id = view.parts()
        form = await FormData.read(request)
        title = form.text("title", 200, required=_("Enter the quiz's title."))
        pools = []
        for index in range(20):  # a quiz draws from at most 20 pools
            bank, count = form.fields.get(f"bank-{index}", ""), form.text(f"count-{index}", 4)
            if not bank:
                continue
            if not count.isdigit() or not 1 <= int(count) <= 200:
                form.errors[f"count-{index}"] = _("Enter how many questions to draw, from 1 to 200.")
                continue
            topic = form.text(f"topic-{index}", 80) or None
            difficulty = form.fields.get(f"difficulty-{index}") or None
            try:
                pools.append(
                    PoolIn(
                        bank_id=UUID(bank), count=int(count), topic=topic, difficulty=_difficulty(difficulty or "")
                        if difficulty else None,
                    )
                )  # fmt: skip
            except ValueError:
                form.errors[f"bank-{index}"] = _("Choose a question bank.")
        if not pools and "bank-0" not in form.errors and "count-0" not in form.errors:
            form.errors["bank-0"] = _("Choose the bank the quiz draws its questions from.")
        numbers: dict[str, int | None] = {}
        bounds = (("minutes", 1, 1440), ("attempts", 1, 100), ("cooldown", 0, 43200), ("pass_pct", 0, 100))
        for name, low, high in bounds:
            value = form.text(name, 6)
            if value and not (value.isdigit() and low <= int(value) <= high):
                form.errors[name] = _("Enter a whole number from %(low)s to %(high)s.", low=low, high=high)
            numbers[name] = int(value) if value.isdigit() else None
        due = form.text("due", 20)
        due_at = None
        if due:
            try:
                due_at = datetime.fromisoformat(due).replace(tzinfo=UTC)
            except ValueError:
                form.errors["due"] = _("Enter the date and time, for example 2030-01-31T17:00.")
        policy = form.fields.get("review_policy", "after_submission")
        if policy not in set(ReviewPolicy):
            form.errors["review_policy"] = _("Choose when learners may review their answers.")
        if not form.errors:
            data = QuizIn(
                lesson_id=lesson_id,
                title=title,
                pools=pools,
                time_limit_seconds=numbers["minutes"] * 60 if numbers["minutes"] else None,
                max_attempts=numbers["attempts"],
                cooldown_seconds=(numbers["cooldown"] or 0) * 60,
                pass_pct=float(numbers["pass_pct"] if numbers["pass_pct"] is not None else 70),
                review_policy=ReviewPolicy(policy),
                due_at=due_at,
            )
            notice = "quiz"
            try:
                await _staff_lesson_of(db_session, principal, course_id, lesson_id, "quiz")
                existing = await _quiz_of(db_session, lesson_id)
                if existing is None:
                    await QuizAuthoring(db_session, principal).create_quiz(data)
                else:
                    await QuizAuthoring(db_session, principal).update_quiz(existing.id, data)
                    notice = "quiz-saved"
            except DomainError as exc:
                if exc.status not in (409, 422):
                    raise
                field = exc.field or "title"
                if field.startswith("pools["):
                    pool = field[6:7]
                    field = f"count-{pool}" if field.endswith("count") else f"bank-{pool}"
                form.errors[field] = service_message(exc)
            else:
                target = f"/teach/courses/{course_id}/lessons/{lesson_id}/quiz?notice={notice}"
                return Redirect(target, status_code=303)
        return await _quiz_page(view, lesson_id, form.fields, errors=form.errors, status=422)

    @get("/lessons/{lesson_id:uuid}/assignment")
    async def assignment(
        self,
        view: NamedDependency[StudioView],
        lesson_id: FromPath[UUID],
        notice: Notice = "",
    ) -> Template:
        """The assignment of an assignment lesson: its rules and rubric and the form that changes them,
        or the rubric builder."""
        return await _assignment_page(view, lesson_id, None, flash=_notice(notice))

    @post("/lessons/{lesson_id:uuid}/assignment", status_code=HTTP_200_OK)
    async def save_assignment(
        self,
        view: NamedDependency[StudioView],
        lesson_id: FromPath[UUID],
    ) -> Template | Redirect:
        request, db_session, principal, course_id = view.parts()
        raw = await request.form()
        form = await FormData.read(request)
        title = form.text("title", 200, required=_("Enter the assignment's title."))
        instructions = form.text("instructions", 20_000)
        rubric = rubric_from_text(form.text("rubric", 20_000), form.errors)
        types = [t for t in (str(v) for v in raw.getall("types", [])) if t in ("text", "file", "url")]
        if not types:
            form.errors["types"] = _("Choose at least one way to hand in the work.")
        numbers: dict[str, float] = {}
        for name in ("late_penalty_pct", "pass_pct"):
            value = form.text(name, 6) or "0"
            try:
                numbers[name] = float(value.replace(",", "."))
            except ValueError:
                numbers[name] = -1
            if not 0 <= numbers[name] <= 100:
                form.errors[name] = _("Enter a percentage from 0 to 100.")
        due_at = _due(form)
        peer = None
        if form.fields.get("peer_review") == "on":
            reviewers, hours = form.text("reviewers", 2), form.text("review_hours", 5)
            if not (reviewers.isdigit() and 1 <= int(reviewers) <= 5):
                form.errors["reviewers"] = _("Enter a whole number from %(low)s to %(high)s.", low=1, high=5)
            elif not (hours.isdigit() and 1 <= int(hours) <= 1440):
                form.errors["review_hours"] = _("Enter a whole number from %(low)s to %(high)s.", low=1, high=1440)
            else:
                peer = {
                    "reviewers": int(reviewers), "review_hours": int(hours),
                    "anonymous": form.fields.get("anonymous") == "on",
                }  # fmt: skip
        if not form.errors:
            document = {
                "lesson_id": str(lesson_id), "title": title, "instructions": instructions, "rubric": rubric,
                "due_at": due_at.isoformat() if due_at else None,
                "late_policy": "block" if form.fields.get("late_policy") == "block" else "penalty",
                "late_penalty_pct": numbers["late_penalty_pct"], "pass_pct": numbers["pass_pct"],
                "submission_types": types, "peer_review": peer,
            }  # fmt: skip
            await _staff_lesson_of(db_session, principal, course_id, lesson_id, "assignment")
        if not form.errors:
            # An existing assignment is changed (looked up first: the unique key's refusal of a second one
            # would leave this session unusable for the page).
            existing = await _assignment_of(db_session, lesson_id)
            if existing is not None:  # limits the form does not show stay as they are
                document["max_file_bytes"] = existing.max_file_bytes
                document["allowed_extensions"] = list(existing.allowed_extensions)
            service = AssignmentService(db_session, principal, submission_store(request.app.state.settings))
            try:
                data = msgspec.convert(document, AssignmentIn)
                if existing is None:
                    await service.create(data)
                else:
                    await service.update(existing.id, data)
            except msgspec.ValidationError as exc:
                form.errors["rubric"] = _("Check this field: %(problem)s", problem=str(exc))
            except DomainError as exc:
                if exc.status not in (409, 422):
                    raise
                form.errors["rubric" if exc.field == "rubric" else "title"] = service_message(exc)
            else:
                notice = "assignment" if existing is None else "assignment-saved"
                url = f"/teach/courses/{course_id}/lessons/{lesson_id}/assignment?notice={notice}"
                return Redirect(url, status_code=303)
        values: dict[str, Any] = {**form.fields, "types": types}
        return await _assignment_page(view, lesson_id, values, errors=form.errors, status=422)


async def _assignment_of(db_session: DbSession, lesson_id: UUID) -> Any:
    try:
        return await assignment_of_lesson(db_session, lesson_id)
    except NotFound:
        return None


def _due(form: FormData) -> datetime | None:
    due = form.text("due", 20)
    if not due:
        return None
    try:
        return datetime.fromisoformat(due).replace(tzinfo=UTC)
    except ValueError:
        form.errors["due"] = _("Enter the date and time, for example 2030-01-31T17:00.")
        return None


async def _staff_lesson_of(
    db_session: DbSession, principal: Principal, course_id: UUID, lesson_id: UUID, kind: str
) -> Any:
    await staff_course(db_session, principal, course_id)
    lesson = await lesson_facts(db_session, lesson_id)
    if lesson is None or lesson.course_id != course_id or lesson.type.value != kind:
        raise NotFound(f"this course has no such {kind} lesson", field="lesson_id")
    return lesson


def _assignment_fields(assignment: Any) -> dict[str, Any]:
    """The set-up form's fields: the assignment's rules as they are, or the defaults of a new one."""
    if assignment is None:
        return {
            "late_policy": "penalty", "late_penalty_pct": "10", "pass_pct": "60", "reviewers": "3",
            "review_hours": "72", "anonymous": "on", "types": ["text", "file", "url"],
            "rubric": "Content: Missing = 0; Partial = 2; Complete = 4\nClarity: Unclear = 0; Clear = 2",
        }  # fmt: skip
    return {
        "title": assignment.title,
        "instructions": assignment.instructions,
        "rubric": rubric_to_text(assignment.rubric),
        "types": list(assignment.submission_types),
        "late_policy": assignment.late_policy,
        "late_penalty_pct": f"{assignment.late_penalty_pct:g}",
        "pass_pct": f"{assignment.pass_pct:g}",
        "due": assignment.due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if assignment.due_at else "",
        "peer_review": "on" if assignment.peer_review else "",
        "reviewers": str(assignment.reviewers_per_submission),
        "review_hours": str(assignment.review_hours),
        "anonymous": "on" if assignment.anonymous_reviews else "",
    }


async def _assignment_page(view: StudioView, lesson_id: UUID, values: dict[str, Any] | None, **state: Any) -> Template:
    lesson = await _staff_lesson_of(view.db_session, view.principal, view.course_id, lesson_id, "assignment")
    assignment = await _assignment_of(view.db_session, lesson_id)
    if values is None:
        values = _assignment_fields(assignment)
    return await view.render(
        "assessments/studio/assignment.html",
        lesson=lesson,
        assignment=assignment,
        max_points=max_points(assignment.rubric) if assignment else 0,
        rubric_text=rubric_to_text(assignment.rubric) if assignment else "",
        values={"title": lesson.title, **values},
        **state,
    )


def _difficulty(value: str) -> Any:
    return value if value in ("easy", "medium", "hard") else "medium"


async def _course_title(db_session: DbSession, principal: Principal, course_id: UUID) -> str:
    await staff_course(db_session, principal, course_id)
    facts = await course_facts(db_session, course_id)
    return facts.title if facts is not None else ""


async def _bank_of_course(authoring: QuizAuthoring, course_id: UUID, bank_id: UUID) -> Any:
    bank = await authoring.bank(bank_id)
    if bank.course_id != course_id:
        raise NotFound("question bank not found", field="bank_id")
    return bank


async def _banks_page(view: StudioView, **state: Any) -> Template:
    authoring = QuizAuthoring(view.db_session, view.principal)
    banks = [await authoring.bank_out(bank) for bank in await authoring.list_banks(view.course_id)]
    return await view.render("assessments/studio/banks.html", banks=banks, **state)


async def _bank_page(view: StudioView, bank_id: UUID, values: dict[str, Any], **state: Any) -> Template:
    authoring = QuizAuthoring(view.db_session, view.principal)
    bank = await _bank_of_course(authoring, view.course_id, bank_id)
    questions, total = await authoring.list_questions(bank.id, 200, 0)
    return await view.render(
        "assessments/studio/bank.html",
        bank=bank,
        questions=[question_out(q) for q in questions],
        total=total,
        types=type_labels(),
        question_types=QUESTION_TYPES,
        difficulties=difficulty_labels(),
        values=values,
        **state,
    )


async def _question_page(
    view: StudioView, bank_id: UUID, question_id: UUID, values: dict[str, Any] | None, **state: Any
) -> Template:
    authoring = QuizAuthoring(view.db_session, view.principal)
    bank = await _bank_of_course(authoring, view.course_id, bank_id)
    question = question_out(await authoring.question(bank.id, question_id))
    if values is None:
        values = {**fields_from_question(question), "difficulty": question.difficulty, "points": f"{question.points:g}"}
        values["partial"] = "on" if question.payload.get("scoring") == "partial" else ""
    return await view.render(
        "assessments/studio/question.html",
        bank=bank,
        question=question,
        types=type_labels(),
        difficulties=difficulty_labels(),
        values=values,
        **state,
    )


def _question_from_form(form: FormData) -> QuestionIn | None:
    """The question the add and edit forms describe, or None with the problems in `form.errors`."""
    for name, limit in (("prompt", 2000), ("choices", 20_000), ("accepted", 5000), ("items", 20_000)):
        form.text(name, limit)
    form.text("pairs", 20_000)
    topic = form.text("topic", 80) or "general"
    difficulty = form.fields.get("difficulty", "medium")
    points_text = form.text("points", 10) or "1"
    try:
        points = float(points_text.replace(",", "."))
    except ValueError:
        points = 0.0
    if not 0 < points <= 1000:
        form.errors["points"] = _("Enter the points as a number from 0.1 to 1000.")
    payload = None if form.errors else payload_from_fields(form.fields, form.errors)
    if payload is None:
        return None
    try:
        checked_payload(payload)
    except DomainError as exc:
        form.errors["prompt"] = service_message(exc)
        return None
    return QuestionIn(payload=payload, topic=topic, difficulty=_difficulty(difficulty), points=points)


async def _quiz_of(db_session: DbSession, lesson_id: UUID) -> Any:
    try:
        return await quiz_of_lesson(db_session, lesson_id)
    except NotFound:
        return None


def _quiz_fields(quiz: QuizOut | None) -> dict[str, Any]:
    """The set-up form's fields: the quiz's rules as they are, or the defaults of a new quiz."""
    if quiz is None:
        return {"pass_pct": "70", "review_policy": "after_submission", "count-0": "5"}
    fields: dict[str, Any] = {
        "title": quiz.title,
        "minutes": str(quiz.time_limit_seconds // 60) if quiz.time_limit_seconds else "",
        "attempts": str(quiz.max_attempts or ""),
        "cooldown": str(quiz.cooldown_seconds // 60) if quiz.cooldown_seconds else "",
        "pass_pct": f"{quiz.pass_pct:g}",
        "review_policy": quiz.review_policy,
        "due": quiz.due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if quiz.due_at else "",
    }
    for index, pool in enumerate(quiz.pools or []):
        fields[f"bank-{index}"] = str(pool["bank_id"])
        fields[f"count-{index}"] = str(pool["count"])
        fields[f"topic-{index}"] = pool.get("topic") or ""
        fields[f"difficulty-{index}"] = pool.get("difficulty") or ""
    return fields


async def _quiz_page(view: StudioView, lesson_id: UUID, values: dict[str, Any] | None, **state: Any) -> Template:
    lesson = await _staff_lesson_of(view.db_session, view.principal, view.course_id, lesson_id, "quiz")
    authoring = QuizAuthoring(view.db_session, view.principal)
    banks = [await authoring.bank_out(bank) for bank in await authoring.list_banks(view.course_id)]
    quiz, analysis = None, None
    found = await _quiz_of(view.db_session, lesson_id)
    if found is not None:
        quiz = quiz_out(found, staff=True)
        analysis = await authoring.item_analysis(found.id)
    if values is None:
        values = _quiz_fields(quiz)
    policies = {
        "never": _("Never"),
        "after_submission": _("After each attempt"),
        "after_passing": _("After passing"),
        "after_due_date": _("After the due date"),
    }
    return await view.render(
        "assessments/studio/quiz.html",
        lesson=lesson,
        banks=banks,
        bank_titles={str(b.id): b.title for b in banks},
        bank_options=[(str(b.id), b.title) for b in banks],
        quiz=quiz,
        analysis=analysis,
        policies=policies,
        difficulties=difficulty_labels(),
        values={"title": lesson.title, **values},
        **state,
    )
