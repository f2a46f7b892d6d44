"""Single sign-on routes: provider administration, e-mail discovery, and the browser sign-in flows."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import Role, SsoKind, SsoProvider
from lms.identity.principal import allows_anonymous, requires_role
from lms.identity.sessions import SessionIssuer, session_cookies
from lms.identity.signin import sso_required
from lms.identity.sso.fetch import FetchRefused
from lms.identity.sso.oidc import OidcSignIn, discover
from lms.identity.sso.provisioning import (
    get_provider,
    map_attributes,
    provider_for_email,
    provision_user,
    safe_next_path,
    secret_cipher,
)
from lms.identity.sso.saml import SamlServiceProvider
from lms.identity.sso.schemas import Discovery, OidcProviderIn, ProviderOut
from lms.lib.errors import Conflict, ValidationFailed
from lms.lib.pagination import Page, PageParams, paginate
from lms.lib.params import AppRequest


def site(request: AppRequest) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


def tenant_id_of(request: AppRequest) -> UUID:
    return request.scope["state"]["tenant"].id  # type: ignore[no-any-return]


def oidc_redirect_uri(request: AppRequest, provider_id: UUID) -> str:
    return f"{site(request)}/auth/oidc/{provider_id}/callback"


def provider_out(request: AppRequest, provider: SsoProvider) -> ProviderOut:
    base = site(request)
    out = ProviderOut(
        id=str(provider.id),
        kind=provider.kind,
        name=provider.name,
        enabled=provider.enabled,
        email_domains=list(provider.email_domains),
        config={k: v for k, v in provider.config.items() if k not in ("sp_private_key",)},
        attribute_mapping=dict(provider.attribute_mapping),
        login_url=f"{base}/auth/sso/{provider.id}/login",
    )
    if provider.kind == SsoKind.OIDC:
        out.redirect_uri = oidc_redirect_uri(request, provider.id)
    else:
        out.sp_metadata_url = f"{base}/auth/saml/{provider.id}/metadata"
        out.acs_url = f"{base}/auth/saml/{provider.id}/acs"
    return out


async def ensure_unique_name(session: AsyncSession, name: str, provider_id: UUID | None) -> None:
    existing = (await session.execute(select(SsoProvider).where(SsoProvider.name == name))).scalar_one_or_none()
    if existing is not None and existing.id != provider_id:
        raise Conflict("a provider with this name already exists", field="name")


async def apply_oidc(request: AppRequest, provider: SsoProvider, data: OidcProviderIn) -> None:
    settings = request.app.state.settings
    try:
        await discover(data.issuer, settings.sso_allow_private_hosts)
    except FetchRefused as exc:
        raise ValidationFailed(exc.message, field="issuer") from exc
    provider.name = data.name
    provider.enabled = data.enabled
    provider.email_domains = sorted(set(data.email_domains))
    provider.config = {"issuer": data.issuer.rstrip("/"), "client_id": data.client_id, "scopes": data.scopes}
    provider.attribute_mapping = msgspec.to_builtins(data.attribute_mapping)
    if data.client_secret is not None:
        provider.secret_encrypted = secret_cipher(settings.secret_key).encrypt(data.client_secret.encode())


class SsoProvidersController(Controller):
    """Tenant admins configure their identity providers."""

    path = "/api/v1/sso/providers"
    guards = [requires_role(Role.TENANT_ADMIN)]
    tags = ["identity"]

    @get("/")
    async def list_providers(
        self, request: AppRequest, db_session: NamedDependency[AsyncSession], page: NamedDependency[PageParams]
    ) -> Page[ProviderOut]:
        """The site's sign-in providers (OIDC and SAML), oldest first."""
        query = select(SsoProvider).order_by(SsoProvider.created_at, SsoProvider.id)
        return await paginate(db_session, query, page, lambda provider: provider_out(request, provider))

    @get("/{provider_id:uuid}", description="One sign-in provider.")
    async def get_provider(
        self, request: AppRequest, db_session: NamedDependency[AsyncSession], provider_id: FromPath[UUID]
    ) -> ProviderOut:
        return provider_out(request, await get_provider(db_session, provider_id))

    @post("/oidc", status_code=HTTP_201_CREATED, description="Add an OpenID Connect sign-in provider to this site.")
    async def create_oidc(
        self, request: AppRequest, db_session: NamedDependency[AsyncSession], data: JSONBody[OidcProviderIn]
    ) -> ProviderOut:
        await ensure_unique_name(db_session, data.name, None)
        provider = SsoProvider(tenant_id=tenant_id_of(request), kind=SsoKind.OIDC.value, name=data.name)
        await apply_oidc(request, provider, data)
        db_session.add(provider)
        await db_session.flush()
        return provider_out(request, provider)

    @put("/{provider_id:uuid}/oidc", description="Replace an OpenID Connect provider's settings.")
    async def replace_oidc(
        self,
        request: AppRequest,
        db_session: NamedDependency[AsyncSession],
        provider_id: FromPath[UUID],
        data: JSONBody[OidcProviderIn],
    ) -> ProviderOut:
        provider = await get_provider(db_session, provider_id, SsoKind.OIDC.value)
        await ensure_unique_name(db_session, data.name, provider.id)
        await apply_oidc(request, provider, data)
        await db_session.flush()
        return provider_out(request, provider)

    @delete("/{provider_id:uuid}", status_code=HTTP_200_OK, description="Remove a sign-in provider.")
    async def delete_provider(
        self, db_session: NamedDependency[AsyncSession], provider_id: FromPath[UUID]
    ) -> dict[str, str]:
        provider = await get_provider(db_session, provider_id)
        await db_session.delete(provider)
        return {"status": "deleted"}


