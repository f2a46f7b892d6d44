"""SCIM 2.0 routes under /scim/v2 (per-tenant bearer token) and SCIM token management for tenant admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, get, patch, post, put
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter, RawBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.providers import DbSession
from lms.identity.guards import requires_role
from lms.identity.models import Role, ScimToken
from lms.identity.scim.schemas import resource_types, schemas, service_provider_config
from lms.identity.scim.services.errors import SCIM_EXCEPTION_HANDLERS, SCIM_MEDIA_TYPE, ScimError
from lms.identity.scim.services.provisioning import (
    ScimProvisioning,
    create_scim_token,
    find_scim_token,
    list_response,
    list_scim_tokens,
    revoke_scim_token,
)
from lms.lib import clock
from lms.lib.pagination import Page, PageParams
from lms.lib.params import INT32_MAX, MAX_OFFSET, AppRequest
from lms.tenancy.schemas import ResolvedTenant
from lms.tenancy.services.audit import AdminAudit

# RFC 7644 3.4.2.4: a startIndex below 1 means 1 and a negative count means 0, so only the upper ends refuse.
StartIndex = Annotated[
    int,
    QueryParameter(
        name="startIndex", ge=-INT32_MAX, le=MAX_OFFSET + 1, description="1-based index of the first result."
    ),
]
Count = Annotated[int, QueryParameter(ge=-INT32_MAX, le=INT32_MAX, description="How many results at most (capped).")]


async def requires_scim_token(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A live SCIM token of the host's tenant; any other credential is refused."""
    header = connection.headers.get("authorization", "")
    scheme, _sep, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise ScimError(401, "a SCIM bearer token is required")
    tenant = connection.scope["state"]["tenant"]
    async with tenant_session(connection.app.state.db.app_sessions, tenant.id) as session:
        token = await find_scim_token(session, raw.strip())
        if token is None:
            raise ScimError(401, "this SCIM token is not valid for this site")
        token.last_used_at = clock.now()


def scim(content: Any, status_code: int = HTTP_200_OK) -> Response[Any]:
    return Response(content=content, status_code=status_code, media_type=SCIM_MEDIA_TYPE)


def json_body(raw: bytes) -> Any:
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ScimError(400, "the request body is not valid JSON", "invalidSyntax") from exc
    if not isinstance(body, dict):
        raise ScimError(400, "the request body must be a JSON object", "invalidSyntax")
    return body


def base_url(request: AppRequest) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


def provide_provisioning(
    request: AppRequest,
    db_session: DbSession,
    tenant: NamedDependency[ResolvedTenant],
    settings: NamedDependency[Settings],
) -> ScimProvisioning:
    return ScimProvisioning(db_session, tenant.id, settings, base_url(request))


