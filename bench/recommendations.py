"""Recommendations on a synthetic tenant: 100,000 learners and 2,000 courses whose enrolments follow
planted clusters (each learner mostly takes courses of one topic, plus a popular course or two). One
completion per learner is held out; the nightly computation runs on the rest; precision@10 of the
blended recommendations on the held-out completions is compared with a "most popular" baseline
(the tenant's most enrolled courses the learner has not taken), computed in the same run.

Run: `.venv/bin/python bench/recommendations.py [--learners 100000 --courses 2000]`. With DATABASE_URL set
it uses that server; without it, an embedded PostgreSQL. The database it creates is dropped at the end.
Exit status 0 when the computation takes less than --max-seconds and precision is at least --target
times the baseline's, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from datetime import UTC, datetime

import asyncpg
from sqlalchemy import text
from support import bench_settings

from lms.analytics.recommendations.services import recommend, recompute_similarities
from lms.catalog.models import Course, CourseStatus
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database, create_database
from lms.db.migrate import migrate
from lms.learning.queries import most_enrolled
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--courses", type=int, default=2_000)
    parser.add_argument("--cluster-size", type=int, default=20, help="courses per planted topic")
    parser.add_argument("--per-learner", type=int, default=6, help="courses each learner takes in their topic")
    parser.add_argument("--sample", type=int, default=1_000, help="learners whose recommendations are scored")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--target", type=float, default=1.5, help="lowest acceptable precision ratio to baseline")
    parser.add_argument("--seed", type=int, default=17)
    return parser.parse_args(argv)


def plant(args: argparse.Namespace, rng: random.Random) -> tuple[list[tuple[int, int]], dict[int, int]]:
    """(learner, course) training enrolments and each learner's held-out course. Within a topic some
    courses are more popular (Zipf-like); a few courses are popular across topics (the noise a
    most-popular list rides on)."""
    topics = args.courses // args.cluster_size
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(args.cluster_size)]
    global_hits = list(range(0, args.courses, args.courses // 20))  # 20 courses everyone likes
    training: list[tuple[int, int]] = []
    held_out: dict[int, int] = {}
    for learner in range(args.learners):
        topic = rng.randrange(topics)
        base = topic * args.cluster_size
        chosen: set[int] = set()
        while len(chosen) < args.per_learner:
            chosen.add(base + rng.choices(range(args.cluster_size), weights)[0])
        noise = {rng.choice(global_hits) for _ in range(rng.randint(0, 2))}
        in_topic = sorted(chosen)
        held = rng.choice(in_topic)
        held_out[learner] = held
        training.extend((learner, course) for course in (chosen | noise) - {held})
    return training, held_out


async def build(
    db: Database, settings: Settings, args: argparse.Namespace, training: list[tuple[int, int]]
) -> tuple[uuid.UUID, list[uuid.UUID], list[uuid.UUID]]:
    async with db.operator_sessions() as session, session.begin():
        admin = TenantAdmin(session, Actor(name="bench"), settings.public_base_domain)
        tenant = await admin.create(f"bench-{uuid.uuid4().hex[:8]}", "Bench Learning Co", Plan.TEAM, args.learners)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        courses = [
            Course(tenant_id=tenant.id, title=f"Course {i}", slug=f"c-{i}", status=CourseStatus.PUBLISHED)
            for i in range(args.courses)
        ]
        session.add_all(courses)
        await session.flush()
        course_ids = [c.id for c in courses]
        user_ids = [uuid.uuid4() for _ in range(args.learners)]
        await session.execute(
            text(
                """
                insert into users (id, tenant_id, email, display_name, status, roles, groups, created_at, updated_at)
                select u, :tenant, 'learner' || n || '@bench.test', 'Learner ' || n, 'active',
                       array['learner'], array[]::varchar[], now(), now()
                from unnest(cast(:users as uuid[])) with ordinality as t(u, n)
                """
            ),
            {"tenant": tenant.id, "users": user_ids},
        )
    chunk = 200_000
    for start in range(0, len(training), chunk):
        part = training[start : start + chunk]
        async with tenant_session(db.app_sessions, tenant.id) as session:
            await session.execute(
                text(
                    """
                    insert into enrollments (id, tenant_id, user_id, course_id, course_owner, status, source,
                                             completion_pct, completed_at, created_at, updated_at)
                    select gen_random_uuid(), :tenant, u, c, :tenant, 'completed', 'self', 100, :at, :at, :at
                    from unnest(cast(:users as uuid[]), cast(:courses as uuid[])) as t(u, c)
                    """
                ),
                {
                    "tenant": tenant.id,
                    "users": [user_ids[learner] for learner, _ in part],
                    "courses": [course_ids[course] for _, course in part],
                    "at": datetime.now(UTC),
                },
            )
    # As autovacuum would after a bulk load (only the owner may; lms_app serves requests).
    owner = await asyncpg.connect(settings.role_url("lms_owner").replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await owner.execute("analyze enrollments")
        await owner.execute("analyze users")
    finally:
        await owner.close()
    return tenant.id, user_ids, course_ids


async def run(args: argparse.Namespace, settings: Settings) -> int:
    rng = random.Random(args.seed)
    training, held_out = plant(args, rng)
    db = create_database(settings)
    try:
        started = time.perf_counter()
        tenant_id, user_ids, course_ids = await build(db, settings, args, training)
        print(
            f"built {args.learners:,} learners, {args.courses:,} courses, {len(training):,} enrolments "
            f"in {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        async with tenant_session(db.app_sessions, tenant_id) as session:
            rows = await recompute_similarities(session, tenant_id)
        nightly = time.perf_counter() - started
        taken: dict[int, set[uuid.UUID]] = {}
        for learner, course in training:
            taken.setdefault(learner, set()).add(course_ids[course])
        sample = rng.sample(range(args.learners), min(args.sample, args.learners))
        hits = baseline_hits = 0
        started = time.perf_counter()
        async with tenant_session(db.app_sessions, tenant_id) as session:
            popular = [course for course, _ in await most_enrolled(session, 200)]
            for learner in sample:
                recommended = [r.course_id for r in await recommend(session, user_ids[learner], limit=10)]
                target = course_ids[held_out[learner]]
                hits += target in recommended
                baseline = [c for c in popular if c not in taken[learner]][:10]
                baseline_hits += target in baseline
        per_learner_ms = (time.perf_counter() - started) / len(sample) * 1000
    finally:
        await db.dispose()
    precision = hits / (10 * len(sample))
    baseline_precision = baseline_hits / (10 * len(sample))
    ratio = precision / baseline_precision if baseline_precision else float("inf")
    print(f"nightly computation: {nightly:.1f} s for {rows:,} similarity rows (target < {args.max_seconds:.0f} s)")
    print(
        f"precision@10 on held-out completions ({len(sample):,} learners): blend {precision:.4f}, "
        f"most popular {baseline_precision:.4f}, ratio {ratio:.2f} (target >= {args.target})"
    )
    print(f"recommendations per learner (incl. scoring): {per_learner_ms:.1f} ms")
    return 0 if nightly < args.max_seconds and ratio >= args.target else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with bench_settings("bench_recommendations", needs_redis=False) as settings:
        migrate(settings)
        return asyncio.run(run(args, settings))


if __name__ == "__main__":
    sys.exit(main())
