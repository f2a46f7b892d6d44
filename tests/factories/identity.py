"""Identity rows."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.models import User
from tests.factories.base import add, row_factory


@row_factory("users")
async def make_user(session: AsyncSession, tenant_id: UUID, **fields: Any) -> User:
    values: dict[str, Any] = {
        "email": f"user-{uuid.uuid4().hex[:8]}@example.com",
        "display_name": "Ada Learner",
        "roles": ["learner"],
    }
    values.update(fields)
    return await add(session, User(tenant_id=tenant_id, **values))
