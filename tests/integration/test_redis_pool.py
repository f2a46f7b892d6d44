"""The Redis clients' pool: an idle connection is handed out at once (no condition, timeout or wait
hooks per command), and when every connection is busy callers wait their turn and all complete."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from lms.config import Settings
from lms.lib.redis_clients import PromptConnectionPool, blocking_redis


@pytest.fixture
def waited(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls that went through the blocking pool's own (waiting) path."""
    calls: list[int] = []
    original = aioredis.BlockingConnectionPool.get_connection

    async def counted(self: Any, *args: Any, **options: Any) -> Any:
        calls.append(1)
        return await original(self, *args, **options)

    monkeypatch.setattr(aioredis.BlockingConnectionPool, "get_connection", counted)
    return calls


async def test_an_idle_connection_is_handed_out_at_once(settings: Settings, waited: list[int]) -> None:
    client = blocking_redis(settings.redis_url or "", max_connections=4)
    key = f"pool-test:{id(client)}"
    try:
        assert isinstance(client.connection_pool, PromptConnectionPool)
        await client.set(key, 0)  # the first command opens the connection through the waiting path
        opened = len(waited)
        for _ in range(20):
            await client.incr(key)
        assert int(await client.get(key)) == 20
        assert len(waited) == opened
    finally:
        await client.delete(key)
        await client.aclose()


async def test_callers_beyond_the_pool_wait_their_turn_and_all_complete(settings: Settings, waited: list[int]) -> None:
    client = blocking_redis(settings.redis_url or "", max_connections=2)
    key = f"pool-test:{id(client)}"
    try:
        await asyncio.gather(*(client.incr(key) for _ in range(200)))
        assert int(await client.get(key)) == 200
        pool = client.connection_pool
        assert len(pool._available_connections) + len(pool._in_use_connections) <= 2
        assert waited  # some had to wait for a connection, and got one
    finally:
        await client.delete(key)
        await client.aclose()
