"""Certificate, certificate-policy and certificate-settings rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.certificates.models import Certificate, CertificatePolicy, CertificateSettings
from lms.certificates.services.signing import sign_certificate
from tests.factories.base import add, row_factory
from tests.factories.catalog import make_course
from tests.factories.learning import make_enrollment

FACTORY_SECRET = "lms-local-only-secret"


@row_factory("certificates")
async def make_certificate(session: AsyncSession, tenant_id: UUID, **fields: Any) -> Certificate:
    enrollment = await make_enrollment(session, tenant_id)
    issued_at = datetime.now(UTC).replace(microsecond=0)
    cert_id = fields.pop("id", uuid.uuid4())
    values: dict[str, Any] = {
        "enrollment_id": enrollment.id,
        "user_id": enrollment.user_id,
        "course_id": enrollment.course_id,
        "course_owner": enrollment.course_owner,
        "learner_name": "Ada Lovelace",
        "course_title": "Analytical Engines",
        "tenant_name": "Factory tenant",
        "issued_at": issued_at,
        "key_version": 1,
    }
    values.update(fields)
    values.setdefault(
        "signature",
        sign_certificate(
            FACTORY_SECRET, values["key_version"], cert_id, values["user_id"], values["course_id"], values["issued_at"]
        ),
    )
    return await add(session, Certificate(id=cert_id, tenant_id=tenant_id, **values))


@row_factory("certificate_policies")
async def make_certificate_policy(session: AsyncSession, tenant_id: UUID, **fields: Any) -> CertificatePolicy:
    if "course_id" not in fields:
        course = await make_course(session, tenant_id)
        fields["course_id"] = course.id
        fields.setdefault("course_owner", course.catalogue_owner)
    fields.setdefault("course_owner", tenant_id)
    return await add(session, CertificatePolicy(tenant_id=tenant_id, **fields))


@row_factory("certificate_settings")
async def make_certificate_settings(session: AsyncSession, tenant_id: UUID, **fields: Any) -> CertificateSettings:
    values: dict[str, Any] = {"signatory_name": "Grace Hopper", "signatory_title": "Head of Learning"}
    values.update(fields)
    return await add(session, CertificateSettings(tenant_id=tenant_id, **values))
