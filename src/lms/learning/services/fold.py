"""The progress fold: drain the event stream into progress_events, lesson_progress and enrolments.

Runs in a worker. Entries are read through a Redis consumer group and acknowledged only after
their tenant's transaction commits, so a crash re-delivers them; the unique client event id
makes re-delivery harmless (already stored events are skipped, not folded twice). An event the
database refuses is isolated and kept as a dead letter; the rest of its batch is folded. One folder
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
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
import redis.asyncio as aioredis
import structlog
import uuid_utils
from sqlalchemy import bindparam, select, text, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog import queries as catalog
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.models import Enrollment, LessonProgress, ProgressStatus
from lms.learning.schemas import LessonCompleted, ProgressEventIn, TextScrolled, VideoHeartbeat
from lms.learning.services.completion import covered_seconds, lesson_is_complete, merge_ranges
from lms.learning.services.dead_letters import DeadLetter, record_dead_letters
from lms.learning.services.ingest import StreamKeys
from lms.learning.services.progress import Activity, plan_for, recompute_enrollments
from lms.lib import clock
from lms.lib.faults import is_transient
from lms.lib.ids import new_id

log = structlog.get_logger("lms.learning.services.fold")

GROUP = "fold"
# Renewed after every read. Short, because a fold cut off by a Redis restart cannot delete its lock
# (AOF keeps it across the restart) and every fold waits until it lapses.
LOCK_SECONDS = 30
READ_COUNT = 500  # stream entries per read (each holds up to 100 events)
RECLAIM_IDLE_MS = LOCK_SECONDS * 1000  # idle longer than a lock lives: its folder is gone
_ENTRY_EVENTS = msgspec.json.Decoder(list[ProgressEventIn])
_ENTRY_RAW = msgspec.json.Decoder(list[msgspec.Raw])
_EVENT = msgspec.json.Decoder(ProgressEventIn)


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


@dataclass(frozen=True)
class Pending:
    """One event of a stream entry, with where it came from (for a dead letter)."""

    entry_id: str
    index: int
    user_id: UUID
    event: ProgressEventIn


async def _fold_entries(db: Database, redis: aioredis.Redis, keys: StreamKeys, entries: list[Any]) -> int:
    by_tenant: dict[UUID, list[Pending]] = defaultdict(list)
    undecodable: dict[UUID, list[DeadLetter]] = defaultdict(list)
    ids = []
    for raw_id, fields in entries:
        ids.append(raw_id)
        if not fields:
            continue  # deleted before it was claimed
        entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        try:
            tenant_id = UUID(fields[b"tenant"].decode())
            user_id = UUID(fields[b"user"].decode())
        except (KeyError, ValueError, UnicodeDecodeError):
            # Not written by ingest, and no tenant to file it under: logged, then dropped.
            log.error("progress entry without a tenant dropped", entry_id=entry_id, fields=repr(fields)[:2000])
            continue
        raw_events = fields.get(b"events", b"")
        events: list[tuple[int, ProgressEventIn]]
        try:
            events = list(enumerate(_ENTRY_EVENTS.decode(raw_events)))
        except msgspec.MsgspecError:
            # Decode event by event, so one bad event does not take its neighbours with it.
            events, refused = _decode_each(entry_id, user_id, raw_events)
            undecodable[tenant_id].extend(refused)
        for index, event in events:
            by_tenant[tenant_id].append(Pending(entry_id, index, user_id, event))
    total = 0
    for tenant_id in by_tenant.keys() | undecodable.keys():
        total += await _fold_tenant(db, tenant_id, by_tenant.get(tenant_id, []), undecodable.get(tenant_id, []))
    if ids:
        await redis.xack(keys.stream, GROUP, *ids)
        await redis.xdel(keys.stream, *ids)
    return total


def _decode_each(
    entry_id: str, user_id: UUID, raw_events: bytes
) -> tuple[list[tuple[int, ProgressEventIn]], list[DeadLetter]]:
    try:
        raws = _ENTRY_RAW.decode(raw_events)
    except msgspec.MsgspecError as exc:
        return [], [DeadLetter(entry_id, -1, user_id, raw_events, f"undecodable entry: {exc}")]
    events: list[tuple[int, ProgressEventIn]] = []
    refused: list[DeadLetter] = []
    for index, raw in enumerate(raws):
        try:
            events.append((index, _EVENT.decode(raw)))
        except msgspec.MsgspecError as exc:
            refused.append(DeadLetter(entry_id, index, user_id, bytes(raw), f"undecodable event: {exc}"))
    return events, refused


async def _fold_tenant(db: Database, tenant_id: UUID, pending: list[Pending], letters: list[DeadLetter]) -> int:
    """Fold one tenant's events in one transaction, setting aside the ones that cannot be stored."""
    try:
        async with tenant_session(db.app_sessions, tenant_id) as session:
            folded, refused = await _fold_isolating(session, tenant_id, pending)
            await record_dead_letters(session, tenant_id, letters + refused)
    except Exception as exc:
        if is_transient(exc):
            raise  # nothing acknowledged: the whole read is folded again once the server is back
        # Even the dead letter could not be written (the tenant itself is gone): say so loudly.
        log.error("progress events dropped", tenant_id=str(tenant_id), events=len(pending), error=str(exc)[:500])
        return 0
    if refused or letters:
        log.warning("progress events dead-lettered", tenant_id=str(tenant_id), count=len(refused) + len(letters))
    return folded


async def _fold_isolating(
    session: AsyncSession, tenant_id: UUID, pending: list[Pending]
) -> tuple[int, list[DeadLetter]]:
    """Fold `pending` in a savepoint; if the database refuses it, split it in halves until the
    refused events stand alone (a few savepoints per bad event, not one per event)."""
    if not pending:
        return 0, []
    try:
        async with session.begin_nested():
            return await fold_events(session, tenant_id, [(p.user_id, p.event) for p in pending]), []
    except Exception as exc:
        if is_transient(exc):
            raise
        if len(pending) == 1:
            only = pending[0]
            raw = msgspec.json.encode(only.event)
            return 0, [DeadLetter(only.entry_id, only.index, only.user_id, raw.decode(), _reason(exc))]
    middle = len(pending) // 2
    first, first_refused = await _fold_isolating(session, tenant_id, pending[:middle])
    second, second_refused = await _fold_isolating(session, tenant_id, pending[middle:])
    return first + second, first_refused + second_refused


def _reason(exc: BaseException) -> str:
    """The database's own message (first line), which names what it refused."""
    original = getattr(exc, "orig", None) or exc
    first_line = (str(original).strip().splitlines() or [""])[0]
    return f"{type(original).__name__}: {first_line}"


def _payload(event: ProgressEventIn) -> dict[str, Any]:
    """What progress_events keeps beyond the common columns."""
    if isinstance(event, VideoHeartbeat):
        return {"p": event.position, "w": [[r.start, r.end] for r in event.watched]}
    if isinstance(event, TextScrolled):
        return {"d": event.depth}
    return {}


async def fold_events(session: AsyncSession, tenant_id: UUID, events: list[tuple[UUID, ProgressEventIn]]) -> int:
    """Store new events once and fold them into progress; returns how many were new."""
    now = clock.now()
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
    lessons = await catalog.lesson_timings(session, lesson_ids)
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
