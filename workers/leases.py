"""Leases for long jobs, and the reaper that re-sends a job whose worker vanished.

Redis keeps an unacknowledged message for the whole visibility timeout (hours, longer than the
longest job), so it cannot be what rescues a job from a killed worker. Instead, from the moment a
worker receives a leased job until the job ends (waiting for a pool process, for its countdown, or
running), the worker renews a lease in Redis every third of the lease; the reaper
(a beat job, every quarter lease) finds leases that lapsed, takes each one atomically (so one
reaper re-sends it, once) and sends the job again under the same task id. Jobs are idempotent,
so a late redelivery of the original message is harmless. A job re-sent MAX_REAPS times without
finishing (it kills its worker each time) is not sent again: it is logged for an operator.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis
from celery.worker import state as worker_state
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from lms.certificates.tasks import ISSUE_TASK, RENDER_TASK
from lms.config import Settings, get_settings
from lms.media.tasks import ENCODE_CHUNK, TRANSCODE
from lms.tenancy.services import PURGE_TASK

log = logging.getLogger("lms.workers.leases")

LEASED_TASKS = frozenset({TRANSCODE, ENCODE_CHUNK, ISSUE_TASK, RENDER_TASK, PURGE_TASK})
REAP_TASK = "jobs.reap_lapsed_leases"
MAX_REAPS = 3


@dataclass(frozen=True)
class LeaseKeys:
    """`expiry`: task id -> lease deadline (a sorted set); `jobs`: task id -> what to send again;
    `reaps`: task id -> times re-sent."""

    expiry: str
    jobs: str
    reaps: str

    @classmethod
    def for_queue(cls, queue: str) -> LeaseKeys:
        prefix = f"lms:{queue}:leases"
        return cls(expiry=f"{prefix}:expiry", jobs=f"{prefix}:jobs", reaps=f"{prefix}:reaps")


def sync_redis(url: str) -> redis.Redis:
    """A blocking client (lease threads and the reaper run outside the event loop)."""
    if url.startswith("redis+socket://"):
        url = "unix://" + url.removeprefix("redis+socket://")
    tcp: dict[str, Any] = {} if url.startswith("unix://") else {"socket_keepalive": True}
    return redis.Redis.from_url(
        url,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=4),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        **tcp,
    )


@dataclass(frozen=True)
class LeasedJob:
    name: str
    args: list[Any]
    kwargs: dict[str, Any]


def take_lease(
    client: redis.Redis, keys: LeaseKeys, seconds: float, task_id: str, job: LeasedJob, pipe: Any = None
) -> None:
    """Record what to send again and a lease running `seconds` from now; on `pipe` (a transaction the
    caller executes) when given."""
    own = pipe is None
    pipe = client.pipeline() if own else pipe
    pipe.hset(keys.jobs, task_id, json.dumps({"name": job.name, "args": job.args, "kwargs": job.kwargs}))
    pipe.zadd(keys.expiry, {task_id: time.time() + seconds})
    if own:
        pipe.execute()


def leased_job_of(message: Any) -> tuple[str, LeasedJob] | None:
    """The task id and job of a delivered Celery message (protocol 2) of a leased task, else None."""
    headers = message.headers or {}
    if headers.get("task") not in LEASED_TASKS:
        return None
    args, kwargs, *_ = message.decode()
    return str(headers["id"]), LeasedJob(str(headers["task"]), list(args), dict(kwargs))


def renew_leases(client: redis.Redis, keys: LeaseKeys, seconds: float, task_ids: Iterable[str]) -> None:
    """Push the leases of `task_ids` `seconds` ahead. XX: a lease that ended or that the reaper already
    took is not brought back."""
    deadline = time.time() + seconds
    pipe = client.pipeline(transaction=False)
    for task_id in task_ids:
        pipe.zadd(keys.expiry, {task_id: deadline}, xx=True)
    pipe.execute()


def release_lease(client: redis.Redis, keys: LeaseKeys, seconds: float, task_id: str, finished: bool) -> None:
    """`finished`: the job is done for good (not waiting for a retry), so nothing is left to reap.
    A job waiting for its retry keeps a lease long enough to cover the backoff."""
    pipe = client.pipeline()
    if finished:
        _forget(pipe, keys, task_id)
        pipe.hdel(keys.reaps, task_id)
    else:
        pipe.zadd(keys.expiry, {task_id: time.time() + seconds + RETRY_GRACE_SECONDS})
    pipe.execute()


RETRY_GRACE_SECONDS = 300  # longer than the longest retry countdown


@dataclass
class Reaped:
    resent: list[str]
    abandoned: list[str]


def reap_lapsed_leases(client: redis.Redis, keys: LeaseKeys, send: Any, now: float | None = None) -> Reaped:
    """Send again every job whose lease lapsed; `send(name, args, kwargs, task_id)` sends one."""
    result = Reaped(resent=[], abandoned=[])
    lapsed = client.zrangebyscore(keys.expiry, "-inf", now if now is not None else time.time())
    for raw_id in lapsed:
        task_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        if not client.zrem(keys.expiry, task_id):
            continue  # renewed, finished, or taken by another reaper meanwhile
        raw_job = client.hget(keys.jobs, task_id)
        if raw_job is None:
            continue
        reaps = int(client.hincrby(keys.reaps, task_id, 1))
        if reaps > MAX_REAPS:
            log.error("job abandoned after %d re-sends: %s %s", MAX_REAPS, task_id, raw_job)
            client.hdel(keys.jobs, task_id)
            client.hdel(keys.reaps, task_id)
            result.abandoned.append(task_id)
            continue
        job = json.loads(raw_job)
        log.warning("re-sending job whose worker vanished: %s %s (re-send %d)", job["name"], task_id, reaps)
        send(job["name"], job["args"], job["kwargs"], task_id)
        result.resent.append(task_id)
    return result


@dataclass(frozen=True)
class Held:
    task_id: str
    name: str
    running: bool


def held_by_this_worker() -> list[Held]:
    """Every job this worker holds: waiting for a pool process, waiting for its countdown, or
    running. Celery's own bookkeeping, kept in the consumer process."""
    running = worker_state.active_requests.copy()
    return [Held(task_id, r.name, r in running) for task_id, r in worker_state.requests.copy().items()]


