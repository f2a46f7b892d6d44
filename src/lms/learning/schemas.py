"""Enrolment, progress-event and learner-view shapes on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

# The enrolment vocabulary other domains use.
from lms.learning.models import EnrollmentSource as EnrollmentSource
from lms.learning.models import EnrollmentStatus as EnrollmentStatus

ClientEventId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Seconds = Annotated[float, msgspec.Meta(ge=0, le=24 * 3600)]
MAX_BATCH = 100


class EnrollIn(msgspec.Struct, forbid_unknown_fields=True):
    """Enrol yourself (no user_id) or, as an admin/instructor, assign someone with a due date."""

    course_id: UUID
    user_id: UUID | None = None
    due_at: datetime | None = None
    # End of access: the enrolment turns `expired` after this (hourly job).
    expires_at: datetime | None = None


class BulkEnrollIn(msgspec.Struct, forbid_unknown_fields=True):
    course_id: UUID
    user_ids: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=5000)]
    due_at: datetime | None = None
    expires_at: datetime | None = None


class StatusIn(msgspec.Struct, forbid_unknown_fields=True):
    status: EnrollmentStatus


class EnrollmentOut(msgspec.Struct):
    id: UUID
    user_id: UUID
    course_id: UUID
    status: EnrollmentStatus
    source: EnrollmentSource
    version: int | None
    due_at: datetime | None
    expires_at: datetime | None
    completion_pct: float
    completed_at: datetime | None
    last_lesson_id: UUID | None
    last_activity_at: datetime | None
    created_at: datetime


class BulkResult(msgspec.Struct):
    user_id: UUID
    status: Literal["enrolled", "already_enrolled", "rejected"]
    enrollment_id: UUID | None = None
    error: dict[str, Any] | None = None


# gc=False on the event types: they never form reference cycles, and the fold holds thousands.
class Range(msgspec.Struct, array_like=True, gc=False):
    start: Seconds
    end: Seconds


class LessonViewed(msgspec.Struct, tag_field="type", tag="lesson_viewed", forbid_unknown_fields=True, gc=False):
    client_event_id: ClientEventId
    lesson_id: UUID
    course_id: UUID
    occurred_at: datetime


class VideoHeartbeat(msgspec.Struct, tag_field="type", tag="video_heartbeat", forbid_unknown_fields=True, gc=False):
    """`position` is the playhead; `watched` the ranges actually played since the last heartbeat."""

    client_event_id: ClientEventId
    lesson_id: UUID
    course_id: UUID
    occurred_at: datetime
    position: Seconds
    watched: Annotated[list[Range], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)


class TextScrolled(msgspec.Struct, tag_field="type", tag="text_scrolled", forbid_unknown_fields=True, gc=False):
    client_event_id: ClientEventId
    lesson_id: UUID
    course_id: UUID
    occurred_at: datetime
    depth: Annotated[float, msgspec.Meta(ge=0, le=1, description="fraction of the text scrolled, 0..1")]


class LessonCompleted(msgspec.Struct, tag_field="type", tag="lesson_completed", forbid_unknown_fields=True, gc=False):
    client_event_id: ClientEventId
    lesson_id: UUID
    course_id: UUID
    occurred_at: datetime


ProgressEventIn = LessonViewed | VideoHeartbeat | TextScrolled | LessonCompleted


class EventsIn(msgspec.Struct, forbid_unknown_fields=True):
    """A batch; each event is validated on its own so one bad event does not sink the rest."""

    events: Annotated[list[ProgressEventIn], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class ReceivedBatch(EventsIn, forbid_unknown_fields=True):
    """EventsIn as the server first reads it: the envelope checked, each event still raw JSON."""

    events: Annotated[list[msgspec.Raw], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]  # type: ignore[assignment]


class EventResult(msgspec.Struct, omit_defaults=True):
    index: int
    status: Literal["accepted", "rejected"]
    client_event_id: str | None = None
    error: dict[str, Any] | None = None


class EventsOut(msgspec.Struct):
    accepted: int
    rejected: int
    results: list[EventResult]


class ResumeOut(msgspec.Struct):
    lesson_id: UUID
    position_seconds: float
    position_at: datetime | None
    status: str
    watched_seconds: float
    scroll_depth: float


class MyCourseOut(msgspec.Struct):
    enrollment_id: UUID
    course_id: UUID
    title: str
    status: EnrollmentStatus
    completion_pct: float
    due_at: datetime | None
    overdue: bool
    last_lesson_id: UUID | None
    last_activity_at: datetime | None


class ContinueOut(msgspec.Struct):
    enrollment_id: UUID
    course_id: UUID
    course_title: str
    lesson_id: UUID | None
    lesson_title: str | None
    position_seconds: float
    completion_pct: float


class LessonViewOut(msgspec.Struct):
    """A lesson as the learner's course version has it."""

    id: UUID
    course_id: UUID
    module_id: UUID
    title: str
    type: str
    duration_seconds: int | None
    content: dict[str, Any]
    media_asset_id: UUID | None
    version: int | None
    resume_position_seconds: float
