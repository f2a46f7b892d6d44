"""Course analytics: a course with 20,000 enrolments, 200 lessons and 5 million progress events.

Measures, on the app role with the tenant bound (RLS on):
- p95 of each analytics page's data query read from the rollups (the analytics page: days and lesson
  stats; the gradebook: learners sorted by last activity), against a 200 ms target, and the same
  figures computed from the raw rows in the same run (lesson drop-off and enrolments per day from
  `progress_events` and `enrollments`, the gradebook from `enrollments` joined to `lesson_progress`),
  with the ratio raw / rollup;
- p95 of the video analytics page's data query (one video lesson's watch-through buckets, viewers and
  playback quality from the video rollups) against the same target, and the same figures computed from
  the raw heartbeats in `progress_events` and the beacons in `media_playback_events`, with the ratio;
- the time for the rollups to catch up after 100,000 new events (heartbeats, progress rows and playback
  beacons written, then one refresh of the course rollups and one of the video rollups), against a
  10 s target.

Every lesson is a 10-minute video; each heartbeat carries the 15 seconds played before it. The data is
generated on the server (`generate_series`, set-based inserts with UUIDv7-like ids); the machine's
load average is printed before and after, since the figures depend on what else runs.

Run: `.venv/bin/python bench/course_analytics.py` (DATABASE_URL, or an embedded PostgreSQL);
`--scale 0.05` for a quick run with every count scaled down; `--raw-queries` bounds the runs of the
(slow) raw queries. Exit status 0 when every target is met.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import bench_settings, percentile

from lms.analytics.courses.services import course_analytics, gradebook, refresh_tenant
from lms.analytics.videos.services import refresh_videos, video_analytics
from lms.config import Settings, async_url
from lms.db.binding import tenant_session
from lms.db.engines import create_database
from lms.db.migrate import migrate

DURATION = 600.0
# A UUIDv7-like id made now (millisecond time first, then random bits): the video rollups count events
# by id windows, as they do with the ids the fold and the media service make.
UUID7 = (
    "(lpad(to_hex(floor(extract(epoch from clock_timestamp()) * 1000)::bigint), 12, '0') || '7' "
    "|| substr(md5(random()::text), 1, 19))::uuid"
)

RAW_DAYS = text(
    """
    select (created_at at time zone 'UTC')::date as day, count(*) from enrollments
    where course_id = :course group by 1 order by 1
    """
)
RAW_LESSONS = text(
    """
    select lesson_id, count(distinct user_id) from progress_events where course_id = :course group by lesson_id
    """
)
RAW_GRADEBOOK = text(
    """
    select e.user_id, e.completion_pct, count(lp.id) filter (where lp.status = 'completed'), avg(lp.score),
           greatest(e.last_activity_at, max(lp.last_event_at)) as last
    from enrollments e left join lesson_progress lp on lp.enrollment_id = e.id
    where e.course_id = :course group by e.tenant_id, e.id order by last desc nulls last limit 5000
    """
)


RAW_VIDEO = text(
    """
    with r as (
        select e.user_id, e.occurred_at, (e.payload ->> 'p')::float8 as p,
               (w ->> 0)::float8 as s, (w ->> 1)::float8 as f
        from progress_events e left join lateral jsonb_array_elements(e.payload -> 'w') w on true
        where e.lesson_id = :lesson and e.kind = 'video_heartbeat'
    ), cells as (
        select r.user_id, b,
               least(r.f, (b + 1) * :span) - greatest(r.s, b * :span) as secs
        from r, generate_series(floor(r.s / :span)::int, least(99, ceil(r.f / :span)::int - 1)) b
        where r.f > r.s
    ), stops as (
        select distinct on (user_id) least(99, floor(p / :span))::int as b from r order by user_id, occurred_at desc
    )
    select c.b, c.viewers, c.secs, coalesce(s.n, 0)
    from (select b, count(distinct user_id) as viewers, sum(secs) as secs from cells group by b) c
    left join (select b, count(*) as n from stops group by b) s using (b)
    order by c.b
    """
)
RAW_QUALITY = text(
    """
    select count(*) filter (where kind = 'ttff'),
           percentile_cont(array[0.5, 0.9, 0.95]) within group (order by value_ms) filter (where kind = 'ttff'),
           count(*) filter (where kind = 'stall'), sum(value_ms) filter (where kind = 'stall'),
           count(*) filter (where kind = 'error'), count(*) filter (where kind = 'switch')
    from media_playback_events where asset_id = :asset
    """
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count (0.05 for a quick run)")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--raw-queries", type=int, default=10, help="runs of each raw query (each scans events)")
    parser.add_argument("--target-p95-ms", type=float, default=200.0)
    parser.add_argument("--target-catch-up-s", type=float, default=10.0)
    return parser.parse_args()


async def load(
    settings: Settings, db: Any, tenant_id: uuid.UUID, course_id: uuid.UUID, learners: int, lessons: int, events: int
) -> dict[str, int]:
    """Set-based inserts on the tenant-bound session: users, the course with its video lessons and
    their media assets, enrolments, lesson progress (each learner reached a random prefix of the
    lessons), heartbeats (about events / progress rows per progress row, each with the 15 s played
    before it, short of a random point where the learner stopped) and, for a tenth of the progress
    rows, one playback session's beacons. Returns the row counts.

    Loaded on the administrative connection with `session_replication_role = replica`: the rows are
    consistent by construction, so the per-row foreign key checks are skipped (they were most of the
    load time); each step's time is printed."""
    params = {
        "tenant": tenant_id, "course": course_id, "learners": learners, "lessons": lessons, "events": events,
        "duration": DURATION,
    }  # fmt: skip
    statements = [
        """insert into users (id, created_at, updated_at, tenant_id, email, display_name)
           select gen_random_uuid(), now(), now(), :tenant, 'learner' || n || '@bench.example', 'Learner ' || n
           from generate_series(1, :learners) n""",
        """insert into courses (id, created_at, updated_at, tenant_id, title, slug, summary, description, difficulty,
               language, tags, price_cents, currency, instructor_ids, status, self_enrollment, completion_rules,
               enrollment_count)
           values (:course, now(), now(), :tenant, 'Bench course', 'bench-course', '', '', 'beginner', 'en', '{}', 0,
               'USD', '{}', 'published', true, '{}', 0)""",
        """insert into media_assets (id, created_at, updated_at, tenant_id, title, status, uploaded_by,
               source_filename, size_bytes, progress, attempts, duration_seconds, details)
           select md5(cast(cast(:course as uuid) as text) || n)::uuid, now(), now(), :tenant, 'Video ' || n, 'ready',
               (select id from users where tenant_id = :tenant limit 1), 'video.mp4', 1000000, 100, 1, :duration, '{}'
           from generate_series(1, :lessons) n""",
        """insert into modules (id, created_at, updated_at, tenant_id, course_id, title, position, prerequisites)
           select gen_random_uuid(), now(), now(), :tenant, :course, 'Module ' || n, n, '[]'
           from generate_series(1, 10) n""",
        """insert into lessons (id, created_at, updated_at, tenant_id, course_id, module_id, title, type, position,
               content, required, duration_seconds, media_asset_id)
           select gen_random_uuid(), now(), now(), :tenant, :course, m.id, 'Lesson ' || n, 'video', n, '{}', true,
               :duration, md5(cast(cast(:course as uuid) as text) || n)::uuid
           from generate_series(1, :lessons) n
           join modules m on m.course_id = :course and m.position = 1 + (n - 1) * 10 / :lessons""",
        """insert into enrollments (id, created_at, updated_at, tenant_id, user_id, course_id, course_owner,
               completion_pct, last_activity_at)
           select gen_random_uuid(), now() - (random() * interval '180 days'), now(), :tenant, u.id, :course, :tenant,
               0, now() - (random() * interval '30 days')
           from users u where u.tenant_id = :tenant""",
        """insert into lesson_progress (id, created_at, updated_at, tenant_id, enrollment_id, user_id, lesson_id,
               lesson_owner, status, score, last_event_at)
           select gen_random_uuid(), now(), now(), :tenant, e.id, e.user_id, l.id, :tenant,
               case when l.position < reach.upto
                    then 'completed'::progress_status else 'in_progress'::progress_status end,
               case when l.position % 10 = 0 then 50 + random() * 50 end, e.last_activity_at
           from enrollments e
           cross join lateral (select 1 + floor(random() * :lessons)::int as upto, e.id as eid) reach
           join lessons l on l.course_id = :course and l.position <= reach.upto
           where e.course_id = :course""",
        """update enrollments e set completion_pct = sub.pct from (
               select enrollment_id, 100.0 * count(*) filter (where status = 'completed') / :lessons as pct
               from lesson_progress where tenant_id = :tenant group by enrollment_id) sub
           where sub.enrollment_id = e.id""",
        f"""insert into progress_events (id, created_at, updated_at, tenant_id, user_id, client_event_id, kind,
               lesson_id, course_id, occurred_at, payload)
           select {UUID7}, now(), now(), :tenant, lp.user_id, md5(lp.id::text || k), 'video_heartbeat',
               lp.lesson_id, :course, now() - (random() * interval '30 days'),
               jsonb_build_object('p', h.at + 15, 'w', jsonb_build_array(jsonb_build_array(h.at, h.at + 15)))
           from (select lp.*, random() * (:duration - 15) as stop,
                        cast(:events as float8)
                        / (select count(*) from lesson_progress where tenant_id = :tenant) as ratio
                 from lesson_progress lp where lp.tenant_id = :tenant) lp
           cross join lateral generate_series(1, floor(lp.ratio + random())::int) k
           cross join lateral (select round((random() * lp.stop)::numeric, 1)::float8 as at, k as kk) h""",
        f"""insert into media_playback_events (id, created_at, updated_at, tenant_id, asset_id, user_id, session_id,
               kind, value_ms)
           select {UUID7}, now(), now(), :tenant, l.media_asset_id, lp.user_id, md5(lp.id::text), k.kind,
               case k.kind when 'ttff' then (150 + random() * random() * 4000)::int
                           when 'stall' then (200 + random() * 3000)::int end
           from (select * from lesson_progress tablesample bernoulli (10) where tenant_id = :tenant) lp
           join lessons l on l.id = lp.lesson_id
           cross join (values ('ttff', 1.0), ('stall', 0.3), ('switch', 0.2), ('ended', 0.4), ('error', 0.02))
               as k(kind, chance)
           where random() < k.chance""",
    ]
    engine = create_async_engine(async_url(settings.database_url or ""), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("set local synchronous_commit = off"))
            await connection.execute(text("set local session_replication_role = replica"))
            for statement in statements:
                started = time.perf_counter()
                result = await connection.execute(text(statement), params)
                words = " ".join(statement.split()[:3])
                print(f"  {words:40s} {result.rowcount:>10,} rows {time.perf_counter() - started:7.1f} s")
    finally:
        await engine.dispose()
    counts = {}
    async with tenant_session(db.app_sessions, tenant_id) as session:
        for table in ("enrollments", "lessons", "lesson_progress", "progress_events", "media_playback_events"):
            counts[table] = int((await session.execute(text(f"select count(*) from {table}"))).scalar_one())
    return counts


