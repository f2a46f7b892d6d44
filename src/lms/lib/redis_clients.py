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


def blocking_redis(url: str, max_connections: int = 64, timeout: float = 20) -> aioredis.Redis:
    """A client whose pool waits for a free connection under bursts instead of failing,
    and reconnects by itself after a restart. `redis+socket://` is the embedded server's socket."""
    socket = url.startswith(("redis+socket://", "unix://"))
    options = reconnecting_options(tcp=not socket)
    if url.startswith("redis+socket://"):
        pool = aioredis.BlockingConnectionPool(
            max_connections=max_connections,
            timeout=timeout,
            connection_class=UnixDomainSocketConnection,
            path=url.removeprefix("redis+socket://"),
            **options,
        )
    else:
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=timeout, **options
        )
    return aioredis.Redis(connection_pool=pool)
