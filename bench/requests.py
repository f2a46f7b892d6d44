"""What one database-backed request costs: throughput and server CPU per request of the hot API reads,
each as a ratio to the bare `GET /health` measured in the same run against the same server.

Routes (a tenant with `--courses` published courses, one learner enrolled in 30 of them):
`GET /api/v1/me` uncached (PROFILE_CACHE_SECONDS=0: the profile read from PostgreSQL under RLS),
`GET /api/v1/courses?limit=50`, `GET /api/v1/catalog/search?q=...`, `GET /api/v1/me/learning/courses`,
`GET /api/v1/me/certificates`, the resume position of a lesson. Then an overload round: `--overload`
(300) concurrent clients on `GET /api/v1/courses` for `--overload-seconds`: throughput, p50/p95/p99
and the share of 503 refusals.

Run: `.venv/bin/python bench/requests.py [--processes N] [--server uvicorn|granian]`. With DATABASE_URL
(REDIS_URL) set it uses those servers, otherwise embedded ones; the database it creates is dropped.
Exit status 0 when `/me` keeps >= 0.40 and the course list >= 0.25 of /health, and overload p95 < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import uuid_utils

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import bench_settings, free_port, percentile, process_tree_cpu_seconds

from lms.config import Settings, with_credentials
from lms.db.binding import tenant_session
from lms.db.engines import create_database
from lms.db.migrate import migrate
from lms.identity.models import User
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.tokens import issue_access_token
from lms.lib.errors import RETRY_AFTER_SECONDS
from lms.lib.http_protocol import PROTOCOL_PATH
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin

BASE_DOMAIN = "bench.test"
WORDS = ["data", "privacy", "security", "leadership", "python", "cloud", "finance", "sales", "safety", "design"]
WORDS += ["ethics", "excel", "agile", "writing", "coaching", "budget", "quality", "legal", "phishing", "strategy"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one measured round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per route (alternating with /health)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--courses", type=int, default=1_000)
    parser.add_argument("--processes", type=int, default=1, help="API processes (uvicorn/granian workers)")
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument(
        "--http",
        default=PROTOCOL_PATH,
        help="uvicorn's HTTP protocol (default: the one `lms api` runs; `httptools` for uvicorn's own)",
    )
    parser.add_argument("--overload", type=int, default=300, help="clients of the overload round (0 = skip)")
    parser.add_argument("--overload-seconds", type=float, default=30.0)
    parser.add_argument(
        "--retry-after",
        action="store_true",
        help="overload clients wait Retry-After after a 503 (default: they ask again at once, the worst case)",
    )
    parser.add_argument("--only", default="", help="comma-separated route labels to measure (default: all)")
    parser.add_argument("--profile", default="", help="write a py-spy raw profile (collapsed stacks) of the API here")
    parser.add_argument("--native", action="store_true", help="with --profile: sample C frames as well")
    return parser.parse_args(argv)


@dataclass
class Fixture:
    host: str
    token: str
    lesson_id: uuid.UUID


def load_courses(owner_url: str, tenant_id: uuid.UUID, user_id: uuid.UUID, courses: int) -> uuid.UUID:
    """COPY published courses (the trigger fills search_vector), one module and lesson, 30 enrolments."""
    rng = random.Random(20)
    now = datetime.now(UTC)
    course_ids = [uuid.UUID(str(uuid_utils.uuid7())) for _ in range(courses)]
    columns = (
        "id, tenant_id, title, slug, summary, description, category, difficulty, language, tags, price_cents, "
        "currency, instructor_ids, status, self_enrollment, completion_rules, enrollment_count, created_at, updated_at"
    )
    with psycopg.connect(owner_url, autocommit=True) as conn:
        with conn.cursor().copy(f"COPY courses ({columns}) FROM STDIN") as copy:
            for n, course_id in enumerate(course_ids):
                created = now - timedelta(minutes=rng.randint(1, 500_000))
                title = " ".join(rng.sample(WORDS, 4)).capitalize()
                summary = "Learn " + " and ".join(rng.sample(WORDS, 3))
                description = " ".join(rng.choices(WORDS, k=40))
                head = (course_id, tenant_id, title, f"c-{n}", summary, description, "compliance", "beginner")
                tail = ("en", rng.sample(WORDS, 3), 0, "USD", [user_id], "published", True, "{}")
                copy.write_row((*head, *tail, rng.randint(0, 5000), created, created))
        module_id, lesson_id = uuid.uuid4(), uuid.uuid4()
        conn.execute(
            "INSERT INTO modules (id, tenant_id, course_id, title, position, prerequisites, created_at, updated_at)"
            " VALUES (%s, %s, %s, 'Module', 1, '[]', now(), now())",
            (module_id, tenant_id, course_ids[0]),
        )
        conn.execute(
            "INSERT INTO lessons (id, tenant_id, course_id, module_id, title, type, position, duration_seconds,"
            " required, content, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, 'Lesson', 'text', 1, 60, true, '{}', now(), now())",
            (lesson_id, tenant_id, course_ids[0], module_id),
        )
        enrol = (
            "id, tenant_id, user_id, course_id, course_owner, status, source, completion_pct, created_at, updated_at"
        )
        with conn.cursor().copy(f"COPY enrollments ({enrol}) FROM STDIN") as copy:
            for course_id in course_ids[:30]:
                copy.write_row(
                    (uuid.uuid4(), tenant_id, user_id, course_id, tenant_id, "active", "self", 10.0, now, now)
                )
        conn.execute("VACUUM ANALYZE courses")
        conn.execute("ANALYZE enrollments")
    return lesson_id


async def arrange(settings: Settings, courses: int) -> Fixture:
    db = create_database(settings)
    try:
        slug = f"bench-{uuid.uuid4().hex[:6]}"
        async with db.operator_sessions() as session, session.begin():
            tenant = await TenantAdmin(session, Actor(name="bench"), BASE_DOMAIN).create(slug, "Bench", Plan.TEAM, 10)
        async with tenant_session(db.app_sessions, tenant.id) as session:
            user = User(tenant_id=tenant.id, email="learner@bench.test", display_name="Bench Learner")
            session.add(user)
            await session.flush()
        token = await issue_access_token(
            KeyRing(db.app_sessions, settings.secret_key), user.id, tenant.id, ["learner"], 3600
        )
    finally:
        await db.dispose()
    owner_url = with_credentials(settings.database_url or "", "lms_owner", settings.database_role_password)
    lesson_id = load_courses(owner_url, tenant.id, user.id, courses)
    return Fixture(host=f"{slug}.{BASE_DOMAIN}", token=token, lesson_id=lesson_id)


def server_command(server: str, port: int, processes: int, http: str = PROTOCOL_PATH) -> list[str]:
    if server == "granian":
        command = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--port", str(port)]
        command += ["--workers", str(processes), "--loop", "uvloop", "--log-level", "warning", "--no-access-log"]
        return [*command, "lms.app:create_served_app"]
    command = [sys.executable, "-m", "uvicorn", "lms.app:create_served_app", "--factory", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", http, "--workers", str(processes)]
    return [*command, "--log-level", "warning", "--no-access-log"]


@contextmanager
def api_server(settings: Settings, args: argparse.Namespace, port: int) -> Iterator[int]:
    """The API in its own process tree; yields the root pid (for CPU accounting)."""
    env = dict(os.environ)
    env.update(
        PROFILE_CACHE_SECONDS="0",
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        PUBLIC_BASE_DOMAIN=BASE_DOMAIN,
        DATABASE_ROLE_PASSWORD=settings.database_role_password,
        LOG_LEVEL="WARNING",
        LOG_FORMAT="json",
    )
    process = subprocess.Popen(server_command(args.server, port, args.processes, args.http), env=env)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                asyncio.run(_get_once(port, request_bytes("/health", "x")))
                break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("the API did not start")
        yield process.pid
    finally:
        process.terminate()
        process.wait(30)


async def _get_once(port: int, request: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await reader.readline()
    writer.close()


def request_bytes(path: str, host: str, token: str | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class Tally:
    latencies: list[float]
    statuses: dict[int, int]
    errors: int = 0


async def _one_connection(port: int, request: bytes, stop_at: float, tally: Tally, pause_on_503: float = 0.0) -> None:
    """A keep-alive client; reconnects when the server closes the connection (refusals may). After a
    `503` it waits `pause_on_503` seconds (a client honouring `Retry-After`) before asking again."""
    reader = writer = None
    while time.monotonic() < stop_at:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionResetError("closed")
            status = int(status_line.split()[1])
            length, close = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                lower = line.lower()
                if lower.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
                elif lower.startswith(b"connection:") and b"close" in lower:
                    close = True
            await reader.readexactly(length)
            tally.latencies.append(time.perf_counter() - started)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if close:
                writer.close()
                writer = None
            if status == 503 and pause_on_503:
                await asyncio.sleep(pause_on_503)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            tally.errors += 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.05)
    if writer is not None:
        writer.close()


async def measure(
    port: int, request: bytes, seconds: float, connections: int, server_pid: int, pause_on_503: float = 0.0
) -> tuple[Tally, float]:
    """Run `connections` clients for `seconds`; returns the tally and the server's CPU seconds."""
    tally = Tally(latencies=[], statuses={})
    cpu_before = process_tree_cpu_seconds(server_pid)
    stop_at = time.monotonic() + seconds
    clients = (_one_connection(port, request, stop_at, tally, pause_on_503) for _ in range(connections))
    await asyncio.gather(*clients)
    return tally, process_tree_cpu_seconds(server_pid) - cpu_before


