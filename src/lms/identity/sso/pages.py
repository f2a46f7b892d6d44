"""The browser side of single sign-on failures: a branded page that says what happened.

The SSO routes are reached by browsers (and by IdPs posting forms). A browser that asks for HTML gets the
tenant's page; API clients keep the JSON error envelope. The cause goes to the log either way.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Response
from litestar.exceptions import HTTPException
from litestar.exceptions import ValidationException as LitestarValidationException

from lms.lib.errors import (
    EXCEPTION_HANDLERS,
    DomainError,
    domain_error_handler,
    http_error_handler,
    validation_error_handler,
)
from lms.lib.params import AppRequest
from lms.web.controllers import page

log = structlog.get_logger(__name__)

HEADINGS = {
    400: "This sign-in message could not be read",
    403: "Sign-in was refused",
    404: "This sign-in method does not exist",
    502: "Your identity provider is not answering",
}


def wants_html(request: AppRequest) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _page(request: AppRequest, status: int, message: str) -> Response[Any]:
    template = page(
        request,
        "identity/sso_error.html",
        heading=HEADINGS.get(status, "Sign-in did not work"),
        message=message,
    )
    template.status_code = status
    return template


def sso_domain_error(request: AppRequest, exc: DomainError) -> Response[Any]:
    cause = exc.__cause__
    log.warning(
        "sso_error",
        path=request.url.path,
        status=exc.status,
        code=exc.code,
        message=exc.message,
        cause=f"{type(cause).__name__}: {cause}" if cause else None,
    )
    if wants_html(request):
        return _page(request, exc.status, exc.message)
    return domain_error_handler(request, exc)


def sso_validation_error(request: AppRequest, exc: LitestarValidationException) -> Response[Any]:
    log.warning("sso_bad_request", path=request.url.path, detail=str(exc.detail)[:300])
    if wants_html(request):
        return _page(
            request, 400, "The sign-in request was incomplete or malformed. Start again from the sign-in page."
        )
    return validation_error_handler(request, exc)


def sso_http_error(request: AppRequest, exc: HTTPException) -> Response[Any]:
    if wants_html(request) and exc.status_code < 500:
        return _page(request, exc.status_code, "The sign-in request was refused. Start again from the sign-in page.")
    return http_error_handler(request, exc)


SSO_EXCEPTION_HANDLERS: dict[Any, Any] = {
    **EXCEPTION_HANDLERS,
    DomainError: sso_domain_error,
    LitestarValidationException: sso_validation_error,
    HTTPException: sso_http_error,
}
