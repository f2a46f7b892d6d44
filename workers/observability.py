"""Logs, metrics and traces of the worker and beat processes.

- Logs: Celery's own logging is replaced by the platform's (JSON lines, LOG_LEVEL, LOG_FORMAT), and
  periodic jobs that found nothing to do leave no line (the fold safety net runs every 5 s).
- Metrics: run time, failures and retries by task, and what jobs produce (transcoding minutes,
  certificates rendered, e-mails sent or failed); the worker's main process serves them with queue
  depth and fold lag on WORKER_METRICS_PORT.
- Traces: with an OTLP endpoint configured, each job is a span linked to the request that sent it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import celery.apps.worker as celery_worker_module
import structlog
from celery.signals import (
    setup_logging,
    task_failure,
    task_postrun,
    task_prerun,
    task_retry,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)

from lms.certificates.tasks import ISSUE_TASK, RENDER_TASK
from lms.config import get_settings
from lms.learning.services.ingest import StreamKeys
from lms.learning.tasks import FOLD_TASK
from lms.lib import metrics
from lms.lib.logs import configure_logging
from lms.lib.mail import SEND_EMAIL_TASK
from lms.lib.tracing import configure_tracing
from lms.media.tasks import TRANSCODE
from workers.leases import REAP_TASK, sync_redis

log = logging.getLogger("lms.workers")

# Periodic jobs that usually find nothing to do: their "received"/"sending" lines are dropped, and
# their "succeeded" line too when the result says nothing was done.
QUIET_PERIODIC_TASKS = frozenset({FOLD_TASK, REAP_TASK})
IDLE_RESULTS = frozenset({"0", "None", "{'resent': [], 'abandoned': []}"})


class QuietIdleTicks(logging.Filter):
    """Drop Celery's per-tick lines of the periodic safety-net jobs while they have nothing to do."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "celery.beat":
            # "Scheduler: Sending due task %s (%s)" with (entry name, task name)
            return not (isinstance(args, tuple) and len(args) == 2 and args[1] in QUIET_PERIODIC_TASKS)
        if not isinstance(args, Mapping) or args.get("name") not in QUIET_PERIODIC_TASKS:
            return True
        if record.name == "celery.worker.strategy":  # "Task %(name)s[%(id)s] received"
            return False
        if record.name == "celery.app.trace" and "return_value" in args:  # "... succeeded in ...: %(return_value)s"
            return str(args["return_value"]) not in IDLE_RESULTS
        return True


def process_kind() -> str:
    """`beat` for the scheduler alone, `worker` otherwise (a worker started with --beat included)."""
    argv = sys.argv[1:]
    return "beat" if "beat" in argv and "worker" not in argv else "worker"


def _setup_logging(**_: Any) -> None:
    # Connecting to this signal stops Celery from configuring logging itself.
    configure_logging(get_settings(), process=process_kind(), filters=[QuietIdleTicks()])


def _say_as_log_line(message: str, _file: Any = None) -> None:
    """Celery's signal handlers write shutdown notices straight to a file descriptor (no logging
    locks inside a signal handler): keep doing that, as a JSON line like every other."""
    if get_settings().log_json:
        line = json.dumps(
            {
                "event": str(message),
                "logger": "celery.apps.worker",
                "level": "warning",
                "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "process": process_kind(),
            }
        )
    else:
        line = f"[warning] {message}"
    os.write(2, (line + "\n").encode())


def _banner_as_log_line(worker: Any) -> None:
    queues = ",".join(sorted(queue.name for queue in worker.app.amqp.queues.consume_from.values()))
    log.info("worker starting: queues %s, concurrency %s", queues, worker.concurrency)


def started_by_celery() -> bool:
    """This process is Celery's command (worker or beat), not a test or the API importing the app."""
    return Path(sys.argv[0]).name in ("celery", "__main__.py") and any(a in sys.argv for a in ("worker", "beat"))


_started: dict[str, float] = {}


