"""Tenant admins' pages of the tenancy domain: the audit log, and the site's custom domains."""

from __future__ import annotations

import hmac
import re
from datetime import timedelta
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, PathParameter, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.billing.guards import requires_feature
from lms.identity.guards import CSRF_COOKIE, requires_role
from lms.identity.schemas import Role
from lms.lib.errors import DomainError
from lms.lib.params import AppRequest, Offset
from lms.tenancy.controllers import (
    admin_audit_entry_out,
    provide_audit_filter,
    provide_branding_service,
    provide_domain_service,
    site_domain_out,
)
from lms.tenancy.schemas import BrandingChange, DomainClaim
from lms.tenancy.services.audit import AdminAudit, AuditFilter
from lms.tenancy.services.branding import (
    MAX_LOGO_BYTES,
    TEXT_CONTRAST,
    UI_CONTRAST,
    WHITE,
    BrandingSelfService,
    contrast_ratio,
)
from lms.tenancy.services.domains import DomainSelfService
from lms.web import i18n
from lms.web.branding import DEFAULT_ACCENT, DEFAULT_PRIMARY, readable_on
from lms.web.forms import FormData, FormErrors, expired_form_message, service_message
from lms.web.i18n import gettext as _
from lms.web.layout import CSRF_FIELD, admin_sections, before_page, load_viewer, page

PAGE_SIZE = 50
HEX_COLOUR = re.compile(r"#[0-9a-f]{6}")


def action_labels() -> dict[str, str]:
    """Plain words for the recorded actions; an action without words shows as recorded."""
    return {
        "user.invited": _("Invited a user"),
        "user.updated": _("Changed a user"),
        "user.deactivated": _("Deactivated a user"),
        "user.reactivated": _("Reactivated a user"),
        "user.invitation_sent": _("Sent an invitation again"),
        "sso.provider_created": _("Added a sign-in provider"),
        "sso.provider_updated": _("Changed a sign-in provider"),
        "sso.provider_deleted": _("Removed a sign-in provider"),
        "scim.token_created": _("Created a SCIM token"),
        "scim.token_revoked": _("Revoked a SCIM token"),
        "settings.mfa_required_changed": _("Changed the two-step sign-in rule"),
        "settings.sso_required_changed": _("Changed whether single sign-on is required"),
        "domain.added": _("Added a domain"),
        "domain.removed": _("Removed a domain"),
        "domain.verified": _("A domain was verified"),
        "domain.verification_lost": _("A domain stopped verifying"),
        "domain.recovered": _("A domain verifies again"),
        "users.imported": _("Imported users"),
        "user.erased": _("Erased a person's personal data"),
        "user.personal_data_export_requested": _("Asked for a copy of a person's data"),
        "user.personal_data_downloaded": _("Downloaded a copy of a person's data"),
        "training_rule.created": _("Assigned a course"),
        "training_rule.deleted": _("Deleted a course assignment"),
        "branding.changed": _("Changed the branding"),
        "privacy.settings_changed": _("Changed the privacy settings"),
    }


def field_labels() -> dict[str, str]:
    return {
        "display_name": _("Name"),
        "roles": _("Roles"),
        "status": _("Status"),
        "manager_id": _("Manager"),
        "groups": _("Groups"),
        "kind": _("Kind"),
        "mfa_required_for_staff": _("Two-step sign-in required for staff"),
        "sso_required": _("Single sign-on required"),
        "certificates": _("Certificates"),
        "certificates_revoked": _("Certificates revoked"),
        "erasure_certificates": _("Certificates on erasure"),
        "primary_color": _("Main colour"),
        "accent_color": _("Accent colour"),
        "logo_url": _("Logo"),
        "default_locale": _("Default language"),
        "email_sender_name": _("E-mail sender name"),
        "rows": _("Rows"),
        "problems": _("Rows with a problem"),
        "created": _("Created"),
        "updated": _("Updated"),
        "unchanged": _("Unchanged"),
        "deactivated": _("Deactivated"),
        "due_date": _("Due date"),
        "due_days": _("Days after enrolment"),
        "recur_months": _("Repeat every (months)"),
    }


