"""The assignment lesson in the browser: instructions and rubric, submit text, a link or files (a
multipart form; a new version each time), the versions sent, the grade with feedback and rubric
scores once it is final, and the peer reviews the learner was given, each with its rubric form."""

from __future__ import annotations

import functools
from typing import Annotated, Any
from uuid import UUID

import anyio
from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.assessments.assignments.controllers import submission_out, version_out
from lms.assessments.assignments.schemas import CriterionScore
from lms.assessments.assignments.services.assignments import (
    AssignmentService,
    Upload,
    grading_queue,
    max_points,
)
from lms.assessments.assignments.services.peer_reviews import PeerReviewService
from lms.assessments.assignments.services.storage import submission_store
from lms.assessments.models import Assignment, PeerReview, SubmissionStatus
from lms.assessments.pages import LessonPages, LessonVisit, form_state, text_field
from lms.assessments.queries import assignment_of_lesson, my_reviews_of, my_submission
from lms.catalog.guards import requires_author
from lms.catalog.services import CatalogueService
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.identity.queries import user_contacts
from lms.learning.schemas import LessonViewOut
from lms.lib.errors import DomainError, NotFound
from lms.lib.params import AppRequest
from lms.web.forms import FormErrors, service_message
from lms.web.i18n import format_number
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, page

ASSIGNMENT = "assessments/assignment.html"
REVIEW = "assessments/peer_review.html"
GRADING_QUEUE = "assessments/studio/grading_queue.html"
GRADING_PAGE = "assessments/studio/grading.html"
MAX_TEXT = 100_000
MAX_COMMENT = 5000
# Statuses in which the learner may send a new version.
OPEN_FOR_SUBMISSION = (None, "submitted", "returned")


def rubric_scores(
    form: Any, assignment: Assignment, errors: FormErrors, *, with_comments: bool
) -> list[CriterionScore]:
    """The level chosen for each criterion (`level-<id>`), and with comments its `comment-<id>`;
    a criterion without a level is a field error."""
    scores = []
    for criterion in assignment.rubric:
        name = f"level-{criterion['id']}"
        level = str(form.get(name, ""))
        if not level:
            errors[name] = _("Choose a level for “%(criterion)s”.", criterion=criterion["title"])
            continue
        comment = text_field(form, f"comment-{criterion['id']}", 2000, errors) if with_comments else ""
        scores.append(CriterionScore(criterion_id=criterion["id"], level_id=level[:64], comment=comment))
    return scores


def form_field(exc: DomainError) -> str:
    """The service names `files[2]`; the page has one file field, `files`."""
    field = exc.field or "text"
    return "files" if field.startswith("files") else field


class AssignmentPagesController(LessonPages):
    path = "/courses/{course_id:uuid}/lessons/{lesson_id:uuid}/assignment"

    @get("/")
    async def assignment(
        self, visit: NamedDependency[LessonVisit], submitted: FromQuery[bool] = False, reviewed: FromQuery[bool] = False
    ) -> Template:
        lesson, assignment = await _lesson_assignment(visit)
        flash = _("Your work is submitted.") if submitted else _("Your review is submitted.") if reviewed else None
        return await _assignment_page(visit, lesson, assignment, flash=flash)

    @post("/submissions", status_code=HTTP_200_OK)
    async def submit(self, visit: NamedDependency[LessonVisit]) -> Template | Redirect:
        """Text, a link and files from one multipart form; the service's checks come back by field."""
        lesson, assignment = await _lesson_assignment(visit)
        form = await visit.request.form()
        errors = FormErrors()
        text = text_field(form, "text", MAX_TEXT, errors)
        url = text_field(form, "url", 2000, errors)
        uploads = []
        for item in form.getall("files", []):
            # A file input left empty still sends a part, with no name and no bytes.
            if isinstance(item, UploadFile) and (item.filename or ""):
                # Read from the parser's temporary file in a thread, as the JSON API does.
                of_file = functools.partial(Upload.of_file, item.filename or "file", item.content_type or "", item.file)
                uploads.append(await anyio.to_thread.run_sync(of_file))
        if not errors:
            try:
                await _service(visit).submit(assignment.id, text or None, url or None, uploads)
            except DomainError as exc:
                if exc.status not in (409, 413, 422):
                    raise
                errors[form_field(exc)] = service_message(exc)
        if errors:
            values = {"text": text, "url": url}
            return await _assignment_page(visit, lesson, assignment, errors=errors, values=values, status=422)
        return Redirect(visit.url("assignment?submitted=1"), status_code=303)

    @get("/reviews/{review_id:uuid}")
    async def review(self, visit: NamedDependency[LessonVisit], review_id: FromPath[UUID]) -> Template:
        """A peer's work (its author not named) and the rubric to score it with."""
        lesson, assignment = await _lesson_assignment(visit)
        peer, review = await _own_review(visit, assignment, review_id)
        return await _review_page(visit, peer, lesson, assignment, review)

    @post("/reviews/{review_id:uuid}", status_code=HTTP_200_OK)
    async def submit_review(
        self, visit: NamedDependency[LessonVisit], review_id: FromPath[UUID]
    ) -> Template | Redirect:
        lesson, assignment = await _lesson_assignment(visit)
        peer, review = await _own_review(visit, assignment, review_id)
        form = await visit.request.form()
        errors = FormErrors()
        scores = rubric_scores(form, assignment, errors, with_comments=False)
        comment = text_field(form, "comment", MAX_COMMENT, errors)
        if not errors:
            try:
                await peer.complete(review.id, scores, comment)
            except DomainError as exc:
                if exc.status not in (409, 422):
                    raise
                errors["comment" if exc.status == 422 else "review"] = service_message(exc)
        if errors:
            return await _review_page(visit, peer, lesson, assignment, review, errors, {"comment": comment}, 422)
        return Redirect(visit.url("assignment?reviewed=1"), status_code=303)


