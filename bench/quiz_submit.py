"""Exam-deadline burst: 200 learners submit a 20-question quiz while 1,000 learners send progress heartbeats.

The API runs as a real server (uvicorn, `--server-workers` processes) on a fresh database; this
process is the load generator. Two timed rounds, each with its own 200 learners and attempts:
  baseline  the 200 submissions alone
  loaded    the same burst while 1,000 other learners send a video heartbeat every `--beat-every` s
Submissions arrive uniformly at random within `--window` seconds (default 10: the last moments
before a due time); `--window 0` sends all 200 at the same instant. Heartbeats default to one per
learner every 30 s (a video player's progress ping), about 33 requests/s from 1,000 learners.
Prints submissions/s, p50/p95/p99 latency, errors, and the loaded/baseline ratios. Exit status 0
when there were no errors and loaded p95 met `--target-p95-ms`.

Run: `.venv/bin/python bench/quiz_submit.py` (DATABASE_URL/REDIS_URL of running servers, or an
embedded PostgreSQL and Redis as `lms` starts them). The database it creates is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import create_database
from lms.db.migrate import migrate
from lms.db.scratch import scratch_database
from lms.identity.models import User
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.tokens import issue_access_token
from lms.runtime.embedded import EmbeddedServices, start_embedded
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin

BASE_DOMAIN = "bench.test"
QUESTIONS_IN_BANK = 50
QUESTIONS_PER_QUIZ = 20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submitters", type=int, default=200)
    parser.add_argument("--heartbeat-learners", type=int, default=1_000)
    parser.add_argument("--beat-every", type=float, default=30.0, help="seconds between one learner's heartbeats")
    parser.add_argument("--window", type=float, default=10.0, help="seconds over which the submissions arrive")
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--target-p95-ms", type=float, default=150.0)
    parser.add_argument("--seed", type=int, default=20261121)
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_server(settings: Settings, workers: int) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        PUBLIC_BASE_DOMAIN=BASE_DOMAIN,
        CELERY_QUEUE=settings.celery_queue,
        SECRET_KEY=settings.secret_key,
        LMS_DATA_DIR=str(settings.data_dir),
        LOG_LEVEL="WARNING",
    )
    command = [
        sys.executable, "-m", "uvicorn", "lms.app:create_app", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise RuntimeError("the API server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass
class World:
    host: str
    author: dict[str, str]
    course_id: str = ""
    video_lesson: str = ""
    quiz_id: str = ""
    learners: list[dict[str, str]] = field(default_factory=list)
    answer_key: dict[str, Any] = field(default_factory=dict)


def question(n: int) -> dict[str, Any]:
    """A mix of the seven types (the bench grades every one of them)."""
    kind = n % 7
    options = [{"id": f"o{i}", "text": f"Option {i}"} for i in range(4)]
    if kind == 0:
        return {"type": "single_choice", "prompt": f"Q{n}", "options": options, "correct": "o1"}
    if kind == 1:
        return {"type": "multiple_choice", "prompt": f"Q{n}", "options": options, "correct": ["o0", "o2"],
                "scoring": "partial"}  # fmt: skip
    if kind == 2:
        return {"type": "true_false", "prompt": f"Q{n}", "correct": True}
    if kind == 3:
        return {"type": "short_answer", "prompt": f"Q{n}", "accepted": ["least privilege"]}
    if kind == 4:
        return {"type": "numeric", "prompt": f"Q{n}", "answer": 42.0, "tolerance": 0.5}
    if kind == 5:
        return {"type": "ordering", "prompt": f"Q{n}", "items": options}
    prompts = [{"id": f"p{i}", "text": f"P{i}", "match": f"o{i}"} for i in range(4)]
    return {"type": "matching", "prompt": f"Q{n}", "prompts": prompts, "choices": options}


def answer_for(view: dict[str, Any], rng: random.Random) -> Any:
    """A plausible answer (right or wrong) in the shape of the question shown."""
    kind = view["type"]
    if kind == "single_choice":
        return rng.choice(view["options"])["id"]
    if kind == "multiple_choice":
        return [o["id"] for o in view["options"] if rng.random() < 0.5]
    if kind == "true_false":
        return rng.random() < 0.7
    if kind == "short_answer":
        return rng.choice(["Least  Privilege", "need to know"])
    if kind == "numeric":
        return rng.choice([42.2, 40.0])
    if kind == "ordering":
        return [o["id"] for o in view["items"]]
    return {p["id"]: rng.choice(view["choices"])["id"] for p in view["prompts"]}


async def check(response: httpx.Response, *ok: int) -> dict[str, Any]:
    if response.status_code not in ok:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response.json()  # type: ignore[no-any-return]


async def build_world(settings: Settings, base_url: str, learners: int) -> World:
    """A tenant, an instructor, a published course with a video and a quiz lesson, and enrolled learners."""
    database = create_database(settings)
    try:
        async with database.operator_sessions() as session, session.begin():
            admin = TenantAdmin(session, Actor(name="bench"), BASE_DOMAIN)
            tenant = await admin.create(f"bench-{uuid.uuid4().hex[:6]}", "Bench", Plan.TEAM, learners + 10, None)
        keys = KeyRing(database.app_sessions, settings.secret_key)
        async with tenant_session(database.app_sessions, tenant.id) as session:
            author_user = User(tenant_id=tenant.id, email="author@bench.test", display_name="Author",
                               roles=["instructor"])  # fmt: skip
            users = [
                User(tenant_id=tenant.id, email=f"l{i}@bench.test", display_name=f"Learner {i}", roles=["learner"])
                for i in range(learners)
            ]
            session.add_all([author_user, *users])
            await session.flush()
            ids = [(u.id, u.tenant_id, list(u.roles)) for u in users]
            author_ids = (author_user.id, author_user.tenant_id, list(author_user.roles))
        lifetime = 3600
        author = {"Authorization": f"Bearer {await issue_access_token(keys, *author_ids, lifetime)}"}
        tokens = [{"Authorization": f"Bearer {await issue_access_token(keys, *i, lifetime)}"} for i in ids]
    finally:
        await database.dispose()
    world = World(host=f"{tenant.slug}.{BASE_DOMAIN}", author=author, learners=tokens)
    # Setup is untimed; bulk enrolment of 1,000 learners may take minutes on a busy machine.
    async with httpx.AsyncClient(base_url=base_url, headers={"host": world.host}, timeout=600) as client:
        course = await check(
            await client.post("/api/v1/courses", json={"title": "Security", "slug": "security"}, headers=author), 201
        )
        world.course_id = course["id"]
        module = await check(
            await client.post(f"/api/v1/courses/{course['id']}/modules", json={"title": "M"}, headers=author), 201
        )
        lessons = f"/api/v1/courses/{course['id']}/modules/{module['id']}/lessons"
        video = await check(
            await client.post(
                lessons, json={"title": "Video", "type": "video", "duration_seconds": 600}, headers=author
            ),
            201,
        )
        quiz_lesson = await check(
            await client.post(lessons, json={"title": "Exam", "type": "quiz"}, headers=author), 201
        )
        world.video_lesson = video["id"]
        await check(await client.post(f"/api/v1/courses/{course['id']}/publish", json={}, headers=author), 200)
        bank = await check(
            await client.post(
                "/api/v1/question-banks", json={"course_id": course["id"], "title": "Exam bank"}, headers=author
            ),
            201,
        )
        for n in range(QUESTIONS_IN_BANK):
            await check(
                await client.post(
                    f"/api/v1/question-banks/{bank['id']}/questions", json={"payload": question(n)}, headers=author
                ),
                201,
            )
        quiz = await check(
            await client.post(
                "/api/v1/quizzes",
                json={
                    "lesson_id": quiz_lesson["id"],
                    "title": "Final exam",
                    "pools": [{"bank_id": bank["id"], "count": QUESTIONS_PER_QUIZ}],
                    "time_limit_seconds": 3600,
                    "pass_pct": 60,
                },
                headers=author,
            ),
            201,
        )
        world.quiz_id = quiz["id"]
        user_ids = [str(i[0]) for i in ids]
        for start in range(0, len(user_ids), 1000):
            await check(
                await client.post(
                    "/api/v1/enrollments/bulk",
                    json={"course_id": course["id"], "user_ids": user_ids[start : start + 1000]},
                    headers=author,
                ),
                200,
            )
    return world


@dataclass
class Round:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    heartbeats: int = 0
    heartbeat_errors: int = 0
    heartbeat_latencies: list[float] = field(default_factory=list)


async def prepare_attempts(
    client: httpx.AsyncClient, world: World, learners: list[dict[str, str]], rng: random.Random
) -> list[tuple[dict[str, str], str, dict[str, Any]]]:
    """Untimed: each submitter starts an attempt and works out answers (as they would over the exam)."""
    prepared = []
    semaphore = asyncio.Semaphore(20)

    async def one(token: dict[str, str]) -> None:
        async with semaphore:
            attempt = await check(await client.post(f"/api/v1/quizzes/{world.quiz_id}/attempts", headers=token), 201)
            answers = {q["question_id"]: answer_for(q["question"], rng) for q in attempt["questions"]}
            prepared.append((token, attempt["id"], answers))

    await asyncio.gather(*(one(t) for t in learners))
    return prepared


async def submit_burst(
    client: httpx.AsyncClient,
    prepared: list[tuple[dict[str, str], str, dict[str, Any]]],
    window: float,
    rng: random.Random,
    result: Round,
) -> None:
    async def one(token: dict[str, str], attempt_id: str, answers: dict[str, Any], delay: float) -> None:
        await asyncio.sleep(delay)
        started = time.perf_counter()
        try:
            response = await client.post(
                f"/api/v1/quiz-attempts/{attempt_id}/submit", json={"answers": answers}, headers=token
            )
            result.latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                result.errors.append(f"{response.status_code} {response.text[:200]}")
        except httpx.HTTPError as exc:
            result.errors.append(repr(exc))

    delays = [rng.uniform(0, window) if window > 0 else 0.0 for _ in prepared]
    started = time.perf_counter()
    await asyncio.gather(*(one(t, a, ans, d) for (t, a, ans), d in zip(prepared, delays, strict=True)))
    result.elapsed = time.perf_counter() - started


async def heartbeats(
    client: httpx.AsyncClient, world: World, learners: list[dict[str, str]], every: float, stop: asyncio.Event,
    result: Round,
) -> None:  # fmt: skip
    async def learner(index: int, token: dict[str, str]) -> None:
        position = 0.0
        await asyncio.sleep(every * index / len(learners))  # spread evenly over the interval
        while not stop.is_set():
            position += every
            event = {
                "type": "video_heartbeat",
                "client_event_id": uuid.uuid4().hex,
                "lesson_id": world.video_lesson,
                "course_id": world.course_id,
                "occurred_at": datetime.now(UTC).isoformat(),
                "position": position,
                "watched": [[max(0.0, position - every), position]],
            }
            started = time.perf_counter()
            try:
                response = await client.post("/api/v1/progress/events", json={"events": [event]}, headers=token)
                result.heartbeat_latencies.append(time.perf_counter() - started)
                result.heartbeats += 1
                if response.status_code != 202:
                    result.heartbeat_errors += 1
            except httpx.HTTPError:
                result.heartbeat_errors += 1
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)

    await asyncio.gather(*(learner(i, t) for i, t in enumerate(learners)))


async def run_rounds(base_url: str, world: World, args: argparse.Namespace) -> list[Round]:
    rng = random.Random(args.seed)
    n = args.submitters
    baseline_learners = world.learners[:n]
    loaded_learners = world.learners[n : 2 * n]
    beating = world.learners[2 * n : 2 * n + args.heartbeat_learners]
    limits = httpx.Limits(max_connections=n + args.heartbeat_learners, max_keepalive_connections=n + 200)
    async with httpx.AsyncClient(base_url=base_url, headers={"host": world.host}, timeout=60, limits=limits) as client:
        baseline_attempts = await prepare_attempts(client, world, baseline_learners, rng)
        loaded_attempts = await prepare_attempts(client, world, loaded_learners, rng)
        baseline = Round("baseline (submissions only)")
        await submit_burst(client, baseline_attempts, args.window, rng, baseline)
        loaded = Round(f"loaded (+{len(beating)} learners' heartbeats)")
        stop = asyncio.Event()
        beats = asyncio.create_task(heartbeats(client, world, beating, args.beat_every, stop, loaded))
        await asyncio.sleep(args.beat_every)  # heartbeats at full rate before the burst
        before = loaded.heartbeats
        await submit_burst(client, loaded_attempts, args.window, rng, loaded)
        during = loaded.heartbeats - before
        stop.set()
        await beats
        loaded.heartbeats = during
    return [baseline, loaded]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] * 1000


def report(rounds: list[Round], args: argparse.Namespace, setup_seconds: float) -> bool:
    print(
        f"quiz submit burst: {args.submitters} learners x {QUESTIONS_PER_QUIZ} questions "
        f"(drawn from {QUESTIONS_IN_BANK}), arrivals over {args.window:g} s, "
        f"{args.server_workers} server worker(s), {os.cpu_count()} CPUs; setup {setup_seconds:.1f} s"
    )
    print(f"{'round':<40} {'subm/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}")
    for r in rounds:
        rate = len(r.latencies) / r.elapsed if r.elapsed else 0.0
        print(
            f"{r.name:<40} {rate:>8.1f} {pct(r.latencies, 50):>8.1f} {pct(r.latencies, 95):>8.1f} "
            f"{pct(r.latencies, 99):>8.1f} {max(r.latencies, default=0) * 1000:>8.1f} {len(r.errors):>7}"
        )
    baseline, loaded = rounds
    beat_rate = loaded.heartbeats / loaded.elapsed if loaded.elapsed else 0.0
    print(
        f"heartbeats during the loaded burst: {loaded.heartbeats} ({beat_rate:.0f}/s), "
        f"p50 {pct(loaded.heartbeat_latencies, 50):.1f} ms, p95 {pct(loaded.heartbeat_latencies, 95):.1f} ms, "
        f"errors {loaded.heartbeat_errors}"
    )
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        print(f"loaded/baseline {name}: {pct(loaded.latencies, q) / pct(baseline.latencies, q):.2f}x")
    for r in rounds:
        for error in r.errors[:5]:
            print(f"  error ({r.name}): {error}")
    errors = sum(len(r.errors) for r in rounds) + loaded.heartbeat_errors
    met = pct(loaded.latencies, 95) < args.target_p95_ms
    print(f"errors: {errors}; target p95 < {args.target_p95_ms:g} ms under load: {'met' if met else 'NOT met'}")
    return errors == 0 and met


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_env()
    services = EmbeddedServices()
    if not settings.database_url or not settings.redis_url:
        settings, services = start_embedded(settings)
        print(f"embedded services under {settings.data_dir.resolve()}", file=sys.stderr)
    settings = replace(settings, public_base_domain=BASE_DOMAIN, celery_queue=f"bench-{uuid.uuid4().hex[:8]}")
    try:
        with scratch_database(settings, prefix="lms_bench") as db_settings:
            started = time.monotonic()
            migrate(db_settings)
            with api_server(db_settings, args.server_workers) as base_url:
                learners = 2 * args.submitters + args.heartbeat_learners
                world = asyncio.run(build_world(db_settings, base_url, learners))
                setup = time.monotonic() - started
                rounds = asyncio.run(run_rounds(base_url, world, args))
        return 0 if report(rounds, args, setup) else 1
    finally:
        services.stop()


if __name__ == "__main__":
    sys.exit(main())
