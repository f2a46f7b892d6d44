"""Server time of the HTML pages against the JSON API calls that serve the same data, and the page weight.

A tenant with `--courses` published courses (10,000) and a learner enrolled in `--enrolments` (50) of
them; the enrolled courses are built through the API (two modules of three lessons, published), some
assigned with a due date, some completed, some in progress. One uvicorn process serves the real app
on the real database; one client on loopback sends one request at a time, so a latency is the
server's time plus a loopback round trip. Each round requests a page, then its API counterpart(s):

| page | API counterpart (summed) |
| --- | --- |
| `/courses?q=...` (search, facets, filters) | `/api/v1/catalog/search?q=...` (same filters, 12 results) |
| `/courses/{id}` | `/api/v1/courses/{id}` + `/api/v1/enrollments?course_id={id}` |
| `/` ("My learning") | `/api/v1/me/learning/{courses?limit=200,continue}` + `/api/v1/me/{recommendations,streak}` |
| `/courses/{id}/lessons/{id}` (text) | `/api/v1/me/learning/courses/{id}/lessons/{id}` + `/api/v1/courses/{id}` |
| `/courses/{id}/lessons/{id}/quiz` | `/api/v1/quizzes/{id}` + `/api/v1/quizzes/{id}/attempts` |

Each round also requests `/health` (no database, no template): the floor of a request through the
same server and client, so every page's p95 is also given as a multiple of it. Page weight: the
"My learning" HTML plus every stylesheet and script it references, each gzipped at level 6 as a
server would, summed.

Run: `.venv/bin/python bench/pages.py [--renders 1000] [--profile FILE]`. With DATABASE_URL (REDIS_URL)
set it uses those servers, otherwise embedded ones; the database it creates is dropped.
Exit status 0 when every page has p95 < 50 ms and p95 ratio <= 1.5 to its API calls, and the weight < 200 KB.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg
import uuid_utils

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import bench_settings, free_port, percentile

from lms.config import Settings, with_credentials
from lms.db.binding import tenant_session
from lms.db.engines import create_database
from lms.db.migrate import migrate
from lms.identity.models import User
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.tokens import issue_access_token
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin

BASE_DOMAIN = "bench.test"
WORDS = ["data", "privacy", "security", "leadership", "python", "cloud", "finance", "sales", "safety", "design"]
WORDS += ["ethics", "excel", "agile", "writing", "coaching", "budget", "quality", "legal", "phishing", "strategy"]
DIFFICULTIES = ["beginner", "intermediate", "advanced"]
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--courses", type=int, default=10_000)
    parser.add_argument("--enrolments", type=int, default=50)
    parser.add_argument("--renders", type=int, default=1_000, help="measured renders per page")
    parser.add_argument("--warm", type=int, default=50, help="unmeasured renders per page first")
    parser.add_argument("--target-p95-ms", type=float, default=50.0)
    parser.add_argument("--target-ratio", type=float, default=1.5)
    parser.add_argument("--target-weight-kb", type=float, default=200.0)
    parser.add_argument("--only", default="", help="comma-separated page labels to measure (default: all)")
    parser.add_argument("--profile", default="", help="write a py-spy profile (raw) of the server during --only")
    return parser.parse_args(argv)


@dataclass
class Fixture:
    host: str
    learner: str
    author: str
    courses: list[str] = field(default_factory=list)
    text_lessons: dict[str, str] = field(default_factory=dict)
    # course id -> (quiz lesson id, quiz id)
    quizzes: dict[str, tuple[str, str]] = field(default_factory=dict)


async def arrange(settings: Settings, courses: int) -> Fixture:
    """The tenant, a learner and an instructor, with access tokens."""
    db = create_database(settings)
    try:
        slug = f"pages-{uuid.uuid4().hex[:6]}"
        async with db.operator_sessions() as session, session.begin():
            tenant = await TenantAdmin(session, Actor(name="bench"), BASE_DOMAIN).create(slug, "Bench", Plan.TEAM, 10)
        async with tenant_session(db.app_sessions, tenant.id) as session:
            learner = User(tenant_id=tenant.id, email="learner@bench.test", display_name="Bench Learner")
            author = User(tenant_id=tenant.id, email="author@bench.test", display_name="Bench Author")
            session.add_all([learner, author])
            await session.flush()
        keys = KeyRing(db.app_sessions, settings.secret_key)
        learner_token = await issue_access_token(keys, learner.id, tenant.id, ["learner"], 4 * 3600)
        author_token = await issue_access_token(keys, author.id, tenant.id, ["instructor"], 4 * 3600)
    finally:
        await db.dispose()
    copy_courses(owner_dsn(settings), tenant.id, author.id, courses)
    return Fixture(host=f"{slug}.{BASE_DOMAIN}", learner=learner_token, author=author_token)


def copy_courses(owner_url: str, tenant_id: uuid.UUID, author_id: uuid.UUID, courses: int) -> None:
    """COPY the bulk of the catalogue as the owner (the trigger fills search_vector)."""
    rng = random.Random(13)
    now = datetime.now(UTC)
    columns = (
        "id, tenant_id, title, slug, summary, description, category, difficulty, language, tags, price_cents, "
        "currency, instructor_ids, status, self_enrollment, completion_rules, enrollment_count, created_at, updated_at"
    )
    with psycopg.connect(owner_url, autocommit=True) as conn:
        with conn.cursor().copy(f"COPY courses ({columns}) FROM STDIN") as copy:
            for n in range(courses):
                created = now - timedelta(minutes=rng.randint(1, 500_000))
                title = " ".join(rng.sample(WORDS, 4)).capitalize()
                summary = "Learn " + " and ".join(rng.sample(WORDS, 3))
                description = " ".join(rng.choices(WORDS, k=40))
                price = 0 if rng.random() < 0.6 else rng.randint(5, 300) * 100
                head = (uuid.UUID(str(uuid_utils.uuid7())), tenant_id, title, f"c-{n}", summary, description)
                middle = ("compliance", rng.choice(DIFFICULTIES), "en", rng.sample(WORDS, 3), price, "USD")
                tail = ([author_id], "published", True, "{}", rng.randint(0, 5000), created, created)
                copy.write_row((*head, *middle, *tail))
        conn.execute("VACUUM ANALYZE courses")


async def build_enrolled_courses(client: httpx.AsyncClient, fixture: Fixture, count: int) -> None:
    """Courses through the API (modules, lessons, publish), the learner enrolled; 10 assigned with a due date."""
    rng = random.Random(7)
    author = {"Host": fixture.host, "Authorization": f"Bearer {fixture.author}"}
    learner = {"Host": fixture.host, "Authorization": f"Bearer {fixture.learner}"}
    me = (await client.get("/api/v1/me", headers=learner)).json()
    for n in range(count):
        title = " ".join(rng.sample(WORDS, 3)).capitalize() + f" {n}"
        body = {"title": title, "slug": f"enrolled-{n}", "summary": "Learn " + " and ".join(rng.sample(WORDS, 3))}
        course = expect(await client.post("/api/v1/courses", json=body, headers=author), 201)["id"]
        for m in range(2):
            path = f"/api/v1/courses/{course}/modules"
            module = expect(await client.post(path, json={"title": f"Module {m + 1}"}, headers=author), 201)["id"]
            for k in range(3):
                paragraphs = "\n\n".join(" ".join(rng.choices(WORDS, k=60)) for _ in range(5))
                lesson = {"title": f"Lesson {m + 1}.{k + 1}", "type": "text", "duration_seconds": 300}
                lesson["content"] = {"body": paragraphs}
                created = await client.post(f"{path}/{module}/lessons", json=lesson, headers=author)
                fixture.text_lessons.setdefault(course, expect(created, 201)["id"])
        quiz_lesson = {"title": "Check", "type": "quiz"}
        created_quiz = await client.post(f"{path}/{module}/lessons", json=quiz_lesson, headers=author)
        quiz_lesson_id = expect(created_quiz, 201)["id"]
        bank = expect(
            await client.post("/api/v1/question-banks", json={"course_id": course, "title": "Bank"}, headers=author),
            201,
        )["id"]
        for q in range(3):
            question = {
                "type": "single_choice",
                "prompt": f"Question {q + 1}",
                "options": [{"id": "a", "text": "Right"}, {"id": "b", "text": "Wrong"}],
                "correct": "a",
            }
            added = await client.post(
                f"/api/v1/question-banks/{bank}/questions", json={"payload": question}, headers=author
            )
            expect(added, 201)
        quiz_body = {
            "lesson_id": quiz_lesson_id,
            "title": "Check",
            "pools": [{"bank_id": bank, "count": 3}],
            "time_limit_seconds": 600,
            "max_attempts": 3,
        }
        quiz = expect(await client.post("/api/v1/quizzes", json=quiz_body, headers=author), 201)["id"]
        fixture.quizzes[course] = (quiz_lesson_id, quiz)
        expect(await client.post(f"/api/v1/courses/{course}/publish", json={}, headers=author), 200)
        if n < 10:
            due = (datetime.now(UTC) + timedelta(days=n - 3)).isoformat()
            enrol = {"course_id": course, "user_id": me["id"], "due_at": due}
            expect(await client.post("/api/v1/enrollments", json=enrol, headers=author), 201)
        else:
            expect(await client.post("/api/v1/enrollments", json={"course_id": course}, headers=learner), 201)
        fixture.courses.append(course)


def vary_progress(owner_url: str, fixture: Fixture) -> None:
    """Progress as weeks of use leave it: some completed, most with recent activity on a lesson."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        for n, course in enumerate(fixture.courses):
            lesson = fixture.text_lessons[course]
            if n % 5 == 4:
                conn.execute(
                    "UPDATE enrollments SET status = 'completed', completion_pct = 100, completed_at = now(),"
                    " last_lesson_id = %s, last_activity_at = now() - make_interval(hours => %s)"
                    " WHERE course_id = %s",
                    (lesson, n, course),
                )
            else:
                conn.execute(
                    "UPDATE enrollments SET completion_pct = %s, last_lesson_id = %s,"
                    " last_activity_at = now() - make_interval(hours => %s) WHERE course_id = %s",
                    ((n * 7) % 95, lesson, n, course),
                )
        conn.execute("ANALYZE enrollments")