@dataclass
class RouteFigures:
    label: str
    rates: list[float]
    health_rates: list[float]
    cpu_ms: list[float]
    health_cpu_ms: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(r / h for r, h in zip(self.rates, self.health_rates, strict=True))


async def route_round(port: int, pid: int, request: bytes, args: argparse.Namespace) -> tuple[float, float]:
    tally, cpu = await measure(port, request, args.seconds, args.connections, pid)
    ok = tally.statuses.get(200, 0)
    if ok == 0 or len(tally.statuses) > 1 or tally.errors:
        raise RuntimeError(f"unexpected answers {tally.statuses}, {tally.errors} errors for {request[:60]!r}")
    return ok / args.seconds, 1000 * cpu / ok


def routes(fixture: Fixture) -> dict[str, str]:
    return {
        "me (uncached)": "/api/v1/me",
        "courses?limit=50": "/api/v1/courses?limit=50",
        "catalog search": "/api/v1/catalog/search?q=privacy%20cloud",
        "my learning": "/api/v1/me/learning/courses",
        "my certificates": "/api/v1/me/certificates",
        "resume": f"/api/v1/progress/lessons/{fixture.lesson_id}/resume",
    }


async def run(port: int, pid: int, fixture: Fixture, args: argparse.Namespace) -> list[RouteFigures]:
    bare = request_bytes("/health", fixture.host)
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    figures = []
    for label, path in routes(fixture).items():
        if wanted and label not in wanted:
            continue
        request = request_bytes(path, fixture.host, fixture.token)
        await measure(port, request, 1.0, args.connections, pid)  # warm
        fig = RouteFigures(label, [], [], [], [])
        for _ in range(args.rounds):
            rate, cpu = await route_round(port, pid, bare, args)
            fig.health_rates.append(rate)
            fig.health_cpu_ms.append(cpu)
            rate, cpu = await route_round(port, pid, request, args)
            fig.rates.append(rate)
            fig.cpu_ms.append(cpu)
        figures.append(fig)
    return figures


