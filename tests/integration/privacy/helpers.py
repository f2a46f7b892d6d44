"""A learner with a history in every section of the export, and a bystander who must never appear."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.models import MfaRecoveryCode, RefreshToken, SsoIdentity, User
from lms.lib import clock
from lms.lib.mail import EmailMessage
from lms.lib.storage import storage_for
from lms.privacy.services.exports import EXPORT_FILE_NAME, build_export
from lms.tenancy.models import AdminAuditEntry, Tenant
from tests import factories
from tests.conftest import MakeUser


@dataclass(frozen=True)
class History:
    person: User
    bystander: User
    certificate_id: UUID
    pdf_key: str
    post_id: UUID


async def person_with_history(db: Database, settings: Settings, make_user: MakeUser, tenant: Tenant) -> History:
    person = await make_user(
        tenant,
        display_name="Grace Hopper",
        email="grace@corp.example",
        external_id="HR-1906",
        attributes={"department": "Navy"},
        mfa_enabled=True,
    )
    bystander = await make_user(tenant, display_name="Alan Turing", email="alan@corp.example")
    async with tenant_session(db.app_sessions, tenant.id) as session:
        lesson = await factories.catalog.make_lesson(session, tenant.id)
        enrolment = await factories.learning.make_enrollment(
            session,
            tenant.id,
            user_id=person.id,
            course_id=lesson.course_id,
            course_owner=lesson.catalogue_owner,
            completion_pct=50,
        )
        await factories.learning.make_lesson_progress(
            session, tenant.id, user_id=person.id, enrollment_id=enrolment.id, lesson_id=lesson.id, score=0.8
        )
        await factories.assessments.make_attempt(session, tenant.id, user_id=person.id, score=7, max_score=10)
        submission = await factories.assessments.make_submission(session, tenant.id, user_id=person.id)
        await factories.assessments.make_submission_version(
            session, tenant.id, submission_id=submission.id, text="Grace's report"
        )
        pdf_key = f"t/{tenant.id}/certificates/grace.pdf"
        certificate = await factories.certificates.make_certificate(
            session,
            tenant.id,
            user_id=person.id,
            enrollment_id=enrolment.id,
            course_id=lesson.course_id,
            course_owner=lesson.catalogue_owner,
            learner_name="Grace Hopper",
            pdf_key=pdf_key,
        )
        provider = await factories.identity.make_sso_provider(session, tenant.id)
        session.add(
            SsoIdentity(
                tenant_id=tenant.id,
                provider_id=provider.id,
                subject="grace-sub",
                user_id=person.id,
                email_at_link=person.email,
            )
        )
        session.add(MfaRecoveryCode(tenant_id=tenant.id, user_id=person.id, code_hash="0" * 64))
        session.add(
            RefreshToken(
                tenant_id=tenant.id,
                user_id=person.id,
                family_id=person.id,
                token_hash="1" * 64,
                expires_at=clock.now(),
            )
        )
        session.add(
            AdminAuditEntry(
                tenant_id=tenant.id,
                actor_label="boss@corp.example",
                action="user.updated",
                target_type="user",
                target_id=str(person.id),
                target_label="grace@corp.example",
                before={"display_name": "Grace Hopper"},
                after={"display_name": "Grace B. Hopper"},
            )
        )
        session.add(
            EmailMessage(tenant_id=tenant.id, recipient="Grace@corp.example", subject="Welcome", body="Hello Grace")
        )
        post = await factories.discussions.make_post(session, tenant.id)
        post.author_id = person.id
        # The bystander has learning of their own that must stay out of Grace's export.
        await factories.learning.make_enrollment(session, tenant.id, user_id=bystander.id)
        await factories.assessments.make_attempt(session, tenant.id, user_id=bystander.id)
        await session.flush()
    storage_for(settings).put_bytes(pdf_key, b"%PDF-1.7 Grace Hopper", "application/pdf")
    return History(person, bystander, certificate.id, pdf_key, post.id)


async def run_export_job(db: Database, settings: Settings, tenant: Tenant, export_id: UUID) -> str:
    """What the worker does for the export job (the task wrapper only adds the tenant binding)."""
    async with tenant_session(db.app_sessions, tenant.id) as session:
        return await build_export(session, tenant.id, export_id, storage_for(settings))


def exported_document(data: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == [EXPORT_FILE_NAME]
        document: dict[str, Any] = json.loads(archive.read(EXPORT_FILE_NAME))
    return document
