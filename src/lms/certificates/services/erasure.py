"""What erasing a person does to their certificates when the tenant's policy is to revoke them."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.certificates.models import Certificate, CertificateState
from lms.lib import clock


async def revoke_for_erasure(session: AsyncSession, user_id: UUID, reason: str, learner_name: str) -> list[str]:
    """Revoke a person's active certificates and take their name off every one of theirs (the public
    verification page then shows the certificate as revoked, naming nobody). The signed credential
    goes too. Returns the keys of the stored PDFs, which the caller deletes once this is committed.
    Running it again changes nothing."""
    certs = list(await session.scalars(select(Certificate).where(Certificate.user_id == user_id).with_for_update()))
    files: list[str] = []
    now = clock.now()
    for cert in certs:
        if cert.state is CertificateState.ACTIVE:
            cert.state = CertificateState.REVOKED
            cert.revoked_at = now
            cert.revoked_reason = reason
        cert.learner_name = learner_name
        cert.credential = None
        if cert.pdf_key:
            files.append(cert.pdf_key)
            cert.pdf_key = None
            cert.rendered_at = None
    await session.flush()
    return files
