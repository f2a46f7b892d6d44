"""Background jobs: a Celery client for sending, enqueue-after-commit, and `tenant_job` for running.

A job queued inside a transaction is sent only once that transaction commits, so a rolled-back
request never starts a job and a committed one always does. Jobs take ids, never ORM objects.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar
from uuid import UUID

from celery import Celery, signals
from kombu import serialization
from kombu.utils import json as kombu_json
from kombu.utils.uuid import uuid as kombu_uuid
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from lms.config import Settings, get_settings
from lms.db.binding import tenant_session

T = TypeVar("T")
# handler(session, tenant_id, entity_id): the session is bound to tenant_id.
TenantHandler = Callable[[AsyncSession, UUID, UUID], Awaitable[T]]

_PENDING_KEY = "pending_jobs"
# Session.info key of the Celery app a session's committed jobs go to (see `job_sender_info`).
_SENDER_KEY = "job_sender"


@dataclass(frozen=True)
class Job:
    name: str
    args: tuple[Any, ...]
    countdown: float | None = None


def build_celery(settings: Settings) -> Celery:
    """The Celery app used both to send jobs and (in `workers/`) to run them."""
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set and the embedded runtime was not started")
    app = Celery("lms", broker=settings.redis_url, backend=settings.redis_url)
    app.conf.update(
        task_default_queue=settings.celery_queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        result_expires=3600,
        # Longer than the longest job, so an unacknowledged job is not redelivered while it runs;
        # a job whose worker vanished is re-sent by the lease reaper (workers/leases.py) instead.
        # The health check and keepalive find connections a Redis restart closed before they are used.
        broker_transport_options={
            "visibility_timeout": 4 * 3600,
            "health_check_interval": 15,
            "socket_keepalive": True,
            "retry_on_timeout": True,
        },
        # Reconnect to a restarted or unreachable Redis for as long as it takes, at start and after.
        broker_connection_retry_on_startup=True,
        broker_connection_retry=True,
        broker_connection_max_retries=None,
        # Sending (from the API and from jobs) retries briefly across a Redis restart.
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 5, "interval_start": 0.1, "interval_step": 0.3, "interval_max": 1.0},
    )
    return app


@lru_cache
def default_celery() -> Celery:
    return build_celery(get_settings())


_redirect: Celery | None = None


def redirect_jobs(app: Celery | None) -> None:
    """Send every job of this process to `app`, whatever queue its session names (tests and benchmarks
    that starve or kill workers of their own); None ends it."""
    global _redirect
    _redirect = app


_senders: dict[tuple[str, str], Celery] = {}


def job_sender_info(settings: Settings) -> dict[str, Any]:
    """Session info naming the queue of `settings`: jobs committed by sessions made with it go there,
    whichever other app (with another queue) runs in the same process."""
    if not settings.redis_url:
        return {}
    key = (settings.redis_url, settings.celery_queue)
    if key not in _senders:
        _senders[key] = build_celery(settings)
    return {_SENDER_KEY: _senders[key]}


def sender_of(sessions: async_sessionmaker[AsyncSession]) -> Celery | None:
    """The Celery app the sessions of `sessions` send their jobs with."""
    info: dict[str, Any] = sessions.kw.get("info") or {}
    return info.get(_SENDER_KEY)


def send_now(job: Job, sender: Celery | None = None) -> None:
    """Send `job` with `sender` (the queue of the session or app that queued it), else the
    environment's queue."""
    app = _redirect or sender or default_celery()
    # Nobody waits for a job's result: without `ignore_result` every send also subscribes to the
    # result's channel on Redis, a second round trip per job.
    app.send_task(job.name, args=list(job.args), countdown=job.countdown, ignore_result=True)


@dataclass(frozen=True)
class BrokerMessage:
    """A job as Celery's Redis transport stores it: the list a worker pops (named after the queue) and
    the message as `send_task` would push it there, for a caller that pushes it with other Redis
    commands in one round trip (a script that pushes only when a claim is new)."""

    broker_url: str
    queue: str
    message: str


