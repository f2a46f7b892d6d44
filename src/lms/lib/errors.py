"""Domain errors and the handlers that turn them into `{"error": {"code", "message", "field"?}}`."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.exceptions import ValidationException as LitestarValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR


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


def _respond(request: Request[Any, Any, Any], status: int, body: dict[str, Any]) -> Response[Any]:
    """JSON, unless the app registered `error_page` (lms.web.errors) and it answers this browser with HTML."""
    error_page = request.app.state.get("error_page")
    page = error_page(request, status, body) if error_page is not None else None
    return page if page is not None else _json(status, body)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return _respond(request, exc.status, error_body(exc.code, exc.message, exc.field))


def validation_error_handler(request: Request[Any, Any, Any], exc: LitestarValidationException) -> Response[Any]:
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
    429: "rate_limited",
}


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= HTTP_500_INTERNAL_SERVER_ERROR:
        return _respond(request, status, error_body("internal_error", "internal server error"))
    return _respond(request, status, error_body(_HTTP_CODES.get(status, "bad_request"), str(exc.detail)))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    LitestarValidationException: validation_error_handler,
    NotAuthorizedException: http_error_handler,
    PermissionDeniedException: http_error_handler,
    HTTPException: http_error_handler,
}
