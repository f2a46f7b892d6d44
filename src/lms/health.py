"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy import text

from lms.identity.guards import allows_anonymous
from lms.lib.params import AppRequest

# Orchestrators probe without credentials; the answers reveal only up/down.
probe = allows_anonymous("liveness and readiness probes carry no credentials")


@get("/health", include_in_schema=False, sync_to_thread=False, guards=[probe])
def health() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@get("/ready", include_in_schema=False, guards=[probe])
async def ready(request: AppRequest) -> Response[dict[str, Any]]:
    """PostgreSQL and Redis both answer within two seconds."""
    state = request.app.state
    checks = {"database": await _check(_database(state)), "redis": await _check(state.redis.ping())}
    ok = all(v == "ok" for v in checks.values())
    return Response(
        {"status": "ready" if ok else "unavailable", "checks": checks},
        status_code=HTTP_200_OK if ok else HTTP_503_SERVICE_UNAVAILABLE,
    )


async def _database(state: Any) -> None:
    async with state.db.app_sessions() as session:
        await session.execute(text("select 1"))


async def _check(probe: Any) -> str:
    try:
        await asyncio.wait_for(probe, timeout=2)
    except Exception as exc:  # a probe reports, it never raises
        return f"error: {type(exc).__name__}"
    return "ok"