async def overload(port: int, pid: int, fixture: Fixture, args: argparse.Namespace) -> tuple[Tally, float]:
    request = request_bytes("/api/v1/courses?limit=50", fixture.host, fixture.token)
    pause = float(RETRY_AFTER_SECONDS) if args.retry_after else 0.0
    return await measure(port, request, args.overload_seconds, args.overload, pid, pause)


def profile(port: int, pid: int, fixture: Fixture, args: argparse.Namespace) -> None:
    """py-spy (raw collapsed stacks) over the API while only the first measured route is requested."""
    label = next(iter(args.only.split(","))).strip() or "me (uncached)"
    request = request_bytes(routes(fixture)[label], fixture.host, fixture.token)
    py_spy = str(Path(sys.executable).parent / "py-spy")
    command = [py_spy, "record", "--subprocesses", "--pid", str(pid), "-o", args.profile, "--rate", "250"]
    if args.native:
        command.append("--native")  # C frames too (msgspec, asyncpg, uvloop), where a Python frame hides them
    profiler = subprocess.Popen([*command, "--format", "raw"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    asyncio.run(measure(port, request, 8.0, args.connections, pid))
    profiler.send_signal(signal.SIGINT)
    profiler.wait(60)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with bench_settings("lms_bench_requests") as settings:
        migrate(settings)
        fixture = asyncio.run(arrange(replace(settings, public_base_domain=BASE_DOMAIN), args.courses))
        port = free_port()
        with api_server(settings, args, port) as pid:
            figures = asyncio.run(run(port, pid, fixture, args))
            if args.profile:
                profile(port, pid, fixture, args)
            tally, cpu = asyncio.run(overload(port, pid, fixture, args)) if args.overload else (None, 0.0)
    print(
        f"{args.server} ({args.http if args.server == 'uvicorn' else 'granian'}), {args.processes} process(es), "
        f"{args.connections} connections, "
        f"{args.rounds} rounds x {args.seconds:.0f}s alternating with GET /health; {args.courses:,} courses"
    )
    print(f"  {'route':<20}{'req/s':>8}{'/health':>9}{'ratio':>7}{'CPU ms/req':>12}{'/health':>9}")
    targets = {"me (uncached)": 0.40, "courses?limit=50": 0.25}
    passed = True
    for fig in figures:
        target = targets.get(fig.label)
        verdict = "" if target is None else ("  meets" if fig.ratio >= target else "  misses") + f" >= {target:.2f}"
        passed &= target is None or fig.ratio >= target
        print(
            f"  {fig.label:<20}{statistics.median(fig.rates):8.0f}{statistics.median(fig.health_rates):9.0f}"
            f"{fig.ratio:7.2f}{statistics.median(fig.cpu_ms):12.2f}{statistics.median(fig.health_cpu_ms):9.2f}"
            f"{verdict}"
        )
    if tally is not None:
        total = sum(tally.statuses.values())
        refused = tally.statuses.get(503, 0)
        p95 = percentile(tally.latencies, 95)
        print(
            f"overload: {args.overload} clients on GET /api/v1/courses?limit=50 for {args.overload_seconds:.0f}s"
            f"{' (honouring Retry-After)' if args.retry_after else ' (retrying a 503 at once)'}: "
            f"{total / args.overload_seconds:.0f} answers/s, p50 {percentile(tally.latencies, 50) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, p99 {percentile(tally.latencies, 99) * 1000:.0f} ms, "
            f"503 {100 * refused / max(total, 1):.1f}%, statuses {dict(sorted(tally.statuses.items()))}, "
            f"connection errors {tally.errors}, server CPU {1000 * cpu / max(total, 1):.2f} ms/answer"
        )
        passed &= p95 < 1.0 and tally.errors == 0
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
