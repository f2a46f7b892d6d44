"""Domain errors and the handlers that turn them into `{"error": {"code", "message", "field"?}}`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from litestar import MediaType, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.exceptions import ValidationException as LitestarValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import TimeoutError as PoolTimeout

from lms.lib.database_errors import refusal_for
from lms.lib.params import AppRequest

log = structlog.get_logger("lms.errors")


class DomainError(Exception):
    """An error a user can act on; `status` is its HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, values: dict[str, Any] | None = None) -> None:
        """`message` may name `values` as `%(name)s`: API clients get it filled in (dates in ISO form),
        pages translate the message as written and fill the values in for the page's locale."""
        self.template = message
        self.values = dict(values or {})
        if self.values:
            shown = {key: v.isoformat() if isinstance(v, datetime) else v for key, v in self.values.items()}
            message = message % shown
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class TooLarge(DomainError):
    status = 413
    code = "too_large"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def _json(status: int, body: dict[str, Any]) -> Response[Any]:
    return Response(content=body, status_code=status, media_type=MediaType.JSON)


def _respond(request: AppRequest, status: int, body: dict[str, Any]) -> Response[Any]:
    """JSON, unless the app registered `error_page` (lms.web.errors) and it answers this browser with HTML."""
    error_page = request.app.state.get("error_page")
    page = error_page(request, status, body) if error_page is not None else None
    return page if page is not None else _json(status, body)


def domain_error_handler(request: AppRequest, exc: DomainError) -> Response[Any]:
    body = error_body(exc.code, exc.message, exc.field)
    # The app may register `localised_message` (lms.web.errors): the message in the browser's language.
    localise = request.app.state.get("localised_message")
    localised = localise(request, exc) if localise is not None else None
    if localised:
        body["error"]["localised_message"] = localised
    return _respond(request, exc.status, body)


def validation_error_handler(request: AppRequest, exc: LitestarValidationException) -> Response[Any]:
    """Litestar/msgspec validation: name the first offending field."""
    field = None
    message = exc.detail
    extra = exc.extra if isinstance(exc.extra, list) else []
    if extra and isinstance(extra[0], dict):
        first = extra[0]
        key = str(first.get("key") or "")
        field = key.removeprefix("$.") or None
        message = str(first.get("message") or message)
    return _respond(request, 422 if field else 400, error_body("validation_failed", message, field))


_HTTP_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
}


def http_error_handler(request: AppRequest, exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= HTTP_500_INTERNAL_SERVER_ERROR:
        return server_error_response(request, exc, status)
    return _respond(request, status, error_body(_HTTP_CODES.get(status, "bad_request"), str(exc.detail)))


def server_error_response(request: AppRequest, exc: BaseException, status: int = 500) -> Response[Any]:
    """Every 5xx: logged with its traceback and request id; the body carries the id, nothing internal."""
    request_id = str(request.scope.get("state", {}).get("request_id", ""))
    log.error(
        "server_error",
        status=status,
        request_id=request_id,
        method=request.scope.get("method", ""),
        path=request.scope.get("path", ""),
        exc_info=exc,
    )
    body = error_body("internal_error", f"internal server error (request id {request_id})")
    body["error"]["request_id"] = request_id
    return _respond(request, status, body)


def unexpected_error_handler(request: AppRequest, exc: Exception) -> Response[Any]:
    """Anything no other handler claimed: a database refusal of bad input is the caller's 4xx (in the
    route's own error format, e.g. SCIM's); the rest is a logged 500."""
    if isinstance(exc, RecursionError):
        # Input nested past what a parser can take, on a path the edge's depth rule did not see (a
        # body a handler reads itself, under a Content-Type it does not declare). Logged, in case
        # it was not input after all.
        log.warning("recursion_error", path=request.scope.get("path", ""), exc_info=exc)
        error: DomainError = ValidationFailed("the input is nested too deeply", field="body")
    elif _is_unavailable(exc):
        # The database or Redis went away (a restart, a failover): the pool drops the dead connections,
        # so the client is told to retry, not handed a 500.
        log.warning("service_unavailable", path=request.scope.get("path", ""), error=str(exc)[:300])
        return unavailable_response(request, "the service is briefly unavailable; retry shortly")
    else:
        refusal = refusal_for(exc, _request_values(request))
        if refusal is None:
            return server_error_response(request, exc)
        error = DomainError(refusal.message, field=refusal.field)
        error.status, error.code = refusal.status, refusal.code
    response: Response[Any] = _route_handler_for(request, error)(request, error)
    return response


def _request_values(request: AppRequest) -> dict[str, str]:
    values = {str(k): str(v) for k, v in (request.scope.get("path_params") or {}).items()}
    values.update((k, str(v)) for k, v in request.query_params.items())
    return values


def _route_handler_for(request: AppRequest, error: DomainError) -> Any:
    route_handler = request.scope.get("route_handler")
    handlers = route_handler.resolve_exception_handlers() if route_handler is not None else EXCEPTION_HANDLERS
    for cls in type(error).__mro__:
        if cls in handlers:
            return handlers[cls]
    return domain_error_handler


# Seconds a refused client is asked to wait before retrying when no database connection was free.
RETRY_AFTER_SECONDS = 1


def unavailable_response(request: AppRequest, message: str, code: str = "unavailable") -> Response[Any]:
    """503 with `Retry-After`: the request did nothing, the client may send it again shortly."""
    response = _respond(request, 503, error_body(code, message))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def pool_timeout_handler(request: AppRequest, _: PoolTimeout) -> Response[Any]:
    """No database connection within DB_POOL_TIMEOUT: refuse fast (503) rather than queue for long."""
    return unavailable_response(request, "the service is busy; retry shortly", code="overloaded")


def _is_unavailable(exc: BaseException) -> bool:
    from lms.lib.faults import is_transient  # faults builds on this module's DomainError

    return is_transient(exc)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    LitestarValidationException: validation_error_handler,
    NotAuthorizedException: http_error_handler,
    PermissionDeniedException: http_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
    PoolTimeout: pool_timeout_handler,
}