def expect(response: httpx.Response, status: int) -> dict[str, str]:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    body: dict[str, str] = response.json()
    return body


@contextmanager
def api_server(settings: Settings, port: int) -> Iterator[int]:
    """The app in one uvicorn process; yields its pid."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        CELERY_QUEUE=settings.celery_queue,
        PUBLIC_BASE_DOMAIN=BASE_DOMAIN,
        DATABASE_ROLE_PASSWORD=settings.database_role_password,
        LOG_LEVEL="WARNING",
        LOG_FORMAT="json",
    )
    command = [sys.executable, "-m", "uvicorn", "lms.app:create_app", "--factory", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise RuntimeError("the app did not start")
        yield process.pid
    finally:
        process.terminate()
        process.wait(30)


Request = tuple[str, dict[str, str]]
# The baseline of every round: a request through the same server and client that reads no database.
HEALTH: Request = ("/health", {"Accept": "application/json"})


@dataclass
class PageCase:
    label: str
    api_label: str
    # one round: the page request and its API counterparts, for round number n
    requests: Callable[[int], tuple[Request, list[Request]]]
    page_times: list[float] = field(default_factory=list)
    api_times: list[float] = field(default_factory=list)
    health_times: list[float] = field(default_factory=list)
    page_cpu: float = 0.0
    api_cpu: float = 0.0
    note: str = ""


def cases(fixture: Fixture) -> list[PageCase]:
    page = {"Host": fixture.host, "Accept": BROWSER, "Cookie": f"lms_session={fixture.learner}"}
    api = {"Host": fixture.host, "Accept": "application/json", "Authorization": f"Bearer {fixture.learner}"}
    rng = random.Random(99)
    searches = []
    for _ in range(200):
        filters = {"q": " ".join(rng.sample(WORDS, rng.choice([1, 1, 2])))}
        if rng.random() < 0.3:
            filters["difficulty"] = rng.choice(DIFFICULTIES)
        if rng.random() < 0.3:
            filters["price"] = rng.choice(["free", "paid"])
        filters["sort"] = rng.choice(["relevance", "relevance", "popularity", "newest"])
        searches.append(filters)

    def catalogue(n: int) -> tuple[Request, list[Request]]:
        filters = searches[n % len(searches)]
        return (f"/courses?{urlencode(filters)}", page), [
            (f"/api/v1/catalog/search?{urlencode({**filters, 'limit': 12})}", api)
        ]

    def course(n: int) -> tuple[Request, list[Request]]:
        course_id = fixture.courses[n % len(fixture.courses)]
        return (f"/courses/{course_id}", page), [
            (f"/api/v1/courses/{course_id}", api),
            (f"/api/v1/enrollments?course_id={course_id}", api),
        ]

    def my_learning(_: int) -> tuple[Request, list[Request]]:
        # The page also shows the recommendations and the streak: their API calls serve the same data.
        return ("/", page), [
            ("/api/v1/me/learning/courses?limit=200", api),
            ("/api/v1/me/learning/continue", api),
            ("/api/v1/me/recommendations", api),
            ("/api/v1/me/streak", api),
        ]

    def lesson(n: int) -> tuple[Request, list[Request]]:
        course_id = fixture.courses[n % len(fixture.courses)]
        lesson_id = fixture.text_lessons[course_id]
        return (f"/courses/{course_id}/lessons/{lesson_id}", page), [
            (f"/api/v1/me/learning/courses/{course_id}/lessons/{lesson_id}", api),
            (f"/api/v1/courses/{course_id}", api),
        ]

    def quiz(n: int) -> tuple[Request, list[Request]]:
        course_id = fixture.courses[n % len(fixture.courses)]
        lesson_id, quiz_id = fixture.quizzes[course_id]
        return (f"/courses/{course_id}/lessons/{lesson_id}/quiz", page), [
            (f"/api/v1/quizzes/{quiz_id}", api),
            (f"/api/v1/quizzes/{quiz_id}/attempts", api),
        ]

    return [
        PageCase("catalogue", "catalog/search", catalogue),
        PageCase("course page", "courses/{id} + enrollments", course),
        PageCase("my learning", "courses, continue, recomm., streak", my_learning),
        PageCase("text lesson", "learning/lesson + courses/{id}", lesson),
        PageCase("quiz page", "quizzes/{id} + attempts", quiz),
    ]


async def timed_get(client: httpx.AsyncClient, request: Request) -> float:
    path, headers = request
    started = time.perf_counter()
    response = await client.get(path, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
    return elapsed


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the server process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(client: httpx.AsyncClient, pid: int, case: PageCase, warm: int, renders: int) -> None:
    """Page and API alternate request by request, so both see the same load on the shared machine; the
    server's CPU is read between them (clock ticks: exact only summed over many renders)."""
    for n in range(warm + renders):
        page_request, api_requests = case.requests(n)
        before = cpu_seconds(pid)
        page_time = await timed_get(client, page_request)
        between = cpu_seconds(pid)
        api_time = 0.0
        for request in api_requests:
            api_time += await timed_get(client, request)
        after = cpu_seconds(pid)
        health_time = await timed_get(client, HEALTH)
        if n >= warm:
            case.page_times.append(page_time)
            case.api_times.append(api_time)
            case.health_times.append(health_time)
            case.page_cpu += between - before
            case.api_cpu += after - between