def broker_message(job: Job, sender: Celery | None = None) -> BrokerMessage | None:
    """`job` for the default queue of the app `send_now` would use, ready to be pushed to Redis by the
    caller; None where only `send_now` is right: a countdown (an ETA job), a broker other than Redis,
    or publish hooks that must run (tracing adds its context to the headers there)."""
    app = _redirect or sender or default_celery()
    broker_url = str(app.conf.broker_url or "")
    if (
        job.countdown
        or not broker_url.startswith(("redis://", "rediss://", "redis+socket://"))
        or signals.before_task_publish.receivers
        or signals.after_task_publish.receivers
    ):
        return None
    queue = str(app.conf.task_default_queue)
    task_id = kombu_uuid()
    headers, properties, body, _ = app.amqp.as_task_v2(
        task_id, job.name, args=list(job.args), ignore_result=True, reply_to=app.thread_oid
    )
    serialized = serialization.dumps(body, serializer=app.conf.task_serializer)  # type: ignore[no-untyped-call]
    content_type, content_encoding, data = serialized
    raw = data if isinstance(data, bytes) else data.encode(content_encoding)
    # What kombu's Producer and virtual Channel add before the transport's LPUSH (persistent, priority 0,
    # the body base64-encoded, delivered through the anonymous exchange straight to the queue).
    envelope = {
        "body": base64.b64encode(raw).decode(),
        "content-encoding": content_encoding,
        "content-type": content_type,
        "headers": headers,
        "properties": {
            **properties,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": kombu_uuid(),
        },
    }
    return BrokerMessage(broker_url, queue, kombu_json.dumps(envelope))  # type: ignore[no-untyped-call]


def enqueue_after_commit(session: AsyncSession, name: str, *args: Any, countdown: float | None = None) -> None:
    """Queue `name(*args)` to be sent when the session's current transaction commits."""
    session.sync_session.info.setdefault(_PENDING_KEY, []).append(Job(name, args, countdown))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for job in session.info.pop(_PENDING_KEY, []):
        send_now(job, session.info.get(_SENDER_KEY))


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


async def run_in_tenant(
    sessions: async_sessionmaker[AsyncSession], name: str, tenant_id: UUID, entity_id: UUID, handler: TenantHandler[T]
) -> T:
    """One unit of work for a job: the tenant bound, committed on success, rolled back on error.

    A transaction-scoped advisory lock on (job, tenant, entity) makes a redelivered copy of the job
    wait for the running one and then see its committed outcome, so the handler's own "already
    done?" check is never raced.
    """
    async with tenant_session(sessions, tenant_id) as session:
        lock_key = func.hashtextextended(f"{name}:{tenant_id}:{entity_id}", 0)
        await session.execute(select(func.pg_advisory_xact_lock(lock_key)))
        return await handler(session, tenant_id, entity_id)


def tenant_job(
    app: Celery,
    name: str,
    *,
    sessions: Callable[[], async_sessionmaker[AsyncSession]],
    run: Callable[[Coroutine[Any, Any, T]], T],
    **options: Any,
) -> Callable[[TenantHandler[T]], Any]:
    """Register `handler(session, tenant_id, entity_id)` as the Celery task `name(tenant_id, entity_id)`.

    The task takes ids only, binds the tenant before the handler touches data (`run_in_tenant`),
    and is acknowledged late, so a job whose worker vanished runs again: handlers are idempotent.
    """

    def register(handler: TenantHandler[T]) -> Any:
        def task(tenant_id: str, entity_id: str) -> T:
            return run(run_in_tenant(sessions(), name, UUID(tenant_id), UUID(entity_id), handler))

        task.__name__ = task.__qualname__ = handler.__name__
        task.__doc__ = handler.__doc__
        task.__module__ = handler.__module__
        return app.task(name=name, acks_late=True, reject_on_worker_lost=True, **options)(task)

    return register
