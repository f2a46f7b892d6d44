"""The SAML provider form for tenant admins: the IdP's metadata (an uploaded or pasted XML document, or
its URL), the service provider metadata to give the IdP, and the attribute mapping."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.billing.guards import requires_feature
from lms.db.providers import DbSession
from lms.identity.guards import requires_role
from lms.identity.models import Role, SsoKind, SsoProvider
from lms.identity.sso.controllers import provider_out
from lms.identity.sso.saml.controllers import apply_saml
from lms.identity.sso.schemas import SamlProviderIn
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

MAX_METADATA_BYTES = 1_000_000
FIELDS = {
    "name",
    "metadata_url",
    "metadata_xml",
    "email_domains",
    "map_email",
    "map_name",
    "map_groups",
    "map_email_verified",
    "group_roles",
    "default_roles",
}


def saml_values(provider: SsoProvider | None) -> dict[str, Any]:
    config = provider.config if provider is not None else {}
    values = mapping_values(provider)
    if provider is None:
        # Most IdPs name attributes by URI; these are the common ones, changeable before saving.
        values.update(map_email="email", map_name="displayName", map_groups="groups")
    return {
        **values,
        # Empty on the edit form: saving keeps the stored metadata unless new metadata is given.
        "metadata_url": "",
        "current_metadata_url": config.get("metadata_url") or "",
        "metadata_xml": "",
        "allow_idp_initiated": bool(config.get("allow_idp_initiated", True)),
    }


class SamlPagesController(Controller):
    """Add or change a SAML sign-in provider from the admin console."""

    guards = [requires_role(Role.TENANT_ADMIN), requires_feature("sso")]
    include_in_schema = False
    before_request = staticmethod(before_page)

    def render(
        self,
        request: AppRequest,
        provider: SsoProvider | None,
        values: dict[str, Any],
        errors: FormErrors | None = None,
        status: int = 200,
    ) -> Template:
        return page(
            request,
            "admin/sso_provider.html",
            status_code=status,
            sections=admin_sections(),
            kind="saml",
            provider=provider,
            out=provider_out(request, provider) if provider is not None else None,
            values=values,
            errors=errors or FormErrors(),
            roles=role_names(),
            action=f"/admin/sso/{provider.id}/saml" if provider is not None else "/admin/sso/saml/new",
        )

    @get("/admin/sso/saml/new")
    async def new(self, request: AppRequest) -> Template:
        return self.render(request, None, saml_values(None))

    @get("/admin/sso/{provider_id:uuid}/saml")
    async def edit(
        self,
        request: AppRequest,
        db_session: DbSession,
        provider_id: FromPath[UUID],
        done: Annotated[str, QueryParameter(max_length=20)] = "",
    ) -> Template:
        """The settings, with the SP metadata and URLs to give the IdP."""
        provider = await get_provider(db_session, provider_id, SsoKind.SAML.value)
        response = self.render(request, provider, saml_values(provider))
        flashes = {
            "added": _("The provider is saved. Give your identity provider the metadata below, then run a test."),
            "saved": _("Your changes are saved."),
        }
        response.context["flash"] = flashes.get(done)
        return response

    @post("/admin/sso/saml/new", status_code=HTTP_200_OK, request_max_body_size=MAX_METADATA_BYTES + 64 * 1024)
    async def create(
        self,
        request: AppRequest,
        db_session: DbSession,
        audit: NamedDependency[AdminAudit],
        tenant: NamedDependency[ResolvedTenant],
    ) -> Template | Redirect:
        return await self.save(request, db_session, audit, None, tenant)

    @post(
        "/admin/sso/{provider_id:uuid}/saml",
        status_code=HTTP_200_OK,
        request_max_body_size=MAX_METADATA_BYTES + 64 * 1024,
    )
    async def change(
        self,
        request: AppRequest,
        db_session: DbSession,
        audit: NamedDependency[AdminAudit],
        tenant: NamedDependency[ResolvedTenant],
        provider_id: FromPath[UUID],
    ) -> Template | Redirect:
        provider = await get_provider(db_session, provider_id, SsoKind.SAML.value)
        return await self.save(request, db_session, audit, provider, tenant)

    async def metadata_document(self, request: AppRequest, form: FormData) -> str:
        """The pasted XML, else the uploaded file's text ('' when neither was given)."""
        pasted = form.text("metadata_xml", MAX_METADATA_BYTES)
        if pasted:
            return pasted
        upload = (await request.form()).get("metadata_file")
        if not isinstance(upload, UploadFile):
            return ""
        content = await upload.read()
        if not content:
            return ""
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError:
            form.errors["metadata_xml"] = _("The metadata file is not a UTF-8 XML document.")
            return ""

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
        url = form.text("metadata_url", 2048)
        xml = await self.metadata_document(request, form)
        values.update(
            metadata_url=url,
            # Pasted XML is shown again after an error; an uploaded file has to be chosen again.
            metadata_xml=form.fields.get("metadata_xml", "")[:MAX_METADATA_BYTES],
            allow_idp_initiated="allow_idp_initiated" in form.fields,
        )
        if url and xml:
            form.errors["metadata_url"] = _("Give the metadata URL or the XML document, not both.")
        elif not url and not xml and provider is None:
            form.errors["metadata_url"] = _("Enter the metadata URL, or upload or paste the XML document.")
        elif url and not url.startswith(("https://", "http://")):
            form.errors["metadata_url"] = _("Enter a web address that starts with https://.")
        if not form.csrf_valid(request):
            form.errors.setdefault("name", expired_form_message())
        if form.errors:
            return self.render(request, provider, values, form.errors, 422)
        payload.update(
            metadata_url=url or None,
            metadata_xml=xml or None,
            allow_idp_initiated=values["allow_idp_initiated"],
        )
        try:
            data = msgspec.convert(payload, SamlProviderIn)
        except msgspec.ValidationError as exc:
            form.errors[invalid_field(exc, FIELDS)] = _("Check this value.")
            return self.render(request, provider, values, form.errors, 422)
        try:
            await ensure_unique_name(db_session, data.name, provider.id if provider is not None else None)
            if provider is None:
                created = SsoProvider(tenant_id=tenant.id, kind=SsoKind.SAML.value, name=data.name, config={})
                await apply_saml(request, created, data)
                await add_provider(db_session, created, audit)
                target = f"/admin/sso/{created.id}/saml?done=added"
            else:
                await apply_saml(request, provider, data, keep_current_metadata=True)
                await save_provider(db_session, provider, audit)
                target = f"/admin/sso/{provider.id}/saml?done=saved"
        except DomainError as exc:
            field = domain_error_field(exc, FIELDS)
            form.errors[field] = (
                _("The metadata could not be used: %(reason)s", reason=service_message(exc))
                if field in ("metadata_url", "metadata_xml")
                else service_message(exc)
            )
            return self.render(request, provider, values, form.errors, exc.status)
        return Redirect(target, status_code=303)