class ScimController(Controller):
    path = "/scim/v2"
    guards = [requires_scim_token]
    dependencies = {"service": Provide(provide_provisioning, sync_to_thread=False)}
    exception_handlers = SCIM_EXCEPTION_HANDLERS
    include_in_schema = False

    @get("/ServiceProviderConfig")
    async def service_provider_config(self, request: AppRequest) -> Response[Any]:
        return scim(service_provider_config(base_url(request)))

    @get("/ResourceTypes")
    async def resource_types(self, request: AppRequest) -> Response[Any]:
        items = resource_types(base_url(request))
        return scim(list_response(items, len(items), 1))

    @get("/Schemas")
    async def schemas(self, request: AppRequest) -> Response[Any]:
        items = schemas(base_url(request))
        return scim(list_response(items, len(items), 1))

    @get("/Users")
    async def list_users(
        self,
        service: NamedDependency[ScimProvisioning],
        filter_: Annotated[str | None, QueryParameter(name="filter", max_length=4096)] = None,
        start_index: StartIndex = 1,
        count: Count = 100,
    ) -> Response[Any]:
        return scim(await service.list_users(filter_, start_index, count))

    @post("/Users")
    async def create_user(self, service: NamedDependency[ScimProvisioning], body: RawBody) -> Response[Any]:
        user = await service.create_user(json_body(body))
        return scim(service.user_document(user), HTTP_201_CREATED)

    @get("/Users/{user_id:str}")
    async def get_user(self, service: NamedDependency[ScimProvisioning], user_id: FromPath[str]) -> Response[Any]:
        return scim(service.user_document(await service.get_user(user_id)))

    @put("/Users/{user_id:str}")
    async def replace_user(
        self, service: NamedDependency[ScimProvisioning], body: RawBody, user_id: FromPath[str]
    ) -> Response[Any]:
        return scim(service.user_document(await service.replace_user(user_id, json_body(body))))

    @patch("/Users/{user_id:str}")
    async def patch_user(
        self, service: NamedDependency[ScimProvisioning], body: RawBody, user_id: FromPath[str]
    ) -> Response[Any]:
        return scim(service.user_document(await service.patch_user(user_id, json_body(body))))

    @delete("/Users/{user_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def delete_user(self, service: NamedDependency[ScimProvisioning], user_id: FromPath[str]) -> None:
        await service.deprovision_user(user_id)

    @get("/Groups")
    async def list_groups(
        self,
        service: NamedDependency[ScimProvisioning],
        filter_: Annotated[str | None, QueryParameter(name="filter", max_length=4096)] = None,
        start_index: StartIndex = 1,
        count: Count = 100,
    ) -> Response[Any]:
        return scim(await service.list_groups(filter_, start_index, count))

    @post("/Groups")
    async def create_group(self, service: NamedDependency[ScimProvisioning], body: RawBody) -> Response[Any]:
        group = await service.create_group(json_body(body))
        return scim(await service.group_document(group), HTTP_201_CREATED)

    @get("/Groups/{group_id:str}")
    async def get_group(self, service: NamedDependency[ScimProvisioning], group_id: FromPath[str]) -> Response[Any]:
        return scim(await service.group_document(await service.get_group(group_id)))

    @put("/Groups/{group_id:str}")
    async def replace_group(
        self, service: NamedDependency[ScimProvisioning], body: RawBody, group_id: FromPath[str]
    ) -> Response[Any]:
        group = await service.replace_group(group_id, json_body(body))
        return scim(await service.group_document(group))

    @patch("/Groups/{group_id:str}")
    async def patch_group(
        self, service: NamedDependency[ScimProvisioning], body: RawBody, group_id: FromPath[str]
    ) -> Response[Any]:
        group = await service.patch_group(group_id, json_body(body))
        return scim(await service.group_document(group))

    @delete("/Groups/{group_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def delete_group(self, service: NamedDependency[ScimProvisioning], group_id: FromPath[str]) -> None:
        await service.delete_group(group_id)


class ScimTokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str = msgspec.field(default="SCIM")


class ScimTokenOut(msgspec.Struct):
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
    # Only in the answer to POST: shown once, never stored in clear.
    token: str | None = None


def token_out(token: ScimToken, raw: str | None = None) -> ScimTokenOut:
    return ScimTokenOut(
        id=str(token.id),
        name=token.name,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        revoked=token.revoked_at is not None,
        token=raw,
    )


class ScimTokensController(Controller):
    """Tenant admins create the bearer token their identity provider uses for SCIM, and revoke it."""

    path = "/api/v1/scim-tokens"
    guards = [requires_role(Role.TENANT_ADMIN)]
    tags = ["identity"]

    @get("/")
    async def list_tokens(self, db_session: DbSession, page: NamedDependency[PageParams]) -> Page[ScimTokenOut]:
        """The site's SCIM tokens, oldest first (the secret itself is shown only when created)."""
        tokens = await list_scim_tokens(db_session, page)
        return page.of([token_out(token) for token in tokens.items], tokens.total)

    @post("/", status_code=HTTP_201_CREATED)
    async def create_token(
        self,
        tenant: NamedDependency[ResolvedTenant],
        db_session: DbSession,
        audit: NamedDependency[AdminAudit],
        data: JSONBody[ScimTokenCreate],
    ) -> ScimTokenOut:
        """Create a SCIM token for a provisioning client."""
        token, raw = await create_scim_token(db_session, tenant.id, data.name[:200], audit)
        return token_out(token, raw)

    @delete("/{token_id:uuid}", status_code=HTTP_200_OK)
    async def revoke_token(
        self, db_session: DbSession, audit: NamedDependency[AdminAudit], token_id: FromPath[UUID]
    ) -> ScimTokenOut:
        """Revoke a SCIM token; its client is refused from now on."""
        return token_out(await revoke_scim_token(db_session, token_id, audit))
