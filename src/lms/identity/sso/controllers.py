"""Single sign-on routes: provider administration, e-mail discovery, and the browser sign-in flows."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
import structlog
from litestar import Controller, delete, get, post, put
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from lms.billing.guards import requires_feature
from lms.db.providers import DbSession, Session
from lms.identity.guards import allows_anonymous, requires_role
from lms.identity.models import Role, SsoKind, SsoProvider
from lms.identity.signin.services.local import sso_required
from lms.identity.signin.services.sessions import SessionIssuer, session_cookies
from lms.identity.sso.oidc.services import OidcSignIn, discover, pending_sign_in
from lms.identity.sso.pages import SSO_EXCEPTION_HANDLERS
from lms.identity.sso.saml.services import REQUEST_SECONDS, SAML_REQUEST_COOKIE, SamlServiceProvider
from lms.identity.sso.schemas import (
    Discovery,
    OidcProviderIn,
    ProviderOut,
    RedirectUriOut,
    SsoSettingsIn,
    SsoSettingsOut,
)
from lms.identity.sso.services.accounts import provision_user
from lms.identity.sso.services.fetch import FetchRefused
from lms.identity.sso.services.providers import (
    add_provider,
    ensure_unique_name,
    list_providers,
    remove_provider,
    require_sso,
    save_provider,
)
from lms.identity.sso.services.provisioning import (
    SsoFailed,
    get_provider,
    map_attributes,
    provider_for_email,
    safe_next_path,
    secret_cipher,
)
from lms.identity.sso.services.sign_in_check import keep_test_result
from lms.lib.errors import ValidationFailed
from lms.lib.pagination import Page, PageParams
from lms.lib.params import AppRequest
from lms.tenancy.queries import primary_hostname
from lms.tenancy.schemas import ResolvedTenant
from lms.tenancy.services.audit import AdminAudit

log = structlog.get_logger(__name__)


def site(request: AppRequest) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


async def primary_site_url(request: AppRequest, session: Session) -> str:
    """The tenant's own address: its primary verified domain, else `<slug>.<PUBLIC_BASE_DOMAIN>`.

    Never the host of the current request, which may be any alias of the tenant."""
    settings = request.app.state.settings
    tenant = request.scope["state"]["tenant"]
    hostname = await primary_hostname(session)
    return f"{settings.public_scheme}://{hostname or f'{tenant.slug}.{settings.public_base_domain}'}"


async def new_oidc_redirect_uri(request: AppRequest, session: Session) -> str:
    """The one redirect URI of the tenant's OpenID providers (the state says which provider)."""
    return f"{await primary_site_url(request, session)}/auth/oidc/callback"


def oidc_redirect_uri(request: AppRequest, provider: SsoProvider) -> str:
    """What the provider was registered with: providers made before the shared callback keep their own."""
    stored = provider.config.get("redirect_uri")
    return str(stored) if stored else f"{site(request)}/auth/oidc/{provider.id}/callback"


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
        out.redirect_uri = oidc_redirect_uri(request, provider)
    else:
        out.sp_metadata_url = f"{base}/auth/saml/{provider.id}/metadata"
        out.acs_url = f"{base}/auth/saml/{provider.id}/acs"
    return out


async def apply_oidc(request: AppRequest, session: Session, provider: SsoProvider, data: OidcProviderIn) -> None:
    settings = request.app.state.settings
    try:
        await discover(data.issuer, settings.sso_allow_private_hosts, settings.sso_timeout_seconds)
    except (FetchRefused, SsoFailed) as exc:
        raise ValidationFailed(exc.message, field="issuer") from exc
    needs_secret = data.token_endpoint_auth_method != "none"
    if needs_secret and data.client_secret is None and provider.secret_encrypted is None:
        raise ValidationFailed(
            "a client secret is needed for %(method)s",
            field="client_secret",
            values={"method": data.token_endpoint_auth_method},
        )
    provider.name = data.name
    provider.enabled = data.enabled
    provider.email_domains = sorted(set(data.email_domains))
    provider.config = {
        "issuer": data.issuer.rstrip("/"),
        "client_id": data.client_id,
        "scopes": data.scopes,
        "token_endpoint_auth_method": data.token_endpoint_auth_method,
        "link_by_verified_email": data.link_by_verified_email,
        "trust_unverified_email": data.trust_unverified_email,
        # Kept once set: it is what the provider was registered with.
        "redirect_uri": provider.config.get("redirect_uri") or await new_oidc_redirect_uri(request, session),
    }
    provider.attribute_mapping = msgspec.to_builtins(data.attribute_mapping)
    if not needs_secret:
        provider.secret_encrypted = None
    elif data.client_secret is not None:
        provider.secret_encrypted = secret_cipher(settings.secret_key).encrypt(data.client_secret.encode())