REFERENCE = re.compile(r'<(?:link[^>]*rel="stylesheet"[^>]*href|script[^>]*src)="([^"]+)"')


async def page_weight(client: httpx.AsyncClient, fixture: Fixture) -> list[tuple[str, int, int]]:
    """The "My learning" HTML and each CSS/JS it references: (path, bytes, gzip -6 bytes)."""
    headers = {"Host": fixture.host, "Accept": BROWSER, "Cookie": f"lms_session={fixture.learner}"}
    home = await client.get("/", headers=headers)
    if "Bench Learner" not in home.text and "Continue" not in home.text:
        raise RuntimeError("the home page is not the signed-in learner's")
    parts = [("/ (HTML)", home.content)]
    for ref in sorted(set(REFERENCE.findall(home.text))):
        if ref.startswith(("http://", "https://", "//")):
            raise RuntimeError(f"a third-party asset is referenced: {ref}")
        asset = await client.get(ref, headers={"Host": fixture.host})
        if asset.status_code != 200:
            raise RuntimeError(f"GET {ref}: {asset.status_code}")
        parts.append((ref, asset.content))
    return [(path, len(body), len(gzip.compress(body, compresslevel=6))) for path, body in parts]


async def matched_share(client: httpx.AsyncClient, case: PageCase, courses: int) -> str:
    """How much of the catalogue the measured searches match: the statement ranks and counts all of it."""
    totals = []
    for n in range(200):
        path, headers = case.requests(n)[1][0]
        totals.append(int((await client.get(path, headers=headers)).json()["total"]))
    median = sorted(totals)[len(totals) // 2]
    return f"the searches match a median {median:,} of the {courses:,} courses ({100 * median / courses:.0f}%)"


def owner_dsn(settings: Settings) -> str:
    return with_credentials(settings.database_url or "", "lms_owner", settings.database_role_password)


async def prepare(port: int, fixture: Fixture, enrolments: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        await build_enrolled_courses(client, fixture, enrolments)


async def run(
    port: int, pid: int, fixture: Fixture, args: argparse.Namespace
) -> tuple[list[PageCase], list[tuple[str, int, int]]]:
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    measured = [case for case in cases(fixture) if not wanted or case.label in wanted]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for case in measured:
            await measure(client, pid, case, args.warm, args.renders)
            if case.label == "catalogue":
                case.note = await matched_share(client, case, args.courses)
        return measured, await page_weight(client, fixture)


def profiled(
    pid: int, path: str, work: Callable[[], tuple[list[PageCase], list[tuple[str, int, int]]]]
) -> tuple[list[PageCase], list[tuple[str, int, int]]]:
    """py-spy (raw collapsed stacks) over the server while `work` runs."""
    py_spy = str(Path(sys.executable).parent / "py-spy")
    command = [py_spy, "record", "--pid", str(pid), "-o", path, "--rate", "250", "--format", "raw"]
    profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    try:
        return work()
    finally:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(60)


def ms(values: list[float], pct: float) -> float:
    return 1000 * percentile(values, pct)


def report(
    args: argparse.Namespace, measured: list[PageCase], weight: list[tuple[str, int, int]], loads: tuple[float, float]
) -> bool:
    print(
        f"HTML pages against their JSON API calls: {args.courses:,} courses, "
        f"a learner with {args.enrolments} enrolments; "
        f"one uvicorn process, one client on loopback, {args.renders:,} renders per page after {args.warm} warm-up"
    )
    print(f"  {'page':<14}{'p50':>8}{'p95':>8}   {'API counterpart':<32}{'p50':>8}{'p95':>8}{'p50 x':>7}{'p95 x':>7}")
    passed = True
    for case in measured:
        p50, p95 = ms(case.page_times, 50), ms(case.page_times, 95)
        a50, a95 = ms(case.api_times, 50), ms(case.api_times, 95)
        ok: bool = p95 < args.target_p95_ms and p95 / a95 <= args.target_ratio
        passed &= ok
        print(
            f"  {case.label:<14}{p50:8.1f}{p95:8.1f}   {case.api_label:<32}{a50:8.1f}{a95:8.1f}"
            f"{p50 / a50:7.2f}{p95 / a95:7.2f}  {'meets' if ok else 'misses'}"
        )
    health = [t for case in measured for t in case.health_times]
    h50, h95 = ms(health, 50), ms(health, 95)
    print(f"  /health in the same rounds: p50 {h50:.1f} ms, p95 {h95:.1f} ms; each page's p95 as a multiple of it:")
    for case in measured:
        print(f"    {case.label:<26}{ms(case.page_times, 95) / h95:8.1f} x")
    print(f"  server CPU per render (ms)  {'page':>8}{'API':>8}{'ratio':>7}")
    for case in measured:
        page_cpu, api_cpu = 1000 * case.page_cpu / args.renders, 1000 * case.api_cpu / args.renders
        print(f"    {case.label:<26}{page_cpu:8.1f}{api_cpu:8.1f}{page_cpu / max(api_cpu, 1e-9):7.2f}")
    for case in measured:
        if case.note:
            print(f"  {case.label}: {case.note}")
    print(f"  (ms; targets: page p95 < {args.target_p95_ms:.0f} ms and p95 ratio <= {args.target_ratio})")
    print("  page weight of My learning on first load (gzip -6 per file):")
    for path, raw, packed in weight:
        print(f"    {path:<48}{raw / 1024:8.1f} KB{packed / 1024:8.1f} KB gzipped")
    total = sum(packed for _, _, packed in weight) / 1024
    heavy: bool = total < args.target_weight_kb
    passed &= heavy
    print(
        f"    {'total':<48}{sum(raw for _, raw, _ in weight) / 1024:8.1f} KB{total:8.1f} KB gzipped  "
        f"{'meets' if heavy else 'misses'} < {args.target_weight_kb:.0f} KB"
    )
    print(f"  machine load average {loads[0]:.1f} before, {loads[1]:.1f} after, on {os.cpu_count()} cores")
    print("  result " + ("PASS" if passed else "FAIL"))
    return passed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with bench_settings("lms_bench_pages") as settings:
        migrate(settings)
        settings = replace(settings, public_base_domain=BASE_DOMAIN)
        fixture = asyncio.run(arrange(settings, args.courses - args.enrolments))
        port = free_port()
        with api_server(settings, port) as pid:
            asyncio.run(prepare(port, fixture, args.enrolments))
            vary_progress(owner_dsn(settings), fixture)
            load_before = os.getloadavg()[0]

            def work() -> tuple[list[PageCase], list[tuple[str, int, int]]]:
                return asyncio.run(run(port, pid, fixture, args))

            measured, weight = profiled(pid, args.profile, work) if args.profile else work()
            load_after = os.getloadavg()[0]
    return 0 if report(args, measured, weight, (load_before, load_after)) else 1


if __name__ == "__main__":
    sys.exit(main())
