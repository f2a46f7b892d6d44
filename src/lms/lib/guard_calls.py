"""Route guards are called with the route handler itself, not a copy of it.

Litestar's `BaseRouteHandler.authorize_connection` hands every guard `copy(handler)` on every request,
so that a guard cannot alter the route. A route handler has about forty attributes, and the copy costs
about 11 µs per guard per request (`bench/requests.py --profile`: 3-5 % of an authenticated read's CPU).
The project's guards only read the request, never the handler (they take it as `_`), so each request
calls them with the handler as it is. `tests/unit/test_guard_calls.py` checks that Litestar still
authorizes this way, so an upgrade that changes it is noticed.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

# Litestar's own, as replaced (the test compares its body with what `_authorize_connection` does).
LITESTAR_AUTHORIZE_CONNECTION = BaseRouteHandler.authorize_connection


async def _authorize_connection(self: BaseRouteHandler, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Every guard in scope, in order, as Litestar runs them; the first to raise refuses the request."""
    for guard in self.resolve_guards():
        await guard(connection, self)  # type: ignore[misc]


def call_guards_with_the_handler() -> None:
    BaseRouteHandler.authorize_connection = _authorize_connection  # type: ignore[method-assign]