class SsoProvidersController(Controller):
    """Tenant admins configure their identity providers."""

    path = "/api/v1/sso/providers"
    guards = [requires_role(Role.TENANT_ADMIN), requires_feature("sso")]
    tags = ["identity"]

    @get("/")
    async def list_providers(
        self, request: AppRequest, db_session: DbSession, page: NamedDependency[PageParams]
    ) -> Page[ProviderOut]:
        """The site's sign-in providers (OIDC and SAML), oldest first."""
        found = await list_providers(db_session, page)
        return page.of([provider_out(request, provider) for provider in found.items], found.total)

    @get("/oidc/redirect-uri")
    async def preview_redirect_uri(self, request: AppRequest, db_session: DbSession) -> RedirectUriOut:
        """The redirect URI to register at the OpenID provider, before the provider is saved here."""
        return RedirectUriOut(redirect_uri=await new_oidc_redirect_uri(request, db_session))

    @get("/{provider_id:uuid}")
    async def get_provider(
        self, request: AppRequest, db_session: DbSession, provider_id: FromPath[UUID]
    ) -> ProviderOut:
        """One sign-in provider of this site, with the URLs to give its identity provider."""
        return provider_out(request, await get_provider(db_session, provider_id))

    @post("/oidc", status_code=HTTP_201_CREATED, description="Add an OpenID Connect sign-in provider to this site.")
    async def create_oidc(
        self,
        request: AppRequest,
        db_session: DbSession,
        audit: NamedDependency[AdminAudit],
        tenant: NamedDependency[ResolvedTenant],
        data: JSONBody[OidcProviderIn],
    ) -> ProviderOut:
        await ensure_unique_name(db_session, data.name, None)
        provider = SsoProvider(tenant_id=tenant.id, kind=SsoKind.OIDC.value, name=data.name, config={})
        await apply_oidc(request, db_session, provider, data)
        return provider_out(request, await add_provider(db_session, provider, audit))

    @put("/{provider_id:uuid}/oidc", description="Replace an OpenID Connect provider's settings.")
    async def replace_oidc(
        self,
        request: AppRequest,
        db_session: DbSession,
        audit: NamedDependency[AdminAudit],
        provider_id: FromPath[UUID],
        data: JSONBody[OidcProviderIn],
    ) -> ProviderOut:
        provider = await get_provider(db_session, provider_id, SsoKind.OIDC.value)
        await ensure_unique_name(db_session, data.name, provider.id)
        await apply_oidc(request, db_session, provider, data)
        return provider_out(request, await save_provider(db_session, provider, audit))

    @delete("/{provider_id:uuid}", status_code=HTTP_200_OK, description="Remove a sign-in provider.")
    async def delete_provider(
        self, db_session: DbSession, audit: NamedDependency[AdminAudit], provider_id: FromPath[UUID]
    ) -> dict[str, str]:
        await remove_provider(db_session, provider_id, audit)
        return {"status": "deleted"}


class SsoSettingsController(Controller):
    """Whether everyone of the site must sign in with single sign-on."""

    path = "/api/v1/sso/settings"
    guards = [requires_role(Role.TENANT_ADMIN), requires_feature("sso")]
    tags = ["identity"]

    @get("/")
    async def read_settings(self, db_session: DbSession, tenant: NamedDependency[ResolvedTenant]) -> SsoSettingsOut:
        """Whether single sign-on is required on this site."""
        return SsoSettingsOut(required=await sso_required(db_session, tenant.id))

    @put(
        "/", description="Require single sign-on for everyone, or stop requiring it (409 without an enabled provider)."
    )
    async def write_settings(
        self,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        audit: NamedDependency[AdminAudit],
        data: JSONBody[SsoSettingsIn],
    ) -> SsoSettingsOut:
        await require_sso(db_session, tenant.id, data.required, audit)
        return SsoSettingsOut(required=data.required)


class SsoDiscoveryController(Controller):
    path = "/api/v1/auth/discover"
    guards = [allows_anonymous("the sign-in page asks where to send an address before anyone is signed in")]
    tags = ["identity"]

    @get("/")
    async def discover_method(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        email: Annotated[str, QueryParameter(max_length=320)],
    ) -> Discovery:
        """`password`, or `sso` with the provider whose e-mail domains include the address's domain."""
        provider = await provider_for_email(db_session, email)
        if provider is None:
            required = await sso_required(db_session, tenant.id)
            return Discovery(method="sso_unavailable" if required else "password")
        return Discovery(
            method="sso",
            provider_id=str(provider.id),
            provider_name=provider.name,
            login_url=f"{site(request)}/auth/sso/{provider.id}/login",
        )


def test_result_path(provider_id: UUID, result_id: str) -> str:
    """The admin page that shows a test sign-in's answer."""
    return f"/admin/sso/{provider_id}/test/{result_id}"


def oidc_flow(request: AppRequest, provider: SsoProvider) -> OidcSignIn:
    settings = request.app.state.settings
    return OidcSignIn(
        provider,
        request.app.state.redis,
        settings.celery_queue,
        settings.secret_key,
        settings.sso_allow_private_hosts,
        settings.sso_timeout_seconds,
    )


