"""The whole worker killed while it holds certificate jobs (running, or received and not started yet):
every PDF is still rendered, soon, once; a worker stopped gracefully hands back what it did not start."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from lms.certificates.models import Certificate
from lms.certificates.tasks import ISSUE_TASK
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib.jobs import build_celery
from tests.conftest import eventually
from tests.integration.certificates.conftest import Complete, Completion
from tests.support import celery_worker, private_queue
from workers.leases import LeaseKeys, sync_redis

pytestmark = pytest.mark.worker

SHORT_LEASE = {"JOB_LEASE_SECONDS": "4"}


@pytest.fixture
def queue(settings: Settings) -> Iterator[Settings]:
    with private_queue(settings) as private:
        yield private


async def rendered(db: Database, tenant_id: Any) -> int:
    async with tenant_session(db.app_sessions, tenant_id) as session:
        query = select(func.count()).select_from(Certificate).where(Certificate.pdf_key.is_not(None))
        return int((await session.execute(query)).scalar_one())


async def test_certificates_of_a_killed_worker_are_rendered_by_the_next_one(
    complete: Complete, db: Database, queue: Settings, tmp_path: Path
) -> None:
    # Four completions queue their certificate jobs while no worker runs.
    done = [await complete() for _ in range(4)]
    leases = LeaseKeys.for_queue(queue.celery_queue)
    client: redis.Redis = sync_redis(queue.redis_url or "")
    try:
        with celery_worker(queue, tmp_path / "doomed.log", beat=True, env=SHORT_LEASE) as doomed:
            deadline = time.monotonic() + 40
            while not client.zcard(leases.expiry):  # a job is running
                assert time.monotonic() < deadline, "no certificate job started"
                await asyncio.sleep(0.02)
            os.killpg(doomed.pid, signal.SIGKILL)
            doomed.wait(10)
        in_flight = client.zcard(leases.expiry)
        assert in_flight >= 1
    finally:
        client.close()
    killed_at = time.monotonic()

    with celery_worker(queue, tmp_path / "replacement.log", beat=True, env=SHORT_LEASE):

        async def all_rendered() -> bool:
            counts = [await rendered(db, d.tenant.id) for d in done]
            return counts == [1] * len(done)

        try:
            await eventually(all_rendered, timeout=90)
        except AssertionError as exc:
            raise AssertionError((tmp_path / "replacement.log").read_text()[-4000:]) from exc
    assert time.monotonic() - killed_at < 90


@dataclass
class Holding:
    worker: subprocess.Popen[bytes]
    client: redis.Redis
    leases: LeaseKeys


@contextmanager
def a_worker_holding_a_job(completion: Completion, queue: Settings, log: Path) -> Iterator[Holding]:
    """A worker that received the completion's job and holds it without starting it: the job is sent
    again with a countdown of a day in place of the one the completion queued."""
    client: redis.Redis = sync_redis(queue.redis_url or "")
    leases = LeaseKeys.for_queue(queue.celery_queue)
    try:
        client.delete(queue.celery_queue)
        args = [str(completion.tenant.id), str(completion.enrollment_id)]
        build_celery(queue).send_task(ISSUE_TASK, args=args, countdown=86_400, ignore_result=True)
        with celery_worker(queue, log, env=SHORT_LEASE) as worker:
            deadline = time.monotonic() + 40
            while not client.zcard(leases.expiry):
                assert time.monotonic() < deadline, "the worker took no lease for the job it received"
                time.sleep(0.05)
            yield Holding(worker, client, leases)
    finally:
        client.close()


async def test_a_job_the_killed_worker_received_but_had_not_started_is_run_by_the_next_one(
    complete: Complete, db: Database, queue: Settings, tmp_path: Path
) -> None:
    done = await complete()
    with a_worker_holding_a_job(done, queue, tmp_path / "doomed.log") as held:
        os.killpg(held.worker.pid, signal.SIGKILL)
        held.worker.wait(10)
        assert held.client.llen(queue.celery_queue) == 0  # the message sits unacknowledged, for hours

    with celery_worker(queue, tmp_path / "replacement.log", beat=True, env=SHORT_LEASE):

        async def its_pdf() -> bool:
            return await rendered(db, done.tenant.id) == 1

        try:
            await eventually(its_pdf, timeout=60)
        except AssertionError as exc:
            raise AssertionError((tmp_path / "replacement.log").read_text()[-4000:]) from exc


async def test_a_worker_stopped_gracefully_hands_back_the_job_it_had_not_started_without_a_lease(
    complete: Complete, queue: Settings, tmp_path: Path
) -> None:
    done = await complete()
    with a_worker_holding_a_job(done, queue, tmp_path / "stopped.log") as held:
        held.worker.terminate()
        assert held.worker.wait(30) == 0
        # Back in the queue for whoever comes next, and no lease to lapse into a second, reaped copy.
        assert held.client.llen(queue.celery_queue) == 1
        assert held.client.zcard(held.leases.expiry) == 0
        assert held.client.hlen(held.leases.jobs) == 0
