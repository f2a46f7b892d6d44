"""Assignment API: assignments with rubrics, submissions (text, files, URL), grading, peer review."""

from __future__ import annotations

import functools
from uuid import UUID

import anyio
from litestar import Controller, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from lms.assessments.assignments.schemas import (
    AssignmentIn,
    AssignmentOut,
    AssignmentSettingsIn,
    FileOut,
    GradeIn,
    PeerReviewOut,
    ReassignOut,
    ReviewIn,
    ReviewShown,
    SubmissionOut,
    SubmissionSummary,
    VersionOut,
)
from lms.assessments.assignments.services.assignments import AssignmentService, Upload, assignment_out
from lms.assessments.assignments.services.peer_reviews import PeerReviewService
from lms.assessments.assignments.services.storage import submission_store
from lms.assessments.models import Assignment, PeerReview, Submission, SubmissionStatus, SubmissionVersion
from lms.catalog.guards import requires_author
from lms.config import Settings
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.lib.errors import ValidationFailed
from lms.lib.form_upload import read_form
from lms.lib.pagination import Page, PageParams
from lms.lib.params import AppRequest, VersionNumber


async def provide_assignments(
    settings: NamedDependency[Settings],
    db_session: DbSession,
    principal: NamedDependency[Principal],
) -> AssignmentService:
    return AssignmentService(db_session, principal, submission_store(settings))


async def provide_peer_reviews(assignments: NamedDependency[AssignmentService]) -> PeerReviewService:
    return PeerReviewService(assignments)


_DEPENDENCIES = {
    "assignments": Provide(provide_assignments),
    "peer": Provide(provide_peer_reviews),
}


def version_out(v: SubmissionVersion, base: str) -> VersionOut:
    files = [
        FileOut(f["filename"], f["size"], f["content_type"], f"{base}/versions/{v.number}/files/{f['filename']}")
        for f in v.files
    ]
    return VersionOut(v.number, v.text, v.url, files, v.submitted_at, v.late)


async def submission_out(service: AssignmentService, s: Submission, a: Assignment, staff: bool) -> SubmissionOut:
    base = f"/api/v1/assignment-submissions/{s.id}"
    versions = [version_out(v, base) for v in await service.versions(s.id)]
    out = SubmissionOut(s.id, s.assignment_id, s.user_id, s.status, s.version, s.late, versions)
    # Learners see their grade once it is final (graded or returned); staff always.
    if staff or s.status in (SubmissionStatus.GRADED.value, SubmissionStatus.RETURNED.value):
        out.score, out.score_pct, out.passed = s.score, s.score_pct, s.passed
        out.rubric_scores, out.feedback = s.rubric_scores, s.feedback
        out.peer_score, out.instructor_override = s.peer_score, s.instructor_override
    if a.peer_review:
        reviews = await service.reviews_of(s.id)
        shown = [r for r in reviews if staff or r.status == "completed"]
        out.reviews = [
            ReviewShown(
                reviewer=str(r.reviewer_id) if staff or not a.anonymous_reviews else f"Reviewer {index + 1}",
                status=r.status,
                total=r.total,
                scores=r.rubric_scores,
                comment=r.comment,
            )
            for index, r in enumerate(shown)
        ]
    return out


def summary(s: Submission) -> SubmissionSummary:
    return SubmissionSummary(s.id, s.user_id, s.status, s.version, s.late, s.score_pct, s.passed, s.updated_at)


