"""The whole worker killed while it renders certificates: every PDF is still rendered, soon, once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from lms.certificates.models import Certificate
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from tests.conftest import eventually
from tests.integration.certificates.conftest import Complete
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
