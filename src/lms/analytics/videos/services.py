"""Video analytics: the worker's incremental refresh of the video rollups, and the reads the pages make.

The refresh counts only what arrived since the tenant's mark: heartbeats (from learning's folded
progress events, with the ranges actually played) and quality beacons (from media), both selected by
their UUIDv7 ids, so consecutive windows neither overlap nor leave a gap. Per viewer it keeps the
buckets already played, so a viewer is counted once per bucket however often they re-watch it;
the seconds played are summed, so re-watches show as plays beyond the viewers.

A window ends `settle` before now: an event whose id was made just before the refresh may still be
in a transaction that commits after it; waiting that long lets such events land in the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Insert,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from lms.analytics.videos.models import (
    BUCKETS,
    TTFF_BIN_MS,
    TTFF_BINS,
    VideoBucket,
    VideoQuality,
    VideoRollupMark,
    VideoViewer,
)
from lms.catalog import queries as catalogue
from lms.catalog.schemas import CourseOut, LessonOut
from lms.catalog.services import CatalogueService
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.guards import Principal
from lms.learning import queries as learning
from lms.lib import clock
from lms.lib.errors import NotFound
from lms.media import queries as media
from lms.tenancy.queries import active_tenant_ids

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SETTLE = timedelta(seconds=30)
# Memory for each sort and hash of a refresh (its transaction only).
WORK_MEM = "64MB"

# Scratch tables of one refresh (dropped at commit); their own metadata, so no migration sees them.
_scratch = MetaData()
_ranges = Table(
    "video_ranges",
    _scratch,
    Column("user_id", PgUUID(as_uuid=True)),
    Column("lesson_id", PgUUID(as_uuid=True)),
    Column("course_id", PgUUID(as_uuid=True)),
    Column("occurred_at", DateTime(timezone=True)),
    Column("position", Float),
    Column("range_start", Float),
    Column("range_end", Float),
    prefixes=["TEMPORARY"],
)
_beacons = Table(
    "video_beacons",
    _scratch,
    Column("asset_id", PgUUID(as_uuid=True)),
    Column("session_id", String),
    Column("kind", String),
    Column("value_ms", Integer),
    prefixes=["TEMPORARY"],
)
_CREATE_SCRATCH = (
    """create temporary table video_ranges (user_id uuid, lesson_id uuid, course_id uuid, occurred_at timestamptz,
       position float8, range_start float8, range_end float8) on commit drop""",
    "create temporary table video_lessons (lesson_id uuid primary key, duration float8) on commit drop",
    """create temporary table video_beacons (asset_id uuid, session_id text, kind text, value_ms int)
       on commit drop""",
)

# Per viewer and lesson in the window: the seconds played per bucket, the buckets touched (a bit each)
# and the bucket of the latest playhead; then those viewers' memory as it was. Scratch tables with
# fresh statistics, so the planner sees how few (catch-up) or how many (first run) viewers there are.
_FOLD_VIEWERS = tuple(
    text(statement)
    for statement in (
        f"""
        create temporary table video_played on commit drop as
        with spans as (
            select r.user_id, r.lesson_id, l.duration,
                   greatest(0, least(r.range_start, l.duration)) as s,
                   greatest(0, least(r.range_end, l.duration)) as e
              from video_ranges r join video_lessons l using (lesson_id)
             where r.range_end > r.range_start
        ), cells as (
            select sp.user_id, sp.lesson_id, b.n as bucket,
                   least(sp.e, (b.n + 1) * sp.duration / {BUCKETS})
                   - greatest(sp.s, b.n * sp.duration / {BUCKETS}) as secs
              from spans sp,
                   generate_series(least({BUCKETS - 1}, floor(sp.s * {BUCKETS} / sp.duration))::int,
                                   least({BUCKETS - 1}, ceil(sp.e * {BUCKETS} / sp.duration)::int - 1)) as b(n)
             where sp.e > sp.s
        )
        select user_id, lesson_id, bucket::smallint as bucket, sum(secs) as secs
          from cells where secs > 0 group by 1, 2, 3
        """,
        "analyze video_played",
        f"""
        create temporary table video_delta on commit drop as
        with touched as (
            select user_id, lesson_id, bit_or(set_bit(repeat('0', {BUCKETS})::bit({BUCKETS}), bucket, 1)) as seen
              from video_played group by 1, 2
        ), latest as (
            select distinct on (r.user_id, r.lesson_id) r.user_id, r.lesson_id, r.course_id, r.occurred_at,
                   greatest(0, least({BUCKETS - 1}, floor(r.position * {BUCKETS} / l.duration)))::smallint as stop
              from video_ranges r join video_lessons l using (lesson_id)
             where r.position is not null
             order by r.user_id, r.lesson_id, r.occurred_at desc
        )
        select la.user_id, la.lesson_id, la.course_id, la.occurred_at, la.stop,
               coalesce(t.seen, repeat('0', {BUCKETS})::bit({BUCKETS})) as seen
          from latest la left join touched t using (user_id, lesson_id)
        """,
        "analyze video_delta",
        # Where each row is (ctid) too, so the update below goes straight to it, in the heap's order,
        # instead of looking each viewer up in the index a second time.
        """
        create temporary table video_old on commit drop as
        select v.ctid as row_at, v.id, v.lesson_id, v.user_id, v.seen, v.stop_bucket, v.position_at,
               v.seen | d.seen as new_seen,
               case when d.occurred_at >= v.position_at then d.stop else v.stop_bucket end as new_stop,
               greatest(v.position_at, d.occurred_at) as new_position_at
          from video_delta d
          join analytics_video_viewers v on v.lesson_id = d.lesson_id and v.user_id = d.user_id
         order by v.ctid
        """,
        "analyze video_old",
        # What changes in the buckets: a viewer counts once in each bucket they played for the first
        # time; where they stopped moves out of the old bucket into the new one (a late event older
        # than the viewer's latest position moves nothing); the seconds played add up.
        """
        with moved as (
            select d.lesson_id, o.stop_bucket as old_stop,
                   case when o.position_at is null or d.occurred_at >= o.position_at then d.stop
                        else o.stop_bucket end as new_stop
              from video_delta d left join video_old o using (lesson_id, user_id)
        ), changes as (
            select p.lesson_id, p.bucket, 1 as viewers, 0 as stops
              from video_played p left join video_old o using (lesson_id, user_id)
             where o.seen is null or get_bit(o.seen, p.bucket) = 0
            union all
            select lesson_id, old_stop, 0, -1 from moved where old_stop is not null and old_stop <> new_stop
            union all
            select lesson_id, new_stop, 0, 1 from moved where old_stop is null or old_stop <> new_stop
        ), summed as (
            select lesson_id, bucket, sum(viewers) as viewers, sum(stops) as stops, 0::bigint as played_ms
              from changes group by 1, 2
            union all
            select lesson_id, bucket, 0, 0, round(sum(secs) * 1000)::bigint from video_played group by 1, 2
        )
        insert into analytics_video_buckets as b (id, tenant_id, course_id, lesson_id, bucket, viewers, played_ms,
            stops, created_at, updated_at)
        select gen_random_uuid(), :tenant, c.course_id, s.lesson_id, s.bucket, sum(s.viewers), sum(s.played_ms),
               sum(s.stops), now(), now()
          from summed s join (select distinct on (lesson_id) lesson_id, course_id from video_delta) c using (lesson_id)
         group by c.course_id, s.lesson_id, s.bucket
        on conflict (tenant_id, lesson_id, bucket) do update set
            viewers = b.viewers + excluded.viewers,
            played_ms = b.played_ms + excluded.played_ms,
            stops = b.stops + excluded.stops,
            updated_at = now()
        """,
        # The viewers' memory: buckets played so far, and the latest position. Known viewers are updated
        # at the rows read above (only the refresh writes these rows, one refresh per tenant at a time,
        # under the mark's lock; a row that moved meanwhile no longer matches and is left alone); none
        # of the columns changed is indexed and the table leaves room on each page, so the updates are
        # HOT (no index entries written). New viewers are inserted.
        """
        update analytics_video_viewers v
           set seen = o.new_seen, stop_bucket = o.new_stop, position_at = o.new_position_at, updated_at = now()
          from video_old o
         where v.ctid = any(array(select row_at from video_old)) and v.ctid = o.row_at and v.id = o.id
        """,
        """
        insert into analytics_video_viewers as v (id, tenant_id, course_id, lesson_id, user_id, seen, stop_bucket,
            position_at, created_at, updated_at)
        select gen_random_uuid(), :tenant, d.course_id, d.lesson_id, d.user_id, d.seen, d.stop, d.occurred_at, now(),
               now()
          from video_delta d
         where not exists (select 1 from video_old o where o.lesson_id = d.lesson_id and o.user_id = d.user_id)
        on conflict (tenant_id, lesson_id, user_id) do update set
            seen = v.seen | excluded.seen,
            stop_bucket = case when excluded.position_at >= v.position_at then excluded.stop_bucket
                               else v.stop_bucket end,
            position_at = greatest(v.position_at, excluded.position_at),
            updated_at = now()
        """,
    )
)

# Per video: sessions (each starts with one time-to-first-frame beacon), the time-to-first-frame
# histogram, stalls and stalled time, errors, rendition switches and plays to the end.
_FOLD_QUALITY = text(
    f"""
    with per_asset as (
        select asset_id,
               count(*) filter (where kind = 'ttff') as sessions,
               count(*) filter (where kind = 'stall') as stalls,
               coalesce(sum(value_ms) filter (where kind = 'stall'), 0) as stalled_ms,
               count(*) filter (where kind = 'error') as errors,
               count(*) filter (where kind = 'switch') as switches,
               count(*) filter (where kind = 'ended') as ended
          from video_beacons group by asset_id
    ), bins as (
        select a.asset_id, array_agg(coalesce(h.n, 0) order by g.bin) as ttff_bins
          from per_asset a
          cross join generate_series(0, {TTFF_BINS - 1}) as g(bin)
          left join (select asset_id, least({TTFF_BINS - 1}, value_ms / {TTFF_BIN_MS}) as bin, count(*) as n
                       from video_beacons where kind = 'ttff' and value_ms is not null group by 1, 2) h
            on h.asset_id = a.asset_id and h.bin = g.bin
         group by a.asset_id
    )
    insert into analytics_video_quality as q (id, tenant_id, asset_id, sessions, ttff_bins, stalls, stalled_ms, errors,
        switches, ended, created_at, updated_at)
    select gen_random_uuid(), :tenant, a.asset_id, a.sessions, b.ttff_bins, a.stalls, a.stalled_ms, a.errors,
           a.switches, a.ended, now(), now()
      from per_asset a join bins b using (asset_id)
    on conflict (tenant_id, asset_id) do update set
        sessions = q.sessions + excluded.sessions,
        ttff_bins = array(select x + y from unnest(q.ttff_bins, excluded.ttff_bins) as t(x, y)),
        stalls = q.stalls + excluded.stalls,
        stalled_ms = q.stalled_ms + excluded.stalled_ms,
        errors = q.errors + excluded.errors,
        switches = q.switches + excluded.switches,
        ended = q.ended + excluded.ended,
        updated_at = now()
    """
)


def uuid7_floor(moment: datetime) -> UUID:
    """The smallest UUIDv7 made at `moment` (its millisecond): ids compare in the order they were made."""
    return UUID(int=int(moment.timestamp() * 1000) << 80)


async def refresh_videos(session: AsyncSession, tenant_id: UUID, settle: timedelta = SETTLE) -> int:
    """Count the heartbeats and beacons that arrived since the tenant's mark; returns how many."""
    until = clock.now() - settle
    seen = await session.scalar(select(VideoRollupMark.refreshed_to))
    if seen is not None and (until <= seen or not await _anything_between(session, seen, until)):
        # Nothing new: a read-only transaction (no lock, no write, no commit to flush); the mark stays.
        return 0
    mark_row = await session.scalar(select(VideoRollupMark).with_for_update())
    since = mark_row.refreshed_to if mark_row is not None else EPOCH
    if until <= since:
        return 0
    low, high = uuid7_floor(since), uuid7_floor(until)
    heartbeats = learning.video_heartbeat_ranges(low, high)
    quality = media.playback_beacons(low, high)
    ranges = beacons = 0
    # Scratch tables only when there is something to count: most refreshes of most tenants find nothing.
    if await _anything_between(session, since, until):
        # Room to fold a large window in memory (the default spills its sorts and hashes to disk).
        await session.execute(text(f"set local work_mem = '{WORK_MEM}'"))
        for statement in _CREATE_SCRATCH:
            await session.execute(text(statement))
        ranges = await _insert_count(session, insert(_ranges).from_select([c.name for c in _ranges.c], heartbeats))
        beacons = await _insert_count(session, insert(_beacons).from_select([c.name for c in _beacons.c], quality))
    if ranges:
        await session.execute(text("analyze video_ranges"))
        lesson_ids = list((await session.execute(text("select distinct lesson_id from video_ranges"))).scalars())
        lessons = [
            (lesson_id, float(duration))
            for lesson_id, _course, _kind, duration in await catalogue.lesson_kinds(session, lesson_ids)
            if duration
        ]
        await session.execute(
            text("insert into video_lessons select * from unnest(cast(:ids as uuid[]), cast(:seconds as float8[]))"),
            {"ids": [lesson_id for lesson_id, _ in lessons], "seconds": [seconds for _, seconds in lessons]},
        )
        for step in _FOLD_VIEWERS:
            await session.execute(step, {"tenant": tenant_id} if ":tenant" in step.text else {})
    if beacons:
        await session.execute(_FOLD_QUALITY, {"tenant": tenant_id})
    if mark_row is None:
        session.add(VideoRollupMark(tenant_id=tenant_id, refreshed_to=until))
    else:
        mark_row.refreshed_to = until
    await session.flush()
    return ranges + beacons


