"""App-level providers: the typed, request-scoped pieces any handler or domain provider asks for by name.

`tenant`, `settings`, `database`, `redis` and `key_ring` come from here; `db_session` (bound to the
tenant) from db/providers.py, `principal` from identity/principal.py and `page` from lib/pagination.py.
A domain's services are built by its own `provide_<service>` from these, never inside a handler.
"""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import Provide
from redis.asyncio import Redis

from lms.config import Settings
from lms.db.engines import Database
from lms.db.providers import provide_db_session
from lms.identity.guards import provide_principal
from lms.identity.signin.services.keys import KeyRing
from lms.lib.errors import NotFound
from lms.lib.pagination import provide_page_params
from lms.lib.params import AppRequest
from lms.tenancy.services.resolver import ResolvedTenant


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_database(state: State) -> Database:
    database: Database = state.db
    return database


def provide_redis(state: State) -> Redis:
    redis: Redis = state.redis
    return redis


def provide_key_ring(state: State) -> KeyRing:
    key_ring: KeyRing = state.key_ring
    return key_ring


def provide_tenant(request: AppRequest) -> ResolvedTenant:
    """The tenant the tenant middleware resolved from the host; platform routes have none."""
    tenant = request.scope.get("state", {}).get("tenant")
    if not isinstance(tenant, ResolvedTenant):
        raise NotFound("no learning site is configured for this address")
    return tenant


APP_DEPENDENCIES: dict[str, Provide] = {
    "settings": Provide(provide_settings, sync_to_thread=False),
    "database": Provide(provide_database, sync_to_thread=False),
    "redis": Provide(provide_redis, sync_to_thread=False),
    "key_ring": Provide(provide_key_ring, sync_to_thread=False),
    "tenant": Provide(provide_tenant, sync_to_thread=False),
    "db_session": Provide(provide_db_session),
    "principal": Provide(provide_principal),
    "page": Provide(provide_page_params, sync_to_thread=False),
}
