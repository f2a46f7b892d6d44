"""Every integer path or query parameter of every route refuses out-of-range values with 422 naming it.

The routes and their parameters are read from the application itself (handler signatures and the
providers they use), so a new route with an integer parameter is covered without being listed here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.handlers import HTTPRouteHandler
from litestar.params import ParameterKwarg
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from lms.app import create_app
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import Role
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin
from lms.tenancy.services.operators import CONSOLE_COOKIE, OperatorConsole, find_operator_by_token
from tests import factories
from tests.conftest import Login, host
from tests.integration.catalog.helpers import Client

# 2**63: one past bigint, the value that used to reach PostgreSQL and fail there.
PAST_BIGINT = 9_223_372_036_854_775_808
SCIM_PREFIX = "/scim/v2"


@dataclass(frozen=True)
class IntParam:
    method: str
    route: HTTPRoute
    name: str
    location: str  # "path" or "query"
    minimum: int | None
    maximum: int | None
    operator: bool
    other_query: tuple[tuple[str, str], ...]  # valid values for the route's other required query parameters

    def __str__(self) -> str:
        return f"{self.method} {self.route.path} {self.location}:{self.name}"


def _fields_used(handler: HTTPRouteHandler) -> list[FieldDefinition]:
    """The handler's own parameters and those of every provider it uses, transitively."""
    available: dict[str, Provide] = handler.resolve_dependencies()
    fields, pending, seen = [], list(handler.parsed_fn_signature.parameters.values()), set()
    while pending:
        field = pending.pop()
        if field.name in available and field.name not in seen:
            seen.add(field.name)
            pending.extend(available[field.name].parsed_fn_signature.parameters.values())
        elif field.name not in available:
            fields.append(field)
    return fields


def _query_name(field: FieldDefinition) -> str:
    kwarg = field.kwarg_definition
    return (kwarg.name if isinstance(kwarg, ParameterKwarg) else None) or field.name


def _is_required_query(field: FieldDefinition, route: HTTPRoute) -> bool:
    reserved = {"self", "request", "data", "state", "scope", "headers", "cookies"}
    return (
        field.name not in reserved
        and field.name not in route.path_parameters
        and not field.has_default
        and not field.is_optional
    )


def _sample(field: FieldDefinition) -> str:
    """A valid value of another required parameter, so that only the one under test is wrong."""
    return str(uuid.uuid4()) if field.annotation is uuid.UUID else "x"


def integer_parameters(app: Litestar) -> list[IntParam]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            methods = handler.http_methods - {"OPTIONS", "HEAD"}
            for field in _fields_used(handler):
                if field.annotation is not int:
                    continue
                kwarg = field.kwarg_definition
                bounds = kwarg if isinstance(kwarg, ParameterKwarg) else None
                name = (bounds.name if bounds else None) or field.name
                location = "path" if field.name in route.path_parameters else "query"
                operator = any(getattr(g, "__name__", "") == "requires_operator" for g in handler.resolve_guards())
                others = tuple(
                    (_query_name(other), _sample(other))
                    for other in _fields_used(handler)
                    if other is not field and _is_required_query(other, route)
                )
                for method in sorted(methods):
                    found.append(
                        IntParam(
                            method,
                            route,
                            name,
                            location,
                            int(bounds.ge) if bounds and bounds.ge is not None else None,
                            int(bounds.le) if bounds and bounds.le is not None else None,
                            operator,
                            others,
                        )
                    )
    return found


def out_of_range_values(param: IntParam) -> list[int]:
    values = [PAST_BIGINT, -PAST_BIGINT]
    if param.minimum is not None:
        values.append(param.minimum - 1)
    if param.maximum is not None and param.maximum + 1 != PAST_BIGINT:
        values.append(param.maximum + 1)
    return values


# Read once at collection from an app built like the one under test (no connection is made).
PARAMS = integer_parameters(create_app(Settings.from_env()))
CASES = [(param, value) for param in PARAMS for value in out_of_range_values(param)]