async def _anything_between(session: AsyncSession, since: datetime, until: datetime) -> bool:
    """A heartbeat or a beacon stored in [since, until): the first one in id order (an index read)."""
    low, high = uuid7_floor(since), uuid7_floor(until)
    heartbeats = learning.video_heartbeat_ranges(low, high)
    first = await session.scalar(select(literal(1)).select_from(heartbeats.limit(1).subquery()))
    return first is not None or bool(await session.scalar(select(media.playback_beacons(low, high).exists())))


async def _insert_count(session: AsyncSession, statement: Insert) -> int:
    result = await session.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def refresh_all(db: Database, settle: timedelta = SETTLE) -> int:
    """The worker's job: every active tenant, each on its own tenant-bound session."""
    async with db.operator_sessions() as session:
        tenants = await active_tenant_ids(session)
    counted = 0
    for tenant_id in tenants:
        async with tenant_session(db.app_sessions, tenant_id) as session:
            counted += await refresh_videos(session, tenant_id, settle)
    return counted


@dataclass(frozen=True)
class BucketFigures:
    bucket: int
    start_seconds: float
    viewers: int
    views: float
    rewatches: float
    stops: int


@dataclass(frozen=True)
class QualityFigures:
    sessions: int
    ttff_p50_ms: int | None
    ttff_p90_ms: int | None
    ttff_p95_ms: int | None
    stalls: int
    stalls_per_session: float
    stalled_ms_per_session: float
    errors: int
    switches: int
    ended: int