class AssignmentController(Controller):
    path = "/api/v1/assignments"
    guards = [requires_user]
    dependencies = _DEPENDENCIES
    tags = ["assessments"]

    @post("/", guards=[requires_author])
    async def create(
        self, assignments: NamedDependency[AssignmentService], data: JSONBody[AssignmentIn]
    ) -> AssignmentOut:
        """Create an assignment."""
        return assignment_out(await assignments.create(data))

    @put("/{assignment_id:uuid}", guards=[requires_author])
    async def update(
        self,
        assignments: NamedDependency[AssignmentService],
        assignment_id: FromPath[UUID],
        data: JSONBody[AssignmentSettingsIn],
    ) -> AssignmentOut:
        """Change an assignment's rules (the body of POST without `lesson_id`); 409 for a new rubric once a
        submission has been graded."""
        return assignment_out(await assignments.update(assignment_id, data))

    @get("/{assignment_id:uuid}")
    async def get_assignment(
        self, assignments: NamedDependency[AssignmentService], assignment_id: FromPath[UUID]
    ) -> AssignmentOut:
        """Instructions and the full rubric, for enrolled learners before they submit, and staff."""
        assignment, _ = await assignments.visible(assignment_id)
        return assignment_out(assignment)

    @post(
        "/{assignment_id:uuid}/submissions",
        responses={200: ResponseSpec(SubmissionOut, description="A new version of your existing submission.")},
    )
    async def submit(
        self,
        request: AppRequest,
        assignments: NamedDependency[AssignmentService],
        assignment_id: FromPath[UUID],
    ) -> Response[SubmissionOut]:
        """multipart/form-data with `text`, `url` and any number of `files`; a new version each time."""
        # Parsed and spooled to temporary files in a worker thread (a 5 MiB file would otherwise keep the event
        # loop busy for tens of milliseconds); no database connection is taken before the body has arrived.
        form = await read_form(request)
        text = form.get("text")
        url = form.get("url")
        uploads = []
        for index, item in enumerate(form.getall("files") if "files" in form else []):
            if not isinstance(item, UploadFile):
                raise ValidationFailed("expected a file upload", field=f"files[{index}]")
            # The parsed part is already in a temporary file; it is stored from there, in a thread.
            of_file = functools.partial(Upload.of_file, item.filename or "file", item.content_type, item.file)
            uploads.append(await anyio.to_thread.run_sync(of_file))
        if text is not None and not isinstance(text, str):
            raise ValidationFailed("text must be a form field, not a file", field="text")
        if url is not None and not isinstance(url, str):
            raise ValidationFailed("url must be a form field, not a file", field="url")
        submission, created = await assignments.submit(assignment_id, text or None, url or None, uploads)
        assignment = await assignments.assignment_of(submission.assignment_id)
        out = await submission_out(assignments, submission, assignment, staff=False)
        return Response(out, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @get("/{assignment_id:uuid}/submissions", guards=[requires_author])
    async def list_submissions(
        self,
        assignments: NamedDependency[AssignmentService],
        assignment_id: FromPath[UUID],
        page: NamedDependency[PageParams],
        status: FromQuery[str | None] = None,
    ) -> Page[SubmissionSummary]:
        """Submissions to an assignment; filter by `status`."""
        items, total = await assignments.list_submissions(assignment_id, page.limit, page.offset, status)
        return Page([summary(s) for s in items], total, page.limit, page.offset)

    @post("/{assignment_id:uuid}/peer-reviews/assign", guards=[requires_author], status_code=HTTP_200_OK)
    async def assign_reviewers(
        self, peer: NamedDependency[PeerReviewService], assignment_id: FromPath[UUID]
    ) -> dict[str, int]:
        """Assign peer reviewers to the submissions of an assignment with peer review."""
        reviews = await peer.assign(assignment_id)
        return {"reviews": len(reviews), "submissions": len({r.submission_id for r in reviews})}

    @post("/{assignment_id:uuid}/peer-reviews/reassign", guards=[requires_author], status_code=HTTP_200_OK)
    async def reassign(self, peer: NamedDependency[PeerReviewService], assignment_id: FromPath[UUID]) -> ReassignOut:
        """Replace reviewers who missed the deadline (the worker also does this periodically)."""
        return await peer.reassign_missed(assignment_id)


class SubmissionController(Controller):
    path = "/api/v1/assignment-submissions"
    guards = [requires_user]
    dependencies = _DEPENDENCIES
    tags = ["assessments"]

    @get("/{submission_id:uuid}")
    async def get_submission(
        self, assignments: NamedDependency[AssignmentService], submission_id: FromPath[UUID]
    ) -> SubmissionOut:
        """One submission with its versions."""
        submission, assignment, staff = await assignments.submission(submission_id)
        return await submission_out(assignments, submission, assignment, staff)

    @get("/{submission_id:uuid}/versions/{number:int}/files/{filename:str}")
    async def download(
        self,
        assignments: NamedDependency[AssignmentService],
        submission_id: FromPath[UUID],
        number: VersionNumber,
        filename: FromPath[str],
    ) -> Response[bytes]:
        """Download a file of one version of a submission."""
        meta, data = await assignments.file(submission_id, number, filename)
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"content-disposition": f'attachment; filename="{meta["filename"]}"'},
        )

    @post("/{submission_id:uuid}/review", guards=[requires_author], status_code=HTTP_200_OK)
    async def start_review(
        self, assignments: NamedDependency[AssignmentService], submission_id: FromPath[UUID]
    ) -> SubmissionOut:
        """Start reviewing a submission."""
        submission = await assignments.start_review(submission_id)
        return await self._out(assignments, submission)

    @post("/{submission_id:uuid}/grade", guards=[requires_author], status_code=HTTP_200_OK)
    async def grade(
        self, assignments: NamedDependency[AssignmentService], submission_id: FromPath[UUID], data: JSONBody[GradeIn]
    ) -> SubmissionOut:
        """Grade a submission."""
        submission = await assignments.grade(submission_id, data.scores, data.feedback)
        return await self._out(assignments, submission)

    @post("/{submission_id:uuid}/return", guards=[requires_author], status_code=HTTP_200_OK)
    async def return_submission(
        self, assignments: NamedDependency[AssignmentService], submission_id: FromPath[UUID]
    ) -> SubmissionOut:
        """Return a submission to its author for another version."""
        submission = await assignments.return_(submission_id)
        return await self._out(assignments, submission)

    async def _out(self, assignments: AssignmentService, submission: Submission) -> SubmissionOut:
        assignment = await assignments.assignment_of(submission.assignment_id)
        return await submission_out(assignments, submission, assignment, staff=True)


