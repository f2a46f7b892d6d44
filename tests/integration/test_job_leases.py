"""Leases of long jobs on a real Redis: a lapsed lease is re-sent once, a live one never, a worker
renews the lease of every job it holds and nothing else, and a job that keeps killing its worker is
given up after a few re-sends."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis

from lms.config import Settings
from workers.leases import (
    MAX_REAPS,
    Held,
    LeasedJob,
    LeaseKeys,
    WorkerLeases,
    reap_lapsed_leases,
    release_lease,
    sync_redis,
    take_lease,
)


@pytest.fixture
def client(settings: Settings) -> Iterator[redis.Redis]:
    connection = sync_redis(settings.redis_url or "")
    yield connection
    connection.close()


@pytest.fixture
def queue_settings(settings: Settings) -> Settings:
    return replace(settings, celery_queue=f"lease-test-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def keys(queue_settings: Settings) -> LeaseKeys:
    return LeaseKeys.for_queue(queue_settings.celery_queue)


TRANSCODE = LeasedJob("media.transcode", ["tenant", "asset"], {})


class Sent(list[tuple[str, list[Any], dict[str, Any], str]]):
    def __call__(self, name: str, args: list[Any], kwargs: dict[str, Any], task_id: str) -> None:
        self.append((name, args, kwargs, task_id))


def test_a_lapsed_lease_is_resent_once_even_with_two_reapers(client: redis.Redis, keys: LeaseKeys) -> None:
    take_lease(client, keys, 0.3, "job-1", TRANSCODE)  # and the worker vanished: nobody renews
    time.sleep(0.5)
    sent = Sent()
    first = reap_lapsed_leases(client, keys, sent)
    second = reap_lapsed_leases(client, keys, sent)
    assert first.resent == ["job-1"]
    assert second.resent == []
    assert sent == [("media.transcode", ["tenant", "asset"], {}, "job-1")]


def test_a_worker_renews_the_jobs_it_holds_and_a_finished_one_leaves_nothing(
    client: redis.Redis, keys: LeaseKeys, queue_settings: Settings
) -> None:
    held = [Held("waiting", "certificates.render", running=False), Held("running", "media.transcode", running=True)]
    leases = WorkerLeases(replace(queue_settings, job_lease_seconds=0.6), held=lambda: held)
    try:
        for job in held:
            leases.received(job.task_id, LeasedJob(job.name, ["tenant", job.task_id], {}))
        take_lease(client, keys, 0.6, "elsewhere", TRANSCODE)  # another worker's, which vanished
        time.sleep(1.0)  # longer than the lease: only the renewals keep the held ones
        sent = Sent()
        assert reap_lapsed_leases(client, keys, sent).resent == ["elsewhere"]
        leases.ended("running", finished=True)
        leases.ended("waiting", finished=True)
        leases.renew_held()  # renewing an ended lease does not bring it back
    finally:
        leases.close()
    assert client.zcard(keys.expiry) == 0
    assert client.hkeys(keys.jobs) == [b"elsewhere"]  # until its re-sent copy finishes
    assert reap_lapsed_leases(client, keys, sent, now=time.time() + 3600).resent == []


def test_a_worker_shutting_down_drops_the_leases_of_the_jobs_it_hands_back(
    client: redis.Redis, keys: LeaseKeys, queue_settings: Settings
) -> None:
    held = [Held("waiting", "certificates.render", running=False), Held("running", "media.transcode", running=True)]
    leases = WorkerLeases(queue_settings, held=lambda: held)
    try:
        for job in held:
            leases.received(job.task_id, LeasedJob(job.name, [], {}))
        leases.shutting_down()
    finally:
        leases.close()
    # The waiting job goes back to the queue unleased; the running one finishes under its lease.
    assert client.zrange(keys.expiry, 0, -1) == [b"running"]
    assert list(client.hkeys(keys.jobs)) == [b"running"]


def test_a_job_waiting_for_its_retry_keeps_a_lease_past_its_backoff(client: redis.Redis, keys: LeaseKeys) -> None:
    take_lease(client, keys, 0.3, "job-3", TRANSCODE)
    release_lease(client, keys, 0.3, "job-3", finished=False)
    sent = Sent()
    assert reap_lapsed_leases(client, keys, sent, now=time.time() + 60).resent == []
    assert reap_lapsed_leases(client, keys, sent, now=time.time() + 3600).resent == ["job-3"]


def test_a_job_that_keeps_killing_its_worker_is_given_up(client: redis.Redis, keys: LeaseKeys) -> None:
    sent = Sent()
    outcomes = []
    for _ in range(MAX_REAPS + 1):
        take_lease(client, keys, 0.01, "job-4", TRANSCODE)
        outcomes.append(reap_lapsed_leases(client, keys, sent, now=time.time() + 1))
    assert [len(o.resent) for o in outcomes] == [1] * MAX_REAPS + [0]
    assert outcomes[-1].abandoned == ["job-4"]
    assert client.hlen(keys.jobs) == 0
