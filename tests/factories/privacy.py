"""Row factories for the privacy tables."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.lib import clock
from lms.privacy.models import Erasure, PersonalDataExport, PrivacySettings
from tests.factories.base import add, row_factory
from tests.factories.identity import make_user


@row_factory("privacy_exports")
async def make_personal_data_export(session: AsyncSession, tenant_id: UUID, **fields: Any) -> PersonalDataExport:
    if "user_id" not in fields:
        fields["user_id"] = (await make_user(session, tenant_id)).id
    return await add(session, PersonalDataExport(tenant_id=tenant_id, **fields))


@row_factory("privacy_erasures")
async def make_erasure(session: AsyncSession, tenant_id: UUID, **fields: Any) -> Erasure:
    if "user_id" not in fields:
        fields["user_id"] = (await make_user(session, tenant_id)).id
    values: dict[str, Any] = {"erased_at": clock.now(), "certificates": "revoke"}
    values.update(fields)
    return await add(session, Erasure(tenant_id=tenant_id, **values))


@row_factory("privacy_settings")
async def make_privacy_settings(session: AsyncSession, tenant_id: UUID, **fields: Any) -> PrivacySettings:
    return await add(session, PrivacySettings(tenant_id=tenant_id, **fields))
