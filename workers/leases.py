"""Leases for long jobs, and the reaper that re-sends a job whose worker vanished.

Redis keeps an unacknowledged message for the whole visibility timeout (hours, longer than the
longest job), so it cannot be what rescues a job from a killed worker. Instead, while a leased
job runs, a thread in its process renews a lease in Redis every third of the lease; the reaper
(a beat job, every quarter lease) finds leases that lapsed, takes each one atomically (so one
reaper re-sends it, once) and sends the job again under the same task id. Jobs are idempotent,
so a late redelivery of the original message is harmless. A job re-sent MAX_REAPS times without
finishing (it kills its worker each time) is not sent again: it is logged for an operator.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
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


class Lease:
    """Held by the process running one job: written at start, renewed by a thread, dropped at the end."""

    def __init__(self, client: redis.Redis, keys: LeaseKeys, seconds: float, task_id: str) -> None:
        self.client, self.keys, self.seconds, self.task_id = client, keys, seconds, task_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{task_id}", daemon=True)

    def take(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        job = json.dumps({"name": name, "args": args, "kwargs": kwargs})
        pipe = self.client.pipeline()
        pipe.hset(self.keys.jobs, self.task_id, job)
        pipe.zadd(self.keys.expiry, {self.task_id: time.time() + self.seconds})
        pipe.execute()
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                # XX: a lease the reaper already took is not brought back.
                self.client.zadd(self.keys.expiry, {self.task_id: time.time() + self.seconds}, xx=True)
            except redis.RedisError as exc:
                log.warning("lease renewal failed (retrying): %s", exc)

    def release(self, finished: bool) -> None:
        """`finished`: the job is done for good (not waiting for a retry), so nothing is left to reap.
        A job waiting for its retry keeps a lease long enough to cover the backoff."""
        self._stop.set()
        if finished:
            pipe = self.client.pipeline()
            pipe.zrem(self.keys.expiry, self.task_id)
            pipe.hdel(self.keys.jobs, self.task_id)
            pipe.hdel(self.keys.reaps, self.task_id)
            pipe.execute()
        else:
            self.client.zadd(self.keys.expiry, {self.task_id: time.time() + self.seconds + RETRY_GRACE_SECONDS})


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


class LeaseRegistry:
    """The leases held by this worker process, keyed by task id (prefork: one job at a time)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._client: redis.Redis | None = None
        self._held: dict[str, Lease] = {}

    def _setup(self) -> tuple[redis.Redis, LeaseKeys, float]:
        settings = self._settings or get_settings()
        if self._client is None:
            self._client = sync_redis(settings.redis_url or "")
        return self._client, LeaseKeys.for_queue(settings.celery_queue), settings.job_lease_seconds

    def started(self, task_id: str, name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        client, keys, seconds = self._setup()
        lease = Lease(client, keys, seconds, task_id)
        lease.take(name, args, kwargs)
        self._held[task_id] = lease

    def ended(self, task_id: str, finished: bool) -> None:
        lease = self._held.pop(task_id, None)
        if lease is not None:
            lease.release(finished)
