"""The progress fold: drain the event stream into progress_events, lesson_progress and enrolments.

Runs in a worker. Entries are read through a Redis consumer group and acknowledged only after
their tenant's transaction commits, so a crash re-delivers them; the unique client event id
makes re-delivery harmless (already stored events are skipped, not folded twice). One folder
runs at a time (a Redis lock), which keeps read-merge-write of watched ranges simple; the SQL
upsert still guards what must only move forward (completion, the resume position's timestamp).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
import redis.asyncio as aioredis
import uuid_utils
from sqlalchemy import bindparam, select, text, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.models import Lesson
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.completion import covered_seconds, lesson_is_complete, merge_ranges
from lms.learning.ingest import StreamKeys
from lms.learning.models import Enrollment, LessonProgress, ProgressStatus
from lms.learning.progress import Activity, plan_for, recompute_enrollments
from lms.learning.schemas import LessonCompleted, ProgressEventIn, TextScrolled, VideoHeartbeat
from lms.lib.ids import new_id

GROUP = "fold"
LOCK_SECONDS = 120
READ_COUNT = 500  # stream entries per read (each holds up to 100 events)
RECLAIM_IDLE_MS = 60_000
_ENTRY_EVENTS = msgspec.json.Decoder(list[ProgressEventIn])


@dataclass
class Fold:
    """Accumulated signals for one (user, lesson) within a batch."""

    ranges: list[list[float]] = field(default_factory=list)
    scroll: float = 0.0
    position: float | None = None
    position_at: datetime | None = None
    viewed: bool = False
    completed_claim: bool = False
    last_at: datetime | None = None


async def ensure_group(redis: aioredis.Redis, keys: StreamKeys) -> None:
    try:
        await redis.xgroup_create(keys.stream, GROUP, id="0", mkstream=True)
    except aioredis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def fold_pending(db: Database, redis: aioredis.Redis, keys: StreamKeys, max_seconds: float = 20.0) -> int | None:
    """Fold until the stream is drained (or the time budget is spent); returns events folded, or
    None when another folder holds the lock (the caller tries again shortly: that folder may have
    finished reading before the newest events arrived)."""
    token = uuid.uuid4().hex
    if not await redis.set(keys.lock, token, nx=True, ex=LOCK_SECONDS):
        return None
    await ensure_group(redis, keys)
    consumer = f"{socket.gethostname()}-{os.getpid()}"
    folded = 0
    deadline = time.monotonic() + max_seconds
    try:
        # Entries a crashed folder read but never acknowledged.
        claimed: Any = await redis.xautoclaim(keys.stream, GROUP, consumer, RECLAIM_IDLE_MS, "0-0", count=READ_COUNT)
        stale = claimed[1] if claimed else []
        if stale:
            folded += await _fold_entries(db, redis, keys, stale)
        while time.monotonic() < deadline:
            response: Any = await redis.xreadgroup(GROUP, consumer, {keys.stream: ">"}, count=READ_COUNT)
            entries = response[0][1] if response else []
            if not entries:
                break
            folded += await _fold_entries(db, redis, keys, entries)
            await redis.expire(keys.lock, LOCK_SECONDS)
    finally:
        if await redis.get(keys.lock) == token.encode():
            await redis.delete(keys.lock)
    return folded


async def _fold_entries(db: Database, redis: aioredis.Redis, keys: StreamKeys, entries: list[Any]) -> int:
    by_tenant: dict[UUID, list[tuple[UUID, ProgressEventIn]]] = defaultdict(list)
    ids = []
    for entry_id, fields in entries:
        ids.append(entry_id)
        if not fields:
            continue  # deleted before it was claimed
        tenant_id = UUID(fields[b"tenant"].decode())
        user_id = UUID(fields[b"user"].decode())
        for event in _ENTRY_EVENTS.decode(fields[b"events"]):
            by_tenant[tenant_id].append((user_id, event))
    total = 0
    for tenant_id, events in by_tenant.items():
        async with tenant_session(db.app_sessions, tenant_id) as session:
            total += await fold_events(session, tenant_id, events)
    if ids:
        await redis.xack(keys.stream, GROUP, *ids)
        await redis.xdel(keys.stream, *ids)
    return total


def _payload(event: ProgressEventIn) -> dict[str, Any]:
    """What progress_events keeps beyond the common columns."""
    if isinstance(event, VideoHeartbeat):
        return {"p": event.position, "w": [[r.start, r.end] for r in event.watched]}
    if isinstance(event, TextScrolled):
        return {"d": event.depth}
    return {}


async def fold_events(session: AsyncSession, tenant_id: UUID, events: list[tuple[UUID, ProgressEventIn]]) -> int:
    """Store new events once and fold them into progress; returns how many were new."""
    now = datetime.now(UTC)
    user_text = {user_id: str(user_id) for user_id in {user_id for user_id, _ in events}}
    # One statement with array parameters: cheap to build however large the batch is.
    result = await session.execute(
        _INSERT_EVENTS,
        {
            "tenant_id": tenant_id,
            "ids": [str(uuid_utils.uuid7()) for _ in events],
            "users": [user_text[user_id] for user_id, _ in events],
            "event_ids": [e.client_event_id for _, e in events],
            "kinds": [e.__struct_config__.tag for _, e in events],
            "lessons": [str(e.lesson_id) for _, e in events],
            "courses": [str(e.course_id) for _, e in events],
            "times": [e.occurred_at for _, e in events],
            "payloads": [msgspec.json.encode(_payload(e)).decode() for _, e in events],
        },
    )
    new_keys = {(row.user_id, row.client_event_id) for row in result}
    fresh = [(user_id, e) for user_id, e in events if (user_text[user_id], e.client_event_id) in new_keys]
    if not fresh:
        return 0
    fresh.sort(key=lambda item: item[1].occurred_at)

    folds: dict[tuple[UUID, UUID], Fold] = defaultdict(Fold)
    for user_id, event in fresh:
        fold = folds[(user_id, event.lesson_id)]
        at = event.occurred_at
        if isinstance(event, VideoHeartbeat):
            fold.ranges.extend([r.start, r.end] for r in event.watched)
            fold.position, fold.position_at = event.position, at
        elif isinstance(event, TextScrolled):
            fold.scroll = max(fold.scroll, event.depth)
        elif isinstance(event, LessonCompleted):
            fold.completed_claim = True
        fold.viewed = True
        fold.last_at = at

    lesson_ids = {lesson_id for _, lesson_id in folds}
    lessons = {
        row.id: row
        for row in await session.execute(
            select(Lesson.id, Lesson.course_id, Lesson.type, Lesson.duration_seconds, Lesson.catalogue_owner).where(
                Lesson.id.in_(lesson_ids)
            )
        )
    }
    pairs = {(user_id, lessons[lesson_id].course_id) for user_id, lesson_id in folds if lesson_id in lessons}
    enrollments = {
        (e.user_id, e.course_id): e
        for e in (
            await session.execute(
                select(Enrollment).where(tuple_(Enrollment.user_id, Enrollment.course_id).in_(list(pairs)))
            )
        ).scalars()
    }
    existing = {
        (p.user_id, p.lesson_id): p
        for p in (
            await session.execute(
                select(LessonProgress).where(tuple_(LessonProgress.user_id, LessonProgress.lesson_id).in_(list(folds)))
            )
        ).scalars()
    }

    upserts: list[dict[str, Any]] = []
    activity: dict[UUID, Activity] = {}
    for (user_id, lesson_id), fold in folds.items():
        lesson = lessons.get(lesson_id)
        enrollment = enrollments.get((user_id, lesson.course_id)) if lesson else None
        if lesson is None or enrollment is None:
            continue  # lesson deleted or enrolment removed since ingest: kept in the event log only
        plan = await plan_for(session, enrollment)
        current = existing.get((user_id, lesson_id))
        duration = lesson.duration_seconds
        ranges = merge_ranges([*(current.watched_ranges if current else []), *fold.ranges], duration)
        watched = covered_seconds(ranges)
        scroll = max(fold.scroll, current.scroll_depth if current else 0.0)
        passed = current.passed if current else None
        complete = lesson_is_complete(
            lesson.type.value,
            duration_seconds=duration,
            watched_seconds=watched,
            scroll_depth=scroll,
            passed=passed,
            viewed=fold.viewed or fold.completed_claim,
            rules=plan.rules,
        )
        position_at = fold.position_at
        upserts.append(
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "enrollment_id": enrollment.id,
                "user_id": user_id,
                "lesson_id": lesson_id,
                "lesson_owner": lesson.catalogue_owner,
                "status": (ProgressStatus.COMPLETED if complete else ProgressStatus.IN_PROGRESS).value,
                "watched_ranges": ranges,
                "watched_seconds": watched,
                "scroll_depth": scroll,
                "position_seconds": fold.position if fold.position is not None else 0.0,
                "position_at": position_at,
                "completed_at": now if complete else None,
                "last_event_at": fold.last_at,
                "created_at": now,
                "updated_at": now,
            }
        )
        seen = activity.get(enrollment.id)
        if fold.last_at and (seen is None or fold.last_at >= seen.at):
            activity[enrollment.id] = Activity(lesson_id, fold.last_at)
    if upserts:
        await session.execute(_UPSERT, upserts)
        await recompute_enrollments(session, tenant_id, set(activity), activity)
    return len(fresh)


_INSERT_EVENTS = text(
    """
    insert into progress_events as e (
        id, tenant_id, user_id, client_event_id, kind, lesson_id, course_id, occurred_at, payload,
        created_at, updated_at)
    select u.id, :tenant_id, u.user_id, u.client_event_id, u.kind, u.lesson_id, u.course_id, u.occurred_at,
           u.payload::jsonb, now(), now()
      from unnest(cast(:ids as uuid[]), cast(:users as uuid[]), cast(:event_ids as text[]),
                  cast(:kinds as text[]), cast(:lessons as uuid[]), cast(:courses as uuid[]),
                  cast(:times as timestamptz[]), cast(:payloads as text[]))
           as u(id, user_id, client_event_id, kind, lesson_id, course_id, occurred_at, payload)
    on conflict (tenant_id, user_id, client_event_id) do nothing
    returning e.user_id::text as user_id, e.client_event_id
    """
)

# Completion only moves forward; the resume position follows the latest client timestamp.
_UPSERT = text(
    """
    insert into lesson_progress as p (
        id, tenant_id, enrollment_id, user_id, lesson_id, lesson_owner, status, watched_ranges,
        watched_seconds, scroll_depth, position_seconds, position_at, completed_at, last_event_at,
        created_at, updated_at)
    values (
        :id, :tenant_id, :enrollment_id, :user_id, :lesson_id, :lesson_owner, cast(:status as progress_status),
        cast(:watched_ranges as jsonb), :watched_seconds, :scroll_depth, :position_seconds, :position_at,
        :completed_at, :last_event_at, :created_at, :updated_at)
    on conflict (tenant_id, user_id, lesson_id) do update set
        watched_ranges = excluded.watched_ranges,
        watched_seconds = excluded.watched_seconds,
        scroll_depth = greatest(p.scroll_depth, excluded.scroll_depth),
        position_seconds = case
            when excluded.position_at is not null and (p.position_at is null or excluded.position_at >= p.position_at)
            then excluded.position_seconds else p.position_seconds end,
        position_at = greatest(p.position_at, excluded.position_at),
        status = case when p.status = 'completed' then p.status else excluded.status end,
        completed_at = coalesce(p.completed_at, excluded.completed_at),
        last_event_at = greatest(p.last_event_at, excluded.last_event_at),
        updated_at = excluded.updated_at
    """
).bindparams(bindparam("watched_ranges", type_=JSONB))
