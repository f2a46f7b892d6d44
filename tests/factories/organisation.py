"""Row factories for organisation tables."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.organisation.models import OrgGroup, UserImport
from tests.factories.base import add, row_factory
from tests.factories.identity import make_user


@row_factory("user_imports")
async def make_user_import(session: AsyncSession, tenant_id: UUID, **fields: Any) -> UserImport:
    if "created_by" not in fields:
        fields["created_by"] = (await make_user(session, tenant_id)).id
    values: dict[str, Any] = {"file_name": "people.csv", "file_key": "imports/x/people.csv", "file_size": 10}
    values.update(fields)
    return await add(session, UserImport(tenant_id=tenant_id, **values))


@row_factory("org_groups")
async def make_org_group(session: AsyncSession, tenant_id: UUID, **fields: Any) -> OrgGroup:
    values: dict[str, Any] = {"name": f"Group {uuid.uuid4().hex[:8]}"}
    values.update(fields)
    return await add(session, OrgGroup(tenant_id=tenant_id, **values))
