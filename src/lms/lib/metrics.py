"""Prometheus metrics of background work: tasks, queues, the progress fold, and what jobs produce.

Counters and histograms are updated where the work happens (a Celery pool process). Workers run
prometheus_client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`), so the worker's metrics
listener adds up every pool process. Queue depth and fold lag are read from Redis at scrape time by
`BacklogCollector`, so they are true whenever Prometheus looks, whichever process serves them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger("lms.metrics")

TASK_DURATION = Histogram(
    "lms_task_duration_seconds",
    "Run time of background jobs, by task",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600),
)
TASK_FAILURES = Counter("lms_task_failures_total", "Background jobs that raised, by task", ["task"])
TASK_RETRIES = Counter("lms_task_retries_total", "Background jobs sent again for a retry, by task", ["task"])
TRANSCODING_MINUTES = Counter(
    "lms_transcoding_minutes_total", "Worker minutes spent transcoding video (successful and failed runs)"
)
CERTIFICATES_RENDERED = Counter("lms_certificates_rendered_total", "Certificate PDFs rendered")
EMAILS = Counter("lms_emails_total", "E-mails handed to SMTP, by result (sent, failed)", ["result"])


def mark_process_dead(pid: int) -> None:
    """A pool process ended: its live gauges go, its counters stay summed."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def worker_registry(extra: Sequence[Collector] = ()) -> CollectorRegistry:
    """The registry the worker's listener serves: every pool process's metrics, plus `extra`."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    for collector in extra:
        registry.register(collector)
    return registry


@dataclass(frozen=True)
class StreamGroup:
    """A Redis stream drained by a consumer group that deletes what it has handled (the progress fold)."""

    stream: str
    group: str


def _entry_seconds(entry_id: str | bytes) -> float:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0]) / 1000.0


class BacklogCollector(Collector):
    """Queue depth per Celery queue and the progress fold's lag, read from Redis at each scrape.

    `redis_factory` returns a synchronous Redis client (the scrape runs in the listener's thread).
    A failing Redis yields no samples and a log line, never a failed scrape.
    """

    def __init__(
        self,
        redis_factory: Callable[[], Any],
        queues: Sequence[str],
        fold: StreamGroup | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis_factory = redis_factory
        self._queues = list(queues)
        self._fold = fold
        self._clock = clock
        self._client: Any = None

    def describe(self) -> Iterator[Metric]:
        return iter(())  # samples depend on Redis: never collected at registration

    def _redis(self) -> Any:
        if self._client is None:
            self._client = self._redis_factory()
        return self._client

    def collect(self) -> Iterator[Metric]:
        try:
            metrics = self._read()
        except Exception as exc:  # a scrape reports what it can, it never raises
            log.warning("backlog metrics unavailable", error=f"{type(exc).__name__}: {exc}"[:300])
            self._client = None
            return iter(())
        return iter(metrics)

    def _read(self) -> list[Metric]:
        redis = self._redis()
        depth = GaugeMetricFamily("lms_queue_depth", "Jobs waiting in each Celery queue", labels=["queue"])
        for queue in self._queues:
            depth.add_metric([queue], float(redis.llen(queue)))
        metrics: list[Metric] = [depth]
        if self._fold is not None:
            backlog, lag = self.fold_backlog(redis, self._fold)
            metrics.append(
                GaugeMetricFamily(
                    "lms_fold_backlog_entries",
                    "Progress stream entries (batches of events) not yet folded",
                    value=backlog,
                )
            )
            metrics.append(
                GaugeMetricFamily(
                    "lms_fold_lag_seconds", "Age of the oldest progress stream entry not yet folded", value=lag
                )
            )
        return metrics

    def fold_backlog(self, redis: Any, fold: StreamGroup) -> tuple[float, float]:
        """(entries waiting, seconds the oldest has waited). The fold deletes entries once their
        tenant's transaction commits, so whatever is still in the stream is not folded yet."""
        waiting = float(redis.xlen(fold.stream))
        if not waiting:
            return 0.0, 0.0
        first = redis.xrange(fold.stream, min="-", max="+", count=1)
        if not first:
            return 0.0, 0.0
        return waiting, max(0.0, self._clock() - _entry_seconds(first[0][0]))


class DatabasePoolCollector(Collector):
    """Connections of this process's pools in use and their limit, per database role, read at each
    scrape: a pool near its limit is the first sign of requests refused with 503."""

    def __init__(self, engines: Mapping[str, AsyncEngine]) -> None:
        self._engines = dict(engines)

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        in_use = GaugeMetricFamily("lms_db_pool_in_use", "Database connections checked out", labels=["role"])
        limit = GaugeMetricFamily(
            "lms_db_pool_limit", "Database connections the pool may open (size + overflow)", labels=["role"]
        )
        for role, engine in self._engines.items():
            pool: Any = engine.pool
            if not hasattr(pool, "checkedout"):
                continue
            in_use.add_metric([role], float(pool.checkedout()))
            limit.add_metric([role], float(pool.size() + max(getattr(pool, "_max_overflow", 0), 0)))
        return iter([in_use, limit])


def failed_jobs_key(queue: str) -> str:
    """Redis list of the latest jobs that failed for good (newest first), for the operator console."""
    return f"lms:{queue}:failed-jobs"


FAILED_JOBS_KEPT = 200


@dataclass(frozen=True)
class RouteErrors:
    method: str
    route: str
    status: int
    count: int


def server_errors_by_route(registry: CollectorRegistry | None = None) -> list[RouteErrors]:
    """5xx answers of this API process since it started, by route template, most first."""
    from prometheus_client import REGISTRY

    found: list[RouteErrors] = []
    for family in (registry or REGISTRY).collect():
        if family.name != "lms_requests":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            status = int(str(sample.labels.get("status_code", "0")) or 0)
            if status >= 500 and sample.value:
                found.append(
                    RouteErrors(
                        sample.labels.get("method", ""), sample.labels.get("path", ""), status, int(sample.value)
                    )
                )
    merged: dict[tuple[str, str, int], int] = {}
    for item in found:  # one row per route and status, whatever the tenant label
        key = (item.method, item.route, item.status)
        merged[key] = merged.get(key, 0) + item.count
    rows = [RouteErrors(m, r, s, c) for (m, r, s), c in merged.items()]
    return sorted(rows, key=lambda row: (-row.count, row.route))
