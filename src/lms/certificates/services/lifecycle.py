"""Lifecycle of issued certificates: revocation, re-issue after a correction, listings, expiry reminders.

Everything runs on a tenant-bound session, as in lms.certificates.services; a learner's own list also reads
without one (lms.db.reads), under the same tenant binding.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.queries import course_facts
from lms.certificates.models import Certificate, CertificatePolicy, CertificateSettings, CertificateState
from lms.certificates.schemas import CertificateOut
from lms.certificates.services import (
    now_seconds,
    public_base_url,
    sign_fields,
    signed_credential,
    status_name,
    tenant_site,
)
from lms.certificates.services.credentials import linkedin_add_url
from lms.certificates.services.signing import certificate_signature_valid
from lms.certificates.services.storage import signed_download_path
from lms.certificates.tasks import RENDER_TASK
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.db.reads import ReadQuery, ReadSource
from lms.identity.queries import user_contact, user_contacts
from lms.lib import clock
from lms.lib.errors import Conflict, NotFound
from lms.lib.jobs import enqueue_after_commit
from lms.lib.lookup import get_or_404
from lms.lib.pagination import Page, PageParams, fetch_with_total, read_rows_and_total
from lms.notifications import services as notifications
from lms.tenancy.queries import active_tenant_ids, tenant_address_of


async def revoke(session: AsyncSession, cert_id: UUID, reason: str) -> Certificate:
    """Revoke with a reason the public verification page shows."""
    cert = await get_or_404(session, Certificate, cert_id, "certificate not found", field="cert_id", for_update=True)
    if cert.state is not CertificateState.ACTIVE:
        raise Conflict(f"the certificate is already {cert.state.value}", field="cert_id")
    cert.state = CertificateState.REVOKED
    cert.revoked_at = clock.now()
    cert.revoked_reason = reason
    await session.flush()
    return cert


async def reissue(session: AsyncSession, settings: Settings, cert_id: UUID) -> Certificate:
    """Issue a new certificate under the learner's current name; the old one becomes superseded.

    The validity period is kept: a correction does not extend a certificate.
    """
    old = await get_or_404(session, Certificate, cert_id, "certificate not found", field="cert_id", for_update=True)
    if old.state is not CertificateState.ACTIVE:
        raise Conflict(f"only an active certificate can be re-issued; this one is {old.state.value}", field="cert_id")
    user = await user_contact(session, old.user_id)
    if user is None:
        raise NotFound("the learner no longer exists", field="cert_id")
    site = await tenant_site(session, settings, old.tenant_id)
    last = (
        await session.execute(
            select(func.max(Certificate.generation)).where(Certificate.enrollment_id == old.enrollment_id)
        )
    ).scalar_one()
    new = Certificate(
        id=uuid.uuid4(),
        tenant_id=old.tenant_id,
        enrollment_id=old.enrollment_id,
        user_id=old.user_id,
        course_id=old.course_id,
        course_owner=old.course_owner,
        generation=int(last or old.generation) + 1,
        learner_name=user.display_name,
        course_title=old.course_title,
        tenant_name=site.name,
        issued_at=now_seconds(),
        expires_at=old.expires_at,
        state=CertificateState.ACTIVE,
    )
    sign_fields(settings, new)
    new.credential = signed_credential(site, settings, new, user.email)
    session.add(new)
    old.state = CertificateState.SUPERSEDED
    old.superseded_by = new.id
    await session.flush()
    enqueue_after_commit(session, RENDER_TASK, str(new.tenant_id), str(new.id))
    return new


# Newest first; a re-issue (same second) before the certificate it supersedes.
_ORDER = (Certificate.issued_at.desc(), Certificate.generation.desc(), Certificate.id)


# Compiled once for the read path (lms.db.reads): the fields of a learner's certificates their links need, the
# tenant's public address (tenancy's read API) and the total as a window count, in one statement.
@functools.cache
def _mine_query() -> ReadQuery:
    slug, custom_hostname = tenant_address_of(Certificate.tenant_id)
    return ReadQuery(
        select(
            Certificate.id,
            Certificate.user_id,
            Certificate.course_id,
            Certificate.enrollment_id,
            Certificate.learner_name,
            Certificate.course_title,
            Certificate.issued_at,
            Certificate.expires_at,
            Certificate.state,
            Certificate.revoked_reason,
            Certificate.superseded_by,
            Certificate.pdf_key.is_not(None),
            Certificate.key_version,
            Certificate.signature,
            Certificate.tenant_id,
            Certificate.tenant_name,
            slug,
            custom_hostname,
            func.count().over(),
        )
        .where(Certificate.user_id == bindparam("user_id"))
        .order_by(*_ORDER)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


@functools.cache
def _mine_count() -> ReadQuery:
    return ReadQuery(select(func.count()).select_from(Certificate).where(Certificate.user_id == bindparam("user_id")))


async def certificates_of(
    reads: ReadSource, settings: Settings, user_id: UUID, page: PageParams, credential_base: str
) -> Page[CertificateOut]:
    """A learner's certificates, newest first, with their links (credentials under `credential_base`), in one
    statement on the read path. `reads`: a session, or sessionless `TenantReads` of the learner's tenant."""
    rows, total = await read_rows_and_total(reads, _mine_query(), {"user_id": user_id}, _mine_count(), page)
    now = clock.now()
    items = []
    for (
        cert_id,
        cert_user_id,
        course_id,
        enrollment_id,
        learner_name,
        course_title,
        issued_at,
        expires_at,
        state,
        revoked_reason,
        superseded_by,
        pdf_ready,
        key_version,
        signature,
        tenant_id,
        tenant_name,
        slug,
        custom_hostname,
        _,
    ) in rows:
        if slug is None:
            raise NotFound("tenant not found")
        verify_url = f"{public_base_url(settings, slug, custom_hostname)}/verify/{cert_id}"
        signature_valid = certificate_signature_valid(
            settings.secret_key, key_version, signature, cert_id, cert_user_id, course_id, issued_at
        )
        items.append(
            CertificateOut(
                id=cert_id,
                user_id=cert_user_id,
                course_id=course_id,
                enrollment_id=enrollment_id,
                learner_name=learner_name,
                course_title=course_title,
                issued_at=issued_at,
                expires_at=expires_at,
                status=status_name(signature_valid, CertificateState(state), expires_at, now),
                revoked_reason=revoked_reason,
                superseded_by=superseded_by,
                verify_url=verify_url,
                pdf_ready=pdf_ready,
                download_url=signed_download_path(settings.secret_key, tenant_id, cert_id) if pdf_ready else None,
                credential_url=f"{credential_base}/{cert_id}/credential",
                linkedin_url=linkedin_add_url(course_title, tenant_name, issued_at, expires_at, verify_url, cert_id),
            )
        )
    return page.of(items, total)


