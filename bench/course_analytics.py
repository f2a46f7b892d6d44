"""Course analytics: a course with 20,000 enrolments, 200 lessons and 5 million progress events.

Measures, on the app role with the tenant bound (RLS on):
- p95 of each analytics page's data query read from the rollups (the analytics page: days and lesson
  stats; the gradebook: learners sorted by last activity), against a 200 ms target, and the same
  figures computed from the raw rows in the same run (lesson drop-off and enrolments per day from
  `progress_events` and `enrollments`, the gradebook from `enrollments` joined to `lesson_progress`),
  with the ratio raw / rollup;
- the time for the rollups to catch up after 100,000 new events (progress rows and events written,
  then one refresh of the tenant), against a 10 s target.

Run: `.venv/bin/python bench/course_analytics.py` (DATABASE_URL, or an embedded PostgreSQL);
`--scale 0.05` for a quick run with every count scaled down. Exit status 0 when both targets are met.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import bench_settings, percentile

from lms.analytics.courses.services import course_analytics, gradebook, refresh_tenant
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import create_database
from lms.db.migrate import migrate

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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count (0.05 for a quick run)")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--target-p95-ms", type=float, default=200.0)
    parser.add_argument("--target-catch-up-s", type=float, default=10.0)
    return parser.parse_args()


async def load(db: Any, tenant_id: uuid.UUID, course_id: uuid.UUID, learners: int, lessons: int, events: int) -> None:
    """Set-based inserts on the tenant-bound session: users, the course and its lessons, enrolments,
    lesson progress (each learner completed a random prefix of the lessons) and progress events."""
    params = {"tenant": tenant_id, "course": course_id, "learners": learners, "lessons": lessons, "events": events}
    statements = [
        """insert into users (id, created_at, updated_at, tenant_id, email, display_name)
           select gen_random_uuid(), now(), now(), :tenant, 'learner' || n || '@bench.example', 'Learner ' || n
           from generate_series(1, :learners) n""",
        """insert into courses (id, created_at, updated_at, tenant_id, title, slug, summary, description, difficulty,
               language, tags, price_cents, currency, instructor_ids, status, self_enrollment, completion_rules,
               enrollment_count)
           values (:course, now(), now(), :tenant, 'Bench course', 'bench-course', '', '', 'beginner', 'en', '{}', 0,
               'USD', '{}', 'published', true, '{}', 0)""",
        """insert into modules (id, created_at, updated_at, tenant_id, course_id, title, position, prerequisites)
           select gen_random_uuid(), now(), now(), :tenant, :course, 'Module ' || n, n, '[]'
           from generate_series(1, 10) n""",
        """insert into lessons (id, created_at, updated_at, tenant_id, course_id, module_id, title, type, position,
               content, required)
           select gen_random_uuid(), now(), now(), :tenant, :course, m.id, 'Lesson ' || n, 'text', n, '{}', true
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
               from lesson_progress group by enrollment_id) sub
           where sub.enrollment_id = e.id""",
        """insert into progress_events (id, created_at, updated_at, tenant_id, user_id, client_event_id, kind,
               lesson_id, course_id, occurred_at, payload)
           select gen_random_uuid(), now(), now(), :tenant, lp.user_id, md5(n::text), 'video_progress',
               lp.lesson_id, :course, now() - (random() * interval '30 days'), '{}'
           from generate_series(1, :events) n
           join (select user_id, lesson_id, row_number() over () - 1 as rn from lesson_progress) lp
             on lp.rn = n % (select count(*) from lesson_progress)""",
    ]
    async with tenant_session(db.app_sessions, tenant_id) as session:
        for statement in statements:
            await session.execute(text(statement), params)


async def timed(db: Any, tenant_id: uuid.UUID, runs: int, work: Any) -> list[float]:
    times = []
    for _ in range(runs + 3):
        started = time.perf_counter()
        async with tenant_session(db.app_sessions, tenant_id) as session:
            await work(session)
        times.append((time.perf_counter() - started) * 1000)
    return times[3:]


async def run(settings: Settings, args: argparse.Namespace) -> int:
    learners = max(10, int(20_000 * args.scale))
    lessons = 200
    events = max(1000, int(5_000_000 * args.scale))
    new_events = max(1000, int(100_000 * args.scale))
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
    await load(db, tenant_id, course_id, learners, lessons, events)
    print(
        f"loaded {learners:,} enrolments, {lessons} lessons, {events:,} events in {time.perf_counter() - started:.1f} s"
    )
    async with tenant_session(db.app_sessions, tenant_id) as session:
        await session.execute(text("analyze"))
    started = time.perf_counter()
    async with tenant_session(db.app_sessions, tenant_id) as session:
        await refresh_tenant(session, tenant_id)
    print(f"first full rollup: {time.perf_counter() - started:.2f} s")

    params = {"course": course_id}
    figures = {
        "analytics page (rollup)": await timed(db, tenant_id, args.queries, lambda s: course_analytics(s, course_id)),
        "analytics page (raw)": await timed(
            db, tenant_id, args.queries, lambda s: _both(s, [RAW_DAYS, RAW_LESSONS], params)
        ),
        "gradebook (rollup)": await timed(db, tenant_id, args.queries, lambda s: gradebook(s, course_id)),
        "gradebook (raw)": await timed(db, tenant_id, args.queries, lambda s: _both(s, [RAW_GRADEBOOK], params)),
    }
    ok = True
    for name, values in figures.items():
        p95 = percentile(values, 95)
        target = "" if "raw" in name else f" (target < {args.target_p95_ms:.0f} ms)"
        ok &= "raw" in name or p95 < args.target_p95_ms
        print(f"{name:28s} p50 {percentile(values, 50):8.1f} ms   p95 {p95:8.1f} ms{target}")
    for page in ("analytics page", "gradebook"):
        ratio = percentile(figures[f"{page} (raw)"], 95) / percentile(figures[f"{page} (rollup)"], 95)
        print(f"{page}: raw / rollup p95 ratio {ratio:.1f}x")

    # Catch-up: new progress (events and the rows the fold would write), then one refresh.
    async with tenant_session(db.app_sessions, tenant_id) as session:
        await session.execute(
            text(
                """insert into progress_events (id, created_at, updated_at, tenant_id, user_id, client_event_id, kind,
                       lesson_id, course_id, occurred_at, payload)
                   select gen_random_uuid(), now(), now(), :tenant, lp.user_id, md5(random()::text), 'video_progress',
                       lp.lesson_id, :course, now(), '{}'
                   from lesson_progress lp order by random() limit :n"""
            ),
            {"tenant": tenant_id, "course": course_id, "n": new_events},
        )
        await session.execute(
            text(
                """update lesson_progress set status = 'completed', last_event_at = now()
                   where id in (select id from lesson_progress where status = 'in_progress' limit :n)"""
            ),
            {"n": new_events // 10},
        )
        await session.execute(text("update enrollments set last_activity_at = now() where course_id = :course"), params)
    started = time.perf_counter()
    async with tenant_session(db.app_sessions, tenant_id) as session:
        refreshed = await refresh_tenant(session, tenant_id)
    catch_up = time.perf_counter() - started
    ok &= catch_up < args.target_catch_up_s
    print(f"catch-up after {new_events:,} new events: {catch_up:.2f} s for {refreshed} course(s)"
          f" (target < {args.target_catch_up_s:.0f} s)")  # fmt: skip
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
