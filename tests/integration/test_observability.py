"""Every process logs JSON lines at LOG_LEVEL, idle periodic ticks log nothing, the worker serves
its job metrics with queue depth and fold lag, and traces carry the tenant when an OTLP endpoint is set."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from lms.config import PROJECT_ROOT, Settings
from lms.learning.services.ingest import StreamKeys
from lms.learning.tasks import FOLD_TASK
from lms.lib.metrics import BacklogCollector, StreamGroup
from tests.support import worker_env
from workers.leases import sync_redis
from workers.observability import QuietIdleTicks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def json_lines(path: Path) -> list[dict[str, object]]:
    """Every non-empty line of the file, parsed: fails naming the first line that is not JSON."""
    lines = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"{path.name}:{number} is not JSON: {line[:300]}") from None
    return lines


def wait_until(check: object, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=out, start_new_session=True)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return str(answer.read().decode())


def sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        rest = line[len(name) :]
        if rest[:1] not in ("{", " "):
            continue
        if all(f'{key}="{value}"' in rest for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_worker_and_beat_log_json_stay_quiet_when_idle_and_serve_job_metrics(
    settings: Settings, tmp_path: Path
) -> None:
    queue = f"obs-{uuid.uuid4().hex[:8]}"
    metrics_port = free_port()
    env = {
        **worker_env(replace(settings, celery_queue=queue, data_dir=tmp_path)),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "WORKER_METRICS_PORT": str(metrics_port),
    }
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = [sys.executable, "-m", "workers", "-A", "workers.app", "worker", "--queues", queue]
    worker += ["--concurrency", "1", "--loglevel", "INFO", "--hostname", f"obs-{queue}@%h"]
    beat = [sys.executable, "-m", "workers", "-A", "workers.app", "-q", "beat", "--loglevel", "INFO"]
    beat += ["--schedule", str(tmp_path / "beat-schedule")]
    with running(worker, env, worker_log), running(beat, env, beat_log):
        wait_until(lambda: " ready." in worker_log.read_text(errors="replace"), what="the worker")
        # Three safety-net ticks of the fold, each finding nothing to fold.
        wait_until(
            lambda: (sample(scrape(metrics_port), "lms_task_duration_seconds_count", task=FOLD_TASK) or 0) >= 3,
            timeout=40,
            what="three fold ticks",
        )
        metrics = scrape(metrics_port)
    assert sample(metrics, "lms_queue_depth", queue=queue) == 0.0
    assert sample(metrics, "lms_fold_lag_seconds") == 0.0
    assert sample(metrics, "lms_task_failures_total", task=FOLD_TASK) in (None, 0.0)

    worker_lines, beat_lines = json_lines(worker_log), json_lines(beat_log)
    assert worker_lines
    assert beat_lines
    assert {line["process"] for line in worker_lines} == {"worker"}
    assert {line["process"] for line in beat_lines} == {"beat"}
    assert all({"event", "level", "timestamp"} <= line.keys() for line in worker_lines + beat_lines)
    # Idle ticks leave no line in either process.
    assert not [line for line in worker_lines + beat_lines if FOLD_TASK in str(line["event"])]
    assert any("ready" in str(line["event"]) for line in worker_lines)


def test_worker_log_level_is_honoured(settings: Settings, tmp_path: Path) -> None:
    queue = f"obs-{uuid.uuid4().hex[:8]}"
    env = {
        **worker_env(replace(settings, celery_queue=queue, data_dir=tmp_path)),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        "WORKER_METRICS_PORT": str(free_port()),
    }
    command = [sys.executable, "-m", "lms", "worker", "--concurrency", "1"]
    log = tmp_path / "worker.log"
    with running(command, env, log) as process:
        # At WARNING the "ready" line is not written: wait for the pool instead.
        time.sleep(8)
        assert process.poll() is None, log.read_text()[-2000:]
    lines = json_lines(log)
    assert all(line["level"] in ("warning", "error", "critical") for line in lines), lines[:5]


def test_api_logs_json_lines(settings: Settings, tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    env = {
        **worker_env(settings),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "METRICS_PORT": str(metrics_port),
    }
    log = tmp_path / "api.log"
    command = [sys.executable, "-m", "lms", "api", "--port", str(port)]
    with running(command, env, log) as process:

        def answers() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                assert process.poll() is None, log.read_text()[-2000:]
                return False

        wait_until(answers, what="the API")
        assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200
        assert "lms_requests_total" in scrape(metrics_port)
    lines = json_lines(log)
    requests = [line for line in lines if line["event"] == "request"]
    assert {line["path"] for line in requests} >= {"/health", "/ready"}
    assert {line["process"] for line in lines} == {"api"}


def test_idle_tick_filter_keeps_work_and_other_tasks() -> None:
    import logging

    quiet = QuietIdleTicks()

    def record(name: str, msg: str, args: object) -> logging.LogRecord:
        made = logging.LogRecord(name, logging.INFO, __file__, 1, msg, None, None)
        made.args = args  # type: ignore[assignment]
        return made

    success = "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s"
    assert not quiet.filter(record("celery.beat", "Scheduler: Sending due task %s (%s)", ("fold", FOLD_TASK)))
    assert not quiet.filter(record("celery.worker.strategy", "Task %(name)s[%(id)s] received", {"name": FOLD_TASK}))
    assert not quiet.filter(record("celery.app.trace", success, {"name": FOLD_TASK, "return_value": "0"}))
    # A fold that stored events, and every other job, are logged.
    assert quiet.filter(record("celery.app.trace", success, {"name": FOLD_TASK, "return_value": "12"}))
    assert quiet.filter(record("celery.app.trace", success, {"name": "media.transcode", "return_value": "0"}))
    assert quiet.filter(record("celery.beat", "Scheduler: Sending due task %s (%s)", ("x", "tenancy.purge_due")))


def test_fold_lag_is_the_age_of_the_oldest_unfolded_entry(settings: Settings) -> None:
    client = sync_redis(settings.redis_url or "")
    keys = StreamKeys.for_queue(f"lag-{uuid.uuid4().hex[:8]}")
    now = time.time()
    try:
        collector = BacklogCollector(
            lambda: client, queues=[keys.stream + "-queue"], fold=StreamGroup(keys.stream, "fold"), clock=lambda: now
        )
        assert collector.fold_backlog(client, StreamGroup(keys.stream, "fold")) == (0.0, 0.0)
        client.xadd(keys.stream, {"tenant": "t", "events": "[]"}, id=f"{int((now - 42) * 1000)}-0")
        client.xadd(keys.stream, {"tenant": "t", "events": "[]"}, id=f"{int((now - 2) * 1000)}-0")
        client.rpush(keys.stream + "-queue", "a", "b", "c")
        families = {family.name: family for family in collector.collect()}
        assert families["lms_queue_depth"].samples[0].value == 3
        assert families["lms_fold_backlog_entries"].samples[0].value == 2
        assert families["lms_fold_lag_seconds"].samples[0].value == pytest.approx(42, abs=0.01)
    finally:
        client.delete(keys.stream, keys.stream + "-queue")
        client.close()


def test_a_broken_redis_gives_an_empty_scrape_not_an_error() -> None:
    def broken() -> object:
        raise ConnectionError("no redis")

    assert list(BacklogCollector(broken, queues=["lms"]).collect()) == []


TRACE_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    import structlog
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from lms.config import get_settings
    from lms.lib.tracing import configure_tracing

    exporter = InMemorySpanExporter()
    settings = get_settings()
    assert configure_tracing(settings, "lms-test", exporter=exporter)
    from lms.db.engines import create_database
    from lms.lib.jobs import build_celery

    async def work() -> None:
        db = create_database(settings)
        try:
            async with db.app_sessions() as session:
                from sqlalchemy import text
                await session.execute(text("select 1"))
        finally:
            await db.dispose()

    structlog.contextvars.bind_contextvars(tenant_id="0192f0c4-0000-7000-8000-000000000001", tenant="acme")
    with trace.get_tracer("test").start_as_current_span("request"):
        asyncio.run(work())
        build_celery(settings).send_task("tests.never-consumed", args=[1], queue=sys.argv[1])
    print(json.dumps([
        {"name": s.name, "trace": s.context.trace_id, "attributes": dict(s.attributes or {})}
        for s in exporter.get_finished_spans()
    ]))
    """
)


