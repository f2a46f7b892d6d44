"""Erasing a person: who they were is replaced everywhere it is stored, while what they did (enrolments,
progress, scores, discussion posts) stays for the course's statistics, shown as a former member.
Their certificates are revoked or kept as the tenant's policy says. The erasure is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import anyio.to_thread
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.certificates.queries import active_certificate_count
from lms.certificates.services.erasure import revoke_for_erasure
from lms.identity.accounts.services.erasure import anonymise_account
from lms.identity.queries import profile_record
from lms.learning.queries import enrollments_of_user
from lms.lib import clock
from lms.lib.errors import NotFound, ValidationFailed
from lms.lib.mail import forget_recipient
from lms.lib.storage import Storage
from lms.privacy.models import CertificatesOnErasure, Erasure, PersonalDataExport
from lms.privacy.services.exports import user_prefix
from lms.privacy.services.policy import certificates_on_erasure
from lms.tenancy.services.audit import AdminAudit, anonymise_labels
from lms.web.i18n import FORMER_MEMBER

REVOKED_REASON = "The holder's personal data was erased"


@dataclass(frozen=True)
class ErasureImpact:
    """What erasing a person would change, for the confirmation page (or what it did, once erased)."""

    user_id: UUID
    email: str
    display_name: str
    enrolments: int
    active_certificates: int
    certificates: CertificatesOnErasure
    erased_at: datetime | None


class Erasures:
    """Erasure in the bound tenant (the session is RLS-bound to it)."""

    def __init__(self, session: AsyncSession, tenant_id: UUID, storage: Storage, audit: AdminAudit) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.storage = storage
        self.audit = audit

    async def done(self, user_id: UUID) -> Erasure | None:
        found: Erasure | None = await self.session.scalar(select(Erasure).where(Erasure.user_id == user_id))
        return found

    async def impact(self, user_id: UUID) -> ErasureImpact:
        profile = await profile_record(self.session, user_id)
        if profile is None:
            raise NotFound("user not found", field="user_id")
        erasure = await self.done(user_id)
        return ErasureImpact(
            user_id=user_id,
            email=str(profile["email"]),
            display_name=str(profile["display_name"]),
            enrolments=len(await enrollments_of_user(self.session, user_id, limit=10_000)),
            active_certificates=await active_certificate_count(self.session, user_id),
            certificates=await certificates_on_erasure(self.session),
            erased_at=erasure.erased_at if erasure else None,
        )

    async def erase(self, user_id: UUID, confirm_email: str) -> Erasure:
        """Anonymise the person once `confirm_email` is their address. Erasing an erased person again
        answers with the first erasure and changes nothing."""
        profile = await profile_record(self.session, user_id)
        if profile is None:
            raise NotFound("user not found", field="user_id")
        # Serialise two erasures of the same person: the second waits, then finds the first.
        await self.session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(f"privacy.erase:{user_id}", 0)))
        )
        existing = await self.done(user_id)
        if existing is not None:
            return existing
        if user_id == self.audit.actor.user_id:
            raise ValidationFailed("you cannot erase your own account", field="user_id")
        email, name, external_id = str(profile["email"]), str(profile["display_name"]), profile.get("external_id")
        if confirm_email.strip().lower() != email.lower():
            raise ValidationFailed("type the person's e-mail address exactly to confirm", field="confirm_email")
        policy = await certificates_on_erasure(self.session)
        revoked = 0
        files: list[str] = []
        if policy is CertificatesOnErasure.REVOKE:
            revoked = await active_certificate_count(self.session, user_id)
            files = await revoke_for_erasure(self.session, user_id, REVOKED_REASON, FORMER_MEMBER)
        await anonymise_account(self.session, self.tenant_id, user_id, FORMER_MEMBER)
        await anonymise_labels(self.session, user_id, FORMER_MEMBER, [email, name, str(external_id or "")])
        await forget_recipient(self.session, email)
        # Earlier exports are copies of the data being erased.
        await self.session.execute(delete(PersonalDataExport).where(PersonalDataExport.user_id == user_id))
        erasure = Erasure(
            tenant_id=self.tenant_id,
            user_id=user_id,
            erased_by=self.audit.actor.user_id,
            erased_at=clock.now(),
            certificates=policy.value,
            certificates_revoked=revoked,
        )
        self.session.add(erasure)
        await self.session.flush()
        await self.audit.record(
            "user.erased",
            "user",
            user_id,
            FORMER_MEMBER,
            None,
            {"certificates": policy.value, "certificates_revoked": revoked},
        )
        await anyio.to_thread.run_sync(self._delete_files, files, user_prefix(self.tenant_id, user_id))
        return erasure

    def _delete_files(self, keys: list[str], prefix: str) -> None:
        """Certificate PDFs with the person's name and their export zips. Deleted before the commit:
        should the commit fail, the PDFs can be rendered again and the exports requested again."""
        for key in keys:
            self.storage.delete(key)
        self.storage.delete_prefix(prefix)
