"""SAML routes: provider set-up by tenant admins, SP metadata, ACS (SP- and IdP-initiated), single logout."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody
from litestar.response import Redirect
from litestar.status_codes import HTTP_201_CREATED
from onelogin.saml2.errors import OneLogin_Saml2_Error

from lms.billing.guards import requires_feature
from lms.db.providers import DbSession
from lms.identity.accounts.services.own_account import find_user
from lms.identity.guards import (
    REFRESH_COOKIE,
    Principal,
    allows_anonymous,
    requires_role,
    requires_user,
)
from lms.identity.models import Role, SsoKind, SsoProvider
from lms.identity.signin.services.sessions import SessionIssuer, cleared_cookies, revoke_provider_sessions
from lms.identity.sso.controllers import (
    provider_out,
    saml_request_cookie,
    signed_in_redirect,
    site,
    test_result_path,
)
from lms.identity.sso.pages import SSO_EXCEPTION_HANDLERS
from lms.identity.sso.saml.services import (
    ASSERTION,
    SAML_REQUEST_COOKIE,
    SamlServiceProvider,
    new_sp_keypair,
    parse_idp_metadata,
)
from lms.identity.sso.schemas import ProviderOut, SamlProviderIn
from lms.identity.sso.services.accounts import linked_user, provision_user, subject_of
from lms.identity.sso.services.fetch import fetch_document
from lms.identity.sso.services.providers import add_provider, ensure_unique_name, save_provider
from lms.identity.sso.services.provisioning import (
    SsoFailed,
    get_provider,
    map_attributes,
    safe_next_path,
    secret_cipher,
)
from lms.identity.sso.services.sign_in_check import keep_test_result
from lms.lib.errors import ValidationFailed
from lms.lib.params import AppRequest
from lms.tenancy.schemas import ResolvedTenant
from lms.tenancy.services.audit import AdminAudit

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def service_provider(request: AppRequest, provider: SsoProvider) -> SamlServiceProvider:
    return SamlServiceProvider(provider, site(request), request.app.state.settings.secret_key)


async def apply_saml(
    request: AppRequest, provider: SsoProvider, data: SamlProviderIn, keep_current_metadata: bool = False
) -> None:
    """Apply the settings; with `keep_current_metadata` (the admin page's edit form) a change that gives
    no metadata keeps the IdP metadata already stored."""
    settings = request.app.state.settings
    keeping = keep_current_metadata and data.metadata_xml is None and data.metadata_url is None
    if keeping and provider.config.get("idp"):
        idp = dict(provider.config["idp"])
    elif (data.metadata_xml is None) == (data.metadata_url is None):
        raise ValidationFailed("give exactly one of metadata_xml and metadata_url", field="metadata_xml")
    elif data.metadata_url is not None:
        xml = (await fetch_document(data.metadata_url, settings.sso_allow_private_hosts, "metadata_url")).decode()
        idp = parse_idp_metadata(xml, "metadata_url")
    else:
        idp = parse_idp_metadata(data.metadata_xml or "")
    provider.name = data.name
    provider.enabled = data.enabled
    provider.email_domains = sorted(set(data.email_domains))
    sp_cert = provider.config.get("sp_cert")
    if not sp_cert or provider.secret_encrypted is None:
        sp_cert, sp_key = new_sp_keypair(f"lms-sp-{provider.name}")
        provider.secret_encrypted = secret_cipher(settings.secret_key).encrypt(sp_key.encode())
    provider.config = {
        "idp": idp,
        "metadata_url": provider.config.get("metadata_url") if keeping else data.metadata_url,
        "sp_cert": sp_cert,
        "allow_idp_initiated": data.allow_idp_initiated,
        "link_by_verified_email": data.link_by_verified_email,
        "trust_unverified_email": data.trust_unverified_email,
    }
    provider.attribute_mapping = msgspec.to_builtins(data.attribute_mapping)


class SamlProvidersController(Controller):
    path = "/api/v1/sso/providers"
    guards = [requires_role(Role.TENANT_ADMIN), requires_feature("sso")]
    tags = ["identity"]

    @post("/saml", status_code=HTTP_201_CREATED, description="Add a SAML sign-in provider to this site.")
    async def create_saml(
        self,
        request: AppRequest,
        db_session: DbSession,
        audit: NamedDependency[AdminAudit],
        tenant: NamedDependency[ResolvedTenant],
        data: JSONBody[SamlProviderIn],
    ) -> ProviderOut:
        await ensure_unique_name(db_session, data.name, None)
        provider = SsoProvider(tenant_id=tenant.id, kind=SsoKind.SAML.value, name=data.name, config={})
        await apply_saml(request, provider, data)
        return provider_out(request, await add_provider(db_session, provider, audit))

    @put("/{provider_id:uuid}/saml", description="Replace a SAML provider's settings.")
    async def replace_saml(
        self,
        request: AppRequest,
        db_session: DbSession,
        audit: NamedDependency[AdminAudit],
        provider_id: FromPath[UUID],
        data: JSONBody[SamlProviderIn],
    ) -> ProviderOut:
        provider = await get_provider(db_session, provider_id, SsoKind.SAML.value)
        await ensure_unique_name(db_session, data.name, provider.id)
        await apply_saml(request, provider, data)
        return provider_out(request, await save_provider(db_session, provider, audit))


class SamlController(Controller):
    """The IdP talks to these; browsers are redirected through them."""

    path = "/auth/saml/{provider_id:uuid}"
    guards = [allows_anonymous("the identity provider and anonymous browsers reach the SAML endpoints")]
    include_in_schema = False
    exception_handlers = SSO_EXCEPTION_HANDLERS

    @get("/metadata", media_type="application/samlmetadata+xml")
    async def metadata(self, request: AppRequest, db_session: DbSession, provider_id: FromPath[UUID]) -> str:
        provider = await get_provider(db_session, provider_id, SsoKind.SAML.value)
        return service_provider(request, provider).metadata()

    @post("/acs", status_code=303)
    async def acs(
        self,
        request: AppRequest,
        db_session: DbSession,
        provider_id: FromPath[UUID],
        data: FormData,
    ) -> Redirect:
        """Assertion consumer: SP- and IdP-initiated sign-in. RelayState may only be a path on this site."""
        provider = await get_provider(db_session, provider_id, SsoKind.SAML.value)
        settings = request.app.state.settings
        attributes, _, tested_by = await service_provider(request, provider).consume(
            db_session,
            request.app.state.redis,
            settings.celery_queue,
            dict(data),
            request.cookies.get(SAML_REQUEST_COOKIE),
        )
        mapping_email = (provider.attribute_mapping or {}).get("email", "email")
        if not attributes.get(mapping_email) and "@" in (attributes["nameid"][0] or ""):
            attributes[mapping_email] = attributes["nameid"]
        if tested_by is not None:
            # An admin's test (also of a provider not yet switched on): show the answer, sign nobody in.
            result_id = await keep_test_result(
                request.app.state.redis,
                settings.celery_queue,
                provider,
                UUID(tested_by),
                attributes,
                attributes["nameid"][0],
            )
            redirect = Redirect(test_result_path(provider.id, result_id), status_code=303)
            redirect.set_cookie(saml_request_cookie(provider.id, ""))
            return redirect
        if not provider.enabled:
            raise SsoFailed("this sign-in method is disabled")
        identity = map_attributes(provider, attributes, attributes["nameid"][0])
        user = await provision_user(db_session, provider, identity)
        redirect = await signed_in_redirect(
            request, db_session, user, safe_next_path(data.get("RelayState")), provider.id
        )
        redirect.set_cookie(saml_request_cookie(provider.id, ""))
        return redirect

    @post(
        "/logout",
        guards=[requires_user],
        status_code=303,
    )
    async def logout(
        self,
        request: AppRequest,
        db_session: DbSession,
        provider_id: FromPath[UUID],
        principal: NamedDependency[Principal],
    ) -> Redirect:
        """SP-initiated single logout: end the local session, then tell the IdP."""
        provider = await get_provider(db_session, provider_id, SsoKind.SAML.value)
        user = await find_user(db_session, principal.user_id)
        raw_refresh = request.cookies.get(REFRESH_COOKIE)
        issuer = SessionIssuer(db_session, request.app.state.key_ring, 0)
        if raw_refresh:
            await issuer.revoke(raw_refresh)
        sp = service_provider(request, provider)
        if user is None or not provider.config.get("idp", {}).get("singleLogoutService", {}).get("url"):
            return Redirect("/", cookies=cleared_cookies(), status_code=303)
        name_id = await subject_of(db_session, provider, user.id) or user.email
        auth = sp.auth({}, {}, f"/auth/saml/{provider.id}/logout")
        url = auth.logout(return_to="/", name_id=name_id)
        return Redirect(str(url), cookies=cleared_cookies(), status_code=303)

    @get("/sls", status_code=303)
    async def sls(self, request: AppRequest, db_session: DbSession, provider_id: FromPath[UUID]) -> Response[Any]:
        """Single logout service: the IdP's LogoutResponse, or its LogoutRequest (IdP-initiated).

        The message must be signed by the provider's IdP, name it as Issuer and this URL as Destination;
        an IdP-initiated logout ends only the sessions started through this provider."""
        provider = await get_provider(db_session, provider_id, SsoKind.SAML.value)
        sp = service_provider(request, provider)
        query = {k: v for k, v in request.query_params.items()}
        message = sp.check_logout_message(query)
        auth = sp.auth(query, {}, f"/auth/saml/{provider.id}/sls", want_messages_signed=True)
        try:
            redirect_url = auth.process_slo(keep_local_session=True)
        except OneLogin_Saml2_Error as exc:
            raise SsoFailed(f"SAML logout rejected: {exc}") from exc
        if auth.get_errors():
            raise SsoFailed(f"SAML logout rejected: {auth.get_last_error_reason() or auth.get_errors()}")
        if "SAMLRequest" in query:
            name_id = message.find(f"{{{ASSERTION}}}NameID")
            user = (
                await linked_user(db_session, provider, (name_id.text or "").strip()) if name_id is not None else None
            )
            if user is not None:
                await revoke_provider_sessions(db_session, user.id, provider.id)
            return Redirect(str(redirect_url), cookies=cleared_cookies(), status_code=303)
        return Redirect("/", cookies=cleared_cookies(), status_code=303)
