"""Personal data pages of the admin console: a person's exports with their download links, the
erasure confirmation, and the tenant's erasure policy (the same services as the JSON API)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.config import Settings
from lms.db.providers import DbSession
from lms.lib.errors import DomainError, NotFound
from lms.lib.params import AppRequest, Expires
from lms.privacy.controllers import PRIVACY_SERVICES, export_out
from lms.privacy.guards import requires_tenant_admin
from lms.privacy.models import CertificatesOnErasure
from lms.privacy.services.erasure import Erasures
from lms.privacy.services.exports import PersonalDataExports
from lms.privacy.services.links import DOWNLOAD_SECONDS, export_signature_valid
from lms.privacy.services.policy import certificates_on_erasure, set_certificates_on_erasure
from lms.tenancy.schemas import ResolvedTenant
from lms.tenancy.services.audit import AdminAudit
from lms.web.forms import FormData, FormErrors, service_message
from lms.web.i18n import gettext as _
from lms.web.layout import admin_sections, before_page, page


def export_status_names() -> dict[str, str]:
    return {"queued": _("Being prepared"), "ready": _("Ready"), "failed": _("Failed")}


def policy_names() -> dict[str, str]:
    return {
        CertificatesOnErasure.REVOKE.value: _("Revoke them: verification shows them as revoked, naming nobody"),
        CertificatesOnErasure.KEEP.value: _("Keep them: they stay valid and verifiable under the name printed on them"),
    }


class PrivacyPagesController(Controller):
    before_request = staticmethod(before_page)
    guards = [requires_tenant_admin]
    dependencies = PRIVACY_SERVICES
    include_in_schema = False

    async def _render(
        self,
        request: AppRequest,
        settings: Settings,
        exports: PersonalDataExports,
        erasures: Erasures,
        user_id: UUID,
        *,
        flash: str | None = None,
        errors: FormErrors | None = None,
        status: int = 200,
        fragment: bool = False,
    ) -> Template:
        impact = await erasures.impact(user_id)
        listed = [export_out(e, settings) for e in await exports.of_user(user_id)]
        return page(
            request,
            "privacy/_exports.html" if fragment else "privacy/person.html",
            status_code=status,
            impact=impact,
            exports=listed,
            preparing=any(e.status == "queued" for e in listed),
            status_names=export_status_names(),
            link_minutes=DOWNLOAD_SECONDS // 60,
            flash=flash,
            errors=errors or FormErrors(),
        )

    @get("/admin/users/{user_id:uuid}/privacy")
    async def person(
        self,
        request: AppRequest,
        settings: NamedDependency[Settings],
        exports: NamedDependency[PersonalDataExports],
        erasures: NamedDependency[Erasures],
        user_id: FromPath[UUID],
        done: FromQuery[str] = "",
    ) -> Template:
        """The person's personal data: exports (status, download link) and erasure."""
        messages = {
            "export": _("The export is being prepared. This page shows the download link when it is ready."),
            "erased": _("The person is erased. Their learning records stay, without their name."),
        }
        return await self._render(request, settings, exports, erasures, user_id, flash=messages.get(done[:10]))

    @get("/admin/users/{user_id:uuid}/privacy/exports")
    async def exports_fragment(
        self,
        request: AppRequest,
        settings: NamedDependency[Settings],
        exports: NamedDependency[PersonalDataExports],
        erasures: NamedDependency[Erasures],
        user_id: FromPath[UUID],
    ) -> Template:
        """The exports table htmx polls while an export is being prepared."""
        return await self._render(request, settings, exports, erasures, user_id, fragment=True)

    @post("/admin/users/{user_id:uuid}/privacy/export", status_code=HTTP_200_OK)
    async def request_export(
        self,
        request: AppRequest,
        settings: NamedDependency[Settings],
        exports: NamedDependency[PersonalDataExports],
        erasures: NamedDependency[Erasures],
        user_id: FromPath[UUID],
    ) -> Template | Redirect:
        try:
            await exports.request(user_id)
        except DomainError as exc:
            if exc.status == 404:
                raise
            errors = FormErrors(export=service_message(exc))
            return await self._render(request, settings, exports, erasures, user_id, errors=errors, status=exc.status)
        return Redirect(f"/admin/users/{user_id}/privacy?done=export", status_code=303)

    def _confirm(
        self, request: AppRequest, erasures_impact: object, errors: FormErrors | None = None, status: int = 200
    ) -> Template:
        return page(
            request,
            "privacy/erase.html",
            status_code=status,
            impact=erasures_impact,
            errors=errors or FormErrors(),
            policy_names=policy_names(),
        )

    @get("/admin/users/{user_id:uuid}/privacy/erase")
    async def confirm_erasure(
        self, request: AppRequest, erasures: NamedDependency[Erasures], user_id: FromPath[UUID]
    ) -> Template | Redirect:
        """ "Check before you erase": what goes, what stays, and the address to type."""
        impact = await erasures.impact(user_id)
        if impact.erased_at is not None:
            return Redirect(f"/admin/users/{user_id}/privacy", status_code=303)
        return self._confirm(request, impact)

    @post("/admin/users/{user_id:uuid}/privacy/erase", status_code=HTTP_200_OK)
    async def erase(
        self, request: AppRequest, erasures: NamedDependency[Erasures], user_id: FromPath[UUID]
    ) -> Template | Redirect:
        form = await FormData.read(request)
        typed = form.text("confirm_email", 320, required=_("Type the person's e-mail address to confirm."))
        if not form.errors:
            try:
                await erasures.erase(user_id, typed)
            except DomainError as exc:
                if exc.status == 404:
                    raise
                form.errors["confirm_email"] = service_message(exc)
        if form.errors:
            return self._confirm(request, await erasures.impact(user_id), form.errors, 422)
        return Redirect(f"/admin/users/{user_id}/privacy?done=erased", status_code=303)

    @get("/admin/privacy/exports/{export_id:uuid}/download", media_type="application/zip")
    async def download(
        self,
        settings: NamedDependency[Settings],
        tenant: NamedDependency[ResolvedTenant],
        exports: NamedDependency[PersonalDataExports],
        export_id: FromPath[UUID],
        expires: Expires,
        signature: Annotated[str, QueryParameter(max_length=128)],
    ) -> Response[bytes]:
        """The zip, for an admin holding a link that is signed for this export and not yet expired."""
        if not export_signature_valid(settings.secret_key, tenant.id, export_id, expires, signature):
            raise NotFound("this download link is invalid or has expired")
        export, data = await exports.download(export_id)
        return Response(
            data,
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="personal-data-{export.user_id}.zip"',
                "Cache-Control": "private, no-store",
            },
        )


