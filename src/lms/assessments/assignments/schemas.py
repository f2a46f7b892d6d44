"""Assignment, rubric, submission and peer-review shapes on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Comment = Annotated[str, msgspec.Meta(max_length=5000)]
Extension = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]{1,10}$")]
DEFAULT_EXTENSIONS = ["pdf", "txt", "md", "docx", "odt", "png", "jpg", "jpeg", "zip"]


class Level(msgspec.Struct, forbid_unknown_fields=True):
    id: Id
    title: Title
    points: Annotated[float, msgspec.Meta(ge=0, le=1000)]
    description: Comment = ""


class Criterion(msgspec.Struct, forbid_unknown_fields=True):
    id: Id
    title: Title
    levels: Annotated[list[Level], msgspec.Meta(min_length=1, max_length=10)]
    description: Comment = ""


class PeerReviewIn(msgspec.Struct, forbid_unknown_fields=True):
    reviewers: Annotated[int, msgspec.Meta(ge=1, le=5)] = 3
    review_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 60)] = 72
    anonymous: bool = True


class AssignmentSettingsIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An assignment's rules and rubric. Changed later (PUT), they apply from then on; the rubric is
    fixed once a submission has been graded with it."""

    title: Title
    rubric: Annotated[list[Criterion], msgspec.Meta(min_length=1, max_length=30)]
    instructions: Annotated[str, msgspec.Meta(max_length=20000)] = ""
    due_at: datetime | None = None
    late_policy: Literal["penalty", "block"] = "penalty"
    late_penalty_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] = 10.0
    pass_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] = 60.0
    submission_types: Annotated[list[Literal["text", "file", "url"]], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["text", "file", "url"]
    )
    max_file_bytes: Annotated[int, msgspec.Meta(ge=1, le=50 * 1024 * 1024)] = 5 * 1024 * 1024
    allowed_extensions: Annotated[list[Extension], msgspec.Meta(min_length=1, max_length=30)] = msgspec.field(
        default_factory=lambda: list(DEFAULT_EXTENSIONS)
    )
    peer_review: PeerReviewIn | None = None


class AssignmentIn(AssignmentSettingsIn, kw_only=True):
    lesson_id: UUID


class AssignmentOut(msgspec.Struct):
    """Shown to enrolled learners before they submit: the rubric with every level and its points."""

    id: UUID
    lesson_id: UUID
    course_id: UUID
    title: str
    instructions: str
    rubric: list[dict[str, Any]]
    max_points: float
    due_at: datetime | None
    late_policy: str
    late_penalty_pct: float
    pass_pct: float
    submission_types: list[str]
    max_file_bytes: int
    allowed_extensions: list[str]
    peer_review: dict[str, Any] | None


class CriterionScore(msgspec.Struct, forbid_unknown_fields=True):
    criterion_id: Id
    level_id: Id
    comment: Comment = ""


class GradeIn(msgspec.Struct, forbid_unknown_fields=True):
    scores: Annotated[list[CriterionScore], msgspec.Meta(min_length=1, max_length=30)]
    feedback: Comment = ""


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True):
    scores: Annotated[list[CriterionScore], msgspec.Meta(min_length=1, max_length=30)]
    comment: Comment = ""


class FileOut(msgspec.Struct):
    filename: str
    size: int
    content_type: str
    url: str


class VersionOut(msgspec.Struct):
    number: int
    text: str | None
    url: str | None
    files: list[FileOut]
    submitted_at: datetime
    late: bool


class ReviewShown(msgspec.Struct):
    reviewer: str
    status: str
    total: float | None
    scores: list[dict[str, Any]]
    comment: str


class SubmissionOut(msgspec.Struct):
    id: UUID
    assignment_id: UUID
    user_id: UUID
    status: str
    version: int
    late: bool
    versions: list[VersionOut]
    score: float | None = None
    score_pct: float | None = None
    passed: bool | None = None
    rubric_scores: list[dict[str, Any]] | None = None
    feedback: str | None = None
    peer_score: float | None = None
    instructor_override: bool = False
    reviews: list[ReviewShown] | None = None


class SubmissionSummary(msgspec.Struct):
    id: UUID
    user_id: UUID
    status: str
    version: int
    late: bool
    score_pct: float | None
    passed: bool | None
    updated_at: datetime


class PeerReviewOut(msgspec.Struct):
    """What a reviewer sees: the work and the rubric, never the author or the other reviewers."""

    id: UUID
    assignment_id: UUID
    submission_id: UUID
    status: str
    due_at: datetime
    rubric: list[dict[str, Any]]
    work: VersionOut
    scores: list[dict[str, Any]]
    total: float | None
    comment: str


class ReassignOut(msgspec.Struct):
    missed: int
    reassigned: int
    unfilled: int
