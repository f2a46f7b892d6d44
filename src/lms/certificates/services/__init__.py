"""Certificate issuance, rendering and verification status (lifecycle changes live in `lifecycle`).

Everything runs on a tenant-bound session: RLS decides which certificates exist for the caller, so a
certificate of another tenant is indistinguishable from one that was never issued.
Reads of enrolments, users, courses and the tenant's domains are read-only look-ups of the facts a
certificate snapshots at issuance.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import inspect, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.queries import course_facts
from lms.certificates.models import Certificate, CertificatePolicy, CertificateSettings, CertificateState
from lms.certificates.services.credentials import CredentialFacts, IssuerSite, sign_credential, unsigned_credential
from lms.certificates.services.rendering import CertificateTemplates, CertificateView, PdfRenderer, static_data_url
from lms.certificates.services.signing import certificate_signature_valid, sign_certificate
from lms.certificates.services.storage import CertificateFiles, pdf_key
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.queries import user_contact
from lms.learning.queries import enrollment_facts
from lms.learning.schemas import EnrollmentStatus
from lms.lib import clock
from lms.lib.errors import NotFound
from lms.lib.lookup import get_or_404
from lms.notifications import services as notifications
from lms.tenancy.queries import tenant_profile
from lms.web.branding import DEFAULT_ACCENT, DEFAULT_LOGO, DEFAULT_PRIMARY

_SITE_MEMO = "certificates.sites"


def now_seconds() -> datetime:
    # Whole seconds: the signed timestamp must survive every round trip unchanged.
    return clock.now().replace(microsecond=0)


@dataclass(frozen=True)
class TenantSite:
    """The tenant as the outside world sees it: name, slug, branding and public base URL."""

    id: UUID
    slug: str
    name: str
    branding: dict[str, str]
    base_url: str

    @property
    def issuer(self) -> IssuerSite:
        return IssuerSite(base_url=self.base_url, name=self.name)

    def verify_url(self, cert_id: UUID) -> str:
        return f"{self.base_url}/verify/{cert_id}"


async def tenant_site(session: AsyncSession, settings: Settings, tenant_id: UUID) -> TenantSite:
    """Public base URL: the tenant's primary verified custom domain, else `<slug>.<PUBLIC_BASE_DOMAIN>`.

    Remembered for the life of the session (one job or one request).
    """
    memo: dict[UUID, TenantSite] = session.sync_session.info.setdefault(_SITE_MEMO, {})
    if tenant_id in memo:
        return memo[tenant_id]
    tenant = await tenant_profile(session, tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    memo[tenant_id] = TenantSite(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        branding=tenant.branding,
        base_url=public_base_url(settings, tenant.slug, tenant.custom_hostname),
    )
    return memo[tenant_id]


def public_base_url(settings: Settings, slug: str, custom_hostname: str | None) -> str:
    """The tenant's primary verified custom domain, else `<slug>.<PUBLIC_BASE_DOMAIN>`, as a base URL."""
    host = custom_hostname or f"{slug}.{settings.public_base_domain}"
    return f"{settings.public_scheme}://{host}"


def signed_credential(site: TenantSite, settings: Settings, cert: Certificate, email: str) -> dict[str, object]:
    """The certificate's Open Badges credential, signed with the tenant's current key."""
    facts = CredentialFacts(
        cert_id=cert.id,
        course_id=cert.course_id,
        course_title=cert.course_title,
        learner_name=cert.learner_name,
        learner_email=email,
        issued_at=cert.issued_at,
        expires_at=cert.expires_at,
        verify_url=site.verify_url(cert.id),
    )
    return sign_credential(
        unsigned_credential(site.issuer, facts),
        site.issuer,
        settings.secret_key,
        cert.tenant_id,
        settings.certificate_key_version,
        cert.issued_at,
    )


def sign_fields(settings: Settings, cert: Certificate) -> None:
    """Sign cert_id|user|course|issued_at with the current certificate key version."""
    cert.key_version = settings.certificate_key_version
    cert.signature = sign_certificate(
        settings.secret_key, cert.key_version, cert.id, cert.user_id, cert.course_id, cert.issued_at
    )


