"""Tenant admins' single sign-on page: the providers, "SSO required", removing a provider, and the test
sign-in that shows what a provider asserts without signing anyone in. The OIDC and SAML forms live in
`sso/oidc/pages.py` and `sso/saml/pages.py` and share the field handling below."""

from __future__ import annotations

import re
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, PathParameter, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.billing.guards import current_licence, requires_feature
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_role
from lms.identity.models import Role, SsoKind, SsoProvider
from lms.identity.signin.services.local import sso_required
from lms.identity.sso.controllers import oidc_flow, oidc_redirect_uri, provider_out, saml_request_cookie, site
from lms.identity.sso.saml.services import SamlServiceProvider
from lms.identity.sso.services.providers import list_providers, remove_provider, require_sso
from lms.identity.sso.services.provisioning import DEFAULT_MAPPING, get_provider, mapping_of
from lms.identity.sso.services.sign_in_check import read_test_result
from lms.lib.errors import DomainError, NotFound
from lms.lib.pagination import PageParams
from lms.lib.params import AppRequest
from lms.tenancy.schemas import ResolvedTenant
from lms.tenancy.services.audit import AdminAudit
from lms.web.forms import FormData, FormErrors, expired_form_message, service_message
from lms.web.i18n import gettext as _
from lms.web.layout import admin_sections, before_page, page

DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
ALL_PROVIDERS = PageParams(limit=100, offset=0)


def role_names() -> dict[str, str]:
    return {
        Role.LEARNER.value: _("Learner"),
        Role.INSTRUCTOR.value: _("Instructor"),
        Role.TENANT_ADMIN.value: _("Administrator"),
    }


def mapping_values(provider: SsoProvider | None) -> dict[str, Any]:
    """The form's values for the settings every provider has (defaults for a new one)."""
    mapping = mapping_of(provider) if provider is not None else dict(DEFAULT_MAPPING)
    config = provider.config if provider is not None else {}
    return {
        "name": provider.name if provider is not None else "",
        "email_domains": ", ".join(provider.email_domains) if provider is not None else "",
        "enabled": provider.enabled if provider is not None else True,
        "link_by_verified_email": bool(config.get("link_by_verified_email", False)),
        "trust_unverified_email": bool(config.get("trust_unverified_email", False)),
        "map_email": mapping["email"],
        "map_name": mapping["name"],
        "map_groups": mapping["groups"],
        "map_email_verified": mapping["email_verified"],
        "group_roles": "\n".join(f"{group} = {role}" for group, role in (mapping.get("group_roles") or {}).items()),
        "default_roles": list(mapping.get("default_roles") or [Role.LEARNER.value]),
    }