def drop_leases(client: redis.Redis, keys: LeaseKeys, task_ids: Iterable[str]) -> None:
    """No lease and nothing to send again for `task_ids` (their re-send count stays)."""
    pipe = client.pipeline()
    for task_id in task_ids:
        _forget(pipe, keys, task_id)
    pipe.execute()


def _forget(pipe: Any, keys: LeaseKeys, task_id: str) -> None:
    pipe.zrem(keys.expiry, task_id)
    pipe.hdel(keys.jobs, task_id)


class WorkerLeases:
    """One worker's leases. The consumer process takes a lease as a leased job's message arrives, in
    the same Redis transaction that keeps the message unacknowledged (from then on only this worker can
    run it), and one thread there renews, every third of a lease, the lease of every leased job the
    worker still holds. The pool process that ran a job releases its lease. A worker that shuts down
    gracefully hands the jobs it did not start back to the queue, and drops their leases."""

    def __init__(
        self, settings: Settings | None = None, held: Callable[[], Iterable[Held]] = held_by_this_worker
    ) -> None:
        self._settings = settings
        self._held = held
        self._client: redis.Redis | None = None
        self._client_pid = 0
        self._renewer: threading.Thread | None = None
        self._stop = threading.Event()

    def _setup(self) -> tuple[redis.Redis, LeaseKeys, float]:
        settings = self._settings or get_settings()
        if self._client is None or self._client_pid != os.getpid():  # a forked pool process gets its own
            self._client, self._client_pid = sync_redis(settings.redis_url or ""), os.getpid()
        return self._client, LeaseKeys.for_queue(settings.celery_queue), settings.job_lease_seconds

    def delivered(self, message: Any, pipe: Any) -> None:
        """A message arrives: a leased job's lease is written in `pipe`, the broker's transaction that
        keeps the message unacknowledged, so no moment exists where this worker holds it unleased."""
        try:
            leased = leased_job_of(message)
            if leased is not None:
                self.received(*leased, pipe=pipe)
        except Exception as exc:  # the job still runs; only the rescue of a vanished worker is lost
            log.warning("lease not taken for a delivered message: %s", exc)

    def received(self, task_id: str, job: LeasedJob, pipe: Any = None) -> None:
        client, keys, seconds = self._setup()
        take_lease(client, keys, seconds, task_id, job, pipe)
        if self._renewer is None:
            self._renewer = threading.Thread(target=self._renew, name="lease-renewer", daemon=True)
            self._renewer.start()

    def renew_held(self) -> None:
        client, keys, seconds = self._setup()
        task_ids = [job.task_id for job in self._held() if job.name in LEASED_TASKS]
        if task_ids:
            renew_leases(client, keys, seconds, task_ids)

    def _renew(self) -> None:
        _, _, seconds = self._setup()
        while not self._stop.wait(seconds / 3):
            try:
                self.renew_held()
            except Exception as exc:  # Redis is restarting: the next round renews
                log.warning("lease renewal failed (retrying): %s", exc)

    def shutting_down(self) -> None:
        """Celery restores the messages of the jobs that did not start to the queue, whoever takes
        them next takes a lease: theirs here must not lapse into a second, reaped copy. A client of
        its own, as this runs in a signal handler that may interrupt the shared one."""
        settings = self._settings or get_settings()
        waiting = [job.task_id for job in self._held() if job.name in LEASED_TASKS and not job.running]
        if not waiting:
            return
        client = sync_redis(settings.redis_url or "")
        try:
            drop_leases(client, LeaseKeys.for_queue(settings.celery_queue), waiting)
        finally:
            client.close()

    def close(self) -> None:
        """Stop renewing (a worker's renewer ends with its process; a test's must end with the test)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)

    def ended(self, task_id: str, finished: bool) -> None:
        client, keys, seconds = self._setup()
        release_lease(client, keys, seconds, task_id, finished)
