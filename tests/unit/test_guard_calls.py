"""Guards get the route handler itself (lms.lib.guard_calls), in order, and still refuse requests."""

from __future__ import annotations

import inspect
from typing import Any

from litestar import Litestar, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.testing import TestClient

from lms.lib.guard_calls import LITESTAR_AUTHORIZE_CONNECTION, call_guards_with_the_handler


def test_litestar_still_authorizes_by_calling_each_guard_with_a_copy_of_the_handler() -> None:
    """The replaced method is what the replacement reproduces, minus the copy; an upgrade that changes
    how Litestar authorizes fails here and the replacement is reconsidered."""
    body = inspect.getsource(LITESTAR_AUTHORIZE_CONNECTION)
    assert "for guard in self.resolve_guards():" in body
    assert "await guard(connection, copy(self))" in body


def test_guards_receive_the_route_handler_in_order_and_the_first_refusal_wins() -> None:
    seen: list[tuple[str, BaseRouteHandler]] = []

    async def first(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        seen.append(("first", handler))

    async def second(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        seen.append(("second", handler))
        if connection.query_params.get("as") != "admin":
            raise PermissionDeniedException("admins only")

    def third(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        seen.append(("third", handler))
        if "token" not in connection.query_params:
            raise NotAuthorizedException("sign-in required")

    @get("/guarded", guards=[second, third], sync_to_thread=False)
    def guarded() -> str:
        return "in"

    @get("/open", sync_to_thread=False)
    def open_route() -> str:
        return "open"

    call_guards_with_the_handler()
    app = Litestar([guarded, open_route], guards=[first])
    handler = next(r for r in app.routes if r.path == "/guarded").route_handlers[0]  # type: ignore[union-attr]
    with TestClient(app) as client:
        refused = client.get("/guarded")
        assert refused.status_code == 403
        assert [name for name, _ in seen] == ["first", "second"]
        assert all(got is handler for _, got in seen)

        seen.clear()
        assert client.get("/guarded", params={"as": "admin"}).status_code == 401
        assert [name for name, _ in seen] == ["first", "second", "third"]

        seen.clear()
        allowed = client.get("/guarded", params={"as": "admin", "token": "t"})
        assert (allowed.status_code, allowed.text) == (200, "in")
        assert [name for name, _ in seen] == ["first", "second", "third"]
        assert all(got is handler for _, got in seen)

        seen.clear()
        assert client.get("/open").text == "open"
        assert [name for name, _ in seen] == ["first"]