def _task_started(task_id: str, task: Any = None, args: Any = None, **_: Any) -> None:
    _started[task_id] = time.perf_counter()
    # Every line (and span) of the job names it and, for a tenant's job, the tenant.
    structlog.contextvars.clear_contextvars()
    context = {"task": getattr(task, "name", "unknown"), "task_id": task_id}
    first = args[0] if args else None
    if isinstance(first, str) and _is_uuid(first):
        context["tenant_id"] = first
    structlog.contextvars.bind_contextvars(**context)


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def _task_ended(task_id: str, task: Any, retval: Any = None, state: str | None = None, **_: Any) -> None:
    started = _started.pop(task_id, None)
    if started is None:
        return
    seconds = time.perf_counter() - started
    name = getattr(task, "name", "unknown")
    metrics.TASK_DURATION.labels(name).observe(seconds)
    if name == TRANSCODE:
        metrics.TRANSCODING_MINUTES.inc(seconds / 60.0)
    if state != "SUCCESS":
        return
    if name in (RENDER_TASK, ISSUE_TASK) and retval is not None:
        metrics.CERTIFICATES_RENDERED.inc()
    elif name == SEND_EMAIL_TASK and retval == "sent":
        metrics.EMAILS.labels("sent").inc()


_failures_redis: Any = None


def _task_failed(sender: Any = None, task_id: str = "", exception: BaseException | None = None, **_: Any) -> None:
    global _failures_redis
    name = getattr(sender, "name", "unknown")
    metrics.TASK_FAILURES.labels(name).inc()
    if name == SEND_EMAIL_TASK:
        metrics.EMAILS.labels("failed").inc()
    # The latest failures, for the operator console's platform health page.
    context = structlog.contextvars.get_contextvars()
    record = {
        "task": name,
        "task_id": task_id,
        "tenant_id": context.get("tenant_id"),
        "error": f"{type(exception).__name__}: {exception}"[:500] if exception else "",
        "at": datetime.now(UTC).isoformat(),
    }
    settings = get_settings()
    try:
        if _failures_redis is None:
            _failures_redis = sync_redis(settings.redis_url or "")
        key = metrics.failed_jobs_key(settings.celery_queue)
        pipe = _failures_redis.pipeline()
        pipe.lpush(key, json.dumps(record))
        pipe.ltrim(key, 0, metrics.FAILED_JOBS_KEPT - 1)
        pipe.execute()
    except Exception as exc:  # the failure is logged by Celery anyway; this list is a convenience
        _failures_redis = None
        log.warning("failed job not recorded for the console: %s", exc)


def _task_retried(sender: Any = None, **_: Any) -> None:
    metrics.TASK_RETRIES.labels(getattr(sender, "name", "unknown")).inc()


def _start_metrics_listener(**_: Any) -> None:
    """In the worker's main process, before the pool starts: serve every pool process's metrics."""
    from lms.lib.telemetry import start_metrics_listener

    settings = get_settings()
    keys = StreamKeys.for_queue(settings.celery_queue)
    backlog = metrics.BacklogCollector(
        lambda: sync_redis(settings.redis_url or ""),
        queues=[settings.celery_queue],
        fold=metrics.StreamGroup(stream=keys.stream, group="fold"),
    )
    try:
        start_metrics_listener(settings.metrics_host, settings.worker_metrics_port, metrics.worker_registry([backlog]))
    except OSError as exc:  # the jobs matter more than their metrics: run on, say why
        address = f"{settings.metrics_host}:{settings.worker_metrics_port}"
        log.error("worker metrics listener not started on %s: %s", address, exc)


def _pool_process_started(**_: Any) -> None:
    configure_tracing(get_settings(), service="lms-worker")


def _pool_process_ended(pid: int | None = None, **_: Any) -> None:
    metrics.mark_process_dead(pid or os.getpid())


def install() -> None:
    """Connect the signal handlers (strong references: the handlers live as long as the process)."""
    if started_by_celery():
        # Before Celery's start-up checks warn (running as root, Redis without AOF): JSON from line one.
        _setup_logging()
        celery_worker_module.safe_say = _say_as_log_line
        # The start-up banner is not a log line: its facts (queues, concurrency) go to one JSON line.
        celery_worker_module.Worker.emit_banner = _banner_as_log_line
    setup_logging.connect(_setup_logging, weak=False)
    task_prerun.connect(_task_started, weak=False)
    task_postrun.connect(_task_ended, weak=False)
    task_failure.connect(_task_failed, weak=False)
    task_retry.connect(_task_retried, weak=False)
    if process_kind() == "worker" and "worker" in sys.argv[1:]:
        worker_init.connect(_start_metrics_listener, weak=False)
    worker_process_init.connect(_pool_process_started, weak=False)
    worker_process_shutdown.connect(_pool_process_ended, weak=False)
