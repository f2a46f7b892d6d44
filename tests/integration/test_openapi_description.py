"""The published OpenAPI document is usable by a client generator: every operation is described the same way."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from tests.integration.catalog.helpers import Client
from tests.integration.test_route_guards import PUBLIC_ROUTES

METHODS = ("get", "post", "put", "patch", "delete")
ENVELOPE = "#/components/schemas/ErrorEnvelope"
# Answers whose documented body is deliberately not the error envelope.
NON_ENVELOPE_ERRORS = {("/api/v1/progress/events", "post", "422")}  # a result per rejected event
# Guarded by network rather than by a credential.
INTERNAL_ROUTES = {"/metrics"}


@pytest.fixture(scope="module")
async def spec(client: Client) -> dict[str, Any]:
    response = await client.get("http://any.host.example/schema/openapi.json")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op) for path, item in spec["paths"].items() for method, op in item.items() if method in METHODS
    ]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


async def test_every_operation_has_a_description_and_a_readable_unique_id(spec: dict[str, Any]) -> None:
    ops = operations(spec)
    assert len(ops) > 100
    # Each says what it does (its docstring), then who may call it; only Litestar's metrics route has no docstring.
    undescribed = [
        f"{m} {p}" for p, m, op in ops if "\n\n" not in op.get("description", "") and p not in INTERNAL_ROUTES
    ]
    assert undescribed == []
    ids = [op["operationId"] for _, _, op in ops]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", i) or len(i) > 60] == []


async def test_every_operation_states_its_security(spec: dict[str, Any], app: Litestar) -> None:
    """Only the known public routes (and the internal metrics endpoint) go without a security requirement."""
    public_formats = {
        route.path_format for route in app.routes if isinstance(route, HTTPRoute) and route.path in PUBLIC_ROUTES
    }
    schemes = set(spec["components"]["securitySchemes"])
    assert {"bearer", "sessionCookie", "csrf", "scimToken", "operatorToken"} <= schemes
    unsecured = []
    for path, method, op in operations(spec):
        security = op.get("security") or []
        assert all(set(requirement) <= schemes for requirement in security), (method, path)
        if not security and path not in public_formats | INTERNAL_ROUTES:
            unsecured.append(f"{method} {path}")
        if security and method != "get" and {"sessionCookie": []} in security:
            unsecured.append(f"{method} {path} accepts the cookie without CSRF")
    assert unsecured == []


async def test_error_answers_use_the_envelope(spec: dict[str, Any]) -> None:
    wrong = []
    for path, method, op in operations(spec):
        responses = op["responses"]
        expected = {"404"} | ({"401", "403"} if op.get("security") else set())
        if op.get("parameters") or op.get("requestBody"):
            expected |= {"422"}
        missing = expected - set(responses)
        if missing:
            wrong.append(f"{method} {path} does not document {sorted(missing)}")
        for status, response in responses.items():
            if not status.startswith("4") or (path, method, status) in NON_ENVELOPE_ERRORS:
                continue
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") != ENVELOPE:
                wrong.append(f"{method} {path} {status}")
    assert wrong == []
    envelope = spec["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]
    assert set(resolve(spec, envelope["properties"]["error"])["required"]) == {"code", "message"}


async def test_every_list_answers_the_page_shape(spec: dict[str, Any]) -> None:
    bare, pages = [], 0
    for path, method, op in operations(spec):
        for status, response in op["responses"].items():
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if not status.startswith("2") or not schema or method != "get":
                continue
            body = resolve(spec, schema)
            if body.get("type") == "array":
                bare.append(f"{method} {path}")
            elif set(body.get("properties", {})) == {"items", "total", "limit", "offset"}:
                assert set(body["required"]) == {"items", "total", "limit", "offset"}, path
                pages += 1
    assert bare == []
    assert pages >= 22


async def test_every_integer_parameter_is_bounded(spec: dict[str, Any]) -> None:
    unbounded = [
        f"{method} {path} {param['name']}"
        for path, method, op in operations(spec)
        for param in op.get("parameters", [])
        if param["schema"].get("type") == "integer"
        and ("minimum" not in param["schema"] or "maximum" not in param["schema"])
    ]
    assert unbounded == []
    limits = [
        param["schema"]
        for _, _, op in operations(spec)
        for param in op.get("parameters", [])
        if param["name"] == "limit"
    ]
    assert len(limits) >= 20
    assert all(schema["minimum"] == 1 for schema in limits)


async def test_progress_events_document_the_status_they_answer(spec: dict[str, Any]) -> None:
    responses = spec["paths"]["/api/v1/progress/events"]["post"]["responses"]
    assert "202" in responses
    assert "201" not in responses


@pytest.mark.parametrize("page", ["swagger", "redoc"])
async def test_documentation_pages_load_their_scripts_from_this_site(client: Client, page: str) -> None:
    html = (await client.get(f"http://any.host.example/schema/{page}")).text
    scripts = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert scripts
    assert all(url.startswith("/static/vendor/") for url in scripts), scripts
    assert "fonts.googleapis.com" not in html
    for url in scripts:
        asset = await client.get(f"http://any.host.example{url}")
        assert asset.status_code == 200, url
        assert len(asset.content) > 10_000, url