@dataclass(frozen=True)
class VideoAnalytics:
    lesson_id: UUID
    duration_seconds: float
    viewers: int
    buckets: list[BucketFigures]
    quality: QualityFigures | None
    refreshed_to: datetime | None


def ttff_percentile(bins: list[int], fraction: float) -> int | None:
    """The upper edge (ms) of the histogram bin holding that share of the sessions; None without any.
    The last bin is open-ended: its value is its lower edge (`at least`)."""
    total = sum(bins)
    if not total:
        return None
    wanted = max(1, math.ceil(total * fraction))
    seen = 0
    for index, count in enumerate(bins):
        seen += count
        if seen >= wanted:
            return (index + 1) * TTFF_BIN_MS if index < TTFF_BINS - 1 else index * TTFF_BIN_MS
    return (TTFF_BINS - 1) * TTFF_BIN_MS


def quality_figures(row: VideoQuality | None) -> QualityFigures | None:
    if row is None:
        return None
    sessions = row.sessions
    return QualityFigures(
        sessions=sessions,
        ttff_p50_ms=ttff_percentile(row.ttff_bins, 0.5),
        ttff_p90_ms=ttff_percentile(row.ttff_bins, 0.9),
        ttff_p95_ms=ttff_percentile(row.ttff_bins, 0.95),
        stalls=row.stalls,
        stalls_per_session=row.stalls / sessions if sessions else 0.0,
        stalled_ms_per_session=row.stalled_ms / sessions if sessions else 0.0,
        errors=row.errors,
        switches=row.switches,
        ended=row.ended,
    )


