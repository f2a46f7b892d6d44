"""Row factories for compliance tables."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.compliance.models import ComplianceSyncRequest, TrainingRule
from tests.factories.base import add, row_factory
from tests.factories.identity import make_user


@row_factory("training_rules")
async def make_training_rule(session: AsyncSession, tenant_id: UUID, **fields: Any) -> TrainingRule:
    if "user_id" not in fields and "group_id" not in fields:
        fields["user_id"] = (await make_user(session, tenant_id)).id
    values: dict[str, Any] = {"course_id": uuid.uuid4(), "due_days": 30, "created_by": uuid.uuid4()}
    values.update(fields)
    return await add(session, TrainingRule(tenant_id=tenant_id, **values))


@row_factory("compliance_sync_requests")
async def make_compliance_sync_request(session: AsyncSession, tenant_id: UUID, **fields: Any) -> ComplianceSyncRequest:
    values: dict[str, Any] = {"dedupe_key": "rules"}
    values.update(fields)
    return await add(session, ComplianceSyncRequest(tenant_id=tenant_id, **values))