def _service(visit: LessonVisit) -> AssignmentService:
    return AssignmentService(visit.db_session, visit.principal, submission_store(visit.request.app.state.settings))


async def _lesson_assignment(visit: LessonVisit) -> tuple[LessonViewOut, Assignment]:
    lesson = await visit.lesson("assignment", "this lesson is not an assignment")
    return lesson, await assignment_of_lesson(visit.db_session, visit.lesson_id)


async def _own_review(
    visit: LessonVisit, assignment: Assignment, review_id: UUID
) -> tuple[PeerReviewService, PeerReview]:
    peer = PeerReviewService(_service(visit))
    review = await peer.own_review(review_id)
    if review.assignment_id != assignment.id:
        raise NotFound("review not found", field="review_id")
    return peer, review


async def _assignment_page(
    visit: LessonVisit,
    lesson: LessonViewOut,
    assignment: Assignment,
    *,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    flash: str | None = None,
) -> Template:
    submission = await my_submission(visit.db_session, visit.principal.user_id, assignment.id)
    mine = await submission_out(_service(visit), submission, assignment, staff=False) if submission else None
    return page(
        visit.request,
        ASSIGNMENT,
        status_code=status,
        lesson=lesson,
        assignment=assignment,
        max_points=max_points(assignment.rubric),
        submission=mine,
        may_submit=(submission.status if submission else None) in OPEN_FOR_SUBMISSION,
        reviews=await my_reviews_of(visit.db_session, visit.principal.user_id, assignment.id),
        levels=_levels(assignment),
        accept=",".join(f".{extension}" for extension in assignment.allowed_extensions),
        format_file_size=format_file_size,
        flash=flash,
        **form_state(errors, values),
        base=f"/courses/{lesson.course_id}/lessons/{lesson.id}/assignment",
    )


