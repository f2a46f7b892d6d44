"""Redis clients that outlive a Redis restart: a command on a pooled connection the server closed
is retried on a fresh connection (with a short backoff) instead of failing the request."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import UnixDomainSocketConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


def reconnecting_options(*, tcp: bool) -> dict[str, Any]:
    """Pool options: 4 tries spread over about a second, and a ping before reusing an idle
    connection; TCP keepalive where there is TCP (a Unix socket connection takes no such option)."""
    options: dict[str, Any] = {
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=4),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError, ConnectionResetError],
        "health_check_interval": 15,
    }
    if tcp:
        options["socket_keepalive"] = True
    return options


class PromptConnectionPool(aioredis.BlockingConnectionPool):
    """A blocking pool that hands out an idle connection at once when one is free and nobody waits for
    one. The parent takes its condition, a timeout and its wait-time hooks for every command (a tenth
    of a heartbeat's CPU); only a caller that may have to wait needs them."""

    async def get_connection(self, *args: Any, **options: Any) -> Any:
        # The shortcut reads redis-py's pool internals (8.1); where they differ, the parent's path serves.
        idle = getattr(self, "_available_connections", None)
        waiting = getattr(self._condition, "_waiters", True)
        busy = getattr(self, "_in_maintenance", True) or not hasattr(self, "get_available_connection")
        if args or options or not idle or waiting or busy:
            return await super().get_connection(*args, **options)  # type: ignore[no-untyped-call]
        # No await between the check and taking it: on one event loop nothing can interleave.
        connection = self.get_available_connection()  # type: ignore[no-untyped-call]
        try:
            await self.ensure_connection(connection)  # connected, and nothing unread left on it
        except BaseException:
            await self.release(connection)
            raise
        return connection


def blocking_redis(url: str, max_connections: int = 64, timeout: float = 20) -> aioredis.Redis:
    """A client whose pool waits for a free connection under bursts instead of failing,
    and reconnects by itself after a restart. `redis+socket://` is the embedded server's socket."""
    socket = url.startswith(("redis+socket://", "unix://"))
    options = reconnecting_options(tcp=not socket)
    if url.startswith("redis+socket://"):
        pool = PromptConnectionPool(
            max_connections=max_connections,
            timeout=timeout,
            connection_class=UnixDomainSocketConnection,
            path=url.removeprefix("redis+socket://"),
            **options,
        )
    else:
        pool = PromptConnectionPool.from_url(url, max_connections=max_connections, timeout=timeout, **options)
    return aioredis.Redis(connection_pool=pool)
