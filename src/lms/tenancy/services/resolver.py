"""Map a request's host to a tenant: a verified custom domain, or `<slug>.<PUBLIC_BASE_DOMAIN>`."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lms.tenancy.models import TenantStatus

_RESOLVE = text("select id, slug, name, status, branding from app.resolve_tenant(:host, :base)")


@dataclass(frozen=True)
class ResolvedTenant:
    """What a request needs to know about its tenant; cached per host."""

    id: UUID
    slug: str
    name: str
    status: TenantStatus
    branding: dict[str, Any] = field(default_factory=dict)


def normalise_host(raw: str) -> str:
    """Lower-case, without port or trailing dot. IPv6 literals keep their brackets."""
    host = raw.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


class TenantResolver:
    """Host -> tenant with a small TTL cache (misses are cached too, so unknown hosts are cheap).

    When an entry expires under load, one lookup per host refreshes it and every concurrent request
    for that host awaits that same lookup (no stampede of identical queries on the pool)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], base_domain: str, ttl_seconds: float = 10.0) -> None:
        self._sessions = sessions
        self._base_domain = base_domain
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, ResolvedTenant | None]] = {}
        self._lookups: dict[str, asyncio.Future[ResolvedTenant | None]] = {}

    async def resolve(self, host: str) -> ResolvedTenant | None:
        host = normalise_host(host)
        now = time.monotonic()
        cached = self._cache.get(host)
        if cached is not None and cached[0] > now:
            return cached[1]
        pending = self._lookups.get(host)
        if pending is not None:
            return await asyncio.shield(pending)
        pending = asyncio.ensure_future(self._lookup(host))
        self._lookups[host] = pending
        try:
            tenant = await asyncio.shield(pending)
        finally:
            self._lookups.pop(host, None)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[host] = (now + self._ttl, tenant)
        return tenant

    def invalidate(self) -> None:
        """Forget everything; called after an operator changes a tenant or a domain."""
        self._cache.clear()

    async def _lookup(self, host: str) -> ResolvedTenant | None:
        async with self._sessions() as session:
            row = (await session.execute(_RESOLVE, {"host": host, "base": self._base_domain})).first()
        if row is None:
            return None
        return ResolvedTenant(
            id=row.id,
            slug=row.slug,
            name=row.name,
            status=TenantStatus(row.status),
            branding=row.branding or {},
        )