async def issue_for_enrollment(
    session: AsyncSession, settings: Settings, tenant_id: UUID, enrollment_id: UUID
) -> Certificate | None:
    """Issue the certificate of a completed enrolment, exactly once.

    Duplicate events and retries hit the unique (enrolment, generation) key and get the certificate
    already issued. Returns None when the enrolment is unknown or not completed.
    """
    existing = await current_for_enrollment(session, enrollment_id)
    if existing is not None:
        return existing
    enrollment = await enrollment_facts(session, enrollment_id)
    if enrollment is None or enrollment.status is not EnrollmentStatus.COMPLETED:
        return None
    learner = await user_contact(session, enrollment.user_id)
    course = await course_facts(session, enrollment.course_id)
    if learner is None or course is None:
        return None
    valid_days = await session.scalar(
        select(CertificatePolicy.valid_days).where(CertificatePolicy.course_id == enrollment.course_id)
    )
    learner_name, email, course_title = learner.display_name, learner.email, course.title
    site = await tenant_site(session, settings, tenant_id)
    issued_at = now_seconds()
    cert = Certificate(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        enrollment_id=enrollment.id,
        user_id=enrollment.user_id,
        course_id=enrollment.course_id,
        course_owner=enrollment.course_owner,
        generation=1,
        learner_name=learner_name,
        course_title=course_title,
        tenant_name=site.name,
        issued_at=issued_at,
        expires_at=issued_at + timedelta(days=valid_days) if valid_days else None,
        state=CertificateState.ACTIVE,
        created_at=issued_at,
        updated_at=issued_at,
    )
    sign_fields(settings, cert)
    cert.credential = signed_credential(site, settings, cert, email)
    values = {
        attribute.key: getattr(cert, attribute.key, None)
        for attribute in inspect(Certificate).column_attrs
        if attribute.key != "_sentinel"
    }
    inserted = (
        await session.execute(
            pg_insert(Certificate)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["tenant_id", "enrollment_id", "generation"])
            .returning(Certificate),
            execution_options={"populate_existing": True},
        )
    ).scalar_one_or_none()
    if inserted is None:
        # Another delivery of the same event won the race.
        return await current_for_enrollment(session, enrollment_id)
    # In the issuing transaction: a retried job that finds the certificate issued sends nothing again.
    await notifications.notify(
        session,
        tenant_id,
        inserted.user_id,
        "certificate_issued",
        {"course": course_title},
        link="/certificates",
        dedupe_key=f"certificate-issued:{inserted.id}",
        settings=settings,
    )
    return inserted


