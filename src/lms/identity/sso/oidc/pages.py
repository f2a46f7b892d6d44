"""The OpenID Connect provider form for tenant admins: discovery URL, client, token authentication, the
redirect URI to register (shown before anything is saved) and the attribute mapping."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.billing.guards import requires_feature
from lms.db.providers import DbSession
from lms.identity.guards import requires_role
from lms.identity.models import Role, SsoKind, SsoProvider
from lms.identity.sso.controllers import apply_oidc, new_oidc_redirect_uri, oidc_redirect_uri
from lms.identity.sso.oidc.services import TOKEN_AUTH_METHODS
from lms.identity.sso.schemas import OidcProviderIn
from lms.identity.sso.services.providers import add_provider, ensure_unique_name, save_provider
from lms.identity.sso.services.provisioning import get_provider
from lms.identity.sso.setup.pages import (
    domain_error_field,
    invalid_field,
    mapping_values,
    read_common_fields,
    role_names,
)
from lms.lib.errors import DomainError
from lms.lib.params import AppRequest
from lms.tenancy.schemas import ResolvedTenant
from lms.tenancy.services.audit import AdminAudit
from lms.web.forms import FormData, FormErrors, expired_form_message, service_message
from lms.web.i18n import gettext as _
from lms.web.layout import admin_sections, before_page, page

DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
FIELDS = {
    "name",
    "issuer",
    "client_id",
    "client_secret",
    "token_endpoint_auth_method",
    "scopes",
    "email_domains",
    "map_email",
    "map_name",
    "map_groups",
    "map_email_verified",
    "group_roles",
    "default_roles",
}


def auth_method_names() -> list[tuple[str, str]]:
    names = {
        "client_secret_basic": _("Client secret in the Authorization header (client_secret_basic)"),
        "client_secret_post": _("Client secret in the request body (client_secret_post)"),
        "none": _("No secret: a public client, protected by PKCE (none)"),
    }
    return [(method, names[method]) for method in TOKEN_AUTH_METHODS]


def oidc_values(provider: SsoProvider | None) -> dict[str, Any]:
    config = provider.config if provider is not None else {}
    return {
        **mapping_values(provider),
        "issuer": config.get("issuer", ""),
        "client_id": config.get("client_id", ""),
        "token_endpoint_auth_method": config.get("token_endpoint_auth_method", "client_secret_basic"),
        "scopes": " ".join(config.get("scopes") or ["openid", "email", "profile"]),
    }


class OidcPagesController(Controller):
    """Add or change an OpenID Connect sign-in provider from the admin console."""

    guards = [requires_role(Role.TENANT_ADMIN), requires_feature("sso")]
    include_in_schema = False
    before_request = staticmethod(before_page)

    async def render(
        self,
        request: AppRequest,
        db_session: DbSession,
        provider: SsoProvider | None,
        values: dict[str, Any],
        errors: FormErrors | None = None,
        status: int = 200,
    ) -> Template:
        redirect_uri = (
            oidc_redirect_uri(request, provider)
            if provider is not None
            else await new_oidc_redirect_uri(request, db_session)
        )
        return page(
            request,
            "admin/sso_provider.html",
            status_code=status,
            sections=admin_sections(),
            kind="oidc",
            provider=provider,
            values=values,
            errors=errors or FormErrors(),
            redirect_uri=redirect_uri,
            has_secret=provider is not None and provider.secret_encrypted is not None,
            auth_methods=auth_method_names(),
            roles=role_names(),
            action=f"/admin/sso/{provider.id}/oidc" if provider is not None else "/admin/sso/oidc/new",
        )

    @get("/admin/sso/oidc/new")
    async def new(self, request: AppRequest, db_session: DbSession) -> Template:
        """The empty form, with the redirect URI to register at the provider first."""
        return await self.render(request, db_session, None, oidc_values(None))

    @get("/admin/sso/{provider_id:uuid}/oidc")
    async def edit(self, request: AppRequest, db_session: DbSession, provider_id: FromPath[UUID]) -> Template:
        provider = await get_provider(db_session, provider_id, SsoKind.OIDC.value)
        return await self.render(request, db_session, provider, oidc_values(provider))

    @post("/admin/sso/oidc/new", status_code=HTTP_200_OK)
    async def create(
        self,
        request: AppRequest,
        db_session: DbSession,
        audit: NamedDependency[AdminAudit],
        tenant: NamedDependency[ResolvedTenant],
    ) -> Template | Redirect:
        return await self.save(request, db_session, audit, None, tenant)

    @post("/admin/sso/{provider_id:uuid}/oidc", status_code=HTTP_200_OK)
    async def change(
        self,
        request: AppRequest,
        db_session: DbSession,
        audit: NamedDependency[AdminAudit],
        tenant: NamedDependency[ResolvedTenant],
        provider_id: FromPath[UUID],
    ) -> Template | Redirect:
        provider = await get_provider(db_session, provider_id, SsoKind.OIDC.value)
        return await self.save(request, db_session, audit, provider, tenant)

    async def save(
        self,
        request: AppRequest,
        db_session: DbSession,
        audit: AdminAudit,
        provider: SsoProvider | None,
        tenant: ResolvedTenant,
    ) -> Template | Redirect:
        form = await FormData.read(request)
        values, payload = await read_common_fields(request, form)
        issuer = form.text("issuer", 2048, required=_("Enter the provider's issuer or discovery URL."))
        if issuer.endswith(DISCOVERY_SUFFIX):
            issuer = issuer.removesuffix(DISCOVERY_SUFFIX)
        secret = form.text("client_secret", 1000)
        values.update(
            issuer=issuer,
            client_id=form.text("client_id", 300, required=_("Enter the client ID the provider gave you.")),
            token_endpoint_auth_method=form.text("token_endpoint_auth_method", 40),
            scopes=form.text("scopes", 500),
        )
        if issuer and not issuer.startswith(("https://", "http://")):
            form.errors["issuer"] = _("Enter a web address that starts with https://.")
        if values["token_endpoint_auth_method"] not in TOKEN_AUTH_METHODS:
            form.errors["token_endpoint_auth_method"] = _("Choose how the site proves who it is to the provider.")
        scopes = values["scopes"].split() or ["openid", "email", "profile"]
        if "openid" not in scopes:
            form.errors["scopes"] = _("The scopes must include openid.")
        if not form.csrf_valid(request):
            form.errors.setdefault("name", expired_form_message())
        if form.errors:
            return await self.render(request, db_session, provider, values, form.errors, 422)
        payload.update(
            issuer=issuer,
            client_id=values["client_id"],
            client_secret=secret or None,
            token_endpoint_auth_method=values["token_endpoint_auth_method"],
            scopes=scopes,
        )
        try:
            data = msgspec.convert(payload, OidcProviderIn)
        except msgspec.ValidationError as exc:
            field = invalid_field(exc, FIELDS)
            form.errors[field] = _("Check this value.")
            return await self.render(request, db_session, provider, values, form.errors, 422)
        try:
            await ensure_unique_name(db_session, data.name, provider.id if provider is not None else None)
            if provider is None:
                created = SsoProvider(tenant_id=tenant.id, kind=SsoKind.OIDC.value, name=data.name, config={})
                await apply_oidc(request, db_session, created, data)
                await add_provider(db_session, created, audit)
            else:
                await apply_oidc(request, db_session, provider, data)
                await save_provider(db_session, provider, audit)
        except DomainError as exc:
            field = domain_error_field(exc, FIELDS)
            form.errors[field] = (
                _("The provider's discovery document could not be used: %(reason)s", reason=service_message(exc))
                if field == "issuer"
                else service_message(exc)
            )
            return await self.render(request, db_session, provider, values, form.errors, exc.status)
        return Redirect(f"/admin/sso?done={'saved' if provider is not None else 'added'}", status_code=303)