def value_labels() -> dict[str, dict[str, str]]:
    """Recorded codes that have words, per field."""
    certificates = {"revoke": _("Revoked"), "keep": _("Valid")}
    return {"certificates": certificates, "erasure_certificates": certificates}


def shown(value: object, key: str = "") -> str:
    """A recorded value in plain words: lists joined, nothing as a dash, yes/no for flags, codes of
    `key` (erasure's certificate policy) in words."""
    if value is None or value == [] or value == "":
        return "—"
    if isinstance(value, str) and value in (words := value_labels().get(key, {})):
        return words[value]
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


class AuditPagesController(Controller):
    guards = [requires_role(Role.TENANT_ADMIN)]
    include_in_schema = False
    before_request = staticmethod(before_page)
    dependencies = {"audit_filter": Provide(provide_audit_filter, sync_to_thread=False)}

    @get("/admin/audit")
    async def audit_log(
        self,
        request: AppRequest,
        audit: NamedDependency[AdminAudit],
        audit_filter: NamedDependency[AuditFilter],
        offset: FromQuery[Offset] = 0,
    ) -> Template:
        await load_viewer(request)
        entries, total = await audit.entries(audit_filter, PAGE_SIZE, offset)
        labels = action_labels()
        query = "&".join(f"{k}={v}" for k, v in request.query_params.items() if k != "offset" and v)
        return page(
            request,
            "tenancy/audit.html",
            sections=admin_sections(),
            entries=[admin_audit_entry_out(e) for e in entries],
            labels=labels,
            fields=field_labels(),
            shown=shown,
            actions=[(a, labels.get(a, a)) for a in await audit.actions()],
            selected=audit_filter,
            timedelta_day=timedelta(days=1),
            total=total,
            limit=PAGE_SIZE,
            offset=offset,
            base=f"/admin/audit?{query}&" if query else "/admin/audit?",
            export_href="/api/v1/admin/audit/export.csv" + (f"?{query}" if query else ""),
        )


def domain_status_labels() -> dict[str, tuple[str, str]]:
    return {
        "pending": (_("Waiting for DNS"), "warning"),
        "verified": (_("Verified"), "success"),
        "failing": (_("No longer verifying"), "danger"),
    }