def enabled(provider: SsoProvider) -> SsoProvider:
    if not provider.enabled:
        raise SsoFailed(f"signing in with {provider.name} is switched off")
    return provider


class SsoFlowController(Controller):
    """The browser side of single sign-on (redirects, not JSON)."""

    path = "/auth"
    guards = [allows_anonymous("single sign-on is how an anonymous browser becomes signed in")]
    include_in_schema = False
    exception_handlers = SSO_EXCEPTION_HANDLERS

    @get("/sso/{provider_id:uuid}/login")
    async def start(
        self,
        request: AppRequest,
        db_session: DbSession,
        provider_id: FromPath[UUID],
        next_path: Annotated[str | None, QueryParameter(name="next", max_length=2048)] = None,
    ) -> Redirect:
        """SP-initiated sign-in: off to the tenant's identity provider."""
        provider = enabled(await get_provider(db_session, provider_id))
        target = safe_next_path(next_path)
        if provider.kind == SsoKind.OIDC:
            url = await oidc_flow(request, provider).authorization_url(oidc_redirect_uri(request, provider), target)
            return Redirect(url)
        settings = request.app.state.settings
        saml = SamlServiceProvider(provider, site(request), settings.secret_key)
        url, browser_token = await saml.login_url(request.app.state.redis, settings.celery_queue, target)
        return Redirect(url, cookies=[saml_request_cookie(provider.id, browser_token)])

    @get(["/oidc/callback", "/oidc/{provider_id:uuid}/callback"])
    async def oidc_callback(
        self,
        request: AppRequest,
        db_session: DbSession,
        code: Annotated[str | None, QueryParameter(max_length=4096)] = None,
        oidc_state: Annotated[str | None, QueryParameter(name="state", max_length=200)] = None,
        error: Annotated[str | None, QueryParameter(max_length=200)] = None,
        error_description: Annotated[str | None, QueryParameter(max_length=2000)] = None,
    ) -> Redirect:
        """The OpenID provider sends the browser back here, with a code or with an error."""
        settings = request.app.state.settings
        pending = (
            await pending_sign_in(request.app.state.redis, settings.celery_queue, oidc_state) if oidc_state else None
        )
        if pending is None:
            raise SsoFailed("this sign-in has expired or was already completed; start again")
        # The per-provider path of older registrations must agree with the state.
        if request.path_params.get("provider_id", pending.provider_id) != pending.provider_id:
            raise SsoFailed("this sign-in was started for another provider")
        provider = await get_provider(db_session, pending.provider_id, SsoKind.OIDC.value)
        flow = oidc_flow(request, provider)
        if error is not None or code is None:
            await flow.abandon(str(oidc_state))
            log.info("sso_cancelled", provider_id=str(provider.id), error=error, description=error_description)
            if error == "access_denied":
                raise SsoFailed(f"the sign-in was cancelled or refused at {provider.name}")
            raise SsoFailed(f"{provider.name} did not complete the sign-in; start again from the sign-in page")
        if pending.tested_by is not None:
            # An admin's test: show what the provider asserted; nobody is signed in or created.
            claims, _ = await flow.complete(code, str(oidc_state), oidc_redirect_uri(request, provider))
            result_id = await keep_test_result(
                request.app.state.redis, settings.celery_queue, provider, pending.tested_by, claims, claims.get("sub")
            )
            return Redirect(test_result_path(provider.id, result_id), status_code=303)
        enabled(provider)
        claims, next_path = await flow.complete(code, str(oidc_state), oidc_redirect_uri(request, provider))
        identity = map_attributes(provider, claims, str(claims.get("sub") or ""))
        user = await provision_user(db_session, provider, identity)
        return await signed_in_redirect(request, db_session, user, next_path, provider.id)


def saml_request_cookie(provider_id: UUID, value: str) -> Cookie:
    """Binds an SP-initiated SAML sign-in to the browser that started it (sent back with the IdP's POST).

    An empty value clears it."""
    return Cookie(
        key=SAML_REQUEST_COOKIE,
        value=value,
        path=f"/auth/saml/{provider_id}/acs",
        max_age=REQUEST_SECONDS if value else 0,
        httponly=True,
        secure=True,
        # The IdP posts the response cross-site; Lax would keep the cookie back.
        samesite="none",
    )


async def signed_in_redirect(
    request: AppRequest, db_session: Session, user: Any, next_path: str, provider_id: UUID
) -> Redirect:
    """Start a browser session for `user` (recording the provider) and go to a path on this same site."""
    state = request.app.state
    issuer = SessionIssuer(db_session, state.key_ring, state.settings.access_token_minutes)
    pair = await issuer.start(user, sso_provider_id=provider_id)
    return Redirect(safe_next_path(next_path), status_code=303, cookies=session_cookies(pair))
