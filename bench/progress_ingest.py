"""Sustained video_heartbeat ingest through the HTTP API, RLS on, against the database's own limit.

200 simulated learners (one keep-alive connection each) post batches of 10 heartbeats for 60 s,
paced so that together they offer `--offered` events/s (default 11,000, 10% above the target;
0 = as fast as each answer comes back), to a real API (uvicorn, `--api-workers` processes) with a real Celery
worker folding the stream.
Prints events/s and request latency, then waits for the worker to drain and compares the events
stored with the events sent (they must be equal). In the same run, a bare single-row
`INSERT ... ON CONFLICT` loop into lesson_progress over asyncpg gives the database's own rate.

Run: `.venv/bin/python bench/progress_ingest.py` (DATABASE_URL/REDIS_URL, or embedded servers).
Exit status 0 when nothing was lost and the targets are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import asyncpg
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import bench_settings, free_port, percentile, process_tree_cpu_seconds

from lms.catalog.models import LessonType
from lms.catalog.schemas import CourseCreate, LessonCreate, ModuleCreate
from lms.catalog.services import CatalogueService
from lms.config import PROJECT_ROOT, Settings, with_credentials
from lms.db.binding import tenant_session
from lms.db.engines import create_database
from lms.db.migrate import migrate
from lms.identity.guards import Principal
from lms.identity.models import User
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.tokens import issue_access_token
from lms.learning.services import EnrollmentService
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin

BASE_DOMAIN = "bench.test"
VIDEO_SECONDS = 36_000


@dataclass
class Fixture:
    tenant_id: UUID
    slug: str
    course_id: UUID
    lesson_id: UUID
    learners: list[tuple[UUID, str]]  # (user id, access token)


@dataclass
class LoadResult:
    sent: int = 0
    accepted: int = 0
    failed_requests: int = 0
    failures: dict[int, int] = field(default_factory=dict)
    failure_sample: bytes = b""
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    warmup_accepted: int = 0
    api_cpu_seconds: float = 0.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--warmup-seconds", type=float, default=3.0)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--baseline-connections", type=int, default=8)
    # 10% above the target: paced senders can never exceed what they offer.
    parser.add_argument("--offered", type=float, default=11_000, help="events/s offered in total; 0 = unpaced")
    parser.add_argument("--target-events", type=float, default=10_000)
    parser.add_argument("--target-p99-ms", type=float, default=100)
    parser.add_argument("--profile", default="", help="write a py-spy raw profile of the API's timed window here")
    return parser.parse_args()


async def prepare(settings: Settings, learners: int) -> Fixture:
    db = create_database(settings)
    try:
        async with db.operator_sessions() as session, session.begin():
            admin = TenantAdmin(session, Actor(name="bench"), BASE_DOMAIN)
            tenant = await admin.create(f"bench-{uuid.uuid4().hex[:6]}", "Bench", Plan.ENTERPRISE, 0)
        async with tenant_session(db.app_sessions, tenant.id) as session:
            author = User(tenant_id=tenant.id, email="author@bench.test", display_name="Author", roles=["instructor"])
            users = [
                User(tenant_id=tenant.id, email=f"l{i}@bench.test", display_name=f"Learner {i}", roles=["learner"])
                for i in range(learners)
            ]
            session.add_all([author, *users])
            await session.flush()
            catalogue = CatalogueService(session, Principal(author.id, tenant.id, frozenset({"instructor"})))
            course = await catalogue.create_course(CourseCreate(title="Bench course", slug="bench-course"))
            module = await catalogue.add_module(course.id, ModuleCreate(title="Only"))
            lesson = await catalogue.add_lesson(
                course.id,
                module.id,
                LessonCreate(title="Long video", type=LessonType.VIDEO, duration_seconds=VIDEO_SECONDS),
            )
            await catalogue.publish(course.id, "bench", None)
            for user in users:
                await EnrollmentService(session, Principal(user.id, tenant.id, frozenset({"learner"}))).enroll(
                    course.id
                )
            ids = [(u.id, list(u.roles)) for u in users]
            course_id, lesson_id = course.id, lesson.id
        keys = KeyRing(db.app_sessions, settings.secret_key)
        tokens = [(uid, await issue_access_token(keys, uid, tenant.id, roles, 7200)) for uid, roles in ids]
        return Fixture(tenant.id, tenant.slug, course_id, lesson_id, tokens)
    finally:
        await db.dispose()


def service_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        CELERY_QUEUE=settings.celery_queue,
        PUBLIC_BASE_DOMAIN=BASE_DOMAIN,
        LOG_LEVEL="WARNING",
        LOG_FORMAT="console",
        DATABASE_ROLE_PASSWORD=settings.database_role_password,
    )
    return env


def start_api(settings: Settings, port: int, workers: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "lms.app:create_app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning",
        "--loop", "uvloop", "--http", "httptools",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=service_env(settings))


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--queues", settings.celery_queue,
        "--concurrency", "1", "--loglevel", "WARNING", "--hostname", f"bench-{uuid.uuid4().hex[:6]}@%h",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=service_env(settings))


class Connection:
    """A minimal keep-alive HTTP/1.1 client: the load generator must cost less than the server."""

    def __init__(self, port: int, host: str) -> None:
        self.port, self.host = port, host
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.writer.write(head.encode() + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)


async def wait_ready(port: int, host: str, limit_seconds: float = 60) -> None:
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        try:
            status, _ = await Connection(port, host).request("GET", "/health", {})
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.3)
    raise RuntimeError("API did not start")


async def learner_loop(
    index: int,
    token: str,
    fixture: Fixture,
    conn: Connection,
    batch: int,
    end: float,
    result: LoadResult,
    interval: float = 0.0,
) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    lesson, course = str(fixture.lesson_id), str(fixture.course_id)
    position, seq = random.uniform(0, 100), 0
    # Spread the learners over one interval so their requests do not arrive in lockstep.
    next_send = time.monotonic() + random.uniform(0, interval)
    while time.monotonic() < end:
        if interval:
            delay = next_send - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            next_send += interval
        now = datetime.now(UTC).isoformat()
        events = []
        for _ in range(batch):
            seq += 1
            start = position
            position = (position + 1.0) % (VIDEO_SECONDS - 1)
            events.append(
                {
                    "type": "video_heartbeat",
                    "client_event_id": f"{index}-{seq}",
                    "lesson_id": lesson,
                    "course_id": course,
                    "occurred_at": now,
                    "position": position,
                    "watched": [[start, start + 1.0]],
                }
            )
        body = msgspec.json.encode({"events": events})
        started = time.perf_counter()
        status, payload = await conn.request("POST", "/api/v1/progress/events", headers, body)
        result.latencies.append(time.perf_counter() - started)
        result.sent += batch
        if status == 202:
            result.accepted += msgspec.json.decode(payload)["accepted"]
        else:
            result.failed_requests += 1
            result.failures[status] = result.failures.get(status, 0) + 1
            result.failure_sample = payload[:300]


async def generate_load(fixture: Fixture, port: int, args: argparse.Namespace, api_pid: int) -> LoadResult:
    result = LoadResult()
    await wait_ready(port, f"{fixture.slug}.{BASE_DOMAIN}")
    interval = len(fixture.learners) * args.batch / args.offered if args.offered else 0.0
    # One keep-alive connection per learner, opened during the warm-up (as a player's would be),
    # which also fills each API process's caches (lesson metadata, enrolments, signing keys).
    connections = [Connection(port, f"{fixture.slug}.{BASE_DOMAIN}") for _ in fixture.learners]
    warm = LoadResult()
    warm_end = time.monotonic() + args.warmup_seconds
    await asyncio.gather(
        *(
            learner_loop(i, tok, fixture, connections[i], args.batch, warm_end, warm, interval)
            for i, (_, tok) in enumerate(fixture.learners)
        )
    )
    # Let the fold catch up with the warm-up, so the timed window measures the steady state.
    await asyncio.sleep(2.0)
    profiler = _profiler(api_pid, args.profile) if args.profile else None
    cpu_before = process_tree_cpu_seconds(api_pid)
    started = time.monotonic()
    end = started + args.seconds
    await asyncio.gather(
        *(
            learner_loop(i + 10_000, token, fixture, connections[i], args.batch, end, result, interval)
            for i, (_, token) in enumerate(fixture.learners)
        )
    )
    result.seconds = time.monotonic() - started
    result.api_cpu_seconds = process_tree_cpu_seconds(api_pid) - cpu_before
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(60)
    # The warm-up events are stored too: they count in what must arrive.
    result.warmup_accepted = warm.accepted
    return result


def _profiler(pid: int, path: str) -> subprocess.Popen[bytes]:
    """py-spy over the API processes (collapsed stacks; `bench/profile_breakdown.py` sums them by layer)."""
    py_spy = str(Path(sys.executable).parent / "py-spy")
    command = [py_spy, "record", "--subprocesses", "--pid", str(pid), "-o", path, "--rate", "250", "--format", "raw"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def drain(owner_url: str, expected: int, limit_seconds: float = 300) -> tuple[int, float]:
    conn = await asyncpg.connect(owner_url)
    started = time.monotonic()
    last, last_change = -1, started
    try:
        while True:
            stored = int(await conn.fetchval("select count(*) from progress_events"))
            now = time.monotonic()
            if stored != last:
                last, last_change = stored, now
            if stored >= expected or now - last_change > 30 or now - started > limit_seconds:
                return stored, now - started
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def baseline(app_url: str, fixture: Fixture, seconds: float, connections: int) -> float:
    """Single-row upserts into lesson_progress as lms_app (RLS on), as fast as the database takes them."""
    owner = await asyncpg.connect(app_url)
    await owner.execute("select set_config('app.tenant_id', $1, false)", str(fixture.tenant_id))
    rows = await owner.fetch("select id, user_id from enrollments")
    await owner.close()
    sql = """
        insert into lesson_progress (id, tenant_id, enrollment_id, user_id, lesson_id, lesson_owner,
                                     position_seconds, position_at, created_at, updated_at)
        values ($1, $2, $3, $4, $5, $2, $6, now(), now(), now())
        on conflict (tenant_id, user_id, lesson_id) do update
           set position_seconds = excluded.position_seconds, position_at = excluded.position_at,
               updated_at = excluded.updated_at
    """
    done = 0
    end = time.monotonic() + seconds

    async def loop() -> None:
        nonlocal done
        conn = await asyncpg.connect(app_url)
        # Session-level binding is fine on a connection this loop owns alone.
        await conn.execute("select set_config('app.tenant_id', $1, false)", str(fixture.tenant_id))
        statement = await conn.prepare(sql)
        while time.monotonic() < end:
            enrollment_id, user_id = random.choice(rows)
            await statement.fetch(
                uuid.uuid4(), fixture.tenant_id, enrollment_id, user_id, fixture.lesson_id, random.uniform(0, 100)
            )
            done += 1
        await conn.close()

    started = time.monotonic()
    await asyncio.gather(*(loop() for _ in range(connections)))
    return done / (time.monotonic() - started)


def main() -> int:
    args = parse_args()
    with bench_settings("lms_bench_ingest") as settings:
        migrate(settings)
        fixture = asyncio.run(prepare(settings, args.learners))
        port = free_port()
        api = start_api(settings, port, args.api_workers)
        worker = start_worker(settings)
        try:
            import uvloop

            worker_cpu_before = process_tree_cpu_seconds(worker.pid)
            load = uvloop.run(generate_load(fixture, port, args, api.pid))
            expected = load.accepted + load.warmup_accepted
            owner_url = with_credentials(settings.database_url or "", "lms_owner", settings.database_role_password)
            stored, drain_seconds = asyncio.run(drain(owner_url, expected))
            worker_cpu = process_tree_cpu_seconds(worker.pid) - worker_cpu_before
        finally:
            api.terminate()
            api.wait(30)
        try:
            app_url = settings.role_url("lms_app")
            bare = asyncio.run(baseline(app_url, fixture, args.baseline_seconds, args.baseline_connections))
        finally:
            worker.terminate()
            worker.wait(30)

    rate = load.accepted / load.seconds
    p50, p99 = percentile(load.latencies, 50) * 1000, percentile(load.latencies, 99) * 1000
    print(f"progress ingest: {args.learners} learners, batches of {args.batch}, {load.seconds:.0f} s, RLS on")
    print(f"  API processes            {args.api_workers}, fold worker 1 process")
    offered = f"{args.offered:,.0f} events/s" if args.offered else "unpaced (closed loop)"
    print(f"  offered load             {offered}")
    print(f"  events accepted          {load.accepted:,} ({load.failed_requests} failed requests {load.failures})")
    if load.failure_sample:
        print(f"  a failure                {load.failure_sample.decode(errors='replace')}")
    print(f"  events/s                 {rate:,.0f}   (target >= {args.target_events:,.0f})")
    print(f"  request latency p50      {p50:.1f} ms")
    print(f"  request latency p99      {p99:.1f} ms   (target < {args.target_p99_ms:.0f} ms)")
    print(f"  stored after drain       {stored:,} of {expected:,} sent  (drained in {drain_seconds:.1f} s)")
    api_us = load.api_cpu_seconds / max(load.accepted, 1) * 1e6
    fold_us = worker_cpu / max(stored, 1) * 1e6
    print(f"  API CPU per event        {api_us:.0f} us  ({1e6 / api_us:,.0f} events/s per dedicated core)")
    print(f"  fold CPU per event       {fold_us:.0f} us  (the worker process; PostgreSQL not included)")
    print(f"  machine load average     {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"  bare INSERT..ON CONFLICT {bare:,.0f} rows/s into lesson_progress ({args.baseline_connections} connections)"
    )
    print(f"  ratio events/s : bare    {rate / bare:.2f}")
    ok = stored == expected and rate >= args.target_events and p99 < args.target_p99_ms
    print("  result                   " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
