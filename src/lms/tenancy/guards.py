"""Authorization for platform operator routes."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from lms.lib.errors import Forbidden, Unauthorized
from lms.tenancy.services.operators import find_operator_by_token


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def requires_operator(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Only an enabled platform operator passes; the operator is kept on the connection state."""
    token = bearer_token(connection)
    if token is None:
        raise Unauthorized("operator credentials required")
    async with connection.app.state.db.operator_sessions() as session:
        operator = await find_operator_by_token(session, token)
    if operator is None:
        raise Forbidden("these credentials do not belong to a platform operator")
    if operator.disabled:
        raise Forbidden("this operator account is disabled")
    connection.state.operator = operator
