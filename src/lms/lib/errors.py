"""Domain errors and the handlers that turn them into `{"error": {"code", "message", "field"?}}`."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.exceptions import ValidationException as LitestarValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import TimeoutError as PoolTimeout


class DomainError(Exception):
    """An error a user can act on; `status` is its HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
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


def domain_error_handler(_: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return _json(exc.status, error_body(exc.code, exc.message, exc.field))


def validation_error_handler(_: Request[Any, Any, Any], exc: LitestarValidationException) -> Response[Any]:
    """Litestar/msgspec validation: name the first offending field."""
    field = None
    message = exc.detail
    extra = exc.extra if isinstance(exc.extra, list) else []
    if extra and isinstance(extra[0], dict):
        first = extra[0]
        key = str(first.get("key") or "")
        field = key.removeprefix("$.") or None
        message = str(first.get("message") or message)
    return _json(422 if field else 400, error_body("validation_failed", message, field))


_HTTP_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    429: "rate_limited",
}


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= HTTP_500_INTERNAL_SERVER_ERROR:
        return _json(status, error_body("internal_error", "internal server error"))
    return _json(status, error_body(_HTTP_CODES.get(status, "bad_request"), str(exc.detail)))


# Seconds a refused client is asked to wait before retrying when no database connection was free.
RETRY_AFTER_SECONDS = 1


def pool_timeout_handler(_: Request[Any, Any, Any], __: PoolTimeout) -> Response[Any]:
    """No database connection within DB_POOL_TIMEOUT: refuse fast (503) rather than queue for long."""
    return Response(
        content=error_body("overloaded", "the service is busy; retry shortly"),
        status_code=503,
        media_type=MediaType.JSON,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    LitestarValidationException: validation_error_handler,
    NotAuthorizedException: http_error_handler,
    PermissionDeniedException: http_error_handler,
    HTTPException: http_error_handler,
    PoolTimeout: pool_timeout_handler,
}
