"""The edge rule, as a class over every route of the OpenAPI: input the database cannot hold is a 4xx
naming the field (NUL, invalid UTF-8, deep nesting, oversized bodies, out-of-range integers, broken
keys), never a 500; and a genuine 5xx is logged with its traceback and answered in the envelope."""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from lms.app import create_app
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import errors
from lms.lib.database_errors import refusal_for
from lms.lib.edge import MAX_JSON_BYTES, MAX_JSON_DEPTH
from lms.tenancy.models import Tenant
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.catalog.helpers import Client, build_course, instructor
from tests.integration.learning.test_progress import enrolled_learner, heartbeat, send

# Each way a string can be unstorable, as raw JSON text inside quotes.
BAD_JSON_STRINGS = {
    "NUL escape": b"a\\u0000b",
    "lone surrogate escape": b"a\\ud800b",
    "invalid UTF-8 bytes": b"a\xff\xfeb",
}


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict[str, Any]

    def url(self, base: str, **overrides: str) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in overrides:
                return overrides[name]
            schema = self.param(name, "path").get("schema", {})
            if schema.get("type") == "integer":
                return "1"
            return str(uuid.uuid4()) if schema.get("format") == "uuid" else "x"

        return base + re.sub(r"\{([^}]+)\}", fill, self.template)

    def params(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p.get("in") == where]

    def param(self, name: str, where: str) -> dict[str, Any]:
        return next((p for p in self.params(where) if p["name"] == name), {})

    def json_properties(self, schemas: dict[str, Any]) -> list[str]:
        content = self.spec.get("requestBody", {}).get("content", {})
        media = next((v for k, v in content.items() if k.endswith("json")), None)
        if media is None:
            return []
        schema = media.get("schema", {})
        for _ in range(5):  # follow $ref and the first branch of a union
            if "$ref" in schema:
                schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
            elif "oneOf" in schema or "anyOf" in schema:
                schema = (schema.get("oneOf") or schema.get("anyOf"))[0]
        return list(schema.get("properties", {})) or ["value"]

    @property
    def is_scim(self) -> bool:
        return self.template.startswith("/scim/")


