"""API CPU per request of the quiz routes of an exam: start an attempt, autosave, submit (and a progress
heartbeat for scale).

One real API server (uvicorn, `--server-workers` processes) on a fresh database, the world of
bench/quiz_submit.py (a 50-question bank, a 20-question quiz). Each phase sends one request per
learner, `--concurrency` at a time, on keep-alive connections (bench/raw_http.py, so the generator
takes little of the shared cores); the API's CPU seconds over the phase divided by its requests is
the figure, beside PostgreSQL's and the latency percentiles. `--profile PATH` records the API with
py-spy (raw collapsed stacks) over the timed phases.

Run: `flock /work/wt/bench.lock .venv/bin/python bench/quiz_routes.py` (DATABASE_URL/REDIS_URL of
running servers, or embedded ones). The database it creates is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from quiz_submit import BASE_DOMAIN, World, answer_for, build_world
from raw_http import Answer, Connection
from support import bench_settings, free_port, named_processes_cpu_seconds, percentile, process_tree_cpu_seconds

from lms.config import Settings
from lms.db.migrate import migrate


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=200, help="per round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="each learner takes the quiz once per round")
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--profile", default="", help="write a py-spy raw profile of the API's timed phases here")
    parser.add_argument("--seed", type=int, default=20261130)
    return parser.parse_args(argv)


@contextmanager
def api_server(settings: Settings, workers: int) -> Iterator[tuple[int, int]]:
    """(port, pid of the uvicorn process tree's root)."""
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
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    api_cpu: float = 0.0
    db_cpu: float = 0.0
    # API CPU ms per request of each round (the machine's other load varies between rounds).
    rounds: list[float] = field(default_factory=list)

    def add(self, other: Phase) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.api_cpu += other.api_cpu
        self.db_cpu += other.db_cpu
        self.rounds.append(1000 * other.api_cpu / max(1, len(other.latencies)))


async def timed_phase(
    name: str,
    api_pid: int,
    connections: list[Connection],
    jobs: list[Callable[[Connection], Awaitable[Answer]]],
    ok: int,
) -> tuple[Phase, list[Answer]]:
    phase = Phase(name)
    answers: list[Answer] = []
    queue = list(enumerate(jobs))

    async def run(connection: Connection) -> None:
        while queue:
            _, job = queue.pop()
            started = time.perf_counter()
            answer = await job(connection)
            phase.latencies.append(time.perf_counter() - started)
            if answer.status_code != ok:
                phase.errors.append(f"{answer.status_code} {answer.text[:200]}")
            answers.append(answer)

    api, db = process_tree_cpu_seconds(api_pid), named_processes_cpu_seconds("postgres")
    await asyncio.gather(*(run(c) for c in connections))
    phase.api_cpu = process_tree_cpu_seconds(api_pid) - api
    phase.db_cpu = named_processes_cpu_seconds("postgres") - db
    return phase, answers


async def run_phases(port: int, api_pid: int, world: World, args: argparse.Namespace) -> list[Phase]:
    rng = random.Random(args.seed)
    connections = [Connection(port, world.host) for _ in range(args.concurrency)]
    attempts: dict[int, dict[str, Any]] = {}
    names = ("start (draw 20 of 50)", "autosave (5 answers)", "submit (20 answers)", "progress heartbeat")
    phases = {name: Phase(name) for name in names}

    def start(index: int, token: dict[str, str]) -> Callable[[Connection], Awaitable[Answer]]:
        async def job(connection: Connection) -> Answer:
            answer = await connection.post(f"/api/v1/quizzes/{world.quiz_id}/attempts", token)
            if answer.status_code == 201:
                attempts[index] = answer.json()
            return answer

        return job

    def request(method: str, path: str, token: dict[str, str], body: Any) -> Callable[[Connection], Awaitable[Answer]]:
        async def job(connection: Connection) -> Answer:
            return await connection.request(method, path, token, _json(body), "application/json")

        return job

    async def timed(name: str, jobs: list[Callable[[Connection], Awaitable[Answer]]], ok: int) -> None:
        phase, _ = await timed_phase(name, api_pid, connections, jobs, ok)
        phases[name].add(phase)

    try:
        # Untimed warm-up: every process's caches (tenant, plans, compiled statements) as in a running API.
        warm = world.learners[args.rounds * args.learners :]
        for token in warm:
            started = await connections[0].post(f"/api/v1/quizzes/{world.quiz_id}/attempts", token)
            attempt = started.json()
            answers = {q["question_id"]: answer_for(q["question"], rng) for q in attempt["questions"]}
            url = f"/api/v1/quiz-attempts/{attempt['id']}"
            await connections[0].put(f"{url}/answers", token, {"answers": dict(list(answers.items())[:5])})
            await connections[0].post(f"{url}/submit", token, {"answers": answers})
        for round_ in range(args.rounds):
            # Learners of their own per round, each starting a first attempt (as in an exam).
            learners = world.learners[round_ * args.learners : (round_ + 1) * args.learners]
            attempts.clear()
            await timed(names[0], [start(i, t) for i, t in enumerate(learners)], 201)
            finals = {
                i: {q["question_id"]: answer_for(q["question"], rng) for q in a["questions"]}
                for i, a in attempts.items()
            }
            path = "/api/v1/quiz-attempts/{}/"
            partial = {i: dict(list(answers.items())[:5]) for i, answers in finals.items()}
            saves = [
                request("PUT", path.format(a["id"]) + "answers", learners[i], {"answers": partial[i]})
                for i, a in attempts.items()
            ]
            await timed(names[1], saves, 200)
            submits = [
                request("POST", path.format(a["id"]) + "submit", learners[i], {"answers": finals[i]})
                for i, a in attempts.items()
            ]
            await timed(names[2], submits, 200)
            beats = [request("POST", "/api/v1/progress/events", t, {"events": [_heartbeat(world)]}) for t in learners]
            await timed(names[3], beats, 202)
    finally:
        for connection in connections:
            connection.close()
    return list(phases.values())


def _heartbeat(world: World) -> dict[str, Any]:
    return {
        "type": "video_heartbeat",
        "client_event_id": uuid.uuid4().hex,
        "lesson_id": world.video_lesson,
        "course_id": world.course_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "position": 30.0,
        "watched": [[0.0, 30.0]],
    }


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":")).encode()


