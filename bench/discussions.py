"""The thread page of a discussion with 5,000 replies (the question, the marked answer and one page of replies)
against the same page of a thread with 10 replies (and, for scale, the inbox page and /health),
served by the real app in one uvicorn process on the real database; one client on loopback, one
request at a time.

Run: `.venv/bin/python bench/discussions.py [--posts 5000 --renders 300]`. With DATABASE_URL and
REDIS_URL set it uses those servers, otherwise embedded ones; the database it creates is dropped.
Exit status 0 when the big thread's p95 is under --p95-ms, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from pages import BASE_DOMAIN, BROWSER, api_server, owner_dsn
from support import bench_settings, free_port, percentile

from lms.catalog.models import Course, CourseStatus
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import create_database
from lms.db.migrate import migrate
from lms.discussions.models import Thread
from lms.discussions.services import REPLIES_PER_PAGE
from lms.discussions.services.markdown import render_markdown
from lms.identity.models import User
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.tokens import issue_access_token
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin

BODY = "Thanks, that helps. See **section 2** of the lesson and the `policy.pdf` file.\n\n- first\n- second"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=5_000)
    parser.add_argument("--renders", type=int, default=300)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--p95-ms", type=float, default=50.0)
    return parser.parse_args(argv)


async def arrange(settings: Settings, posts: int) -> tuple[str, str, str, str, str]:
    """A course with a learner, a thread with `posts` replies and one with 10; (host, token, course, big, small)."""
    db = create_database(settings)
    try:
        slug = f"threads-{uuid.uuid4().hex[:6]}"
        async with db.operator_sessions() as session, session.begin():
            tenant = await TenantAdmin(session, Actor(name="bench"), BASE_DOMAIN).create(slug, "Bench", Plan.TEAM, 10)
        async with tenant_session(db.app_sessions, tenant.id) as session:
            learner = User(tenant_id=tenant.id, email="learner@bench.test", display_name="Bench Learner")
            author = User(tenant_id=tenant.id, email="author@bench.test", display_name="Bench Author")
            session.add_all([learner, author])
            await session.flush()
            course = Course(
                tenant_id=tenant.id,
                title="Data privacy",
                slug="privacy",
                status=CourseStatus.PUBLISHED,
                instructor_ids=[author.id],
            )
            session.add(course)
            await session.flush()
            now = datetime.now(UTC)
            threads = [
                Thread(
                    tenant_id=tenant.id,
                    course_id=course.id,
                    author_id=learner.id,
                    title=title,
                    last_activity_at=now,
                    reply_count=count,
                )
                for title, count in (("A long thread", posts), ("A short thread", 10))
            ]
            session.add_all(threads)
            await session.flush()
            ids = (tenant.id, learner.id, author.id, course.id, threads[0].id, threads[1].id)
        keys = KeyRing(db.app_sessions, settings.secret_key)
        token = await issue_access_token(keys, learner.id, tenant.id, ["learner"], 4 * 3600)
    finally:
        await db.dispose()
    copy_posts(owner_dsn(settings), *ids, posts)
    return f"{slug}.{BASE_DOMAIN}", token, str(ids[3]), str(ids[4]), str(ids[5])


def copy_posts(
    owner_url: str,
    tenant_id: uuid.UUID,
    learner_id: uuid.UUID,
    author_id: uuid.UUID,
    course_id: uuid.UUID,
    big: uuid.UUID,
    small: uuid.UUID,
    posts: int,
) -> None:
    """COPY the posts as the owner (the generated search vector is filled by PostgreSQL), then the
    enrolment, and mark a reply in the middle of the long thread as the answer."""
    html = render_markdown(BODY)
    start = datetime.now(UTC) - timedelta(days=30)
    columns = (
        "id, tenant_id, thread_id, course_id, author_id, opening, body, body_html, staff, vote_count, "
        "report_count, hidden, created_at, updated_at"
    )
    answer = uuid.uuid4()
    with psycopg.connect(owner_url, autocommit=True) as conn:
        with conn.cursor().copy(f"COPY discussion_posts ({columns}) FROM STDIN") as copy:
            for thread, count in ((big, posts), (small, 10)):
                for n in range(count + 1):
                    at = start + timedelta(seconds=n * 17)
                    post_id = answer if (thread == big and n == count // 2) else uuid.uuid4()
                    who = author_id if n % 7 == 3 else learner_id
                    row = (post_id, tenant_id, thread, course_id, who, n == 0, BODY, html, who == author_id)
                    copy.write_row((*row, n % 5, 0, False, at, at))
        conn.execute("update discussion_threads set answer_post_id = %s where id = %s", (answer, big))
        conn.execute(
            "insert into enrollments (id, tenant_id, user_id, course_id, course_owner, status, source, "
            "completion_pct, created_at, updated_at) values (%s, %s, %s, %s, %s, 'active', 'self', 0, now(), now())",
            (uuid.uuid4(), tenant_id, learner_id, course_id, tenant_id),
        )
        conn.execute("VACUUM ANALYZE discussion_posts")


async def measure(port: int, host: str, token: str, paths: list[str], warm: int, renders: int) -> list[list[float]]:
    headers = {"Host": host, "Accept": BROWSER, "Cookie": f"lms_session={token}"}
    times: list[list[float]] = [[] for _ in paths]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for round_no in range(warm + renders):
            for index, path in enumerate(paths):
                started = time.perf_counter()
                response = await client.get(path, headers=headers)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
                if round_no >= warm:
                    times[index].append(elapsed * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with bench_settings("bench_discussions") as settings:
        migrate(settings)
        host, token, course, big, small = asyncio.run(arrange(settings, args.posts))
        port = free_port()
        with api_server(settings, port):
            paths = [
                f"/courses/{course}/discussions/{big}",
                f"/courses/{course}/discussions/{small}",
                "/notifications",
                "/health",
            ]
            big_ms, small_ms, inbox_ms, health_ms = asyncio.run(
                measure(port, host, token, paths, args.warm, args.renders)
            )
    p50_big, p95_big = percentile(big_ms, 50), percentile(big_ms, 95)
    p50_small, p95_small = percentile(small_ms, 50), percentile(small_ms, 95)
    print(f"thread page, {args.posts:,} replies ({REPLIES_PER_PAGE} shown): p50 {p50_big:.1f} ms, p95 {p95_big:.1f} ms")
    print(f"thread page, 10 replies (baseline):     p50 {p50_small:.1f} ms, p95 {p95_small:.1f} ms")
    # For scale on a shared machine: a simple page, and the health check (no database, no template).
    print(f"inbox page: p50 {percentile(inbox_ms, 50):.1f} ms; /health: p50 {percentile(health_ms, 50):.1f} ms")
    print(
        f"p95 ratio long/short: {p95_big / p95_small:.2f}; p95 < {args.p95_ms:.0f} ms: "
        f"{'yes' if p95_big < args.p95_ms else 'NO'} ({args.renders} renders each)"
    )
    return 0 if p95_big < args.p95_ms else 1


if __name__ == "__main__":
    sys.exit(main())
