"""Assignments: rubrics, versioned submissions with files, late policy, the grading workflow.

Workflow: submitted -> in_review -> graded -> returned; a returned (or not yet reviewed) submission
may be submitted again as a new version. Every transition notifies the learner through the outbox.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any
from uuid import UUID, uuid4

import msgspec
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.assignments.schemas import AssignmentIn, AssignmentOut, AssignmentSettingsIn, CriterionScore
from lms.assessments.assignments.services.storage import ObjectStore, safe_filename, submission_key
from lms.assessments.guards import is_staff, require_enrolled, staff_course, staff_lesson
from lms.assessments.models import Assignment, PeerReview, Submission, SubmissionStatus, SubmissionVersion
from lms.assessments.services import notify
from lms.catalog.schemas import LessonType
from lms.db.binding import release_connection
from lms.identity.guards import Principal
from lms.learning.services import record_assessment_result
from lms.lib import clock
from lms.lib.errors import Conflict, NotFound, TooLarge, ValidationFailed
from lms.lib.lookup import get_or_404
from lms.lib.pagination import count_and_fetch

# Executable formats refused whatever their name says.
_EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")
MAX_FILES = 10
_HEAD_BYTES = 16


@dataclass(frozen=True)
class Upload:
    """One uploaded file, read from `file` (at its start) only when it is stored, in a thread: a large
    upload is never copied into memory whole and never read on the event loop."""

    filename: str
    content_type: str
    size: int
    head: bytes  # the first bytes, for the executable check
    file: IO[bytes]

    @classmethod
    def of_bytes(cls, filename: str, content_type: str, data: bytes) -> Upload:
        return cls(filename, content_type, len(data), data[:_HEAD_BYTES], io.BytesIO(data))

    @classmethod
    def of_file(cls, filename: str, content_type: str, file: IO[bytes]) -> Upload:
        """Blocking (seeks and reads a few bytes of a file that may be on disk): run it in a thread."""
        size = file.seek(0, os.SEEK_END)
        file.seek(0)
        head = file.read(_HEAD_BYTES)
        file.seek(0)
        return cls(filename, content_type, size, head, file)


def max_points(rubric: list[dict[str, Any]]) -> float:
    return round(sum(max(float(level["points"]) for level in c["levels"]) for c in rubric), 4)


def score_rubric(
    rubric: list[dict[str, Any]], scores: list[CriterionScore], field: str = "scores"
) -> list[dict[str, Any]]:
    """Every criterion scored exactly once with one of its levels; errors name the entry."""
    criteria = {c["id"]: c for c in rubric}
    seen: set[str] = set()
    out = []
    for index, score in enumerate(scores):
        criterion = criteria.get(score.criterion_id)
        if criterion is None:
            raise ValidationFailed(
                f"unknown criterion id {score.criterion_id!r}", field=f"{field}[{index}].criterion_id"
            )
        if score.criterion_id in seen:
            raise ValidationFailed("criterion scored twice", field=f"{field}[{index}].criterion_id")
        level = next((lv for lv in criterion["levels"] if lv["id"] == score.level_id), None)
        if level is None:
            raise ValidationFailed(
                f"unknown level id {score.level_id!r} for criterion {score.criterion_id!r}",
                field=f"{field}[{index}].level_id",
            )
        seen.add(score.criterion_id)
        out.append(
            {
                "criterion_id": score.criterion_id,
                "level_id": level["id"],
                "points": float(level["points"]),
                "comment": score.comment,
            }
        )
    missing = [c for c in criteria if c not in seen]
    if missing:
        raise ValidationFailed(f"criterion {missing[0]!r} is not scored", field=field)
    return out


def assignment_out(a: Assignment) -> AssignmentOut:
    peer = (
        {"reviewers": a.reviewers_per_submission, "review_hours": a.review_hours, "anonymous": a.anonymous_reviews}
        if a.peer_review
        else None
    )
    return AssignmentOut(
        id=a.id,
        lesson_id=a.lesson_id,
        course_id=a.course_id,
        title=a.title,
        instructions=a.instructions,
        rubric=a.rubric,
        max_points=max_points(a.rubric),
        due_at=a.due_at,
        late_policy=a.late_policy,
        late_penalty_pct=a.late_penalty_pct,
        pass_pct=a.pass_pct,
        submission_types=a.submission_types,
        max_file_bytes=a.max_file_bytes,
        allowed_extensions=a.allowed_extensions,
        peer_review=peer,
    )


def _check_settings(data: AssignmentSettingsIn) -> None:
    for index, criterion in enumerate(data.rubric):
        if len({lv.id for lv in criterion.levels}) != len(criterion.levels):
            raise ValidationFailed("level ids must be unique within a criterion", field=f"rubric[{index}].levels")
    if len({c.id for c in data.rubric}) != len(data.rubric):
        raise ValidationFailed("criterion ids must be unique", field="rubric")
    if "file" in data.submission_types and not data.allowed_extensions:
        raise ValidationFailed("file submissions need allowed extensions", field="allowed_extensions")


def _apply_settings(assignment: Assignment, data: AssignmentSettingsIn) -> None:
    peer = data.peer_review
    assignment.title = data.title
    assignment.instructions = data.instructions
    assignment.rubric = msgspec.to_builtins(data.rubric)
    assignment.due_at = data.due_at
    assignment.late_policy = data.late_policy
    assignment.late_penalty_pct = data.late_penalty_pct
    assignment.pass_pct = data.pass_pct
    assignment.submission_types = list(data.submission_types)
    assignment.max_file_bytes = data.max_file_bytes
    assignment.allowed_extensions = [e.lower() for e in data.allowed_extensions]
    assignment.peer_review = peer is not None
    assignment.reviewers_per_submission = peer.reviewers if peer else 3
    assignment.review_hours = peer.review_hours if peer else 72
    assignment.anonymous_reviews = peer.anonymous if peer else True


class AssignmentService:
    """Assignments of the caller's courses, learners' submissions and their grading."""

    def __init__(self, session: AsyncSession, principal: Principal, store: ObjectStore) -> None:
        self.session = session
        self.principal = principal
        self.store = store

    # --- authoring -------------------------------------------------------------------------
    async def create(self, data: AssignmentIn) -> Assignment:
        lesson = await staff_lesson(self.session, self.principal, data.lesson_id, LessonType.ASSIGNMENT)
        _check_settings(data)
        assignment = Assignment(tenant_id=self.principal.tenant_id, lesson_id=lesson.id, course_id=lesson.course_id)
        _apply_settings(assignment, data)
        self.session.add(assignment)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("this lesson already has an assignment", field="lesson_id") from exc
        return assignment

    async def update(self, assignment_id: UUID, data: AssignmentSettingsIn) -> Assignment:
        """New rules from now on. The rubric stays as it is once a submission has been graded with it
        (its scores name the rubric's criteria and levels)."""
        assignment = await get_or_404(
            self.session, Assignment, assignment_id, "assignment not found", field="assignment_id"
        )
        await staff_lesson(self.session, self.principal, assignment.lesson_id, LessonType.ASSIGNMENT)
        _check_settings(data)
        if msgspec.to_builtins(data.rubric) != assignment.rubric and await self._graded_any(assignment.id):
            raise Conflict("the rubric cannot change once a submission has been graded with it", field="rubric")
        _apply_settings(assignment, data)
        await self.session.flush()
        return assignment

    async def _graded_any(self, assignment_id: UUID) -> bool:
        graded = select(Submission.id).where(Submission.assignment_id == assignment_id, Submission.score.is_not(None))
        return await self.session.scalar(graded.limit(1)) is not None

    async def visible(self, assignment_id: UUID) -> tuple[Assignment, bool]:
        assignment = await get_or_404(
            self.session, Assignment, assignment_id, "assignment not found", field="assignment_id"
        )
        staff = await is_staff(self.session, self.principal, assignment.course_id)
        if not staff:
            await require_enrolled(self.session, self.principal.user_id, assignment.course_id)
        return assignment, staff

    async def staff_assignment(self, assignment_id: UUID) -> Assignment:
        assignment = await get_or_404(
            self.session, Assignment, assignment_id, "assignment not found", field="assignment_id"
        )
        await staff_course(self.session, self.principal, assignment.course_id)
        return assignment

    # --- submitting ------------------------------------------------------------------------
    async def submit(
        self, assignment_id: UUID, text: str | None, url: str | None, uploads: list[Upload]
    ) -> tuple[Submission, bool]:
        assignment = await get_or_404(
            self.session, Assignment, assignment_id, "assignment not found", field="assignment_id"
        )
        await require_enrolled(self.session, self.principal.user_id, assignment.course_id)
        at = clock.now()
        late = assignment.due_at is not None and at > assignment.due_at
        if late and assignment.late_policy == "block":
            raise Conflict(
                "the due date (%(moment)s) has passed", field="assignment_id", values={"moment": assignment.due_at}
            )
        self._check_content(assignment, text, url, uploads)
        # The files travel to storage with no database connection held (the checks above were reads).
        await release_connection(self.session)
        files = await self._store_files(assignment.id, uploads)
        try:
            submission, created = await self._record(assignment, text, url, files, late, at)
        except BaseException:
            await self._delete_files(files)
            raise
        await notify(
            self.session,
            self.principal.tenant_id,
            submission.user_id,
            "submission_received",
            f"Received: {assignment.title} (version {submission.version})",
            "Your submission was received" + (" after the due date; a late penalty applies." if late else "."),
            f"received:{submission.id}:{submission.version}",
            {
                "title": assignment.title,
                "version": str(submission.version),
                "link": f"/courses/{assignment.course_id}/lessons/{assignment.lesson_id}",
            },
        )
        return submission, created

    async def _store_files(self, assignment_id: UUID, uploads: list[Upload]) -> list[dict[str, Any]]:
        staging_id = uuid4()
        files: list[dict[str, Any]] = []
        try:
            for upload in uploads:
                name = safe_filename(upload.filename)
                key = submission_key(self.principal.tenant_id, assignment_id, staging_id, name)
                await self.store.put(key, upload.file, upload.content_type)
                files.append({"key": key, "filename": name, "size": upload.size, "content_type": upload.content_type})
        except BaseException:
            await self._delete_files(files)
            raise
        return files

    async def _delete_files(self, files: list[dict[str, Any]]) -> None:
        for file in files:
            with contextlib.suppress(Exception):  # best effort: an unreferenced file is only garbage
                await self.store.delete(file["key"])

    async def _record(
        self,
        assignment: Assignment,
        text: str | None,
        url: str | None,
        files: list[dict[str, Any]],
        late: bool,
        at: datetime,
    ) -> tuple[Submission, bool]:
        """Lock (or create) the learner's submission and add the new version naming the stored files."""
        submission = (
            await self.session.execute(
                select(Submission)
                .where(Submission.assignment_id == assignment.id, Submission.user_id == self.principal.user_id)
                .with_for_update()
            )
        ).scalar_one_or_none()
        created = submission is None
        if submission is None:
            submission = Submission(
                tenant_id=self.principal.tenant_id,
                assignment_id=assignment.id,
                user_id=self.principal.user_id,
                version=1,
                rubric_scores=[],
            )
            self.session.add(submission)
        else:
            if submission.status not in (SubmissionStatus.SUBMITTED.value, SubmissionStatus.RETURNED.value):
                raise Conflict(
                    f"the submission is {submission.status.replace('_', ' ')}; resubmit once it is returned",
                    field="assignment_id",
                )
            if submission.status == SubmissionStatus.SUBMITTED.value and await self._has_reviews(submission.id):
                raise Conflict("peer reviews of this submission have started", field="assignment_id")
            submission.version += 1
            submission.rubric_scores, submission.score, submission.score_pct, submission.passed = [], None, None, None
            submission.feedback, submission.graded_by = "", None
        submission.status = SubmissionStatus.SUBMITTED.value
        submission.late = late
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("a submission was made at the same time; try again", field="assignment_id") from exc
        self.session.add(
            SubmissionVersion(
                tenant_id=self.principal.tenant_id,
                submission_id=submission.id,
                number=submission.version,
                text=text,
                url=url,
                files=files,
                submitted_at=at,
                late=late,
            )
        )
        await self.session.flush()
        return submission, created

    def _check_content(self, a: Assignment, text: str | None, url: str | None, uploads: list[Upload]) -> None:
        if not (text or url or uploads):
            raise ValidationFailed("a submission needs text, a URL or at least one file", field="text")
        for given, kind in ((text, "text"), (url, "url"), (uploads, "file")):
            if given and kind not in a.submission_types:
                field = "files" if kind == "file" else kind
                raise ValidationFailed(f"this assignment does not accept {kind} submissions", field=field)
        if url is not None and (not url.startswith(("https://", "http://")) or len(url) > 2000):
            raise ValidationFailed("the URL must be an http(s) address of at most 2000 characters", field="url")
        if text is not None and len(text) > 100_000:
            raise ValidationFailed("the text is longer than 100000 characters", field="text")
        if len(uploads) > MAX_FILES:
            raise ValidationFailed(f"at most {MAX_FILES} files per submission", field="files")
        for index, upload in enumerate(uploads):
            field = f"files[{index}]"
            if upload.size > a.max_file_bytes:
                raise TooLarge(
                    f"{upload.filename!r} is {upload.size} bytes; the limit is {a.max_file_bytes}", field=field
                )
            extension = upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else ""
            if extension not in a.allowed_extensions:
                allowed = ", ".join(a.allowed_extensions)
                raise ValidationFailed(
                    f"file type {'.' + extension if extension else '(none)'} of {upload.filename!r} is not allowed "
                    f"(allowed: {allowed})",
                    field=field,
                )
            if upload.head.startswith(_EXECUTABLE_MAGIC):
                raise ValidationFailed(f"{upload.filename!r} is an executable program", field=field)

    async def _has_reviews(self, submission_id: UUID) -> bool:
        count = await self.session.scalar(select(func.count()).where(PeerReview.submission_id == submission_id))
        return bool(count)

    # --- reading ---------------------------------------------------------------------------
    async def submission(self, submission_id: UUID, *, staff_only: bool = False) -> tuple[Submission, Assignment, bool]:
        """The submission for its author or course staff (404 for anyone else)."""
        submission = await get_or_404(
            self.session, Submission, submission_id, "submission not found", field="submission_id"
        )
        assignment = await self.session.get(Assignment, submission.assignment_id)
        assert assignment is not None
        staff = await is_staff(self.session, self.principal, assignment.course_id)
        if not staff and (staff_only or submission.user_id != self.principal.user_id):
            raise NotFound("submission not found", field="submission_id")
        return submission, assignment, staff

    async def assignment_of(self, assignment_id: UUID) -> Assignment:
        """The assignment a submission or review belongs to (it exists: rows keep their foreign keys)."""
        return await get_or_404(self.session, Assignment, assignment_id, "assignment not found")

    async def reviews_of(self, submission_id: UUID) -> list[PeerReview]:
        """The peer reviews of one submission, oldest first."""
        rows = await self.session.scalars(
            select(PeerReview).where(PeerReview.submission_id == submission_id).order_by(PeerReview.created_at)
        )
        return list(rows)

    async def versions(self, submission_id: UUID) -> list[SubmissionVersion]:
        rows = await self.session.scalars(
            select(SubmissionVersion)
            .where(SubmissionVersion.submission_id == submission_id)
            .order_by(SubmissionVersion.number)
        )
        return list(rows)

    async def list_submissions(
        self, assignment_id: UUID, limit: int, offset: int, status: str | None
    ) -> tuple[list[Submission], int]:
        await self.staff_assignment(assignment_id)
        query = select(Submission).where(Submission.assignment_id == assignment_id)
        if status:
            query = query.where(Submission.status == status)
        return await count_and_fetch(self.session, query.order_by(Submission.created_at), limit, offset)

    async def file(self, submission_id: UUID, number: int, filename: str) -> tuple[dict[str, Any], bytes]:
        """A submitted file, for its author, course staff or an assigned reviewer."""
        submission = await get_or_404(
            self.session, Submission, submission_id, "submission not found", field="submission_id"
        )
        assignment = await self.session.get(Assignment, submission.assignment_id)
        assert assignment is not None
        allowed = submission.user_id == self.principal.user_id or await is_staff(
            self.session, self.principal, assignment.course_id
        )
        if not allowed:
            reviewer = await self.session.scalar(
                select(PeerReview.id).where(
                    PeerReview.submission_id == submission.id, PeerReview.reviewer_id == self.principal.user_id
                )
            )
            allowed = reviewer is not None
        if not allowed:
            raise NotFound("submission not found", field="submission_id")
        version = await self.session.scalar(
            select(SubmissionVersion).where(
                SubmissionVersion.submission_id == submission.id, SubmissionVersion.number == number
            )
        )
        meta = next((f for f in (version.files if version else []) if f["filename"] == filename), None)
        if meta is None:
            raise NotFound("file not found", field="filename")
        return meta, await self.store.get(meta["key"])

    # --- grading ---------------------------------------------------------------------------
    async def start_review(self, submission_id: UUID) -> Submission:
        submission, assignment, _ = await self.submission(submission_id, staff_only=True)
        if submission.status != SubmissionStatus.SUBMITTED.value:
            raise Conflict(f"only a submitted submission can go into review, this one is {submission.status}")
        submission.status = SubmissionStatus.IN_REVIEW.value
        await self._notify(submission, assignment, "in_review", f"In review: {assignment.title}")
        return submission

    async def grade(self, submission_id: UUID, scores: list[CriterionScore], feedback: str) -> Submission:
        """Grade against the rubric; with peer review on this is the instructor's override."""
        submission, assignment, _ = await self.submission(submission_id, staff_only=True)
        allowed = {SubmissionStatus.IN_REVIEW.value}
        if assignment.peer_review:
            allowed |= {SubmissionStatus.SUBMITTED.value, SubmissionStatus.GRADED.value}
        if submission.status not in allowed:
            raise Conflict(f"a {submission.status} submission cannot be graded; start the review first")
        submission.rubric_scores = score_rubric(assignment.rubric, scores)
        submission.feedback = feedback
        submission.graded_by = self.principal.user_id
        submission.instructor_override = assignment.peer_review
        await self.apply_grade(submission, assignment, sum(s["points"] for s in submission.rubric_scores))
        return submission

    async def apply_grade(self, submission: Submission, assignment: Assignment, points: float) -> None:
        """Record a total (late penalty applied), mark graded, tell the learner and the learning core."""
        if submission.late:
            points *= 1 - assignment.late_penalty_pct / 100
        top = max_points(assignment.rubric)
        submission.score = round(points, 4)
        submission.score_pct = round(100 * points / top, 2) if top else 0.0
        submission.passed = submission.score_pct >= assignment.pass_pct - 1e-9
        submission.status = SubmissionStatus.GRADED.value
        await self.session.flush()
        await record_assessment_result(
            self.session, submission.user_id, assignment.lesson_id, bool(submission.passed), submission.score_pct
        )
        await self._notify(
            submission,
            assignment,
            "graded",
            f"Graded: {assignment.title}",
            f"Score {submission.score_pct}% ({'passed' if submission.passed else 'not passed'}).",
        )

    async def return_(self, submission_id: UUID) -> Submission:
        submission, assignment, _ = await self.submission(submission_id, staff_only=True)
        if submission.status != SubmissionStatus.GRADED.value:
            raise Conflict(f"only a graded submission can be returned, this one is {submission.status}")
        submission.status = SubmissionStatus.RETURNED.value
        await self._notify(
            submission, assignment, "returned", f"Returned: {assignment.title}", "You may submit a new version."
        )
        return submission

    async def _notify(self, s: Submission, a: Assignment, kind: str, subject: str, body: str = "") -> None:
        await self.session.flush()
        payload = {
            "title": a.title,
            "score": str(s.score_pct if s.score_pct is not None else ""),
            "link": f"/courses/{a.course_id}/lessons/{a.lesson_id}",
        }
        await notify(self.session, s.tenant_id, s.user_id, kind, subject, body, f"{kind}:{s.id}:{s.version}", payload)


@dataclass(frozen=True)
class QueueItem:
    """One submission in the grading queue, with what the queue shows of its assignment."""

    submission_id: UUID
    user_id: UUID
    status: str
    version: int
    late: bool
    score_pct: float | None
    updated_at: datetime
    assignment_id: UUID
    assignment_title: str
    course_id: UUID
    peer_review: bool


async def grading_queue(
    session: AsyncSession,
    course_ids: list[UUID],
    *,
    assignment_id: UUID | None = None,
    status: str | None = None,
    late: bool | None = None,
    limit: int = 100,
) -> list[QueueItem]:
    """Submissions of these courses, oldest waiting first; filters by assignment, status and lateness.
    The caller passes only the courses it teaches (RLS keeps other tenants out in any case)."""
    if not course_ids:
        return []
    query = (
        select(Submission, Assignment.title, Assignment.course_id, Assignment.peer_review)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(Assignment.course_id.in_(course_ids))
    )
    if assignment_id is not None:
        query = query.where(Submission.assignment_id == assignment_id)
    if status:
        query = query.where(Submission.status == status)
    if late is not None:
        query = query.where(Submission.late.is_(late))
    rows = await session.execute(query.order_by(Submission.updated_at).limit(limit))
    return [
        QueueItem(
            s.id,
            s.user_id,
            s.status,
            s.version,
            s.late,
            s.score_pct,
            s.updated_at,
            s.assignment_id,
            title,
            course_id,
            peer_review,
        )
        for s, title, course_id, peer_review in rows
    ]