async def certificates_of_tenant(
    session: AsyncSession, limit: int, offset: int, user_id: UUID | None = None, course_id: UUID | None = None
) -> tuple[list[Certificate], int]:
    where = [] if user_id is None else [Certificate.user_id == user_id]
    where += [] if course_id is None else [Certificate.course_id == course_id]
    return await _certificate_page(session, where, limit, offset)


async def _certificate_page(
    session: AsyncSession, where: list[ColumnElement[bool]], limit: int, offset: int
) -> tuple[list[Certificate], int]:
    return await fetch_with_total(session, select(Certificate).where(*where).order_by(*_ORDER), limit, offset)


async def send_expiry_reminders(
    session: AsyncSession, settings: Settings, tenant_id: UUID, now: datetime | None = None
) -> int:
    """E-mail learners whose compliance certificates expire within the course's reminder window.

    Once per certificate (reminder_sent_at); the e-mail goes through the identity e-mail outbox.
    """
    now = now or clock.now()
    rows = await session.execute(
        select(Certificate, CertificatePolicy)
        .join(CertificatePolicy, CertificatePolicy.course_id == Certificate.course_id)
        .where(
            CertificatePolicy.compliance.is_(True),
            Certificate.state == CertificateState.ACTIVE,
            Certificate.reminder_sent_at.is_(None),
            Certificate.expires_at.is_not(None),
        )
        # Waits for a concurrent run (or a render) and re-checks reminder_sent_at, so each is sent once.
        .with_for_update(of=Certificate)
    )
    due = [(cert, policy) for cert, policy in rows]
    learners = await user_contacts(session, {cert.user_id for cert, _ in due})
    sent = 0
    for cert, policy in due:
        user = learners.get(cert.user_id)
        if user is None:
            continue
        assert cert.expires_at is not None
        if cert.expires_at - timedelta(days=policy.remind_days_before) > now:
            continue
        expired = cert.expires_at <= now
        await notifications.notify(
            session,
            tenant_id,
            cert.user_id,
            "certificate_expired" if expired else "certificate_expiring",
            {"course": cert.course_title, "due": cert.expires_at.date().isoformat()},
            link=f"/courses/{cert.course_id}",
            dedupe_key=f"certificate-reminder:{cert.id}",
            settings=settings,
        )
        cert.reminder_sent_at = now
        sent += 1
    await session.flush()
    return sent


async def send_all_expiry_reminders(db: Database, settings: Settings) -> int:
    """Reminders for every active tenant, each on its own tenant-bound session."""
    async with db.operator_sessions() as session:
        tenant_ids = await active_tenant_ids(session)
    sent = 0
    for tenant_id in tenant_ids:
        async with tenant_session(db.app_sessions, tenant_id) as session:
            sent += await send_expiry_reminders(session, settings, tenant_id)
    return sent


async def set_policy(
    session: AsyncSession,
    tenant_id: UUID,
    course_id: UUID,
    valid_days: int | None,
    compliance: bool,
    remind_days_before: int,
) -> CertificatePolicy:
    """Create or replace a course's certificate policy; it applies to certificates issued afterwards."""
    course = await course_facts(session, course_id)
    if course is None:
        raise NotFound("course not found", field="course_id")
    policy = (
        await session.execute(select(CertificatePolicy).where(CertificatePolicy.course_id == course_id))
    ).scalar_one_or_none()
    if policy is None:
        policy = CertificatePolicy(tenant_id=tenant_id, course_id=course.id, course_owner=course.catalogue_owner)
        session.add(policy)
    policy.valid_days = valid_days
    policy.compliance = compliance
    policy.remind_days_before = remind_days_before
    await session.flush()
    return policy


async def set_look(
    session: AsyncSession,
    tenant_id: UUID,
    signatory_name: str,
    signatory_title: str,
    signature_image: str | None,
    paper: str,
) -> CertificateSettings:
    """Create or replace the tenant's certificate settings (signatory, signature image, paper)."""
    look = (await session.execute(select(CertificateSettings))).scalar_one_or_none()
    if look is None:
        look = CertificateSettings(tenant_id=tenant_id)
        session.add(look)
    look.signatory_name = signatory_name
    look.signatory_title = signatory_title
    look.signature_image = signature_image
    look.paper = paper
    await session.flush()
    return look
