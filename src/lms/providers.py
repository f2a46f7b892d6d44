"""App-level providers: the typed, request-scoped pieces any handler or domain provider asks for by name.

`tenant`, `settings`, `database`, `redis`, `key_ring` and `reads` (sessionless reads of the signed-in
user's tenant) come from here; `db_session` (bound to the tenant) from db/providers.py, `principal` from
identity/principal.py and `page` from lib/pagination.py.
A domain's services are built by its own `provide_<service>` from these, never inside a handler.
"""

from __future__ import annotations

from litestar.di import NamedDependency, Provide
from redis.asyncio import Redis

from lms.config import Settings
from lms.db.engines import Database
from lms.db.providers import DbSession, provide_db_session
from lms.db.reads import TenantReads
from lms.identity.guards import Principal, provide_principal
from lms.identity.signin.services.keys import KeyRing
from lms.lib.errors import NotFound
from lms.lib.pagination import provide_page_params
from lms.lib.params import AppRequest
from lms.lib.storage import Storage, storage_for
from lms.tenancy.services.audit import AdminAudit, AuditActor
from lms.tenancy.services.resolver import ResolvedTenant


def provide_settings(request: AppRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def provide_database(request: AppRequest) -> Database:
    database: Database = request.app.state.db
    return database


def provide_redis(request: AppRequest) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


def provide_key_ring(request: AppRequest) -> KeyRing:
    key_ring: KeyRing = request.app.state.key_ring
    return key_ring


def provide_tenant(request: AppRequest) -> ResolvedTenant:
    """The tenant the tenant middleware resolved from the host; platform routes have none."""
    tenant = request.scope.get("state", {}).get("tenant")
    if not isinstance(tenant, ResolvedTenant):
        raise NotFound("no learning site is configured for this address")
    return tenant


def provide_reads(request: AppRequest, principal: NamedDependency[Principal]) -> TenantReads:
    """`reads`: the signed-in user's tenant (the host's: checked when the token was accepted), read without a
    session (lms.db.reads). It depends on `principal` alone, so a hot route asking for both resolves them one
    after the other; independent dependencies would be resolved in a task group of their own."""
    database: Database = request.app.state.db
    return TenantReads(database.app_engine, principal.tenant_id)


def provide_admin_audit(
    request: AppRequest,
    db_session: DbSession,
    tenant: NamedDependency[ResolvedTenant],
    principal: NamedDependency[Principal],
) -> AdminAudit:
    """`audit`: the tenant's audit log, recording the signed-in user and the request id."""
    request_id = request.scope.get("state", {}).get("request_id")
    return AdminAudit(db_session, tenant.id, AuditActor(user_id=principal.user_id, request_id=request_id))


def provide_storage(request: AppRequest, settings: NamedDependency[Settings]) -> Storage:
    """`storage`: one object-storage client per app, built on first use from STORAGE_URL."""
    state = request.app.state
    if getattr(state, "media_storage", None) is None:
        state.media_storage = storage_for(settings)
    storage: Storage = state.media_storage
    return storage


APP_DEPENDENCIES: dict[str, Provide] = {
    "settings": Provide(provide_settings, sync_to_thread=False),
    "database": Provide(provide_database, sync_to_thread=False),
    "redis": Provide(provide_redis, sync_to_thread=False),
    "key_ring": Provide(provide_key_ring, sync_to_thread=False),
    "tenant": Provide(provide_tenant, sync_to_thread=False),
    "db_session": Provide(provide_db_session),
    "principal": Provide(provide_principal),
    "reads": Provide(provide_reads, sync_to_thread=False),
    "page": Provide(provide_page_params, sync_to_thread=False),
    "audit": Provide(provide_admin_audit, sync_to_thread=False),
    "storage": Provide(provide_storage, sync_to_thread=False),
}
