"""Leases of long jobs on a real Redis: a lapsed lease is re-sent once, a live one never, a worker
renews the lease of every job it holds and nothing else, and a job that keeps killing its worker is
given up after a few re-sends."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis

from lms.config import Settings
from lms.lib.jobs import build_celery
from workers.broker import DELIVERY_WRITERS, install_restore_tolerant_qos
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


def test_a_delivered_leased_job_is_leased_in_the_transaction_that_keeps_it_unacknowledged(
    client: redis.Redis, queue_settings: Settings, keys: LeaseKeys
) -> None:
    """The worker is killable at any moment: a message in the unacked index without its lease would be
    stranded there for the whole visibility timeout."""
    install_restore_tolerant_qos()
    leases = WorkerLeases(queue_settings, held=lambda: [])
    transactions: list[list[str]] = []

    def write_lease(message: Any, pipe: Any) -> None:
        leases.delivered(message, pipe)
        execute = pipe.execute

        def recorded(*args: Any, **kwargs: Any) -> Any:
            transactions.append([str(command[0]) for command, _ in pipe.command_stack])
            return execute(*args, **kwargs)

        pipe.execute = recorded

    app = build_celery(queue_settings)
    DELIVERY_WRITERS.append(write_lease)
    try:
        app.send_task(TRANSCODE.name, args=TRANSCODE.args, task_id="leased-1")
        app.send_task("notifications.send_due_reminders", task_id="unleased-1")
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            leased = channel.basic_get(queue_settings.celery_queue, no_ack=False)
            unleased = channel.basic_get(queue_settings.celery_queue, no_ack=False)
            assert (leased.headers["id"], unleased.headers["id"]) == ("leased-1", "unleased-1")
            held = set(client.hkeys(channel.unacked_key))
            assert {str(leased.delivery_tag).encode(), str(unleased.delivery_tag).encode()} <= held
            channel.basic_ack(leased.delivery_tag)
            channel.basic_ack(unleased.delivery_tag)
    finally:
        DELIVERY_WRITERS.remove(write_lease)
        leases.close()
        app.close()

    # One MULTI/EXEC holds the message and writes the lease; the other message has no lease to write.
    assert transactions[0] == ["HSET", "ZADD", "ZADD", "HSET"]
    assert transactions[1] == ["ZADD", "HSET"]
    assert client.zscore(keys.expiry, "leased-1") is not None
    assert client.zscore(keys.expiry, "unleased-1") is None
    assert json.loads(client.hget(keys.jobs, "leased-1") or "{}") == {
        "name": TRANSCODE.name,
        "args": TRANSCODE.args,
        "kwargs": {},
    }
