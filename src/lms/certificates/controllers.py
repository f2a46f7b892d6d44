"""Certificate routes: public verification, signed PDF downloads, issuer profile, learner and admin API."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, MediaType, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_404_NOT_FOUND

from lms.certificates import services
from lms.certificates.guards import (
    public_issuer_profile,
    public_signed_download,
    public_verification,
    requires_tenant_admin,
    requires_verification_quota,
)
from lms.certificates.models import Certificate
from lms.certificates.schemas import (
    CertificateOut,
    PolicyIn,
    PolicyOut,
    RevokeIn,
    SettingsIn,
    SettingsOut,
    VerificationOut,
)
from lms.certificates.services import lifecycle
from lms.certificates.services.credentials import issuer_profile, linkedin_add_url
from lms.certificates.services.storage import CertificateFiles, download_signature_valid, signed_download_path
from lms.config import Settings
from lms.db.providers import DbSession, Reads, Session
from lms.identity.guards import Principal, requires_user
from lms.lib.errors import NotFound, error_body
from lms.lib.pagination import DEFAULT_LIMIT, Page, PageParams
from lms.lib.params import AppRequest, Expires, Limit, Offset
from lms.tenancy.schemas import ResolvedTenant
from lms.web.controllers import page


def _wants_json(request: AppRequest) -> bool:
    return "application/json" in request.headers.get("accept", "")


def verification_out(site: services.TenantSite, result: services.Verification) -> VerificationOut:
    cert = result.cert
    return VerificationOut(
        cert_id=cert.id,
        status=result.status,
        signature_valid=result.signature_valid,
        learner_name=cert.learner_name,
        course=cert.course_title,
        tenant=cert.tenant_name,
        issued_at=cert.issued_at,
        expires_at=cert.expires_at,
        revoked_at=cert.revoked_at,
        revocation_reason=cert.revoked_reason,
        superseded_by=cert.superseded_by,
        superseded_by_url=site.verify_url(cert.superseded_by) if cert.superseded_by else None,
    )


async def certificate_out(
    session: Session, settings: Settings, certs: list[Certificate], credential_base: str
) -> list[CertificateOut]:
    if not certs:
        return []
    site = await services.tenant_site(session, settings, certs[0].tenant_id)
    out = []
    for cert in certs:
        verify_url = site.verify_url(cert.id)
        out.append(
            CertificateOut(
                id=cert.id,
                user_id=cert.user_id,
                course_id=cert.course_id,
                enrollment_id=cert.enrollment_id,
                learner_name=cert.learner_name,
                course_title=cert.course_title,
                issued_at=cert.issued_at,
                expires_at=cert.expires_at,
                status=services.certificate_status(settings, cert).status,
                revoked_reason=cert.revoked_reason,
                superseded_by=cert.superseded_by,
                verify_url=verify_url,
                pdf_ready=cert.pdf_key is not None,
                download_url=signed_download_path(settings.secret_key, cert.tenant_id, cert.id)
                if cert.pdf_key
                else None,
                credential_url=f"{credential_base}/{cert.id}/credential",
                linkedin_url=linkedin_add_url(
                    cert.course_title, cert.tenant_name, cert.issued_at, cert.expires_at, verify_url, cert.id
                ),
            )
        )
    return out


def _not_found(request: AppRequest) -> Response[Any]:
    """The same answer for malformed, unknown and other tenants' ids."""
    if _wants_json(request):
        return Response(error_body("not_found", "not found"), status_code=HTTP_404_NOT_FOUND, media_type=MediaType.JSON)
    # Browsers get the site's branded 404 page (lms.web.errors).
    raise NotFound("not found")


class VerificationController(Controller):
    """Public pages on the tenant's host; RLS scopes every look-up to that tenant."""

    include_in_schema = False

    @get("/verify/{cert_id:str}", guards=[public_verification, requires_verification_quota])
    async def verify(
        self,
        request: AppRequest,
        settings: NamedDependency[Settings],
        db_session: DbSession,
        cert_id: FromPath[str],
    ) -> Any:
        """HTML for people, JSON (Accept: application/json) for machines."""
        parsed = services.parse_cert_id(cert_id)
        cert = await services.find_certificate(db_session, parsed) if parsed else None
        if cert is None:
            return _not_found(request)
        site = await services.tenant_site(db_session, settings, cert.tenant_id)
        out = verification_out(site, services.certificate_status(settings, cert))
        if _wants_json(request):
            return Response(out, media_type=MediaType.JSON, headers={"Cache-Control": "no-store"})
        return page(request, "certificates/verify.html", v=out)

    @get("/certificates/files/{file_name:str}", guards=[public_signed_download], media_type="application/pdf")
    async def download(
        self,
        settings: NamedDependency[Settings],
        tenant: NamedDependency[ResolvedTenant],
        db_session: DbSession,
        file_name: FromPath[str],
        expires: Expires,
        signature: Annotated[str, QueryParameter(max_length=128)],
    ) -> Response[bytes]:
        cert_id = services.parse_cert_id(file_name.removesuffix(".pdf")) if file_name.endswith(".pdf") else None
        if cert_id is None or not download_signature_valid(settings.secret_key, tenant.id, cert_id, expires, signature):
            raise NotFound("this download link is invalid or has expired")
        cert = await services.find_certificate(db_session, cert_id)
        data = CertificateFiles.from_settings(settings).get(cert.pdf_key) if cert and cert.pdf_key else None
        if data is None:
            raise NotFound("certificate file not found")
        return Response(
            data,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="certificate-{cert_id}.pdf"',
                "Cache-Control": "private, no-store",
            },
        )

    @get("/credentials/issuer", guards=[public_issuer_profile])
    async def issuer(
        self,
        settings: NamedDependency[Settings],
        tenant: NamedDependency[ResolvedTenant],
        db_session: DbSession,
    ) -> dict[str, Any]:
        """The tenant's Open Badges issuer profile with its credential verification keys."""
        site = await services.tenant_site(db_session, settings, tenant.id)
        return issuer_profile(
            site.issuer, settings.secret_key, tenant.id, range(1, settings.certificate_key_version + 1)
        )


