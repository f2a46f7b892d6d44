"""Progress-event ingest: validate each event cheaply, append the batch to a Redis stream, return.

Per request: the body is decoded straight into typed events (one decoder per event, so one bad
event does not sink the rest); lesson metadata and enrolments come from short-lived per-process
caches (one sessionless read each on a miss: no ORM session at all); then one Redis
call appends the batch and claims the fold window in the same atomic step (APPEND_AND_CLAIM).
Folding into lesson_progress happens in the worker (lms.learning.services.fold).
"""

from __future__ import annotations

import asyncio
import functools
import random
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from sqlalchemy import Uuid, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from lms.catalog.queries import lesson_kinds
from lms.db.engines import Database
from lms.db.reads import ReadQuery, TenantReads, fetch_all
from lms.identity.guards import Principal
from lms.learning.models import Enrollment, EnrollmentStatus
from lms.learning.schemas import (
    EventResult,
    EventsOut,
    ProgressEventIn,
    ReceivedBatch,
    TextScrolled,
    VideoHeartbeat,
)
from lms.lib import clock
from lms.lib.edge import MAX_JSON_DEPTH, string_problem
from lms.lib.errors import DomainError, ValidationFailed
from lms.lib.jobs import Job, send_now, sender_of
from lms.lib.redis_clients import blocking_redis

FOLD_TASK = "learning.fold_progress"
FOLD_WINDOW_SECONDS = 1.0
# Small tolerance for players that report a playhead a fraction past the end.
DURATION_SLACK_SECONDS = 2.0
MAX_CLOCK_SKEW = timedelta(minutes=5)
# Players send a heartbeat every few seconds; one heartbeat may not claim more playback than this
# (so a client cannot mark a whole video watched in one event).
MAX_WATCHED_PER_HEARTBEAT = 120.0
LESSON_TTL_SECONDS = 60.0
ENROLLMENT_TTL_SECONDS = 30.0
STALE_GRACE_SECONDS = 5.0
_FIELD_RE = re.compile(r"at `\$\.?([^`]*)`")
_NAMED_FIELD_RE = re.compile(r"field `([^`]*)`")


@dataclass(frozen=True)
class StreamKeys:
    """Redis keys of one deployment, namespaced by its Celery queue (tests get their own)."""

    stream: str
    scheduled: str
    lock: str

    @classmethod
    @functools.cache
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
        """The value, or None when absent or expired. Past expiry only the first caller gets None
        (and reloads); the others keep the old value for a grace period, so a busy process does not
        send every in-flight request to the database at once."""
        item = self._data.get(key)
        if item is None:
            return None
        now = time.monotonic()
        if item[0] < now:
            self._data[key] = (now + STALE_GRACE_SECONDS, item[1])
            return None
        return item[1]

    def put(self, key: Any, value: Any) -> None:
        if len(self._data) >= self.max_items:
            self._data.clear()
        # Jittered lifetimes: entries loaded together (a class starting a video) expire apart.
        self._data[key] = (time.monotonic() + self.ttl * random.uniform(0.75, 1.25), value)  # noqa: S311

    def clear(self) -> None:
        self._data.clear()


lesson_cache = _TTLCache(LESSON_TTL_SECONDS)
enrollment_cache = _TTLCache(ENROLLMENT_TTL_SECONDS)


def stream_redis(url: str, max_connections: int = 64) -> aioredis.Redis:
    """A Redis client whose pool waits for a free connection under bursts instead of failing
    (and reconnects after a Redis restart)."""
    return blocking_redis(url, max_connections)


def ingest_append(state: Any) -> AsyncScript:
    """The API process's append script on its own client, made on first use and kept on the
    application state."""
    script: AsyncScript | None = getattr(state, "learning_append", None)
    if script is None:
        script = append_script(stream_redis(state.settings.redis_url or ""))
        state.learning_append = script
    return script


class EventRejected(Exception):
    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


_BATCH_DECODER = msgspec.json.Decoder(ReceivedBatch)
_EVENT_DECODER: msgspec.json.Decoder[ProgressEventIn] = msgspec.json.Decoder(ProgressEventIn)


class InvalidJson(DomainError):
    status = 400
    code = "invalid_json"


def decode_batch(body: bytes) -> ReceivedBatch:
    """The batch envelope; its events stay raw JSON until each is decoded on its own."""
    try:
        return _BATCH_DECODER.decode(body)
    except msgspec.ValidationError as exc:
        message, field = _split_error(exc)
        raise ValidationFailed(message, field=field or "events") from exc
    except msgspec.DecodeError as exc:
        raise InvalidJson(f"the body is not valid JSON: {exc}", field="body") from exc
    except RecursionError as exc:
        # The typed events bound nesting once decoded; only skipping a hostile raw event recurses.
        raise ValidationFailed(f"JSON must not be nested deeper than {MAX_JSON_DEPTH} levels", field="body") from exc


def _split_error(exc: msgspec.MsgspecError) -> tuple[str, str]:
    """msgspec says "Expected `int`, got `str` - at `$.events[0].x`": the message and `events[0].x`."""
    text = str(exc)
    message = text.split(" - at ")[0]
    path = match.group(1) if (match := _FIELD_RE.search(text)) else ""
    if named := _NAMED_FIELD_RE.search(message):  # a missing or unknown field
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    return message, path