async def video_analytics(
    session: AsyncSession, lesson_id: UUID, duration_seconds: float, asset_id: UUID | None
) -> VideoAnalytics:
    """What the video page charts, from the rollups only: every bucket (zeros where nobody played),
    the number of viewers, and the quality of the lesson's video."""
    rows = {
        row.bucket: row
        for row in await session.scalars(
            select(VideoBucket).where(VideoBucket.lesson_id == lesson_id).order_by(VideoBucket.bucket)
        )
    }
    viewers = await session.scalar(select(func.count()).where(VideoViewer.lesson_id == lesson_id))
    span = duration_seconds / BUCKETS if duration_seconds else 0.0
    buckets = []
    for index in range(BUCKETS):
        row = rows.get(index)
        reached = row.viewers if row else 0
        views = (row.played_ms / 1000 / span) if row and span else 0.0
        buckets.append(
            BucketFigures(
                bucket=index,
                start_seconds=index * span,
                viewers=reached,
                views=views,
                rewatches=max(views - reached, 0.0),
                stops=row.stops if row else 0,
            )
        )
    quality = None
    if asset_id is not None:
        quality = quality_figures(await session.scalar(select(VideoQuality).where(VideoQuality.asset_id == asset_id)))
    mark = await session.scalar(select(VideoRollupMark.refreshed_to))
    return VideoAnalytics(
        lesson_id=lesson_id,
        duration_seconds=duration_seconds,
        viewers=int(viewers or 0),
        buckets=buckets,
        quality=quality,
        refreshed_to=mark,
    )


async def taught_video(
    session: AsyncSession, principal: Principal, course_id: UUID, lesson_id: UUID
) -> tuple[CourseOut, LessonOut]:
    """The course (with its outline) and one of its video lessons, if the caller teaches the course or
    administers the tenant (403 for anyone else; 404 for another tenant's course, or a lesson that is
    not one of the course's videos). The same rule as the course analytics."""
    catalogue = CatalogueService(session, principal)
    course = await catalogue.describe(await catalogue.editable_course(course_id), with_structure=True)
    for module in course.modules or []:
        for lesson in module.lessons:
            if lesson.id == lesson_id and lesson.type == "video":
                return course, lesson
    raise NotFound("no video lesson with this id in the course", field="lesson_id")
