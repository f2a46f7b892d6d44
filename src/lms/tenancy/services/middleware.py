"""Tenant middleware: every request on a tenant host carries its tenant, or is refused."""

from __future__ import annotations

import json
import re

import structlog
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from lms.lib.errors import error_body
from lms.lib.headers import header_value
from lms.tenancy.models import TenantStatus
from lms.tenancy.services.resolver import ResolvedTenant, TenantResolver
from lms.web.errors import render_error_html, wants_html

# Platform routes answer on any host and need no tenant.
PLATFORM_PATHS = [
    r"^/health$",
    r"^/ready$",
    r"^/api/v1/operator",
    # Stripe posts to the platform, not to a tenant's host; the event's metadata names the tenant.
    r"^/api/v1/billing/webhooks/",
    r"^/operator(/|$)",  # the operator console, on the platform's own host (its guard checks the host)
    r"^/schema",
    r"^/static/",
    r"^/\.well-known/jwks\.json$",
]


_PLATFORM_PATH = re.compile("|".join(PLATFORM_PATHS))


def is_platform_path(scope: Scope) -> bool:
    """Matched on the request path itself: the platform prefixes cover routes mounted under them too."""
    return _PLATFORM_PATH.match(scope["path"]) is not None


class TenantMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)
    should_bypass_for_scope = staticmethod(is_platform_path)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        resolver: TenantResolver = scope["litestar_app"].state.tenant_resolver
        host = header_value(scope, b"host")
        tenant = await resolver.resolve(host) if host else None
        if tenant is None or tenant.status is TenantStatus.DELETED:
            await _refuse(scope, send, 404, "not_found", "No learning site is configured for this address.", None)
            return
        if tenant.status is TenantStatus.SUSPENDED:
            await _refuse(
                scope,
                send,
                403,
                "tenant_suspended",
                f"{tenant.name}'s learning site is suspended. Contact your administrator.",
                tenant,
            )
            return
        scope.setdefault("state", {})["tenant"] = tenant
        structlog.contextvars.bind_contextvars(tenant_id=str(tenant.id), tenant=tenant.slug)
        await next_app(scope, receive, send)


async def _refuse(
    scope: Scope, send: Send, status: int, code: str, message: str, tenant: ResolvedTenant | None
) -> None:
    """Answer before routing: JSON for API clients, the branded error page for browsers."""
    if wants_html(scope["path"], header_value(scope, b"accept")):
        page_code = "no_site" if code == "not_found" else code
        request_id = scope.get("state", {}).get("request_id", "")
        html = render_error_html(
            scope["litestar_app"], status, page_code, tenant, header_value(scope, b"accept-language"), request_id
        )
        body = html.encode()
        content_type = b"text/html; charset=utf-8"
    else:
        body = json.dumps(error_body(code, message)).encode()
        content_type = b"application/json"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)