async def analyze(settings: Settings) -> None:
    """Fresh planner statistics, as autovacuum keeps them in production. On the administrative
    connection: the app role owns no table, and PostgreSQL skips (with a warning) the tables an
    `analyze` by it names."""
    engine = create_async_engine(async_url(settings.database_url or ""), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("analyze"))
    finally:
        await engine.dispose()


async def timed(db: Any, tenant_id: uuid.UUID, runs: int, work: Any) -> list[float]:
    times = []
    for _ in range(runs + 3):
        started = time.perf_counter()
        async with tenant_session(db.app_sessions, tenant_id) as session:
            await work(session)
        times.append((time.perf_counter() - started) * 1000)
    return times[3:]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min; {os.cpu_count()} cores)"


async def run(settings: Settings, args: argparse.Namespace) -> int:
    learners = max(10, int(20_000 * args.scale))
    lessons = 200
    events = max(1000, int(5_000_000 * args.scale))
    new_events = max(1000, int(100_000 * args.scale))
    print(f"load average at start: {load_average()}")
    db = create_database(settings)
    tenant_id, course_id = uuid.uuid4(), uuid.uuid4()
    async with db.operator_sessions() as session:
        await session.execute(
            text(
                "insert into tenants (id, slug, name, status, plan, seats, created_at, updated_at) "
                "values (:id, 'bench-analytics', 'Bench', 'active', 'business', 0, now(), now())"
            ),
            {"id": tenant_id},
        )
        await session.commit()
    started = time.perf_counter()
    counts = await load(settings, db, tenant_id, course_id, learners, lessons, events)
    print(
        f"loaded {counts['enrollments']:,} enrolments, {counts['lessons']} video lessons, "
        f"{counts['lesson_progress']:,} progress rows, {counts['progress_events']:,} progress events, "
        f"{counts['media_playback_events']:,} playback beacons in {time.perf_counter() - started:.1f} s"
    )
    await analyze(settings)
    async with tenant_session(db.app_sessions, tenant_id) as session:
        lesson_id, asset_id = (
            await session.execute(
                text("select id, media_asset_id from lessons where course_id = :course and position = :middle"),
                {"course": course_id, "middle": lessons // 2},
            )
        ).one()
    started = time.perf_counter()
    async with tenant_session(db.app_sessions, tenant_id) as session:
        await refresh_tenant(session, tenant_id, settle=timedelta(0))
    print(f"first full course rollup: {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    async with tenant_session(db.app_sessions, tenant_id) as session:
        counted = await refresh_videos(session, tenant_id, settle=timedelta(0))
    print(f"first full video rollup: {time.perf_counter() - started:.2f} s ({counted:,} ranges and beacons)")
    await analyze(settings)

    params = {"course": course_id}
    video_params = {"lesson": lesson_id, "asset": asset_id, "span": DURATION / 100}
    fast, slow = args.queries, args.raw_queries
    figures = {
        "analytics page (rollup)": await timed(db, tenant_id, fast, lambda s: course_analytics(s, course_id)),
        "analytics page (raw)": await timed(db, tenant_id, slow, lambda s: _both(s, [RAW_DAYS, RAW_LESSONS], params)),
        "gradebook (rollup)": await timed(db, tenant_id, fast, lambda s: gradebook(s, course_id)),
        "gradebook (raw)": await timed(db, tenant_id, slow, lambda s: _both(s, [RAW_GRADEBOOK], params)),
        "video page (rollup)": await timed(
            db, tenant_id, fast, lambda s: video_analytics(s, lesson_id, DURATION, asset_id)
        ),
        "video page (raw)": await timed(
            db, tenant_id, slow, lambda s: _both(s, [RAW_VIDEO, RAW_QUALITY], video_params)
        ),
    }
    ok = True
    for name, values in figures.items():
        p95 = percentile(values, 95)
        target = "" if "raw" in name else f" (target < {args.target_p95_ms:.0f} ms)"
        ok &= "raw" in name or p95 < args.target_p95_ms
        print(f"{name:28s} p50 {percentile(values, 50):8.1f} ms   p95 {p95:8.1f} ms   runs {len(values)}{target}")
    for page in ("analytics page", "gradebook", "video page"):
        ratio = percentile(figures[f"{page} (raw)"], 95) / percentile(figures[f"{page} (rollup)"], 95)
        print(f"{page}: raw / rollup p95 ratio {ratio:.1f}x")

    # Catch-up: new heartbeats (and the rows the fold would write) and playback beacons, then one refresh each.
    async with tenant_session(db.app_sessions, tenant_id) as session:
        await session.execute(
            text(
                f"""insert into progress_events (id, created_at, updated_at, tenant_id, user_id, client_event_id,
                       kind, lesson_id, course_id, occurred_at, payload)
                   select {UUID7}, now(), now(), :tenant, lp.user_id, md5(random()::text), 'video_heartbeat',
                       lp.lesson_id, :course, now(),
                       jsonb_build_object('p', h.at + 15, 'w', jsonb_build_array(jsonb_build_array(h.at, h.at + 15)))
                   from (select * from lesson_progress order by random() limit :n) lp
                   cross join lateral (select random() * (:duration - 15) as at, lp.id as lid) h"""
            ),
            {"tenant": tenant_id, "course": course_id, "n": new_events, "duration": DURATION},
        )
        await session.execute(
            text(
                f"""insert into media_playback_events (id, created_at, updated_at, tenant_id, asset_id, user_id,
                       session_id, kind, value_ms)
                   select {UUID7}, now(), now(), :tenant, l.media_asset_id, lp.user_id, md5(random()::text),
                       case when random() < 0.5 then 'ttff' else 'stall' end, (200 + random() * 2000)::int
                   from (select * from lesson_progress order by random() limit :n) lp
                   join lessons l on l.id = lp.lesson_id"""
            ),
            {"tenant": tenant_id, "n": new_events // 10},
        )
        await session.execute(
            text(
                """update lesson_progress set status = 'completed', last_event_at = now(), updated_at = now()
                   where id in (select id from lesson_progress where status = 'in_progress' limit :n)"""
            ),
            {"n": new_events // 10},
        )
        await session.execute(text("update enrollments set last_activity_at = now() where course_id = :course"), params)
    started = time.perf_counter()
    async with tenant_session(db.app_sessions, tenant_id) as session:
        refreshed = await refresh_tenant(session, tenant_id, settle=timedelta(0))
    course_catch_up = time.perf_counter() - started
    started = time.perf_counter()
    async with tenant_session(db.app_sessions, tenant_id) as session:
        counted = await refresh_videos(session, tenant_id, settle=timedelta(0))
    video_catch_up = time.perf_counter() - started
    catch_up = course_catch_up + video_catch_up
    ok &= catch_up < args.target_catch_up_s
    print(f"catch-up after {new_events:,} new events: course rollups {course_catch_up:.2f} s for {refreshed} course(s),"
          f" video rollups {video_catch_up:.2f} s for {counted:,} ranges and beacons,"
          f" together {catch_up:.2f} s (target < {args.target_catch_up_s:.0f} s)")  # fmt: skip
    print(f"load average at end: {load_average()}")
    await db.dispose()
    return 0 if ok else 1


async def _both(session: Any, statements: list[Any], params: dict[str, Any]) -> None:
    for statement in statements:
        (await session.execute(statement, params)).all()


def main() -> int:
    args = parse_args()
    with bench_settings("bench_analytics", needs_redis=False) as settings:
        migrate(settings)
        return asyncio.run(run(settings, args))


if __name__ == "__main__":
    sys.exit(main())
