"""SCIM errors: every failure under /scim/v2 is answered in SCIM's error format (RFC 7644 section 3.12)."""

from __future__ import annotations

from typing import Any

from litestar import Response
from litestar.exceptions import HTTPException
from litestar.exceptions import ValidationException as LitestarValidationException

from lms.lib.errors import DomainError
from lms.lib.params import AppRequest

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_MEDIA_TYPE = "application/scim+json"


class ScimError(DomainError):
    """A SCIM error with an optional `scimType` (invalidFilter, uniqueness, invalidValue, ...)."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.scim_type = scim_type


def scim_error_response(status: int, detail: str, scim_type: str | None = None) -> Response[Any]:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return Response(content=body, status_code=status, media_type=SCIM_MEDIA_TYPE)


def _domain(_: AppRequest, exc: DomainError) -> Response[Any]:
    scim_type = exc.scim_type if isinstance(exc, ScimError) else None
    if scim_type is None and exc.status == 409:
        scim_type = "uniqueness"
    if scim_type is None and exc.status in (400, 422):
        scim_type = "invalidValue"
    status = 400 if exc.status == 422 else exc.status
    detail = f"{exc.field}: {exc.message}" if exc.field else exc.message
    return scim_error_response(status, detail, scim_type)


def _http(_: AppRequest, exc: HTTPException) -> Response[Any]:
    if exc.status_code >= 500:
        return scim_error_response(exc.status_code, "internal server error")
    return scim_error_response(exc.status_code, str(exc.detail))


def _validation(_: AppRequest, exc: LitestarValidationException) -> Response[Any]:
    """Name the first offending attribute or parameter, as the JSON API does."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    # SCIM names are camelCase (startIndex); the signature reports the Python name (start_index).
    head, *rest = str(first.get("key") or "").removeprefix("$.").split("_")
    key = head + "".join(word.title() for word in rest)
    detail = f"{key}: {first.get('message') or exc.detail}" if key else str(exc.detail)
    return scim_error_response(400, detail, "invalidValue")


SCIM_EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: _domain,
    LitestarValidationException: _validation,
    HTTPException: _http,
}