async def _review_page(
    visit: LessonVisit,
    peer: PeerReviewService,
    lesson: LessonViewOut,
    assignment: Assignment,
    review: PeerReview,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    versions = await peer.assignments.versions(review.submission_id)
    work = version_out(versions[-1], f"/api/v1/assignment-submissions/{review.submission_id}")
    return page(
        visit.request,
        REVIEW,
        status_code=status,
        lesson=lesson,
        assignment=assignment,
        review=review,
        work=work,
        chosen={s["criterion_id"]: s["level_id"] for s in review.rubric_scores},
        **form_state(errors, values, {"comment": review.comment}),
        base=f"/courses/{lesson.course_id}/lessons/{lesson.id}/assignment",
    )


def format_file_size(size: int) -> str:
    """Bytes as KB or MB, numbers in the page's language."""
    if size >= 1024 * 1024:
        return _("%(size)s MB", size=format_number(round(size / (1024 * 1024), 1)))
    return _("%(size)s KB", size=format_number(max(1, round(size / 1024))))


def _levels(assignment: Assignment) -> dict[tuple[str, str], dict[str, Any]]:
    """(criterion id, level id) -> level, to name the levels of a grade."""
    return {(c["id"], level["id"]): level for c in assignment.rubric for level in c["levels"]}


class GradingPagesController(Controller):
    """Course staff grade: the queue of submissions of the courses they teach, and one submission's
    grading page with the rubric, a comment per criterion, feedback, and the peer reviews it had
    (a grade given over peer reviews is an override and needs its reason)."""

    guards = [requires_user, requires_author]
    include_in_schema = False
    before_request = staticmethod(before_page)
    path = "/teach/grading"

    @get("/")
    async def queue(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course: Annotated[str, QueryParameter(name="course", max_length=40)] = "",
        status: Annotated[str, QueryParameter(name="status", max_length=20)] = "to_grade",
        late: Annotated[str, QueryParameter(name="late", max_length=5)] = "",
    ) -> Template:
        """Filters are plain query parameters; an unknown value means "any"."""
        courses = await CatalogueService(db_session, principal).taught_courses()
        chosen = [c.id for c in courses if str(c.id) == course] or [c.id for c in courses]
        statuses = {"to_grade": None, **{s.value: s.value for s in SubmissionStatus}}
        wanted = statuses.get(status)
        items = await grading_queue(
            db_session,
            chosen,
            status=wanted,
            late={"yes": True, "no": False}.get(late),
            limit=200,
        )
        if status == "to_grade" or status not in statuses:
            items = [i for i in items if i.status in ("submitted", "in_review")]
            status = "to_grade"
        names = await user_contacts(db_session, {i.user_id for i in items})
        titles = {c.id: c.title for c in courses}
        return page(
            request,
            GRADING_QUEUE,
            items=items,
            names={user_id: contact.display_name for user_id, contact in names.items()},
            course_titles=titles,
            courses=[(str(c.id), c.title) for c in courses],
            filters={"course": course, "status": status, "late": late},
            status_labels=status_labels(),
        )

    @get("/{submission_id:uuid}")
    async def submission(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        submission_id: FromPath[UUID],
        graded: FromQuery[bool] = False,
    ) -> Template:
        service = AssignmentService(db_session, principal, submission_store(request.app.state.settings))
        flash = _("The grade is saved.") if graded else None
        return await _grading_page(request, db_session, service, submission_id, flash=flash)

    @post("/{submission_id:uuid}", status_code=HTTP_200_OK)
    async def grade(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        submission_id: FromPath[UUID],
    ) -> Template | Redirect:
        """A level for every criterion (with an optional comment each) and feedback; a submission
        still waiting is put into review first. Over peer reviews, a reason is required."""
        service = AssignmentService(db_session, principal, submission_store(request.app.state.settings))
        submission, assignment, _staff = await service.submission(submission_id, staff_only=True)
        form = await request.form()
        errors = FormErrors()
        scores = rubric_scores(form, assignment, errors, with_comments=True)
        feedback = text_field(form, "feedback", MAX_COMMENT, errors)
        reason = text_field(form, "reason", 1000, errors)
        if assignment.peer_review and not reason:
            errors["reason"] = _("Say why you grade over the peer reviews; the learner sees it with the grade.")
        if not errors:
            if reason:
                prefix = _("Instructor grade: %(reason)s", reason=reason)
                feedback = f"{prefix}\n\n{feedback}".strip()
            try:
                if submission.status == SubmissionStatus.SUBMITTED.value and not assignment.peer_review:
                    await service.start_review(submission.id)
                await service.grade(submission.id, scores, feedback)
            except DomainError as exc:
                if exc.status not in (409, 422):
                    raise
                errors["feedback"] = service_message(exc)
        if errors:
            values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
            return await _grading_page(request, db_session, service, submission_id, errors=errors, values=values)
        return Redirect(f"/teach/grading/{submission_id}?graded=1", status_code=303)


def status_labels() -> dict[str, str]:
    return {
        "to_grade": _("To grade"),
        "submitted": _("Submitted"),
        "in_review": _("In review"),
        "graded": _("Graded"),
        "returned": _("Returned"),
    }


async def _grading_page(
    request: AppRequest,
    db_session: DbSession,
    service: AssignmentService,
    submission_id: UUID,
    *,
    errors: FormErrors | None = None,
    values: dict[str, str] | None = None,
    flash: str | None = None,
) -> Template:
    submission, assignment, _staff = await service.submission(submission_id, staff_only=True)
    out = await submission_out(service, submission, assignment, staff=True)
    reviewers = {UUID(r.reviewer) for r in out.reviews or [] if _is_uuid(r.reviewer)}
    names = await user_contacts(db_session, {submission.user_id, *reviewers})
    chosen = {s["criterion_id"]: s for s in submission.rubric_scores}
    defaults = {f"level-{cid}": s["level_id"] for cid, s in chosen.items()}
    defaults |= {f"comment-{cid}": s.get("comment", "") for cid, s in chosen.items()}
    defaults["feedback"] = submission.feedback
    return page(
        request,
        GRADING_PAGE,
        status_code=422 if errors else 200,
        submission=out,
        assignment=assignment,
        learner=names.get(submission.user_id),
        names={str(k): v.display_name for k, v in names.items()},
        max_points=max_points(assignment.rubric),
        format_file_size=format_file_size,
        status_labels=status_labels(),
        flash=flash,
        **form_state(errors, values, defaults),
    )


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True