async def read_common_fields(request: AppRequest, form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    """The shared fields as typed back (to show again) and as the JSON API takes them."""
    raw = await request.form()
    defaults = raw.getall("default_roles") if "default_roles" in raw else []
    values: dict[str, Any] = {
        "name": form.text("name", 200, required=_("Enter a name people will recognise, such as Acme Login.")),
        "email_domains": form.text("email_domains", 2000).lower(),
        "enabled": "enabled" in form.fields,
        "link_by_verified_email": "link_by_verified_email" in form.fields,
        "trust_unverified_email": "trust_unverified_email" in form.fields,
        "map_email": form.text("map_email", 300, required=_("Enter the claim that carries the e-mail address.")),
        "map_name": form.text("map_name", 300, required=_("Enter the claim that carries the name.")),
        "map_groups": form.text("map_groups", 300, required=_("Enter the claim that carries the groups.")),
        "map_email_verified": form.text(
            "map_email_verified", 300, required=_("Enter the claim that says the address is verified.")
        ),
        "group_roles": form.text("group_roles", 5000),
        "default_roles": [r for r in defaults if isinstance(r, str) and r in role_names()],
    }
    domains = [d for d in re.split(r"[\s,;]+", values["email_domains"]) if d]
    if any(not DOMAIN.match(d) for d in domains):
        form.errors["email_domains"] = _("Enter domains like example.com, separated by commas.")
    group_roles: dict[str, str] = {}
    for line in values["group_roles"].splitlines():
        if not line.strip():
            continue
        group, sep, role = line.rpartition("=")
        if not sep or not group.strip() or role.strip() not in role_names():
            form.errors["group_roles"] = _(
                "Write one group per line as group = role, where role is learner, instructor or tenant_admin."
            )
            break
        group_roles[group.strip()] = role.strip()
    if not values["default_roles"]:
        form.errors["default_roles"] = _("Choose at least one role for new people.")
    payload = {
        "name": values["name"],
        "email_domains": domains,
        "enabled": values["enabled"],
        "link_by_verified_email": values["link_by_verified_email"],
        "trust_unverified_email": values["trust_unverified_email"],
        "attribute_mapping": {
            "email": values["map_email"],
            "name": values["map_name"],
            "groups": values["map_groups"],
            "email_verified": values["map_email_verified"],
            "group_roles": group_roles,
            "default_roles": values["default_roles"] or [Role.LEARNER.value],
        },
    }
    return values, payload


def invalid_field(exc: msgspec.ValidationError, known: set[str]) -> str:
    """The form field a schema error is about (`... - at `$.issuer``), else the name field."""
    match = re.search(r"\$\.(\w+)(?:\.(\w+))?", str(exc))
    if match is None:
        return "name"
    field = match.group(1)
    if field == "attribute_mapping" and match.group(2):
        field = "map_" + match.group(2) if f"map_{match.group(2)}" in known else match.group(2)
    return field if field in known else "name"


def domain_error_field(exc: DomainError, known: set[str]) -> str:
    return exc.field if exc.field in known else "name"


def kind_names() -> dict[str, str]:
    return {SsoKind.OIDC.value: "OpenID Connect", SsoKind.SAML.value: "SAML 2.0"}


class SsoSetupPagesController(Controller):
    """The single sign-on page of the admin console."""

    guards = [requires_role(Role.TENANT_ADMIN)]
    include_in_schema = False
    before_request = staticmethod(before_page)

    async def render(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: ResolvedTenant,
        status: int = 200,
        errors: FormErrors | None = None,
        flash: str | None = None,
    ) -> Template:
        licence = await current_licence(request, tenant.id)
        has_sso = "sso" in licence.features
        providers = (await list_providers(db_session, ALL_PROVIDERS)).items if has_sso else []
        return page(
            request,
            "admin/sso.html",
            status_code=status,
            sections=admin_sections(),
            has_sso=has_sso,
            has_scim="scim" in licence.features,
            providers=[provider_out(request, p) for p in providers],
            kinds=kind_names(),
            required=await sso_required(db_session, tenant.id),
            errors=errors or FormErrors(),
            flash=flash,
        )

    @get("/admin/sso")
    async def overview(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        done: Annotated[str, QueryParameter(max_length=20)] = "",
    ) -> Template:
        """The providers, whether SSO is required, and the way to SCIM tokens (or what the plan lacks)."""
        flashes = {
            "added": _("The provider is saved. Run a test sign-in before you tell people about it."),
            "saved": _("Your changes are saved."),
            "removed": _("The provider is removed. People who used it sign in with a password now."),
            "required": _("Everyone now signs in with single sign-on."),
            "optional": _("People may sign in with a password again."),
        }
        return await self.render(request, db_session, tenant, flash=flashes.get(done))

    @post("/admin/sso/required", status_code=HTTP_200_OK, guards=[requires_feature("sso")])
    async def set_required(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        audit: NamedDependency[AdminAudit],
    ) -> Template | Redirect:
        form = await FormData.read(request)
        if not form.csrf_valid(request):
            return await self.render(request, db_session, tenant, 400, FormErrors(sso_required=expired_form_message()))
        required = form.fields.get("sso_required") == "on"
        try:
            await require_sso(db_session, tenant.id, required, audit)
        except DomainError as exc:
            return await self.render(
                request, db_session, tenant, exc.status, FormErrors(sso_required=service_message(exc))
            )
        return Redirect(f"/admin/sso?done={'required' if required else 'optional'}", status_code=303)

    @get("/admin/sso/{provider_id:uuid}/remove", guards=[requires_feature("sso")])
    async def confirm_removal(
        self, request: AppRequest, db_session: DbSession, provider_id: FromPath[UUID]
    ) -> Template:
        """Check before removing: people who sign in with it need a password afterwards."""
        provider = await get_provider(db_session, provider_id)
        return page(
            request,
            "admin/sso_remove.html",
            sections=admin_sections(),
            provider=provider,
            kinds=kind_names(),
            errors=FormErrors(),
        )

    @post("/admin/sso/{provider_id:uuid}/remove", status_code=HTTP_200_OK, guards=[requires_feature("sso")])
    async def remove(
        self,
        request: AppRequest,
        db_session: DbSession,
        audit: NamedDependency[AdminAudit],
        provider_id: FromPath[UUID],
    ) -> Template | Redirect:
        form = await FormData.read(request)
        provider = await get_provider(db_session, provider_id)
        if not form.csrf_valid(request):
            return page(
                request,
                "admin/sso_remove.html",
                status_code=400,
                sections=admin_sections(),
                provider=provider,
                kinds=kind_names(),
                errors=FormErrors(confirm=expired_form_message()),
            )
        await remove_provider(db_session, provider_id, audit)
        return Redirect("/admin/sso?done=removed", status_code=303)

    @post("/admin/sso/{provider_id:uuid}/test", status_code=HTTP_200_OK, guards=[requires_feature("sso")])
    async def start_test(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        principal: NamedDependency[Principal],
        provider_id: FromPath[UUID],
    ) -> Template | Redirect:
        """Off to the provider in test mode: its answer comes back to a page, nobody is signed in."""
        form = await FormData.read(request)
        provider = await get_provider(db_session, provider_id)
        if not form.csrf_valid(request):
            return await self.render(request, db_session, tenant, 400, FormErrors(test=expired_form_message()))
        settings = request.app.state.settings
        try:
            if provider.kind == SsoKind.OIDC:
                url = await oidc_flow(request, provider).authorization_url(
                    oidc_redirect_uri(request, provider), "/admin/sso", tested_by=principal.user_id
                )
                return Redirect(url, status_code=303)
            saml = SamlServiceProvider(provider, site(request), settings.secret_key)
            url, browser_token = await saml.login_url(
                request.app.state.redis, settings.celery_queue, "/admin/sso", tested_by=str(principal.user_id)
            )
        except DomainError as exc:
            return await self.render(request, db_session, tenant, exc.status, FormErrors(test=service_message(exc)))
        return Redirect(url, status_code=303, cookies=[saml_request_cookie(provider.id, browser_token)])

    @get("/admin/sso/{provider_id:uuid}/test/{result_id:str}", guards=[requires_feature("sso")])
    async def test_result(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        principal: NamedDependency[Principal],
        provider_id: FromPath[UUID],
        result_id: Annotated[str, PathParameter(max_length=64)],
    ) -> Template:
        """What the provider asserted and the profile the mapping makes of it."""
        provider = await get_provider(db_session, provider_id)
        settings = request.app.state.settings
        result = await read_test_result(
            request.app.state.redis, settings.celery_queue, tenant.id, principal.user_id, result_id
        )
        if result.provider_id != provider.id:
            raise NotFound("this test sign-in has expired; start it again")
        return page(
            request,
            "admin/sso_test.html",
            sections=admin_sections(),
            provider=provider,
            result=result,
            claims=sorted(result.claims.items()),
            roles=role_names(),
        )