class DomainPagesController(Controller):
    """Custom domains for tenant admins: add, see the DNS records to create, check now, remove."""

    guards = [requires_role(Role.TENANT_ADMIN)]
    include_in_schema = False
    before_request = staticmethod(before_page)
    dependencies = {"domains": Provide(provide_domain_service, sync_to_thread=False)}

    async def render(
        self,
        request: AppRequest,
        domains: DomainSelfService,
        status: int = 200,
        errors: FormErrors | None = None,
        hostname: str = "",
        flash: str | None = None,
    ) -> Template:
        await load_viewer(request)
        return page(
            request,
            "tenancy/domains.html",
            sections=admin_sections(),
            status_code=status,
            domains=[site_domain_out(d, domains.platform_host) for d in await domains.domains()],
            statuses=domain_status_labels(),
            platform_host=domains.platform_host,
            errors=errors or FormErrors(),
            hostname=hostname,
            flash=flash,
        )

    @get("/admin/domains")
    async def list_domains(
        self,
        request: AppRequest,
        domains: NamedDependency[DomainSelfService],
        done: Annotated[str, QueryParameter(max_length=20)] = "",
    ) -> Template:
        flashes = {
            "added": _("The domain is added. Create the DNS records below; we check them every few minutes."),
            "checked": _("We looked the domain up in DNS just now."),
            "removed": _("The domain is removed."),
        }
        return await self.render(request, domains, flash=flashes.get(done))

    @post("/admin/domains", status_code=HTTP_200_OK, guards=[requires_feature("custom_domains")])
    async def add_domain(self, request: AppRequest, domains: NamedDependency[DomainSelfService]) -> Template | Redirect:
        form = await FormData.read(request)
        hostname = form.text("hostname", 253, required=_("Enter the domain your people will open.")).lower()
        if hostname and not valid_hostname(hostname):
            form.errors["hostname"] = _("Enter a domain name like learn.example.com.")
        if form.errors or not form.csrf_valid(request):
            form.errors.setdefault("hostname", expired_form_message())
            return await self.render(request, domains, 422, form.errors, hostname)
        try:
            domain = await domains.add(hostname)
            await domains.check(domain.hostname)
        except DomainError as exc:
            form.errors["hostname"] = service_message(exc)
            return await self.render(request, domains, exc.status, form.errors, hostname)
        return Redirect("/admin/domains?done=added", status_code=303)

    @post("/admin/domains/{hostname:str}/check", status_code=HTTP_200_OK)
    async def check_domain(
        self,
        request: AppRequest,
        domains: NamedDependency[DomainSelfService],
        hostname: Annotated[str, PathParameter(max_length=253)],
    ) -> Template | Redirect:
        form = await FormData.read(request)
        if not form.csrf_valid(request):
            return await self.render(request, domains, 400, flash=expired_form_message())
        await domains.check(hostname)
        return Redirect("/admin/domains?done=checked", status_code=303)

    @post("/admin/domains/{hostname:str}/remove", status_code=HTTP_200_OK)
    async def remove_domain(
        self,
        request: AppRequest,
        domains: NamedDependency[DomainSelfService],
        hostname: Annotated[str, PathParameter(max_length=253)],
    ) -> Template | Redirect:
        form = await FormData.read(request)
        if not form.csrf_valid(request):
            return await self.render(request, domains, 400, flash=expired_form_message())
        await domains.remove(hostname)
        return Redirect("/admin/domains?done=removed", status_code=303)


def valid_hostname(value: str) -> bool:
    try:
        msgspec.convert({"hostname": value}, DomainClaim)
    except msgspec.ValidationError:
        return False
    return True


def contrast_message(field: str, colour: str) -> str:
    ratio = i18n.format_number(round(contrast_ratio(colour, WHITE), 1))
    if field == "primary_color":
        return _(
            "This colour has a contrast of %(ratio)s:1 on white; links and buttons need at least 4.5:1. "
            "Choose a darker shade.",
            ratio=ratio,
        )
    return _(
        "This colour has a contrast of %(ratio)s:1 on white; it needs at least 3:1. Choose a darker shade.", ratio=ratio
    )


def logo_message(exc: DomainError) -> str:
    if "SVG" in exc.message:
        return _("SVG logos are not accepted. Upload a PNG, JPEG or WebP image.")
    if "larger" in exc.message:
        return _("The logo is too large: at most 512 KB and 2,000 pixels on a side.")
    return _("The logo is not a PNG, JPEG or WebP image.")


