"""Peer review: deterministic balanced assignment, anonymous rubric reviews, median grades, reassignment.

Reviewers come from the assignment's cohort: learners of the course who submitted. Each submission
gets `reviewers_per_submission` of them (never its author); the final grade is the median of the
peer totals unless an instructor overrides it. A reviewer who misses the deadline is replaced.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.assessments.assignments.schemas import CriterionScore, ReassignOut
from lms.assessments.assignments.services.assignments import AssignmentService, score_rubric
from lms.assessments.assignments.services.peer import assign_reviewers, plan_replacements
from lms.assessments.guards import enrolled_users
from lms.assessments.models import Assignment, PeerReview, ReviewStatus, Submission, SubmissionStatus
from lms.assessments.services import REASSIGN_TASK, notify
from lms.lib import clock
from lms.lib.errors import Conflict, NotFound
from lms.lib.jobs import enqueue_after_commit
from lms.lib.lookup import get_or_404
from lms.lib.pagination import count_and_fetch


class PeerReviewService:
    def __init__(self, assignments: AssignmentService) -> None:
        self.assignments = assignments
        self.session: AsyncSession = assignments.session
        self.principal = assignments.principal

    async def assign(self, assignment_id: UUID) -> list[PeerReview]:
        """Give every submission its reviewers; reproducible for the same set of submissions."""
        assignment = await self.assignments.staff_assignment(assignment_id)
        if not assignment.peer_review:
            raise Conflict("peer review is not enabled for this assignment", field="assignment_id")
        existing = await self.session.scalar(select(PeerReview.id).where(PeerReview.assignment_id == assignment.id))
        if existing is not None:
            raise Conflict("reviewers are already assigned; use reassignment for missed reviews")
        submissions = await self._cohort_submissions(assignment)
        by_author = {s.user_id: s for s in submissions}
        try:
            plan = assign_reviewers(str(assignment.id), by_author, assignment.reviewers_per_submission)
        except ValueError as exc:
            raise Conflict(str(exc), field="assignment_id") from exc
        due = clock.now() + timedelta(hours=assignment.review_hours)
        reviews = []
        for author, reviewers in plan.items():
            submission = by_author[author]
            submission.status = SubmissionStatus.IN_REVIEW.value
            for reviewer in reviewers:
                reviews.append(await self._add_review(assignment, submission, reviewer, due))
        await self.session.flush()
        self._schedule_reassignment(assignment, due)
        return reviews

    def _schedule_reassignment(self, assignment: Assignment, due: datetime) -> None:
        """Check for missed reviews just after the deadline (the job is idempotent)."""
        delay = max(0.0, (due - clock.now()).total_seconds()) + 60
        enqueue_after_commit(
            self.session, REASSIGN_TASK, str(assignment.tenant_id), str(assignment.id), countdown=delay
        )

    async def _cohort_submissions(self, assignment: Assignment) -> list[Submission]:
        cohort = await enrolled_users(self.session, assignment.course_id)
        rows = await self.session.scalars(
            select(Submission).where(
                Submission.assignment_id == assignment.id, Submission.status == SubmissionStatus.SUBMITTED.value
            )
        )
        return [s for s in rows if s.user_id in cohort]

    async def _add_review(
        self, assignment: Assignment, submission: Submission, reviewer: UUID, due: datetime
    ) -> PeerReview:
        review = PeerReview(
            tenant_id=assignment.tenant_id,
            assignment_id=assignment.id,
            submission_id=submission.id,
            reviewer_id=reviewer,
            status=ReviewStatus.ASSIGNED.value,
            due_at=due,
            rubric_scores=[],
        )
        self.session.add(review)
        await self.session.flush()
        await notify(
            self.session,
            assignment.tenant_id,
            reviewer,
            "review_assigned",
            f"Peer review to do: {assignment.title}",
            f"Please review a submission by {due.isoformat()}.",
            f"review_assigned:{review.id}",
            {
                "title": assignment.title,
                "due": due.isoformat(),
                "link": f"/courses/{assignment.course_id}/lessons/{assignment.lesson_id}",
            },
        )
        return review

    async def mine(self, limit: int, offset: int) -> tuple[list[PeerReview], int]:
        query = (
            select(PeerReview)
            .where(PeerReview.reviewer_id == self.principal.user_id, PeerReview.status != ReviewStatus.MISSED.value)
            .order_by(PeerReview.due_at, PeerReview.id)
        )
        return await count_and_fetch(self.session, query, limit, offset)

    async def own_review(self, review_id: UUID) -> PeerReview:
        review = await self.session.get(PeerReview, review_id)
        if review is None or review.reviewer_id != self.principal.user_id:
            raise NotFound("review not found", field="review_id")
        return review

    async def complete(self, review_id: UUID, scores: list[CriterionScore], comment: str) -> PeerReview:
        review = await self.own_review(review_id)
        if review.status == ReviewStatus.COMPLETED.value:
            raise Conflict("this review has already been submitted", field="review_id")
        if review.status == ReviewStatus.MISSED.value or clock.now() > review.due_at:
            raise Conflict(
                "the review deadline (%(moment)s) has passed", field="review_id", values={"moment": review.due_at}
            )
        assignment = await self.session.get(Assignment, review.assignment_id)
        assert assignment is not None
        review.rubric_scores = score_rubric(assignment.rubric, scores)
        review.total = round(sum(s["points"] for s in review.rubric_scores), 4)
        review.comment = comment
        review.status = ReviewStatus.COMPLETED.value
        review.completed_at = clock.now()
        await self.session.flush()
        await self._settle(review.submission_id, assignment)
        return review

    async def _settle(self, submission_id: UUID, assignment: Assignment) -> None:
        """Once every live review is in, the median of the peer totals becomes the grade."""
        reviews = list(await self.session.scalars(select(PeerReview).where(PeerReview.submission_id == submission_id)))
        live = [r for r in reviews if r.status != ReviewStatus.MISSED.value]
        if len(live) < assignment.reviewers_per_submission or any(
            r.status != ReviewStatus.COMPLETED.value for r in live
        ):
            return
        submission = await self.session.get(Submission, submission_id, with_for_update=True)
        assert submission is not None
        submission.peer_score = round(statistics.median(r.total or 0.0 for r in live), 4)
        if submission.instructor_override:
            return
        await self.assignments.apply_grade(submission, assignment, submission.peer_score)

    async def reassign_missed(self, assignment_id: UUID, staff: bool = True) -> ReassignOut:
        """Mark overdue reviews missed and give each submission a fresh reviewer; idempotent."""
        if staff:
            assignment = await self.assignments.staff_assignment(assignment_id)
        else:
            found = await get_or_404(
                self.session, Assignment, assignment_id, "assignment not found", field="assignment_id"
            )
            assignment = found
        reviews = list(
            await self.session.scalars(
                select(PeerReview).where(PeerReview.assignment_id == assignment.id).with_for_update()
            )
        )
        at = clock.now()
        overdue = [r for r in reviews if r.status == ReviewStatus.ASSIGNED.value and r.due_at < at]
        if not overdue:
            return ReassignOut(0, 0, 0)
        cohort = await enrolled_users(self.session, assignment.course_id)
        submissions = {
            s.id: s
            for s in await self.session.scalars(select(Submission).where(Submission.assignment_id == assignment.id))
        }
        # Reviewers who let a deadline pass are not picked again while others are available.
        missed_by = {r.reviewer_id for r in overdue} | {r.reviewer_id for r in reviews if r.status == "missed"}
        candidates = sorted((s.user_id for s in submissions.values() if s.user_id in cohort), key=str)
        preferred = [c for c in candidates if c not in missed_by] or candidates
        loads = Counter(r.reviewer_id for r in reviews if r.status != ReviewStatus.MISSED.value)
        for review in overdue:
            review.status = ReviewStatus.MISSED.value
            loads[review.reviewer_id] -= 1
        needs = []
        for review in overdue:
            submission = submissions[review.submission_id]
            on_it = {r.reviewer_id for r in reviews if r.submission_id == submission.id}
            needs.append((submission.id, submission.user_id, on_it))
        plan = plan_replacements(str(assignment.id), preferred, needs, loads)
        reassigned = unfilled = 0
        due = at + timedelta(hours=assignment.review_hours)
        for (submission_id, _, _), replacement in zip(needs, plan, strict=True):
            if replacement is None:
                unfilled += 1
                continue
            await self._add_review(assignment, submissions[submission_id], replacement, due)
            reassigned += 1
        await self.session.flush()
        if reassigned:
            self._schedule_reassignment(assignment, due)
        return ReassignOut(len(overdue), reassigned, unfilled)
