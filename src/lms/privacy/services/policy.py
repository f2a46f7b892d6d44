"""The tenant's privacy policy: what erasing a person does to their certificates (revoke by default)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.privacy.models import CertificatesOnErasure, PrivacySettings
from lms.tenancy.services.audit import AdminAudit


async def certificates_on_erasure(session: AsyncSession) -> CertificatesOnErasure:
    stored = await session.scalar(select(PrivacySettings.erasure_certificates))
    return CertificatesOnErasure(stored) if stored else CertificatesOnErasure.REVOKE


async def set_certificates_on_erasure(
    session: AsyncSession, tenant_id: UUID, value: CertificatesOnErasure, audit: AdminAudit
) -> CertificatesOnErasure:
    row = await session.scalar(select(PrivacySettings).with_for_update())
    before = row.erasure_certificates if row else CertificatesOnErasure.REVOKE.value
    if row is None:
        row = PrivacySettings(tenant_id=tenant_id)
        session.add(row)
    row.erasure_certificates = value.value
    await session.flush()
    await audit.record_change(
        "privacy.settings_changed",
        "privacy_settings",
        tenant_id,
        None,
        {"erasure_certificates": before},
        {"erasure_certificates": value.value},
    )
    return value
