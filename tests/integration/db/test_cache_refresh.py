"""Caches refreshed without a stampede: when the host -> tenant entry expires under concurrent
requests, one lookup reaches the database and every request gets its answer."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event

from lms.config import Settings
from lms.db.engines import Database
from lms.tenancy.services.resolver import TenantResolver
from tests.conftest import MakeTenant


async def test_concurrent_requests_for_an_expired_host_share_one_lookup(
    db: Database, settings: Settings, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    resolver = TenantResolver(db.app_sessions, settings.public_base_domain, ttl_seconds=0.2)
    host = f"{tenant.slug}.{settings.public_base_domain}"
    lookups: list[str] = []

    def record(*args: Any) -> None:
        if "resolve_tenant" in args[2]:
            lookups.append(args[2])

    engine = db.app_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        first = await asyncio.gather(*(resolver.resolve(host) for _ in range(50)))
        await asyncio.sleep(0.25)  # expired: the next burst refreshes it once
        second = await asyncio.gather(*(resolver.resolve(host) for _ in range(50)))
        unknown = await asyncio.gather(*(resolver.resolve(f"nobody.{settings.public_base_domain}") for _ in range(20)))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert {t.id if t else None for t in first + second} == {tenant.id}
    assert unknown == [None] * 20
    assert len(lookups) == 3
