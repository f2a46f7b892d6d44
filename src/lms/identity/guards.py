"""Who is calling: the authenticated user of the request's tenant, and the guards that need one.

Every domain's controllers use these: `requires_user`, `requires_role(...)`, and the `principal`
dependency. A token is accepted only on its own tenant's host.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar.connection import ASGIConnection, Request
from litestar.handlers.base import BaseRouteHandler

from lms.identity.models import Role
from lms.identity.signin.services.tokens import InvalidToken, verify_access_token
from lms.lib.errors import Forbidden, Unauthorized
from lms.lib.headers import header_value
from lms.lib.params import AppRequest

SESSION_COOKIE = "lms_session"
REFRESH_COOKIE = "lms_refresh"
CSRF_COOKIE = "lms_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FORM_FIELD = "csrf_token"
FORM_MEDIA_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    user_id: UUID
    tenant_id: UUID
    roles: frozenset[str]
    # The sign-in session (refresh-token family) of the access token; None for tokens without one.
    session_id: UUID | None = None

    def has_role(self, *roles: Role | str) -> bool:
        return any(str(role) in self.roles for role in roles)


# Checks every authenticated request passes after its token verified (billing registers the one that
# refuses learners of a site suspended for non-payment); app-level wiring keeps identity free of billing.
StandingCheck = Callable[[ASGIConnection[Any, Any, Any, Any], Principal], Awaitable[None]]
standing_checks: list[StandingCheck] = []


async def _token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = header_value(connection.scope, b"authorization")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    cookie = connection.cookies.get(SESSION_COOKIE) or None
    if cookie is not None:
        await require_csrf_or_form_field(connection)
    return cookie


def csrf_matches(cookie_value: str | None, header_value: str | None) -> bool:
    return bool(cookie_value) and bool(header_value) and hmac.compare_digest(cookie_value or "", header_value or "")


def require_csrf(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Cookie-authenticated writes must echo the CSRF cookie in X-CSRF-Token (double submit).

    Browsers attach cookies to cross-site requests; a foreign page cannot read the CSRF cookie.
    """
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    if not csrf_matches(connection.cookies.get(CSRF_COOKIE), connection.headers.get(CSRF_HEADER)):
        raise Forbidden("missing or wrong X-CSRF-Token header for a cookie-authenticated request")


async def require_csrf_or_form_field(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """`require_csrf`, and for HTML forms (which cannot set headers) the same token in the
    `csrf_token` field of a form-encoded body. The form is cached, so the handler can still read it."""
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    cookie = connection.cookies.get(CSRF_COOKIE)
    if csrf_matches(cookie, connection.headers.get(CSRF_HEADER)):
        return
    if isinstance(connection, Request) and connection.content_type[0] in FORM_MEDIA_TYPES:
        field = (await connection.form()).get(CSRF_FORM_FIELD)
        if isinstance(field, str) and csrf_matches(cookie, field):
            return
    require_csrf(connection)


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The request's principal, verified once per request; 401 when absent or not acceptable."""
    state = connection.scope.setdefault("state", {})
    cached = state.get("principal")
    if isinstance(cached, Principal):
        return cached
    token = await _token(connection)
    if token is None:
        raise Unauthorized("sign-in required")
    try:
        claims = await verify_access_token(connection.app.state.key_ring, token)
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from exc
    tenant = state.get("tenant")
    if tenant is None or claims.tenant_id != tenant.id:
        # A token of tenant A on tenant B's host is never served.
        raise Unauthorized("this token was issued for another site")
    if await connection.app.state.revoked_tokens.is_revoked(claims.user_id, claims.issued_at, claims.session_id):
        raise Unauthorized("this session has ended; sign in again")
    principal = Principal(
        user_id=claims.user_id, tenant_id=claims.tenant_id, roles=claims.roles, session_id=claims.session_id
    )
    for check in standing_checks:
        await check(connection, principal)
    state["principal"] = principal
    return principal


async def requires_user(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    await authenticate(connection)


def requires_role(*roles: Role) -> Any:
    """Guard: a signed-in user holding at least one of `roles`."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await authenticate(connection)
        if not principal.has_role(*roles):
            names = " or ".join(r.value for r in roles)
            raise Forbidden(f"this action needs the {names} role")

    guard.__name__ = "requires_" + "_or_".join(r.value for r in roles)
    return guard


async def provide_principal(request: AppRequest) -> Principal:
    return await authenticate(request)


def allows_anonymous(reason: str) -> Any:
    """Explicit public marker: the route needs no sign-in, for the stated `reason`."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        return None

    guard.__name__ = "allows_anonymous"
    guard.__doc__ = reason
    return guard
