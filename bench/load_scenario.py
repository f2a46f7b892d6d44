"""The launch load test of the design documents, run from outside against a real API and Celery worker.

For `--seconds` (60) at once: 1,000 viewers, each starting its player within the first 10 s, reading
its resume position and then sending a heartbeat batch (two events) every 10 s as the shipped player
does; 200 quiz takers opening the quiz within the first 10 s, autosaving their answers every 2-5 s and
all submitting within 2 s (at 60 % of the run); 50 learners uploading a 5 MiB assignment file within
2 s (at 30 %); 20 browsers reading the catalogue search, the course list and a course page with a
second's pause. Each simulated user has one keep-alive connection (bench/raw_http.py). Afterwards:
every acknowledged heartbeat stored and folded, every acknowledged submit graded once, every
acknowledged file stored whole.

Prints each group's p50/p95/p99 and errors, the post-run checks, and the CPU of the API, the worker,
PostgreSQL and this generator (all on the same cores); `--timeline` adds requests, p95 and refusals per
5 s, `--profile FILE` a py-spy profile of the API during the run. Targets: no errors; heartbeat p99 <
100 ms; quiz submit p95 < 150 ms; upload p95 < 2 s; browse p95 < 200 ms. Exit status 0 when all are met.

Run: `.venv/bin/python bench/load_scenario.py [--processes 2] [--pool-size 10]` (DATABASE_URL and
REDIS_URL of running servers, or embedded ones). The database it creates is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quiz_submit import BASE_DOMAIN, World, answer_for, build_world, check
from raw_http import Answer, Connection, HTTPError
from support import bench_settings, free_port, named_processes_cpu_seconds, percentile, process_tree_cpu_seconds

from lms.config import PROJECT_ROOT, Settings, with_credentials
from lms.db.migrate import migrate
from lms.lib.http_protocol import PROTOCOL_PATH

FILE_BYTES = 5 * 1024 * 1024


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--viewers", type=int, default=1_000)
    parser.add_argument("--quiz-takers", type=int, default=200)
    parser.add_argument("--uploaders", type=int, default=50)
    parser.add_argument("--browsers", type=int, default=20)
    parser.add_argument("--processes", type=int, default=1, help="API processes (1 = what `lms serve` runs)")
    parser.add_argument("--pool-size", type=int, default=10, help="DB_POOL_SIZE per process")
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--api-log", default="", help="write the API's request log (JSON lines, INFO) here")
    parser.add_argument("--timeline", action="store_true", help="print requests, p95 and refusals per 5 s")
    parser.add_argument("--profile", default="", help="write a py-spy raw profile of the API during the run here")
    return parser.parse_args(argv)


@dataclass
class Group:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    acknowledged: int = 0
    # (when it was sent, on the monotonic clock; latency; refused or failed) of every request.
    timeline: list[tuple[float, float, bool]] = field(default_factory=list)

    async def timed(self, call: Any, ok: tuple[int, ...]) -> Answer | None:
        sent, started = time.monotonic(), time.perf_counter()
        try:
            response: Answer = await call
        except HTTPError as exc:
            self.errors.append(repr(exc)[:120])
            self.timeline.append((sent, time.perf_counter() - started, True))
            return None
        self.latencies.append(time.perf_counter() - started)
        self.timeline.append((sent, self.latencies[-1], response.status_code not in ok))
        if response.status_code not in ok:
            self.errors.append(f"{response.status_code} {response.text[:120]}")
            return None
        self.acknowledged += 1
        return response


@dataclass
class Results:
    heartbeat: Group = field(default_factory=Group)
    start: Group = field(default_factory=Group)
    resume: Group = field(default_factory=Group)
    autosave: Group = field(default_factory=Group)
    submit: Group = field(default_factory=Group)
    upload: Group = field(default_factory=Group)
    browse: Group = field(default_factory=Group)
    heartbeat_events: int = 0
    began: float = 0.0
    # How late this generator's own event loop woke up (a starved generator inflates every latency).
    loop_lag: list[float] = field(default_factory=list)


def start_services(
    settings: Settings, args: argparse.Namespace, port: int, storage: Path
) -> list[subprocess.Popen[bytes]]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        CELERY_QUEUE=settings.celery_queue,
        PUBLIC_BASE_DOMAIN=BASE_DOMAIN,
        SECRET_KEY=settings.secret_key,
        STORAGE_URL=f"file://{storage}",
        DB_POOL_SIZE=str(args.pool_size),
        DATABASE_ROLE_PASSWORD=settings.database_role_password,
        LOG_LEVEL="WARNING",
        LOG_FORMAT="console",
    )
    api = [
        sys.executable, "-m", "uvicorn", "--factory", "lms.app:create_served_app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(args.processes), "--no-access-log", "--log-level", "warning",
        "--loop", "uvloop", "--http", PROTOCOL_PATH, "--timeout-keep-alive", "75",
    ]  # fmt: skip
    worker = [
        sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--queues", settings.celery_queue,
        "--concurrency", "2", "--loglevel", "WARNING", "--hostname", f"scenario-{uuid.uuid4().hex[:6]}@%h",
    ]  # fmt: skip
    if not args.api_log:
        return [subprocess.Popen(c, cwd=PROJECT_ROOT, env=env) for c in (api, worker)]
    # One JSON line per request (with its duration) from the API, for finding where latency comes from.
    log = open(args.api_log, "wb")  # noqa: SIM115 (open for the API's lifetime; closed with the process)
    api_process = subprocess.Popen(api, cwd=PROJECT_ROOT, env={**env, "LOG_LEVEL": "INFO", "LOG_FORMAT": "json"},
                                   stdout=log, stderr=log)  # fmt: skip
    return [api_process, subprocess.Popen(worker, cwd=PROJECT_ROOT, env=env)]


async def add_assignment(client: httpx.AsyncClient, world: World) -> str:
    """An assignment lesson in a new course version (learners are migrated onto it by enrolment)."""
    author = world.author
    course = await check(await client.get(f"/api/v1/courses/{world.course_id}", headers=author), 200)
    module_id = course["modules"][0]["id"]
    lesson = await check(
        await client.post(
            f"/api/v1/courses/{world.course_id}/modules/{module_id}/lessons",
            json={"title": "Report", "type": "assignment"},
            headers=author,
        ),
        201,
    )
    rubric = [{"id": "quality", "title": "Quality", "levels": [{"id": "ok", "title": "OK", "points": 5}]}]
    body = {"lesson_id": lesson["id"], "title": "Report", "rubric": rubric, "max_file_bytes": 2 * FILE_BYTES}
    assignment = await check(await client.post("/api/v1/assignments", json=body, headers=author), 201)
    return str(assignment["id"])


async def viewer(client: Connection, world: World, token: dict[str, str], r: Results, stop: float) -> None:
    await asyncio.sleep(random.uniform(0, 10))  # players started at different moments
    await r.resume.timed(client.get(f"/api/v1/progress/lessons/{world.video_lesson}/resume", token), (200,))
    position = 0.0
    while time.monotonic() < stop:
        events = []
        for _ in range(2):
            position += 5.0
            events.append(
                {
                    "type": "video_heartbeat",
                    "client_event_id": uuid.uuid4().hex,
                    "lesson_id": world.video_lesson,
                    "course_id": world.course_id,
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "position": position,
                    "watched": [[position - 5.0, position]],
                }
            )
        sent = await r.heartbeat.timed(client.post("/api/v1/progress/events", token, {"events": events}), (202,))
        if sent is not None:
            r.heartbeat_events += len(events)
        await asyncio.sleep(max(0.0, min(10.0, stop - time.monotonic())))


async def quiz_taker(
    client: Connection, world: World, token: dict[str, str], r: Results, submit_at: float, rng: random.Random
) -> None:
    await asyncio.sleep(rng.uniform(0, 10))  # learners open the quiz at different moments, as viewers do
    started = None
    for _ in range(20):  # a refused start is retried after Retry-After, as the quiz page does
        started = await r.start.timed(client.post(f"/api/v1/quizzes/{world.quiz_id}/attempts", token), (201,))
        if started is not None:
            break
        await asyncio.sleep(1.0)
    if started is None:
        return
    attempt = started.json()
    answers: dict[str, Any] = {}
    questions = attempt["questions"]
    while time.monotonic() < submit_at - 5:
        await asyncio.sleep(rng.uniform(2, 5))
        question = rng.choice(questions)
        answers[question["question_id"]] = answer_for(question["question"], rng)
        url = f"/api/v1/quiz-attempts/{attempt['id']}/answers"
        await r.autosave.timed(client.put(url, token, {"answers": answers}), (200,))
    await asyncio.sleep(max(0.0, submit_at - time.monotonic()) + rng.uniform(0, 2))
    final = {q["question_id"]: answer_for(q["question"], rng) for q in questions}
    url = f"/api/v1/quiz-attempts/{attempt['id']}/submit"
    await r.submit.timed(client.post(url, token, {"answers": final}), (200,))


async def uploader(
    client: Connection, assignment_id: str, token: dict[str, str], r: Results, at: float, payload: bytes
) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()) + random.uniform(0, 2))
    url = f"/api/v1/assignments/{assignment_id}/submissions"
    upload = client.post_file(url, token, "files", "report.pdf", "application/pdf", payload)
    await r.upload.timed(upload, (200, 201))


async def browser(client: Connection, world: World, token: dict[str, str], r: Results, stop: float) -> None:
    pages = ["/api/v1/catalog/search?q=security", "/api/v1/courses?limit=20", f"/api/v1/courses/{world.course_id}"]
    n = 0
    while time.monotonic() < stop:
        await r.browse.timed(client.get(pages[n % len(pages)], token), (200,))
        n += 1
        await asyncio.sleep(1.0)


async def watch_loop(r: Results, stop: float) -> None:
    while time.monotonic() < stop:
        asked = time.perf_counter()
        await asyncio.sleep(0.1)
        r.loop_lag.append(time.perf_counter() - asked - 0.1)


async def run(
    base_url: str, world: World, assignment_id: str, args: argparse.Namespace, pids: tuple[int, int]
) -> tuple[Results, dict[str, float]]:
    rng = random.Random(args.seed)
    r = Results()
    learners = world.learners
    viewers = learners[: args.viewers]
    takers = learners[: args.quiz_takers]  # a viewer may also take the quiz in another tab
    uploaders = learners[args.quiz_takers : args.quiz_takers + args.uploaders]
    browsers = learners[-args.browsers :]
    payload = b"%PDF-1.4\n" + os.urandom(FILE_BYTES - 9)
    # One keep-alive connection per simulated user, as each browser tab has its own, through a lean
    # client (bench/raw_http.py): httpx spent 1-3 ms of this generator's CPU per request, so under bursts
    # this event loop lagged by up to a second, which every latency here then included.
    port = urlsplit(base_url).port or 80
    users = len(viewers) + len(takers) + len(uploaders) + len(browsers)
    clients = iter([Connection(port, world.host) for _ in range(users)])
    try:
        profiler = _profiler(pids[0], args.profile) if args.profile else None
        before, wall = _cpu(pids), time.monotonic()
        r.began = wall
        stop = wall + args.seconds
        tasks = [viewer(next(clients), world, t, r, stop) for t in viewers]
        tasks += [quiz_taker(next(clients), world, t, r, wall + 0.6 * args.seconds, rng) for t in takers]
        at = wall + 0.3 * args.seconds
        tasks += [uploader(next(clients), assignment_id, t, r, at, payload) for t in uploaders]
        tasks += [browser(next(clients), world, t, r, stop) for t in browsers]
        tasks.append(watch_loop(r, stop))
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - wall
        shares = {name: (used - before[name]) / elapsed for name, used in _cpu(pids).items()}
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(120)
    finally:
        for connection in clients:
            connection.close()
    return r, shares


def _profiler(pid: int, path: str) -> subprocess.Popen[bytes]:
    """py-spy over the API's processes (collapsed stacks; summarise with bench/profile_breakdown.py)."""
    py_spy = str(Path(sys.executable).parent / "py-spy")
    command = [py_spy, "record", "--subprocesses", "--pid", str(pid), "-o", path, "--rate", "200", "--format", "raw"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _cpu(pids: tuple[int, int]) -> dict[str, float]:
    """CPU seconds so far of the API, the worker, PostgreSQL and this generator (all on the same cores)."""
    api, worker = pids
    return {
        "API": process_tree_cpu_seconds(api),
        "Celery worker": process_tree_cpu_seconds(worker),
        "PostgreSQL": named_processes_cpu_seconds("postgres"),
        "this generator": _self_cpu(),
    }


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def verify(owner_url: str, storage: Path, r: Results) -> list[str]:
    """Every acknowledged heartbeat folded, every submit graded once, every file stored whole."""
    conn = await asyncpg.connect(owner_url)
    try:
        deadline = time.monotonic() + 120
        stored = 0
        while time.monotonic() < deadline:
            stored = int(await conn.fetchval("select count(*) from progress_events"))
            if stored >= r.heartbeat_events:
                break
            await asyncio.sleep(1)
        graded = int(
            await conn.fetchval(
                "select count(*) from quiz_attempts where submitted_at is not null and score is not null"
            )
        )
        versions = await conn.fetch("select files from submission_versions")
    finally:
        await conn.close()
    files = [f for row in versions for f in _json(row["files"])]
    whole = sum(
        1 for f in files if (storage / f["key"]).is_file() and (storage / f["key"]).stat().st_size == FILE_BYTES
    )
    return [
        _line("heartbeat events stored and folded", stored, r.heartbeat_events),
        _line("quiz submits graded (once each)", graded, r.submit.acknowledged),
        _line("uploaded files stored whole", whole, r.upload.acknowledged),
    ]


def _json(value: Any) -> list[dict[str, Any]]:
    import json

    return list(json.loads(value) if isinstance(value, str) else value)


def _line(label: str, found: int, expected: int) -> str:
    return f"  {label:<40}{found:>7} of {expected:<7}{'ok' if found == expected else 'MISMATCH'}"


def print_timeline(r: Results, seconds: float, step: float = 5.0) -> None:
    """Per `step` seconds of the run (by when requests were sent): how many, their p95, how many failed."""
    rows = [t for name in ("heartbeat", "resume", "start", "autosave", "submit", "upload", "browse")
            for t in getattr(r, name).timeline]  # fmt: skip
    print("  timeline (by send time): requests, p95, refused or failed")
    for start in range(0, int(seconds), int(step)):
        bucket = [t for t in rows if start <= t[0] - r.began < start + step]
        p95 = percentile([t[1] for t in bucket], 95) * 1000
        print(
            f"    {start:3d}-{start + step:3.0f}s {len(bucket):6d}  p95 {p95:7.0f} ms  {sum(t[2] for t in bucket):5d}"
        )


TARGETS = {"heartbeat": ("p99", 0.100), "submit": ("p95", 0.150), "upload": ("p95", 2.0), "browse": ("p95", 0.200)}


def report(r: Results, args: argparse.Namespace, shares: dict[str, float], checks: list[str]) -> bool:
    print(
        f"load scenario: {args.seconds:.0f}s, API {args.processes} process(es) with DB_POOL_SIZE={args.pool_size}, "
        f"one Celery worker; {args.viewers} viewers, {args.quiz_takers} quiz takers, {args.uploaders} uploads "
        f"of {FILE_BYTES // 2**20} MiB, {args.browsers} browsers"
    )
    passed = True
    for name in ("heartbeat", "resume", "start", "autosave", "submit", "upload", "browse"):
        g: Group = getattr(r, name)
        p50, p95, p99 = (percentile(g.latencies, q) * 1000 for q in (50, 95, 99))
        verdict = ""
        if name in TARGETS:
            which, limit = TARGETS[name]
            value = {"p95": p95, "p99": p99}[which] / 1000
            ok = value < limit and not g.errors
            passed &= ok
            verdict = f"  target {which} < {limit * 1000:.0f} ms: {'met' if ok else 'MISSED'}"
        print(
            f"  {name:<10}{len(g.latencies):>7} answers  p50 {p50:7.0f} ms  p95 {p95:7.0f} ms  p99 {p99:7.0f} ms  "
            f"errors {len(g.errors)}{verdict}"
        )
        for error in sorted(set(g.errors))[:3]:
            print(f"      e.g. {error}")
    cores = ", ".join(f"{name} {share:.2f}" for name, share in shares.items())
    print(f"  CPU in cores (of {os.cpu_count()}, one machine): {cores}")
    lag = [percentile(r.loop_lag, q) * 1000 for q in (50, 99)]
    print(f"  generator event-loop lag: p50 {lag[0]:.0f} ms, p99 {lag[1]:.0f} ms (added to every latency above)")
    if args.timeline:
        print_timeline(r, args.seconds)
    for line in checks:
        print(line)
        passed &= "MISMATCH" not in line
    return passed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with bench_settings("lms_bench_scenario") as settings, tempfile.TemporaryDirectory() as folder:
        migrate(settings)
        storage = Path(folder) / "storage"
        port = free_port()
        api, worker = start_services(settings, args, port, storage)
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_for(base_url)
            learners = max(args.viewers, args.quiz_takers + args.uploaders + args.browsers)
            world = asyncio.run(build_world(settings, base_url, learners))
            assignment_id = asyncio.run(_assignment(base_url, world))
            results, shares = asyncio.run(run(base_url, world, assignment_id, args, (api.pid, worker.pid)))
            owner_url = with_credentials(settings.database_url or "", "lms_owner", settings.database_role_password)
            checks = asyncio.run(verify(owner_url, storage, results))
        finally:
            for process in (api, worker):
                process.terminate()
                with suppress(subprocess.TimeoutExpired):
                    process.wait(30)
    return 0 if report(results, args, shares, checks) else 1


async def _assignment(base_url: str, world: World) -> str:
    async with httpx.AsyncClient(base_url=base_url, headers={"host": world.host}, timeout=60) as client:
        return await add_assignment(client, world)


def _wait_for(base_url: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError("the API did not start")


if __name__ == "__main__":
    sys.exit(main())