def test_traces_carry_the_tenant_from_the_request_to_postgresql_and_celery(settings: Settings) -> None:
    queue = f"trace-{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [sys.executable, "-c", TRACE_SCRIPT, queue],
        cwd=PROJECT_ROOT,
        env={**worker_env(settings), "CELERY_QUEUE": queue},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    spans = json.loads(result.stdout.decode().strip().splitlines()[-1])
    request = next(s for s in spans if s["name"] == "request")
    sql = [s for s in spans if s["attributes"].get("db.system") == "postgresql"]
    publish = [s for s in spans if "apply_async" in s["name"] or "publish" in s["name"]]
    assert sql, [s["name"] for s in spans]
    assert publish, [s["name"] for s in spans]
    for span in [request, *sql, *publish]:
        assert span["trace"] == request["trace"]
        assert span["attributes"]["lms.tenant_id"] == "0192f0c4-0000-7000-8000-000000000001"
    sync_redis(settings.redis_url or "").delete(queue)


def test_tracing_is_off_and_not_imported_without_an_endpoint(settings: Settings) -> None:
    script = (
        "import sys; from lms.app import create_app; from lms.config import get_settings; "
        "app = create_app(get_settings()); "
        "from opentelemetry import trace; "
        "print(type(trace.get_tracer_provider()).__name__, "
        "any('OpenTelemetry' in type(p).__name__ for p in app.plugins.init))"
    )
    env = {k: v for k, v in worker_env(settings).items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    # No tracer provider (spans are no-ops) and no tracing middleware.
    assert result.stdout.decode().split() == ["ProxyTracerProvider", "False"]