class BrandingPagesController(Controller):
    """Branding for tenant admins: colours with a contrast check, language, sender name, logo, preview."""

    guards = [requires_role(Role.TENANT_ADMIN)]
    include_in_schema = False
    before_request = staticmethod(before_page)
    dependencies = {"branding": Provide(provide_branding_service, sync_to_thread=False)}

    async def render(
        self,
        request: AppRequest,
        branding: BrandingSelfService,
        status: int = 200,
        errors: FormErrors | None = None,
        values: dict[str, str] | None = None,
        flash: str | None = None,
        preview: bool = False,
    ) -> Template:
        await load_viewer(request)
        current = msgspec.to_builtins(await branding.current())
        shown = {**current, **(values or {})}
        primary = shown.get("primary_color") or DEFAULT_PRIMARY
        accent = shown.get("accent_color") or DEFAULT_ACCENT
        return page(
            request,
            "tenancy/branding.html",
            sections=admin_sections(),
            status_code=status,
            values=shown,
            current=current,
            preview_primary=primary,
            preview_accent=accent,
            preview_on_primary=readable_on(primary),
            languages=[("", _("Same as each person's browser"))]
            + [(code, i18n.language_name(code)) for code in i18n.SUPPORTED_LOCALES],
            errors=errors or FormErrors(),
            flash=flash,
            preview=preview,
        )

    @get("/admin/branding")
    async def show(
        self,
        request: AppRequest,
        branding: NamedDependency[BrandingSelfService],
        done: Annotated[str, QueryParameter(max_length=20)] = "",
    ) -> Template:
        flashes = {"saved": _("Your branding is saved. Every page shows it now.")}
        return await self.render(request, branding, flash=flashes.get(done))

    @post("/admin/branding", status_code=HTTP_200_OK)
    async def save(self, request: AppRequest, branding: NamedDependency[BrandingSelfService]) -> Template | Redirect:
        form = await FormData.read(request)
        values = {
            "primary_color": form.text("primary_color", 7).lower(),
            "accent_color": form.text("accent_color", 7).lower(),
            "default_locale": form.text("default_locale", 5),
            "email_sender_name": form.text("email_sender_name", 100),
        }
        current = msgspec.to_builtins(await branding.current())
        defaults = {"primary_color": DEFAULT_PRIMARY, "accent_color": DEFAULT_ACCENT}
        for field in ("primary_color", "accent_color"):
            # The picker shows the platform's colour when none is set: sending it back changes nothing.
            if values[field] == defaults[field] and field not in current:
                values[field] = ""
            colour = values[field]
            if colour and not HEX_COLOUR.fullmatch(colour):
                form.errors[field] = _("Enter a colour like #1f4e9c.")
            elif colour and contrast_ratio(colour, WHITE) < (
                TEXT_CONTRAST if field == "primary_color" else UI_CONTRAST
            ):
                form.errors[field] = contrast_message(field, colour)
        if values["email_sender_name"] and any(c in values["email_sender_name"] for c in '<>"'):
            form.errors["email_sender_name"] = _("Use letters, digits and spaces only.")
        if not form.csrf_valid(request):
            form.errors.setdefault("primary_color", expired_form_message())
        if form.errors:
            return await self.render(request, branding, 422, form.errors, values)
        if form.fields.get("action") == "preview":
            return await self.render(request, branding, values=values, preview=True)
        try:
            await branding.change(msgspec.convert(values, BrandingChange))
        except (DomainError, msgspec.ValidationError):
            form.errors["primary_color"] = _("Check the values and try again.")
            return await self.render(request, branding, 422, form.errors, values)
        request.app.state.tenant_resolver.invalidate()
        return Redirect("/admin/branding?done=saved", status_code=303)

    @post("/admin/branding/logo", status_code=HTTP_200_OK, request_max_body_size=MAX_LOGO_BYTES + 64 * 1024)
    async def upload_logo(
        self, request: AppRequest, branding: NamedDependency[BrandingSelfService]
    ) -> Template | Redirect:
        form = await request.form()
        upload = form.get("logo")
        errors = FormErrors()
        if not hmac.compare_digest(str(form.get(CSRF_FIELD, "")), request.cookies.get(CSRF_COOKIE) or "-"):
            errors["logo"] = expired_form_message()
        elif upload is None or isinstance(upload, str):
            errors["logo"] = _("Choose an image file.")
        else:
            try:
                await branding.upload_logo(await upload.read())
            except DomainError as exc:
                errors["logo"] = logo_message(exc)
        if errors:
            return await self.render(request, branding, 422, errors)
        request.app.state.tenant_resolver.invalidate()
        return Redirect("/admin/branding?done=saved", status_code=303)

    @post("/admin/branding/logo/remove", status_code=HTTP_200_OK)
    async def remove_logo(
        self, request: AppRequest, branding: NamedDependency[BrandingSelfService]
    ) -> Template | Redirect:
        form = await FormData.read(request)
        if not form.csrf_valid(request):
            return await self.render(request, branding, 400, FormErrors(logo=expired_form_message()))
        await branding.remove_logo()
        request.app.state.tenant_resolver.invalidate()
        return Redirect("/admin/branding?done=saved", status_code=303)