def operations(app: Litestar) -> tuple[list[Operation], dict[str, Any]]:
    schema = app.openapi_schema.to_schema()
    found = [
        Operation(method.upper(), path, spec)
        for path, item in schema["paths"].items()
        for method, spec in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    return found, schema.get("components", {}).get("schemas", {})


def assert_refused(op: Operation, response: Any, status: int, field: str) -> str | None:
    """None when `response` refuses with `status` naming `field` in the route's own format."""
    if op.is_scim:
        body = response.json()
        if response.status_code != (400 if status == 422 else status) or not body.get("detail", "").startswith(field):
            return f"{op.method} {op.template}: {response.status_code} {response.text[:200]}"
        return None
    if response.status_code != status or response.json().get("error", {}).get("field") != field:
        return f"{op.method} {op.template}: {response.status_code} {response.text[:200]}"
    return None


@pytest.fixture
async def admin(make_tenant: MakeTenant, make_user: MakeUser, login: Login) -> tuple[Tenant, dict[str, str]]:
    tenant = await make_tenant()
    return tenant, await login(await make_user(tenant, roles=["tenant_admin"]))


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
@pytest.mark.parametrize("kind", list(BAD_JSON_STRINGS))
async def test_every_json_body_refuses_an_unstorable_string_naming_the_field(
    app: Litestar, client: Client, admin: tuple[Tenant, dict[str, str]], kind: str, content_type: str
) -> None:
    """Whatever Content-Type the client claims: the route decides how its body is read."""
    tenant, headers = admin
    ops, schemas = operations(app)
    with_body = [op for op in ops if op.json_properties(schemas) and op.template != "/api/v1/progress/events"]
    assert len(with_body) > 40
    failures = []
    for op in with_body:
        prop = op.json_properties(schemas)[0]
        body = b'{"%s": [{"note": "' % prop.encode() + BAD_JSON_STRINGS[kind] + b'"}]}'
        response = await client.request(
            op.method,
            op.url(host(tenant)),
            content=body,
            headers={**headers, "Content-Type": content_type},
        )
        if problem := assert_refused(op, response, 422, f"{prop}[0].note"):
            failures.append(problem)
    assert not failures, "\n".join(failures)


async def test_every_json_body_refuses_deep_nesting_and_oversized_bodies(
    app: Litestar, client: Client, admin: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = admin
    ops, schemas = operations(app)
    failures = []
    for op in (op for op in ops if op.json_properties(schemas)):
        content_type = "application/scim+json" if op.is_scim else "application/json"
        prop = op.json_properties(schemas)[0].encode()
        deep = b'{"%s": ' % prop + b"[" * 10_000 + b"]" * 10_000 + b"}"
        response = await client.request(
            op.method, op.url(host(tenant)), content=deep, headers={**headers, "Content-Type": content_type}
        )
        if problem := assert_refused(op, response, 422, "body"):
            failures.append(f"deep: {problem}")
        huge = b'{"%s": "' % prop + b"x" * MAX_JSON_BYTES + b'"}'
        response = await client.request(
            op.method, op.url(host(tenant)), content=huge, headers={**headers, "Content-Type": content_type}
        )
        if problem := assert_refused(op, response, 413, "body"):
            failures.append(f"huge: {problem}")
    assert not failures, "\n".join(failures)


async def test_a_body_read_by_hand_under_an_undeclared_type_still_gets_a_4xx(
    client: Client, admin: tuple[Tenant, dict[str, str]]
) -> None:
    """SCIM reads its body itself, whatever the Content-Type: past the edge, deep nesting is still a 4xx."""
    tenant, headers = admin
    created = await client.post(f"{host(tenant)}/api/v1/scim-tokens", json={"name": "Okta"}, headers=headers)
    scim = {"Authorization": f"Bearer {created.json()['token']}", "Content-Type": "application/octet-stream"}
    deep = b'{"userName": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    response = await client.post(f"{host(tenant)}/scim/v2/Users", content=deep, headers=scim)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("body:")


async def test_nesting_up_to_the_limit_and_brackets_inside_strings_pass_the_edge(
    client: Client, admin: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = admin
    nested = b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1)
    title = "[" * 500 + '\\"{'  # brackets in a string are text, not nesting
    body = b'{"title": "%s", "slug": "ok-%s", "extra": %s}' % (title.encode(), uuid.uuid4().hex[:6].encode(), nested)
    response = await client.post(
        f"{host(tenant)}/api/v1/courses", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    # The edge lets it through; the schema then refuses the unknown field.
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"].get("field") != "body"


@pytest.mark.parametrize(("value", "message"), [("a%00b", "NUL"), ("a%FFb", "UTF-8"), ("a%ED%A0%80b", "UTF-8")])
async def test_every_query_parameter_refuses_an_unstorable_string(
    app: Litestar, client: Client, admin: tuple[Tenant, dict[str, str]], value: str, message: str
) -> None:
    tenant, headers = admin
    ops, _ = operations(app)
    with_query = [(op, p["name"]) for op in ops for p in op.params("query")]
    assert len(with_query) > 30
    failures = []
    for op, name in with_query:
        response = await client.request(op.method, f"{op.url(host(tenant))}?{name}={value}", headers=headers)
        if problem := assert_refused(op, response, 422, name):
            failures.append(problem)
        elif not op.is_scim and message not in response.json()["error"]["message"]:
            failures.append(f"{op.method} {op.template}: {response.text[:200]}")
    assert not failures, "\n".join(failures)


async def test_string_path_parameters_and_cookies_refuse_nul(
    app: Litestar, client: Client, admin: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = admin
    ops, _ = operations(app)
    string_params = [
        (op, p["name"])
        for op in ops
        for p in op.params("path")
        if p.get("schema", {}).get("type") == "string" and p.get("schema", {}).get("format") != "uuid"
    ]
    assert string_params
    failures = []
    for op, name in string_params:
        response = await client.request(op.method, op.url(host(tenant), **{name: "a%00b"}), headers=headers)
        if problem := assert_refused(op, response, 422, name):
            failures.append(problem)
    assert not failures, "\n".join(failures)
    response = await client.get(f"{host(tenant)}/api/v1/me", headers={**headers, "Cookie": "theme=dark%00"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "theme"


@pytest.mark.parametrize(
    ("path", "field", "body"),
    [
        ("/api/v1/auth/login", "email", b'{"email": "a\\u0000@example.com", "password": "x"}'),
        ("/api/v1/auth/password-reset", "email", b'{"email": "a\\u0000@example.com"}'),
        ("/api/v1/auth/login", "body", b'{"email": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"),
    ],
)
async def test_anonymous_routes_apply_the_same_rule(
    client: Client, make_tenant: MakeTenant, path: str, field: str, body: bytes
) -> None:
    tenant = await make_tenant()
    response = await client.post(f"{host(tenant)}{path}", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


async def test_anonymous_discovery_refuses_nul_in_its_query(client: Client, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    response = await client.get(f"{host(tenant)}/api/v1/auth/discover?email=a%00%40example.com")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "email"


async def test_a_form_field_with_nul_is_refused_naming_it(client: Client, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    response = await client.post(
        f"{host(tenant)}/auth/saml/{uuid.uuid4()}/acs",
        content=b"RelayState=%2F&SAMLResponse=PD94%00bWw",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "SAMLResponse"


async def test_out_of_range_integers_in_any_query_or_path_parameter_are_a_4xx(
    app: Litestar, client: Client, admin: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = admin
    ops, _ = operations(app)
    failures = []
    for op in ops:
        int_query = [p["name"] for p in op.params("query") if p.get("schema", {}).get("type") == "integer"]
        for name in int_query:
            for value in (2**63, 2**31, -(2**63) - 1):
                response = await client.request(op.method, f"{op.url(host(tenant))}?{name}={value}", headers=headers)
                if response.status_code >= 500:
                    failures.append(f"{op.method} {op.template}?{name}={value}: {response.text[:200]}")
        for p in op.params("path"):
            if p.get("schema", {}).get("type") == "integer":
                response = await client.request(
                    op.method, op.url(host(tenant), **{p["name"]: str(2**31)}), headers=headers
                )
                if response.status_code >= 500:
                    failures.append(f"{op.method} {op.template} {p['name']}=2**31: {response.text[:200]}")
    assert not failures, "\n".join(failures)


async def test_offset_past_bigint_on_a_list_route_names_the_parameter(
    client: Client, admin: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, headers = admin
    response = await client.get(f"{host(tenant)}/api/v1/users?offset={2**63}", headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"].get("field") == "offset"


async def test_a_lesson_pointing_at_a_missing_or_foreign_media_asset_reads_the_same(
    client: Client, db: Database, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    async with tenant_session(db.app_sessions, other.id) as session:
        foreign_asset = await factories.media.make_asset(session, other.id)
    _, author = await instructor(make_user, login, tenant)
    course = await build_course(client, tenant, author, publish=False)
    url = f"{course.base}/api/v1/courses/{course.id}/modules/{course.modules[0]}/lessons"
    answers = []
    for asset_id in (uuid.uuid4(), foreign_asset.id):
        lesson = {"title": "Clip", "type": "video", "duration_seconds": 10, "media_asset_id": str(asset_id)}
        response = await client.post(url, json=lesson, headers=author)
        assert response.status_code == 422, response.text
        answers.append(response.json())
    assert answers[0] == answers[1], answers
    assert answers[0]["error"].get("field") == "media_asset_id", answers
    lessons = await client.get(f"{course.base}/api/v1/courses/{course.id}", headers=author)
    assert "Clip" not in lessons.text  # nothing half-written


async def test_database_refusals_map_to_4xx_from_real_errors(db: Database, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        email = (await factories.identity.make_user(session, tenant.id)).email
    with pytest.raises(DBAPIError) as duplicate:
        async with tenant_session(db.app_sessions, tenant.id) as session:
            await factories.identity.make_user(session, tenant.id, email=email)
    refusal = refusal_for(duplicate.value, {})
    assert refusal is not None
    assert (refusal.status, refusal.field) == (409, "email")
    assert email not in refusal.message  # never echoes stored values
    cases: list[tuple[str, dict[str, Any], dict[str, str], tuple[int, str | None]]] = [
        ("select 1 offset :o", {"o": 2**63}, {"offset": str(2**63)}, (422, "offset")),
        ("select cast(:q as text)", {"q": "a\x00b"}, {"q": "a\x00b"}, (422, "q")),
        ("select cast(:q as text)", {"q": "a\udc80b"}, {"q": "a\udc80b"}, (422, "q")),
        ("select cast(:v as int)", {"v": "12x"}, {"version": "12x"}, (422, "version")),
    ]
    for sql, params, request_values, (status, field) in cases:
        async with tenant_session(db.app_sessions, tenant.id) as session:
            with pytest.raises(DBAPIError) as caught:
                await session.execute(text(sql), params)
        refusal = refusal_for(caught.value, request_values)
        assert refusal is not None, sql
        assert (refusal.status, refusal.field) == (status, field), (sql, refusal)


async def test_a_nul_in_one_progress_event_rejects_that_event_only(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    _, course, _, headers = await enrolled_learner(client, make_tenant, make_user, login)
    good = heartbeat(course, 10, [[0, 10]], 10)
    bad = heartbeat(course, 20, [[10, 20]], 20, client_event_id="phone\x00-1")
    response = await send(client, course, headers, good, bad)
    assert response.status_code == 202, response.text
    results = response.json()["results"]
    assert results[0]["status"] == "accepted"
    assert results[1]["status"] == "rejected"
    assert results[1]["error"]["field"] == "events[1].client_event_id"
    assert "NUL" in results[1]["error"]["message"]
    only_bad = await send(client, course, headers, bad)
    assert only_bad.status_code == 422


def _failing_app(settings: Settings) -> Litestar:
    app = create_app(settings)

    @get("/api/v1/edge-test/boom", sync_to_thread=False)
    def boom() -> None:
        raise RuntimeError("the disk caught fire")

    app.register(boom)
    return app


async def test_a_server_error_is_logged_with_traceback_and_answered_in_the_envelope(
    settings: Settings, make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant()
    # The platform's log processors, writing where the test can read them.
    written = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(written),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    monkeypatch.setattr(errors, "log", logger)
    async with AsyncTestClient(app=_failing_app(settings)) as client:
        response = await client.get(f"{host(tenant)}/api/v1/edge-test/boom", headers={"X-Request-ID": "req-edge-42"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-edge-42"
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "internal server error (request id req-edge-42)",
            "request_id": "req-edge-42",
        }
    }
    assert "the disk caught fire" not in response.text
    entry = json.loads(written.getvalue().splitlines()[-1])
    assert (entry["level"], entry["request_id"], entry["path"]) == ("error", "req-edge-42", "/api/v1/edge-test/boom")
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: the disk caught fire" in entry["exception"]