class MyCertificatesController(Controller):
    path = "/api/v1/me/certificates"
    guards = [requires_user]
    tags = ["certificates"]

    @get("/")
    async def list_mine(
        self,
        request: AppRequest,
        reads: Reads,
        principal: NamedDependency[Principal],
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> Page[CertificateOut]:
        """The signed-in learner's certificates, newest first, with download links."""
        # A hot read: sessionless, in one statement. It asks for `reads` (which depends on `principal`) and no
        # `db_session`, `page` or `settings` beside them: independent dependencies are resolved in a task group.
        settings: Settings = request.app.state.settings
        page = PageParams(limit=limit, offset=offset)
        return await lifecycle.certificates_of(reads, settings, principal.user_id, page, self.path)

    @get("/{cert_id:uuid}/credential")
    async def credential(
        self, db_session: DbSession, principal: NamedDependency[Principal], cert_id: FromPath[UUID]
    ) -> Response[dict[str, Any]]:
        """The signed Open Badges 3.0 credential, as a download."""
        cert = await services.get_certificate(db_session, cert_id)
        if cert.user_id != principal.user_id or cert.credential is None:
            raise NotFound("certificate not found", field="cert_id")
        return Response(
            cert.credential,
            media_type="application/ld+json",
            headers={"Content-Disposition": f'attachment; filename="credential-{cert.id}.json"'},
        )


class CertificateAdminController(Controller):
    path = "/api/v1/certificates"
    guards = [requires_tenant_admin]
    tags = ["certificates"]

    @get("/")
    async def list_certificates(
        self,
        settings: NamedDependency[Settings],
        db_session: DbSession,
        page: NamedDependency[PageParams],
        user_id: FromQuery[UUID | None] = None,
        course_id: FromQuery[UUID | None] = None,
    ) -> Page[CertificateOut]:
        """Certificates issued on this site; filter by `user_id` or `course_id`."""
        certs, total = await lifecycle.certificates_of_tenant(db_session, page.limit, page.offset, user_id, course_id)
        items = await certificate_out(db_session, settings, certs, MyCertificatesController.path)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @get("/{cert_id:uuid}")
    async def get_one(
        self, settings: NamedDependency[Settings], db_session: DbSession, cert_id: FromPath[UUID]
    ) -> CertificateOut:
        """One certificate of this site."""
        cert = await services.get_certificate(db_session, cert_id)
        return (await certificate_out(db_session, settings, [cert], MyCertificatesController.path))[0]

    @post("/{cert_id:uuid}/revoke", status_code=HTTP_200_OK)
    async def revoke(
        self,
        settings: NamedDependency[Settings],
        db_session: DbSession,
        cert_id: FromPath[UUID],
        data: JSONBody[RevokeIn],
    ) -> CertificateOut:
        """Revoke with a reason; the public verification page shows it."""
        cert = await lifecycle.revoke(db_session, cert_id, data.reason)
        return (await certificate_out(db_session, settings, [cert], MyCertificatesController.path))[0]

    @post("/{cert_id:uuid}/reissue", status_code=HTTP_200_OK)
    async def reissue(
        self, settings: NamedDependency[Settings], db_session: DbSession, cert_id: FromPath[UUID]
    ) -> CertificateOut:
        """Issue a replacement under the learner's current name (after a correction); the old id is superseded."""
        cert = await lifecycle.reissue(db_session, settings, cert_id)
        return (await certificate_out(db_session, settings, [cert], MyCertificatesController.path))[0]

    @put("/policies/{course_id:uuid}")
    async def set_policy(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        data: JSONBody[PolicyIn],
    ) -> PolicyOut:
        """Validity period and recertification reminders of a course's certificates."""
        policy = await lifecycle.set_policy(
            db_session, principal.tenant_id, course_id, data.valid_days, data.compliance, data.remind_days_before
        )
        return PolicyOut(
            course_id=course_id,
            valid_days=policy.valid_days,
            compliance=policy.compliance,
            remind_days_before=policy.remind_days_before,
        )

    @put("/settings")
    async def set_settings(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        data: JSONBody[SettingsIn],
    ) -> SettingsOut:
        """Signatory, signature image and paper size of this tenant's certificates."""
        look = await lifecycle.set_look(
            db_session, principal.tenant_id, data.signatory_name, data.signatory_title, data.signature_image, data.paper
        )
        return SettingsOut(
            signatory_name=look.signatory_name,
            signatory_title=look.signatory_title,
            has_signature_image=look.signature_image is not None,
            paper=look.paper,
        )
