"""Fold progress the way the worker does, on the test's own loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from lms.config import Settings
from lms.db.engines import Database
from lms.learning.fold import fold_pending, redis_from_url
from lms.learning.ingest import StreamKeys

Fold = Callable[[], Awaitable[int]]


@pytest.fixture(scope="session")
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = redis_from_url(settings.redis_url or "")
    yield client
    await client.aclose()


@pytest.fixture
def fold(db: Database, redis: aioredis.Redis, settings: Settings) -> Fold:
    async def run() -> int:
        return await fold_pending(db, redis, StreamKeys.for_queue(settings.celery_queue))

    return run
