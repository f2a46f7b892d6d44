"""Personal data JSON API under /api/v1/admin (tenant admins only): exports, erasure, the policy."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from litestar import Controller, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from lms.config import Settings
from lms.db.providers import DbSession
from lms.lib.pagination import Page, PageParams
from lms.lib.storage import Storage
from lms.privacy.guards import requires_tenant_admin
from lms.privacy.models import CertificatesOnErasure, Erasure, PersonalDataExport
from lms.privacy.schemas import (
    ErasureImpactOut,
    ErasureIn,
    ErasureOut,
    ExportOut,
    PrivacySettingsIn,
    PrivacySettingsOut,
)
from lms.privacy.services.erasure import ErasureImpact, Erasures
from lms.privacy.services.exports import PersonalDataExports, is_downloadable
from lms.privacy.services.links import signed_export_path
from lms.privacy.services.policy import certificates_on_erasure, set_certificates_on_erasure
from lms.tenancy.schemas import ResolvedTenant
from lms.tenancy.services.audit import AdminAudit


def provide_exports(
    db_session: DbSession,
    tenant: NamedDependency[ResolvedTenant],
    storage: NamedDependency[Storage],
    audit: NamedDependency[AdminAudit],
) -> PersonalDataExports:
    return PersonalDataExports(db_session, tenant.id, storage, audit)


def provide_erasures(
    db_session: DbSession,
    tenant: NamedDependency[ResolvedTenant],
    storage: NamedDependency[Storage],
    audit: NamedDependency[AdminAudit],
) -> Erasures:
    return Erasures(db_session, tenant.id, storage, audit)


PRIVACY_SERVICES = {
    "exports": Provide(provide_exports, sync_to_thread=False),
    "erasures": Provide(provide_erasures, sync_to_thread=False),
}


def export_out(export: PersonalDataExport, settings: Settings) -> ExportOut:
    url, expires = (
        signed_export_path(settings.secret_key, export.tenant_id, export.id)
        if is_downloadable(export)
        else (None, None)
    )
    return ExportOut(
        id=export.id,
        user_id=export.user_id,
        status=export.status,
        requested_at=export.created_at,
        finished_at=export.finished_at,
        file_size=export.file_size,
        download_url=url,
        download_expires_at=datetime.fromtimestamp(expires, UTC) if expires else None,
        failure=export.failure,
    )


def erasure_out(erasure: Erasure) -> ErasureOut:
    return ErasureOut(
        user_id=erasure.user_id,
        erased_at=erasure.erased_at,
        certificates=erasure.certificates,
        certificates_revoked=erasure.certificates_revoked,
    )


def impact_out(impact: ErasureImpact) -> ErasureImpactOut:
    return ErasureImpactOut(
        user_id=impact.user_id,
        email=impact.email,
        display_name=impact.display_name,
        enrolments=impact.enrolments,
        active_certificates=impact.active_certificates,
        certificates=impact.certificates.value,
        erased=impact.erased_at is not None,
        erased_at=impact.erased_at,
    )


class PersonalDataController(Controller):
    path = "/api/v1/admin/users/{user_id:uuid}"
    guards = [requires_tenant_admin]
    dependencies = PRIVACY_SERVICES
    tags = ["privacy"]

    @post("/personal-data-exports", status_code=HTTP_202_ACCEPTED)
    async def request_export(
        self,
        settings: NamedDependency[Settings],
        exports: NamedDependency[PersonalDataExports],
        user_id: FromPath[UUID],
    ) -> ExportOut:
        """Queue an export of the person's data (JSON in a zip); poll it until `download_url` is set."""
        return export_out(await exports.request(user_id), settings)

    @get("/personal-data-exports")
    async def list_exports(
        self,
        settings: NamedDependency[Settings],
        exports: NamedDependency[PersonalDataExports],
        page: NamedDependency[PageParams],
        user_id: FromPath[UUID],
    ) -> Page[ExportOut]:
        """The person's latest exports, newest first."""
        return page.slice([export_out(e, settings) for e in await exports.of_user(user_id)])

    @get("/personal-data-exports/{export_id:uuid}")
    async def show_export(
        self,
        settings: NamedDependency[Settings],
        exports: NamedDependency[PersonalDataExports],
        user_id: FromPath[UUID],
        export_id: FromPath[UUID],
    ) -> ExportOut:
        """One export: its status and, once ready, a download link valid for 15 minutes."""
        return export_out(await exports.get(export_id, user_id), settings)

    @get("/erasure")
    async def erasure_impact(self, erasures: NamedDependency[Erasures], user_id: FromPath[UUID]) -> ErasureImpactOut:
        """What erasing the person would change (or, once erased, when it was done)."""
        return impact_out(await erasures.impact(user_id))

    @post("/erasure", status_code=HTTP_200_OK)
    async def erase(
        self, erasures: NamedDependency[Erasures], user_id: FromPath[UUID], data: JSONBody[ErasureIn]
    ) -> ErasureOut:
        """Anonymise the person; `confirm_email` must be their current address. Repeating it changes nothing."""
        return erasure_out(await erasures.erase(user_id, data.confirm_email))


class PrivacySettingsController(Controller):
    path = "/api/v1/admin/privacy/settings"
    guards = [requires_tenant_admin]
    tags = ["privacy"]

    @get("/")
    async def show(self, db_session: DbSession) -> PrivacySettingsOut:
        """The tenant's privacy policy (what erasure does to certificates: revoke, the default, or keep)."""
        return PrivacySettingsOut(erasure_certificates=(await certificates_on_erasure(db_session)).value)

    @put("/")
    async def change(
        self,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        audit: NamedDependency[AdminAudit],
        data: JSONBody[PrivacySettingsIn],
    ) -> PrivacySettingsOut:
        """Choose what erasing a person does to their certificates; the change is audited."""
        value = await set_certificates_on_erasure(
            db_session, tenant.id, CertificatesOnErasure(data.erasure_certificates), audit
        )
        return PrivacySettingsOut(erasure_certificates=value.value)