async def current_for_enrollment(session: AsyncSession, enrollment_id: UUID) -> Certificate | None:
    return (
        await session.execute(
            select(Certificate)
            .where(Certificate.enrollment_id == enrollment_id)
            .order_by(Certificate.generation.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def certificate_view(session: AsyncSession, settings: Settings, cert: Certificate) -> CertificateView:
    site = await tenant_site(session, settings, cert.tenant_id)
    look = (await session.execute(select(CertificateSettings))).scalar_one_or_none()
    static_dir = settings.branding_dir / "static"
    return CertificateView(
        cert_id=str(cert.id),
        learner_name=cert.learner_name,
        course_title=cert.course_title,
        tenant_name=cert.tenant_name,
        issued_at=cert.issued_at,
        expires_at=cert.expires_at,
        verify_url=site.verify_url(cert.id),
        primary_color=site.branding.get("primary_color") or DEFAULT_PRIMARY,
        accent_color=site.branding.get("accent_color") or DEFAULT_ACCENT,
        logo_data_url=static_data_url(static_dir, site.branding.get("logo_url") or DEFAULT_LOGO),
        signatory_name=look.signatory_name if look else "",
        signatory_title=look.signatory_title if look else "",
        signature_image=look.signature_image if look else None,
        paper=look.paper if look else "A4",
    )


@dataclass(frozen=True)
class RenderJob:
    cert_id: UUID
    key: str
    html: str
    paper: str


async def prepare_render(
    session: AsyncSession,
    settings: Settings,
    templates: CertificateTemplates,
    files: CertificateFiles,
    cert: Certificate,
) -> RenderJob | None:
    """The HTML to print for `cert`, or None when its PDF is already stored."""
    key = pdf_key(cert.tenant_id, cert.id)
    if cert.pdf_key == key and files.exists(key):
        return None
    view = await certificate_view(session, settings, cert)
    slug = (await tenant_site(session, settings, cert.tenant_id)).slug
    return RenderJob(cert_id=cert.id, key=key, html=templates.render(slug, view), paper=view.paper)


async def print_and_store(
    db: Database, tenant_id: UUID, renderer: PdfRenderer, files: CertificateFiles, job: RenderJob
) -> str:
    """Print outside any transaction, store under the deterministic key, then record it."""
    files.put(job.key, await renderer.pdf(job.html, job.paper))
    async with tenant_session(db.app_sessions, tenant_id) as session:
        await session.execute(
            update(Certificate)
            .where(Certificate.id == job.cert_id)
            .values(pdf_key=job.key, rendered_at=clock.now(), updated_at=clock.now())
        )
    return job.key


async def render_certificate(
    db: Database,
    settings: Settings,
    renderer: PdfRenderer,
    templates: CertificateTemplates,
    tenant_id: UUID,
    cert_id: UUID,
) -> str | None:
    """Render and store a certificate's PDF (deterministic key, so retries overwrite the same object)."""
    files = CertificateFiles.from_settings(settings)
    async with tenant_session(db.app_sessions, tenant_id) as session:
        cert = await session.get(Certificate, cert_id)
        if cert is None:
            return None
        job = await prepare_render(session, settings, templates, files, cert)
    if job is None:
        return pdf_key(tenant_id, cert_id)
    return await print_and_store(db, tenant_id, renderer, files, job)


async def issue_and_render(
    db: Database,
    settings: Settings,
    renderer: PdfRenderer,
    templates: CertificateTemplates,
    tenant_id: UUID,
    enrollment_id: UUID,
) -> UUID | None:
    """The course-completion job: issue once, then print once (both idempotent under retries)."""
    files = CertificateFiles.from_settings(settings)
    async with tenant_session(db.app_sessions, tenant_id) as session:
        cert = await issue_for_enrollment(session, settings, tenant_id, enrollment_id)
        if cert is None:
            return None
        job = await prepare_render(session, settings, templates, files, cert)
    if job is not None:
        await print_and_store(db, tenant_id, renderer, files, job)
    return cert.id


@dataclass(frozen=True)
class Verification:
    cert: Certificate
    status: str
    signature_valid: bool


def certificate_status(settings: Settings, cert: Certificate, now: datetime | None = None) -> Verification:
    """valid / revoked / superseded / expired, or invalid when the stored signature does not check."""
    signature_valid = certificate_signature_valid(
        settings.secret_key, cert.key_version, cert.signature, cert.id, cert.user_id, cert.course_id, cert.issued_at
    )
    status = status_name(signature_valid, cert.state, cert.expires_at, now or clock.now())
    return Verification(cert=cert, status=status, signature_valid=signature_valid)


def status_name(signature_valid: bool, state: CertificateState, expires_at: datetime | None, now: datetime) -> str:
    """`certificate_status`'s answer from a certificate's fields (for reads that build no Certificate)."""
    if not signature_valid:
        return "invalid"
    if state is CertificateState.REVOKED:
        return "revoked"
    if state is CertificateState.SUPERSEDED:
        return "superseded"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "valid"


def parse_cert_id(raw: str) -> UUID | None:
    try:
        return UUID(raw)
    except ValueError:
        return None


async def get_certificate(session: AsyncSession, cert_id: UUID) -> Certificate:
    cert = await get_or_404(session, Certificate, cert_id, "certificate not found", field="cert_id")
    return cert


async def find_certificate(session: AsyncSession, cert_id: UUID) -> Certificate | None:
    """The certificate, or None: public links answer their own not-found page."""
    return await session.get(Certificate, cert_id)
