"""Who may open the operator console: an operator signed in with a second factor, on the platform's
own host (never a tenant's, so a tenant's pages can never reach the console's cookie)."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from lms.lib.errors import NotFound
from lms.tenancy.services.operators import CONSOLE_COOKIE, OperatorConsole


class ConsoleSignInRequired(Exception):
    """No console session (or an expired one): the page sends the browser to the console's sign-in."""


def requires_console_host(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """The console answers only on PUBLIC_BASE_DOMAIN itself; on any other host it does not exist."""
    host = connection.headers.get("host", "").rsplit(":", 1)[0].strip().lower()
    if host != connection.app.state.settings.public_base_domain:
        raise NotFound("not found")


async def requires_console_operator(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """An enabled operator whose console session (token and second factor) is current."""
    requires_console_host(connection)
    state = connection.app.state
    async with state.db.operator_sessions() as session:
        console = OperatorConsole(session, state.redis, state.settings.secret_key)
        operator = await console.operator_for(console.read_ticket(connection.cookies.get(CONSOLE_COOKIE), "mfa"))
    if operator is None:
        raise ConsoleSignInRequired()
    connection.state.operator = operator


async def on_console_host(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The console's sign-in pages: anyone may open them, on the platform's host only."""
    requires_console_host(connection)
