"""Leases of long jobs on a real Redis: a lapsed lease is re-sent once, a live one never, and a job
that keeps killing its worker is given up after a few re-sends."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from lms.config import Settings
from workers.leases import MAX_REAPS, Lease, LeaseKeys, reap_lapsed_leases, sync_redis


@pytest.fixture
def client(settings: Settings) -> Iterator[redis.Redis]:
    connection = sync_redis(settings.redis_url or "")
    yield connection
    connection.close()


@pytest.fixture
def keys() -> LeaseKeys:
    return LeaseKeys.for_queue(f"lease-test-{uuid.uuid4().hex[:8]}")


class Sent(list[tuple[str, list[Any], dict[str, Any], str]]):
    def __call__(self, name: str, args: list[Any], kwargs: dict[str, Any], task_id: str) -> None:
        self.append((name, args, kwargs, task_id))


def test_a_lapsed_lease_is_resent_once_even_with_two_reapers(client: redis.Redis, keys: LeaseKeys) -> None:
    lease = Lease(client, keys, 0.3, "job-1")
    lease.take("media.transcode", ["tenant", "asset"], {})
    lease._stop.set()  # the worker vanished: nobody renews
    time.sleep(0.5)
    sent = Sent()
    first = reap_lapsed_leases(client, keys, sent)
    second = reap_lapsed_leases(client, keys, sent)
    assert first.resent == ["job-1"]
    assert second.resent == []
    assert sent == [("media.transcode", ["tenant", "asset"], {}, "job-1")]


def test_a_renewed_lease_is_not_reaped_and_a_finished_one_leaves_nothing(client: redis.Redis, keys: LeaseKeys) -> None:
    lease = Lease(client, keys, 0.6, "job-2")
    lease.take("certificates.render", ["tenant", "cert"], {})
    time.sleep(1.0)  # longer than the lease: only the renewals keep it
    sent = Sent()
    assert reap_lapsed_leases(client, keys, sent).resent == []
    lease.release(finished=True)
    assert client.zcard(keys.expiry) == 0
    assert client.hlen(keys.jobs) == 0
    assert reap_lapsed_leases(client, keys, sent, now=time.time() + 3600).resent == []
    assert sent == []


def test_a_job_waiting_for_its_retry_keeps_a_lease_past_its_backoff(client: redis.Redis, keys: LeaseKeys) -> None:
    lease = Lease(client, keys, 0.3, "job-3")
    lease.take("media.transcode", ["t", "a"], {})
    lease.release(finished=False)
    sent = Sent()
    assert reap_lapsed_leases(client, keys, sent, now=time.time() + 60).resent == []
    assert reap_lapsed_leases(client, keys, sent, now=time.time() + 3600).resent == ["job-3"]


def test_a_job_that_keeps_killing_its_worker_is_given_up(client: redis.Redis, keys: LeaseKeys) -> None:
    sent = Sent()
    outcomes = []
    for _ in range(MAX_REAPS + 1):
        lease = Lease(client, keys, 0.01, "job-4")
        lease.take("media.transcode", ["t", "a"], {})
        lease._stop.set()
        outcomes.append(reap_lapsed_leases(client, keys, sent, now=time.time() + 1))
    assert [len(o.resent) for o in outcomes] == [1] * MAX_REAPS + [0]
    assert outcomes[-1].abandoned == ["job-4"]
    assert client.hlen(keys.jobs) == 0
