"""Row factories for organisation tables."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.organisation.models import UserImport
from tests.factories.base import add, row_factory
from tests.factories.identity import make_user


@row_factory("user_imports")
async def make_user_import(session: AsyncSession, tenant_id: UUID, **fields: Any) -> UserImport:
    if "created_by" not in fields:
        fields["created_by"] = (await make_user(session, tenant_id)).id
    values: dict[str, Any] = {"file_name": "people.csv", "file_key": "imports/x/people.csv", "file_size": 10}
    values.update(fields)
    return await add(session, UserImport(tenant_id=tenant_id, **values))