def _decode(index: int, raw: msgspec.Raw) -> ProgressEventIn:
    try:
        event = _EVENT_DECODER.decode(raw)
    except msgspec.MsgspecError as exc:
        message, path = _split_error(exc)
        field = f"events[{index}]" + (f".{path}" if path else "")
        raise EventRejected("invalid_event", message, field) from exc
    # The edge's string rule, on the one string field every event type has (msgspec itself refuses
    # raw NUL bytes, invalid UTF-8 and lone surrogates; an escaped NUL it decodes).
    if (problem := string_problem(event.client_event_id)) is not None:
        raise EventRejected("invalid_event", problem, f"events[{index}].client_event_id")
    return event


def _client_event_id(raw: msgspec.Raw) -> str | None:
    """Best effort, for reporting on an event that did not decode."""
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    event_id = value.get("client_event_id") if isinstance(value, dict) else None
    return event_id if isinstance(event_id, str) else None


async def _lessons(reads: TenantReads, tenant_id: UUID, ids: set[UUID]) -> dict[UUID, LessonMeta]:
    found: dict[UUID, LessonMeta] = {}
    missing = []
    for lesson_id in ids:
        meta = lesson_cache.get((tenant_id, lesson_id))
        if meta is None:
            missing.append(lesson_id)
        else:
            found[lesson_id] = meta
    if missing:
        for lesson_id, course_id, lesson_type, duration in await lesson_kinds(reads, missing):
            meta = LessonMeta(course_id, lesson_type.value, duration)
            lesson_cache.put((tenant_id, lesson_id), meta)
            found[lesson_id] = meta
    return found


@functools.cache
def _enrolled_query() -> ReadQuery:
    return ReadQuery(
        select(Enrollment.course_id).where(
            Enrollment.user_id == bindparam("user_id"),
            Enrollment.course_id == any_(bindparam("course_ids", type_=ARRAY(Uuid))),
            or_(Enrollment.status == EnrollmentStatus.ACTIVE, Enrollment.status == EnrollmentStatus.COMPLETED),
        )
    )


async def _enrolled(reads: TenantReads, principal: Principal, course_ids: set[UUID]) -> set[UUID]:
    """Courses (of these) the caller holds an active or completed enrolment in; positives cached."""
    enrolled = {c for c in course_ids if enrollment_cache.get((principal.tenant_id, principal.user_id, c))}
    missing = course_ids - enrolled
    if missing:
        rows = await fetch_all(reads, _enrolled_query(), {"user_id": principal.user_id, "course_ids": list(missing)})
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
        if sum(w.end - w.start for w in event.watched) > MAX_WATCHED_PER_HEARTBEAT:
            raise EventRejected(
                "invalid_range",
                f"one heartbeat may report at most {MAX_WATCHED_PER_HEARTBEAT:g}s of playback",
                f"{prefix}.watched",
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


# Append the batch, then claim the current fold window. Atomic, so for every append either this
# call schedules a fold for the end of the window, or a fold already scheduled (whose window key
# has not yet expired, so it has not started) will read it.
APPEND_AND_CLAIM = """
redis.call('XADD', KEYS[1], '*', 'tenant', ARGV[1], 'user', ARGV[2], 'events', ARGV[3])
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[4]) then return 1 end
return 0
"""


def append_script(redis: aioredis.Redis) -> AsyncScript:
    """The registered script on this client (EVALSHA, falling back to EVAL once per server)."""
    return redis.register_script(APPEND_AND_CLAIM)


async def ingest_events(
    database: Database,
    append: AsyncScript,
    keys: StreamKeys,
    principal: Principal,
    raw_events: list[msgspec.Raw],
) -> EventsOut:
    """Validate a batch per event and append the accepted ones; returns a result per event."""
    now = clock.now()
    results: list[EventResult] = []
    decoded: list[tuple[int, ProgressEventIn]] = []
    for index, raw in enumerate(raw_events):
        try:
            decoded.append((index, _decode(index, raw)))
        except EventRejected as exc:
            results.append(_rejected(index, _client_event_id(raw), exc))
    # Warm caches need no database; a miss is one sessionless read (no ORM session, BEGIN or COMMIT).
    reads = TenantReads(database.app_engine, principal.tenant_id)
    lessons = await _lessons(reads, principal.tenant_id, {e.lesson_id for _, e in decoded})
    enrolled = await _enrolled(reads, principal, {e.course_id for _, e in decoded})
    accepted: list[ProgressEventIn] = []
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
        accepted.append(event)
        results.append(EventResult(index=index, status="accepted", client_event_id=event.client_event_id))
    if accepted:
        claimed = await append(
            keys=[keys.stream, keys.scheduled],
            args=[
                str(principal.tenant_id),
                str(principal.user_id),
                msgspec.json.encode(accepted),
                int(FOLD_WINDOW_SECONDS * 1000),
            ],
        )
        if claimed:
            # Sent after the claim with the same delay, so the fold starts after the window closes.
            await asyncio.to_thread(
                send_now, Job(FOLD_TASK, (), countdown=FOLD_WINDOW_SECONDS), sender_of(database.app_sessions)
            )
    results.sort(key=lambda r: r.index)
    return EventsOut(accepted=len(accepted), rejected=len(results) - len(accepted), results=results)


def _rejected(index: int, client_event_id: str | None, exc: EventRejected) -> EventResult:
    error = {"code": exc.code, "message": exc.message, "field": exc.field}
    return EventResult(index=index, status="rejected", client_event_id=client_event_id, error=error)
