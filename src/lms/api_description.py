"""The OpenAPI description for integrators: security schemes, error envelope, stable ids and local docs pages.

Each route is described from what it declares (its guards, parameters, body and method), as it is registered,
so a new route is documented the same way without anything to remember.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import msgspec
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, Reference, SecurityRequirement, SecurityScheme
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute
from litestar.types import Empty, Method

from lms.identity.guards import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE

# Served from node_modules by the static router in app.py (pinned in package.json), never from a CDN.
VENDOR = "/static/vendor"
PUBLIC_GUARDS = frozenset({"allows_anonymous"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Routes whose callers can be throttled: sign-in and password flows, certificate look-ups.
THROTTLED_PREFIXES = ("/api/v1/auth", "/api/v1/me/password", "/verify", "/api/v1/verify")


class ErrorDetail(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    field: str | None = None


class ErrorEnvelope(msgspec.Struct):
    """Every error answer: a stable `code`, a message for people, and the offending `field` when there is one."""

    error: ErrorDetail


ERROR_STATUSES = {
    400: "The request is malformed.",
    401: "Sign-in required, or the credential is invalid, expired or for another site.",
    403: "Signed in, but not allowed (role, CSRF token, suspended site or locked content).",
    404: "No such resource on this site (or no site at this address).",
    409: "The request conflicts with the resource's current state.",
    413: "The request body is larger than this route accepts.",
    422: "A field or parameter is invalid; `error.field` names it.",
    429: "Too many attempts; try again later.",
}

SECURITY_SCHEMES: dict[str, SecurityScheme | Reference] = {
    "bearer": SecurityScheme(
        type="http", scheme="bearer", bearer_format="JWT", description="Access token from /api/v1/auth/login."
    ),
    "sessionCookie": SecurityScheme(
        type="apiKey",
        name=SESSION_COOKIE,
        security_scheme_in="cookie",
        description="The browser session set by signing in.",
    ),
    "csrf": SecurityScheme(
        type="apiKey",
        name=CSRF_HEADER,
        security_scheme_in="header",
        description=f"With the session cookie, writes echo the `{CSRF_COOKIE}` cookie in this header.",
    ),
    "scimToken": SecurityScheme(
        type="http", scheme="bearer", description="A SCIM token created by a tenant admin (/api/v1/scim-tokens)."
    ),
    "operatorToken": SecurityScheme(
        type="http", scheme="bearer", description="A platform operator's token (`lms operators` CLI)."
    ),
}


def guard_names(handler: HTTPRouteHandler) -> list[str]:
    return [getattr(guard, "__name__", "") for guard in handler.resolve_guards()]


def security_for(handler: HTTPRouteHandler) -> list[SecurityRequirement]:
    """Who may call, as OpenAPI security requirements; empty for public routes."""
    names = guard_names(handler)
    if "requires_scim_token" in names:
        return [{"scimToken": []}]
    if "requires_operator" in names:
        return [{"operatorToken": []}]
    if not names or PUBLIC_GUARDS & set(names):
        return []
    cookie: SecurityRequirement = {"sessionCookie": []}
    if handler.http_methods & WRITE_METHODS:
        cookie = {"sessionCookie": [], "csrf": []}
    return [{"bearer": []}, cookie]


def _access_sentence(handler: HTTPRouteHandler) -> str:
    names = guard_names(handler)
    if "allows_anonymous" in names:
        return "Public: no sign-in needed."
    if "requires_scim_token" in names:
        return "Needs a SCIM token of this site."
    if "requires_operator" in names:
        return "Needs a platform operator token."
    roles = [
        name.removeprefix("requires_").replace("_", " ")
        for name in names
        if name.startswith("requires_") and name != "requires_user"
    ]
    return "Needs a signed-in user" + (f" ({'; '.join(roles)})." if roles else ".")


def description_for(handler: HTTPRouteHandler) -> str:
    """The handler's docstring (or `description=`), then who may call it."""
    doc = inspect.cleandoc(handler.description or handler.fn.__doc__ or "")
    return f"{doc}\n\n{_access_sentence(handler)}" if doc else _access_sentence(handler)


RESERVED_KWARGS = frozenset({"self", "request", "state", "scope", "headers", "cookies", "socket"})


def _has_inputs(handler: HTTPRouteHandler) -> bool:
    """Whether the route reads a body or path/query parameters (its own or those of the providers it uses)."""
    available = handler.resolve_dependencies()
    pending, seen = list(handler.parsed_fn_signature.parameters), set()
    while pending:
        name = pending.pop()
        if name in available:
            if name not in seen:
                seen.add(name)
                pending.extend(available[name].parsed_fn_signature.parameters)
        elif name not in RESERVED_KWARGS:
            return True
    return False


def error_statuses_for(handler: HTTPRouteHandler, path: str) -> list[int]:
    statuses = [404]
    if _has_inputs(handler):
        statuses += [400, 422]
    if security_for(handler):
        statuses += [401, 403]
    if handler.http_methods & WRITE_METHODS:
        statuses.append(409)
    if "data" in handler.parsed_fn_signature.parameters or handler.request_max_body_size not in (None, Empty):
        statuses.append(413)
    if path.startswith(THROTTLED_PREFIXES) or "requires_verification_quota" in guard_names(handler):
        statuses.append(429)
    return sorted(statuses)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def operation_id_for(handler: HTTPRouteHandler, method: Method, path_components: Any = None) -> str:
    """`<controller>_<handler>` in snake case (`course_list_courses`): readable and stable across releases."""
    owner = handler.fn.__qualname__.rpartition(".")[0]
    if owner:
        prefix = _snake(owner.removesuffix("Controller"))
    else:
        prefix = handler.fn.__module__.removeprefix("lms.").split(".")[0]
    name = f"{prefix}_{handler.handler_name}"
    if len(handler.http_methods - {"OPTIONS", "HEAD"}) > 1:
        name += f"_{str(method).lower()}"
    return name


class ApiDescription(ReceiveRoutePlugin):
    """Describes each route as it is registered: security, error responses, description."""

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        for handler in route.route_handlers:
            if handler.http_methods == {"OPTIONS"}:
                continue
            handler.security = security_for(handler)
            handler.description = description_for(handler)
            errors = {
                status: ResponseSpec(
                    data_container=ErrorEnvelope, description=ERROR_STATUSES[status], generate_examples=False
                )
                for status in error_statuses_for(handler, route.path)
            }
            handler.responses = {**errors, **(handler.responses or {})}


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Learning platform API",
        version="1",
        description=(
            "Every list answers `{items, total, limit, offset}`; every error answers "
            '`{"error": {"code", "message", "field"?}}`.'
        ),
        components=Components(security_schemes=SECURITY_SCHEMES),
        operation_id_creator=operation_id_for,
        render_plugins=[
            SwaggerRenderPlugin(
                path=["/", "/swagger"],
                js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
                css_url=f"{VENDOR}/swagger-ui/swagger-ui.css",
                standalone_preset_js_url=f"{VENDOR}/swagger-ui/swagger-ui-standalone-preset.js",
                favicon='<link rel="icon" href="data:,">',
            ),
            RedocRenderPlugin(path="/redoc", js_url=f"{VENDOR}/redoc/redoc.standalone.js", google_fonts=False),
        ],
    )