class PeerReviewController(Controller):
    path = "/api/v1/peer-reviews"
    guards = [requires_user]
    dependencies = _DEPENDENCIES
    tags = ["assessments"]

    @get("/")
    async def my_reviews(
        self, peer: NamedDependency[PeerReviewService], page: NamedDependency[PageParams]
    ) -> Page[PeerReviewOut]:
        """Reviews assigned to you, with the work to review (its author is not named)."""
        reviews, total = await peer.mine(page.limit, page.offset)
        return page.of([await self._out(peer, r) for r in reviews], total)

    @get("/{review_id:uuid}")
    async def get_review(self, peer: NamedDependency[PeerReviewService], review_id: FromPath[UUID]) -> PeerReviewOut:
        """One review assigned to you, with the work to review (its author is not named)."""
        return await self._out(peer, await peer.own_review(review_id))

    @post("/{review_id:uuid}", status_code=HTTP_200_OK)
    async def submit_review(
        self, peer: NamedDependency[PeerReviewService], review_id: FromPath[UUID], data: JSONBody[ReviewIn]
    ) -> PeerReviewOut:
        """Submit your scores and comments for a review assigned to you, before its deadline."""
        review = await peer.complete(review_id, data.scores, data.comment)
        return await self._out(peer, review)

    async def _out(self, peer: PeerReviewService, review: PeerReview) -> PeerReviewOut:
        assignment = await peer.assignments.assignment_of(review.assignment_id)
        versions = await peer.assignments.versions(review.submission_id)
        work = version_out(versions[-1], f"/api/v1/assignment-submissions/{review.submission_id}")
        return PeerReviewOut(
            id=review.id,
            assignment_id=review.assignment_id,
            submission_id=review.submission_id,
            status=review.status,
            due_at=review.due_at,
            rubric=assignment.rubric,
            work=work,
            scores=review.rubric_scores,
            total=review.total,
            comment=review.comment,
        )