def report(phases: list[Phase], args: argparse.Namespace) -> bool:
    print(
        f"quiz routes: {args.learners} learners, {args.concurrency} at a time, "
        f"{args.server_workers} server worker(s), {os.cpu_count()} CPUs"
    )
    print(
        f"{'phase':<24} {'reqs':>5} {'API ms/req':>11} {'(per round)':>20} {'PG ms/req':>10} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'errors':>7}"
    )
    beat = phases[-1].api_cpu / max(1, len(phases[-1].latencies))
    for p in phases:
        n = max(1, len(p.latencies))
        print(
            f"{p.name:<24} {len(p.latencies):>5} {1000 * p.api_cpu / n:>11.2f} "
            f"{' '.join(f'{r:.1f}' for r in p.rounds):>20} {1000 * p.db_cpu / n:>10.2f} "
            f"{1000 * percentile(p.latencies, 50):>8.1f} {1000 * percentile(p.latencies, 95):>8.1f} "
            f"{len(p.errors):>7}   ({p.api_cpu / n / beat:.1f}x a heartbeat)"
        )
        for error in p.errors[:3]:
            print(f"  error: {error}")
    return not any(p.errors for p in phases)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with bench_settings("lms_bench") as settings:
        migrate(settings)
        with api_server(settings, args.server_workers) as (port, pid):
            learners = args.rounds * args.learners + 2 * args.concurrency
            world = asyncio.run(build_world(settings, f"http://127.0.0.1:{port}", learners))
            profiler = None
            if args.profile:
                py_spy = str(Path(sys.executable).parent / "py-spy")
                command = [py_spy, "record", "--subprocesses", "--pid", str(pid), "-o", args.profile,
                           "--rate", "200", "--format", "raw"]  # fmt: skip
                profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1.0)
            try:
                phases = asyncio.run(run_phases(port, pid, world, args))
            finally:
                if profiler is not None:
                    profiler.send_signal(2)
                    profiler.wait(timeout=60)
    return 0 if report(phases, args) else 1


if __name__ == "__main__":
    sys.exit(main())
