"""Progress-event ingest: validate each event cheaply, append the batch to a Redis stream, return.

Per request: lesson metadata and enrolments come from short-lived per-process caches (one query
each on a miss, under the request's RLS-bound session), then one XADD. Folding into
lesson_progress happens in the worker (lms.learning.fold), scheduled at most once a second.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.models import Lesson
from lms.identity.principal import Principal
from lms.learning.models import Enrollment, EnrollmentStatus
from lms.learning.schemas import (
    EventResult,
    EventsOut,
    ProgressEventIn,
    TextScrolled,
    VideoHeartbeat,
)
from lms.lib.jobs import Job, send_now

FOLD_TASK = "learning.fold_progress"
# Small tolerance for players that report a playhead a fraction past the end.
DURATION_SLACK_SECONDS = 2.0
MAX_CLOCK_SKEW = timedelta(minutes=5)
LESSON_TTL_SECONDS = 60.0
ENROLLMENT_TTL_SECONDS = 30.0
_FIELD_RE = re.compile(r"at `\$\.?([^`]*)`")


@dataclass(frozen=True)
class StreamKeys:
    """Redis keys of one deployment, namespaced by its Celery queue (tests get their own)."""

    stream: str
    scheduled: str
    lock: str

    @classmethod
    def for_queue(cls, queue: str) -> StreamKeys:
        prefix = f"lms:{queue}:progress"
        return cls(stream=f"{prefix}:events", scheduled=f"{prefix}:fold-scheduled", lock=f"{prefix}:fold-lock")


@dataclass(frozen=True)
class LessonMeta:
    course_id: UUID
    type: str
    duration_seconds: int | None


class _TTLCache:
    """A tiny per-process cache; values are small and bounded by a size cap."""

    def __init__(self, ttl: float, max_items: int = 200_000) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self._data: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any:
        item = self._data.get(key)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, key: Any, value: Any) -> None:
        if len(self._data) >= self.max_items:
            self._data.clear()
        self._data[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._data.clear()


lesson_cache = _TTLCache(LESSON_TTL_SECONDS)
enrollment_cache = _TTLCache(ENROLLMENT_TTL_SECONDS)


class EventRejected(Exception):
    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def _decode(index: int, raw: Any) -> ProgressEventIn:
    try:
        event: ProgressEventIn = msgspec.convert(raw, type=ProgressEventIn)
        return event
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _FIELD_RE.search(text)
        field = f"events[{index}]" + (f".{match.group(1)}" if match and match.group(1) else "")
        message = text.split(" - at ")[0]
        raise EventRejected("invalid_event", message, field) from exc


async def _lessons(session: AsyncSession, tenant_id: UUID, ids: set[UUID]) -> dict[UUID, LessonMeta]:
    found: dict[UUID, LessonMeta] = {}
    missing = []
    for lesson_id in ids:
        meta = lesson_cache.get((tenant_id, lesson_id))
        if meta is None:
            missing.append(lesson_id)
        else:
            found[lesson_id] = meta
    if missing:
        rows = await session.execute(
            select(Lesson.id, Lesson.course_id, Lesson.type, Lesson.duration_seconds).where(Lesson.id.in_(missing))
        )
        for lesson_id, course_id, lesson_type, duration in rows:
            meta = LessonMeta(course_id, lesson_type.value, duration)
            lesson_cache.put((tenant_id, lesson_id), meta)
            found[lesson_id] = meta
    return found


async def _enrolled(session: AsyncSession, principal: Principal, course_ids: set[UUID]) -> set[UUID]:
    """Courses (of these) the caller holds an active or completed enrolment in; positives cached."""
    enrolled = {c for c in course_ids if enrollment_cache.get((principal.tenant_id, principal.user_id, c))}
    missing = course_ids - enrolled
    if missing:
        rows = await session.execute(
            select(Enrollment.course_id).where(
                Enrollment.user_id == principal.user_id,
                Enrollment.course_id.in_(missing),
                Enrollment.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED]),
            )
        )
        for (course_id,) in rows:
            enrollment_cache.put((principal.tenant_id, principal.user_id, course_id), True)
            enrolled.add(course_id)
    return enrolled


def _check(index: int, event: ProgressEventIn, lesson: LessonMeta | None, enrolled: set[UUID], now: datetime) -> None:
    prefix = f"events[{index}]"
    if event.occurred_at.tzinfo is None:
        raise EventRejected("invalid_event", "occurred_at needs a time zone (e.g. Z)", f"{prefix}.occurred_at")
    if event.occurred_at > now + MAX_CLOCK_SKEW:
        raise EventRejected("invalid_event", "occurred_at is in the future", f"{prefix}.occurred_at")
    if lesson is None:
        raise EventRejected("unknown_lesson", f"lesson {event.lesson_id} does not exist", f"{prefix}.lesson_id")
    if lesson.course_id != event.course_id:
        raise EventRejected(
            "lesson_not_in_course",
            f"lesson {event.lesson_id} belongs to another course than {event.course_id}",
            f"{prefix}.lesson_id",
        )
    if event.course_id not in enrolled:
        raise EventRejected("not_enrolled", f"you are not enrolled in course {event.course_id}", f"{prefix}.course_id")
    if isinstance(event, VideoHeartbeat):
        if lesson.type != "video":
            raise EventRejected("wrong_lesson_type", f"video_heartbeat on a {lesson.type} lesson", f"{prefix}.type")
        limit = (lesson.duration_seconds or 0) + DURATION_SLACK_SECONDS
        if event.position > limit:
            raise EventRejected(
                "position_beyond_duration",
                f"position {event.position:g}s is beyond the lesson's {lesson.duration_seconds}s",
                f"{prefix}.position",
            )
        for n, watched in enumerate(event.watched):
            if watched.start > watched.end or watched.end > limit:
                raise EventRejected(
                    "invalid_range",
                    f"watched range {watched.start:g}-{watched.end:g}s is not inside 0-{lesson.duration_seconds}s",
                    f"{prefix}.watched[{n}]",
                )
    elif isinstance(event, TextScrolled) and lesson.type != "text":
        raise EventRejected("wrong_lesson_type", f"text_scrolled on a {lesson.type} lesson", f"{prefix}.type")


def _compact(event: ProgressEventIn) -> dict[str, Any]:
    item: dict[str, Any] = {
        "k": event.__struct_config__.tag,
        "e": event.client_event_id,
        "l": str(event.lesson_id),
        "c": str(event.course_id),
        "t": event.occurred_at.astimezone(UTC).isoformat(),
    }
    if isinstance(event, VideoHeartbeat):
        item["p"] = event.position
        item["w"] = [[r.start, r.end] for r in event.watched]
    elif isinstance(event, TextScrolled):
        item["d"] = event.depth
    return item


async def ingest_events(
    session: AsyncSession, redis: aioredis.Redis, keys: StreamKeys, principal: Principal, raw_events: list[Any]
) -> EventsOut:
    """Validate a batch per event and append the accepted ones; returns a result per event."""
    now = datetime.now(UTC)
    results: list[EventResult] = []
    decoded: list[tuple[int, ProgressEventIn]] = []
    for index, raw in enumerate(raw_events):
        try:
            decoded.append((index, _decode(index, raw)))
        except EventRejected as exc:
            event_id = raw.get("client_event_id") if isinstance(raw, dict) else None
            results.append(_rejected(index, event_id if isinstance(event_id, str) else None, exc))
    lessons = await _lessons(session, principal.tenant_id, {e.lesson_id for _, e in decoded})
    enrolled = await _enrolled(session, principal, {e.course_id for _, e in decoded})
    accepted: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, event in decoded:
        try:
            if event.client_event_id in seen:
                raise EventRejected(
                    "duplicate_event", "client_event_id repeats within the batch", f"events[{index}].client_event_id"
                )
            _check(index, event, lessons.get(event.lesson_id), enrolled, now)
        except EventRejected as exc:
            results.append(_rejected(index, event.client_event_id, exc))
            continue
        seen.add(event.client_event_id)
        accepted.append(_compact(event))
        results.append(EventResult(index=index, status="accepted", client_event_id=event.client_event_id))
    if accepted:
        await redis.xadd(
            keys.stream,
            {
                "tenant": str(principal.tenant_id),
                "user": str(principal.user_id),
                "events": msgspec.json.encode(accepted),
            },
        )
        await schedule_fold(redis, keys)
    results.sort(key=lambda r: r.index)
    return EventsOut(accepted=len(accepted), rejected=len(results) - len(accepted), results=results)


def _rejected(index: int, client_event_id: str | None, exc: EventRejected) -> EventResult:
    error = {"code": exc.code, "message": exc.message, "field": exc.field}
    return EventResult(index=index, status="rejected", client_event_id=client_event_id, error=error)


async def schedule_fold(redis: aioredis.Redis, keys: StreamKeys) -> None:
    """Ask a worker to fold, at most once a second across all API processes."""
    if await redis.set(keys.scheduled, b"1", nx=True, px=1000):
        await asyncio.to_thread(send_now, Job(FOLD_TASK, ()))
