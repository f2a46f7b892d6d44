"""Authorization and throttling for certificate routes."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from lms.identity.guards import allows_anonymous, requires_role
from lms.identity.schemas import Role
from lms.lib import clock
from lms.lib.errors import RateLimited

requires_tenant_admin = requires_role(Role.TENANT_ADMIN)
public_verification = allows_anonymous("employers verify certificates without an account; throttled per client")
public_signed_download = allows_anonymous("the link's HMAC signature and expiry are the authorization")
public_issuer_profile = allows_anonymous("verifiers fetch the issuer's public keys to check credentials")


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    client = connection.scope.get("client")
    return str(client[0]) if client else "unknown"


async def requires_verification_quota(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Fixed one-minute window per tenant and client address, counted in Redis."""
    settings = connection.app.state.settings
    tenant = connection.scope.get("state", {}).get("tenant")
    window = int(clock.timestamp() // 60)
    key = f"certificates:verify:{tenant.id if tenant else '-'}:{client_address(connection)}:{window}"
    redis = connection.app.state.redis
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = await pipe.execute()
    if int(count) > settings.certificate_verify_rate_per_minute:
        raise RateLimited("too many certificate look-ups; try again in a minute")
