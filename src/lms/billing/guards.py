"""Billing guards: `requires_feature(...)` for routes a plan unlocks, and the learner standing check
that keeps learners of a suspended (unpaid) site out while its admins can still sign in and pay."""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any
from uuid import UUID

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lms.billing.queries import Licence, licence_of
from lms.billing.schemas import AccountStatus
from lms.db.binding import tenant_session
from lms.identity.guards import Principal
from lms.lib.errors import DomainError, Forbidden

UPGRADE_PATH = "/admin/billing"

FEATURE_NAMES = {
    "sso": "Single sign-on",
    "scim": "SCIM provisioning",
    "custom_domains": "Custom domains",
    "api_access": "API access",
    "paid_courses": "Selling courses",
}


class UpgradeRequired(DomainError):
    """402: the tenant's plan does not include the feature; the page links to the upgrade."""

    status = 402
    code = "upgrade_required"


class BillingSuspended(Forbidden):
    code = "billing_suspended"


# Per-process cache of licences, as short-lived as the tenant cache (0 in tests = always read).
_cache: dict[UUID, tuple[float, Licence]] = {}
# The read under way per tenant: requests that miss together (every one in flight when an entry
# expires, on the hottest routes dozens) share it instead of each sending their own three statements.
_loading: dict[UUID, asyncio.Task[Licence]] = {}


async def current_licence(connection: ASGIConnection[Any, Any, Any, Any], tenant_id: UUID) -> Licence:
    ttl = connection.app.state.settings.tenant_cache_seconds
    cached = _cache.get(tenant_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    loading = _loading.get(tenant_id)
    if loading is None or loading.get_loop() is not asyncio.get_running_loop():
        loading = asyncio.create_task(_load(connection.app.state.db.app_sessions, tenant_id, ttl))
        _loading[tenant_id] = loading
        loading.add_done_callback(functools.partial(_loaded, tenant_id))
    # Shielded: a waiter that goes away (a cancelled request) does not cancel the others' read.
    return await asyncio.shield(loading)


async def _load(sessions: async_sessionmaker[AsyncSession], tenant_id: UUID, ttl: float) -> Licence:
    now = time.monotonic()
    async with tenant_session(sessions, tenant_id) as session:
        licence = await licence_of(session, tenant_id)
    if ttl > 0:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[tenant_id] = (now + ttl, licence)
    return licence


def _loaded(tenant_id: UUID, task: asyncio.Task[Licence]) -> None:
    if _loading.get(tenant_id) is task:
        del _loading[tenant_id]
    if not task.cancelled():
        task.exception()  # retrieved: every waiter may have gone


def forget_licence(tenant_id: UUID) -> None:
    """Called after this process changed a tenant's account."""
    _cache.pop(tenant_id, None)
    _loading.pop(tenant_id, None)  # a read begun before the change is not shared with later requests


def requires_feature(feature: str) -> Any:
    """Guard: the request's tenant is on a plan that includes `feature` (402 with the upgrade path)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        # The request's tenant, or on operator routes the tenant the path names.
        tenant = connection.scope.get("state", {}).get("tenant")
        tenant_id = tenant.id if tenant is not None else connection.path_params.get("tenant_id")
        if not isinstance(tenant_id, UUID):
            raise Forbidden("this route needs a tenant")
        licence = await current_licence(connection, tenant_id)
        if feature not in licence.features:
            name = FEATURE_NAMES.get(feature, feature)
            raise UpgradeRequired(
                f"{name} is not included in the {licence.plan} plan; upgrade at {UPGRADE_PATH}", field="plan"
            )

    guard.__name__ = f"requires_feature_{feature}"
    return guard


async def requires_billing_standing(connection: ASGIConnection[Any, Any, Any, Any], principal: Principal) -> None:
    """Learners of a site suspended for non-payment are refused; tenant admins pass (they can pay)."""
    if principal.has_role("tenant_admin"):
        return
    licence = await current_licence(connection, principal.tenant_id)
    if licence.status == AccountStatus.SUSPENDED:
        raise BillingSuspended(
            "this learning site's subscription is unpaid; your administrator has been told how to restore access"
        )