class SsoDiscoveryController(Controller):
    path = "/api/v1/auth/discover"
    guards = [allows_anonymous("the sign-in page asks where to send an address before anyone is signed in")]
    tags = ["identity"]

    @get("/")
    async def discover_method(
        self,
        request: AppRequest,
        db_session: NamedDependency[AsyncSession],
        email: Annotated[str, QueryParameter(max_length=320)],
    ) -> Discovery:
        """`password`, or `sso` with the provider whose e-mail domains include the address's domain."""
        provider = await provider_for_email(db_session, email)
        if provider is None:
            required = await sso_required(db_session, tenant_id_of(request))
            return Discovery(method="sso_unavailable" if required else "password")
        return Discovery(
            method="sso",
            provider_id=str(provider.id),
            provider_name=provider.name,
            login_url=f"{site(request)}/auth/sso/{provider.id}/login",
        )


def oidc_flow(request: AppRequest, provider: SsoProvider) -> OidcSignIn:
    settings = request.app.state.settings
    return OidcSignIn(
        provider, request.app.state.redis, settings.celery_queue, settings.secret_key, settings.sso_allow_private_hosts
    )


class SsoFlowController(Controller):
    """The browser side of single sign-on (redirects, not JSON)."""

    path = "/auth"
    guards = [allows_anonymous("single sign-on is how an anonymous browser becomes signed in")]
    include_in_schema = False

    @get("/sso/{provider_id:uuid}/login")
    async def start(
        self,
        request: AppRequest,
        db_session: NamedDependency[AsyncSession],
        provider_id: FromPath[UUID],
        next_path: Annotated[str | None, QueryParameter(name="next", max_length=2048)] = None,
    ) -> Redirect:
        """SP-initiated sign-in: off to the tenant's identity provider."""
        provider = await get_provider(db_session, provider_id)
        if not provider.enabled:
            raise ValidationFailed("this sign-in method is disabled", field="provider_id")
        target = safe_next_path(next_path)
        if provider.kind == SsoKind.OIDC:
            url = await oidc_flow(request, provider).authorization_url(oidc_redirect_uri(request, provider.id), target)
            return Redirect(url)
        settings = request.app.state.settings
        saml = SamlServiceProvider(provider, site(request), settings.secret_key)
        return Redirect(await saml.login_url(request.app.state.redis, settings.celery_queue, target))

    @get("/oidc/{provider_id:uuid}/callback")
    async def oidc_callback(
        self,
        request: AppRequest,
        db_session: NamedDependency[AsyncSession],
        provider_id: FromPath[UUID],
        code: Annotated[str, QueryParameter(max_length=4096)],
        oidc_state: Annotated[str, QueryParameter(name="state", max_length=200)],
    ) -> Redirect:
        provider = await get_provider(db_session, provider_id, SsoKind.OIDC.value)
        if not provider.enabled:
            raise ValidationFailed("this sign-in method is disabled", field="provider_id")
        claims, next_path = await oidc_flow(request, provider).complete(
            code, oidc_state, oidc_redirect_uri(request, provider.id)
        )
        user = await provision_user(db_session, provider, map_attributes(provider, claims))
        return await signed_in_redirect(request, db_session, user, next_path)


async def signed_in_redirect(request: AppRequest, db_session: AsyncSession, user: Any, next_path: str) -> Redirect:
    """Start a browser session for `user` and go to a path on this same site."""
    state = request.app.state
    pair = await SessionIssuer(db_session, state.key_ring, state.settings.access_token_minutes).start(user)
    return Redirect(safe_next_path(next_path), status_code=303, cookies=session_cookies(pair))
