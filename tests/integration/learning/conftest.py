"""Fold progress the way the worker does, on the test's own loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from lms.config import Settings
from lms.db.engines import Database
from lms.learning.services.fold import fold_pending
from lms.learning.services.ingest import StreamKeys, stream_redis

Fold = Callable[[], Awaitable[int]]


@pytest.fixture(scope="session")
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = stream_redis(settings.redis_url or "")
    yield client
    await client.aclose()


@pytest.fixture
def fold(db: Database, redis: aioredis.Redis, settings: Settings) -> Fold:
    async def run() -> int:
        """Fold until the stream is empty; a worker started by another test may be folding too."""
        keys = StreamKeys.for_queue(settings.celery_queue)
        folded = 0
        for _ in range(300):
            folded += await fold_pending(db, redis, keys) or 0
            if await redis.xlen(keys.stream) == 0 and not await redis.exists(keys.lock):
                return folded
            await asyncio.sleep(0.1)
        raise AssertionError("the progress stream was not drained")

    return run