def test_the_integer_parameters_found_include_the_known_ones() -> None:
    """Guards the derivation itself: the lists, versions, parts and SCIM paging are all seen, bounded."""
    names = {(p.route.path, p.name) for p in PARAMS}
    assert ("/api/v1/courses", "offset") in names
    assert ("/api/v1/courses/{course_id:uuid}/versions/{number:int}/rollback", "number") in names
    assert ("/api/v1/media/uploads/{upload_id:uuid}/parts/{number:int}", "number") in names
    assert ("/scim/v2/Users", "startIndex") in names
    assert len({p.route.path for p in PARAMS if p.name == "offset"}) >= 22
    assert [str(p) for p in PARAMS if p.minimum is None or p.maximum is None] == []


def _url(param: IntParam, value: int) -> str:
    path = param.route.path
    for name, definition in param.route.path_parameters.items():
        if name == param.name:
            replacement = str(value)
        elif definition.type is int:
            replacement = "1"
        elif definition.type is uuid.UUID:
            replacement = str(uuid.uuid4())
        else:
            replacement = "x"
        path = path.replace("{" + definition.full + "}", replacement)
    query = [(param.name, str(value))] if param.location == "query" else []
    query += list(param.other_query)
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")


@pytest.fixture(scope="module")
async def callers(
    client: Client, db: Database, settings: Settings, login: Login, operator_token: str
) -> dict[str, Any]:
    """A user holding every role, a SCIM token, and an operator: every guard lets the request through."""
    async with db.operator_sessions() as session, session.begin():
        admin = TenantAdmin(session, Actor(name="test"), settings.public_base_domain)
        tenant = await admin.create(f"t-{uuid.uuid4().hex[:10]}", "Bounds", Plan.ENTERPRISE, 10, None)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        user = await factories.identity.make_user(session, tenant.id, roles=[role.value for role in Role])
    everyone = await login(user)
    created = await client.post(f"{host(tenant)}/api/v1/scim-tokens", json={"name": "bounds"}, headers=everyone)
    assert created.status_code == 201, created.text
    async with db.operator_sessions() as session:
        operator = await find_operator_by_token(session, operator_token)
        assert operator is not None
        # The operator console's session cookie, as its sign-in (token and second factor) sets it.
        console_ticket = OperatorConsole(session, None, settings.secret_key).ticket(operator, "mfa")
    return {
        "base": host(tenant),
        "user": everyone,
        "scim": {"Authorization": f"Bearer {created.json()['token']}"},
        "operator": {"Authorization": f"Bearer {operator_token}"},
        "console_base": f"http://{settings.public_base_domain}",
        "console": {"Cookie": f"{CONSOLE_COOKIE}={console_ticket}"},
    }


@pytest.mark.parametrize(("param", "value"), CASES, ids=[f"{p}={v}" for p, v in CASES])
async def test_out_of_range_integer_is_refused_naming_the_parameter(
    client: Client, callers: dict[str, Any], param: IntParam, value: int
) -> None:
    base = callers["base"]
    if param.route.path.startswith("/operator"):
        base, headers = callers["console_base"], callers["console"]
    elif param.operator:
        headers = callers["operator"]
    elif param.route.path.startswith(SCIM_PREFIX):
        headers = callers["scim"]
    else:
        headers = callers["user"]
    body = None if param.method in ("GET", "DELETE") else {}
    response = await client.request(param.method, base + _url(param, value), headers=headers, json=body)
    if param.route.path.startswith(SCIM_PREFIX):
        # SCIM's own error format: 400 invalidValue, the detail naming the parameter.
        assert response.status_code == 400, response.text
        assert response.json()["scimType"] == "invalidValue"
        assert response.json()["detail"].startswith(f"{param.name}:"), response.text
        return
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == param.name, response.text