class PrivacySettingsPagesController(Controller):
    before_request = staticmethod(before_page)
    guards = [requires_tenant_admin]
    include_in_schema = False

    def _render(
        self, request: AppRequest, current: str, flash: str | None = None, errors: FormErrors | None = None
    ) -> Template:
        return page(
            request,
            "privacy/settings.html",
            status_code=422 if errors else 200,
            sections=admin_sections(),
            current=current,
            policy_names=policy_names(),
            flash=flash,
            errors=errors or FormErrors(),
        )

    @get("/admin/privacy")
    async def show(self, request: AppRequest, db_session: DbSession, done: FromQuery[str] = "") -> Template:
        """What erasing a person does to their certificates."""
        current = (await certificates_on_erasure(db_session)).value
        return self._render(request, current, _("The privacy settings are saved.") if done == "saved" else None)

    @post("/admin/privacy", status_code=HTTP_200_OK)
    async def save(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        audit: NamedDependency[AdminAudit],
    ) -> Template | Redirect:
        form = await FormData.read(request)
        choice = form.text("erasure_certificates", 10)
        if choice not in policy_names():
            current = (await certificates_on_erasure(db_session)).value
            return self._render(
                request, current, errors=FormErrors(erasure_certificates=_("Choose one of the options."))
            )
        await set_certificates_on_erasure(db_session, tenant.id, CertificatesOnErasure(choice), audit)
        return Redirect("/admin/privacy?done=saved", status_code=303)
