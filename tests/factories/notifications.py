"""Notification rows."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.notifications.models import Notification, NotificationPreference
from tests.factories.base import add, row_factory
from tests.factories.identity import make_user


@row_factory("notifications")
async def make_notification(session: AsyncSession, tenant_id: UUID, **fields: Any) -> Notification:
    if "user_id" not in fields:
        fields["user_id"] = (await make_user(session, tenant_id)).id
    values: dict[str, Any] = {"kind": "announcement", "params": {"subject": "Hello", "message": "Hi"}}
    values.update(fields)
    return await add(session, Notification(tenant_id=tenant_id, **values))


@row_factory("notification_preferences")
async def make_notification_preference(session: AsyncSession, tenant_id: UUID, **fields: Any) -> NotificationPreference:
    if "user_id" not in fields:
        fields["user_id"] = (await make_user(session, tenant_id)).id
    values: dict[str, Any] = {"kind": "graded", "channel": "email", "mode": "digest"}
    values.update(fields)
    return await add(session, NotificationPreference(tenant_id=tenant_id, **values))
