"""Billing rows: accounts, inbox events, course purchases, seat snapshots, overage charges, audit entries."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.models import (
    BillingAccount,
    BillingAuditEntry,
    CoursePurchase,
    OverageCharge,
    SeatSnapshot,
    WebhookEvent,
)
from tests.factories.base import add, row_factory
from tests.factories.identity import make_user


@row_factory("billing_accounts")
async def make_billing_account(session: AsyncSession, tenant_id: UUID, **fields: Any) -> BillingAccount:
    values: dict[str, Any] = {"plan_key": "team", "status": "active", "seats": 10, "comp_seats": 0}
    values.update(fields)
    return await add(session, BillingAccount(tenant_id=tenant_id, cancel_at_period_end=False, **values))


@row_factory("billing_webhook_events")
async def make_webhook_event(session: AsyncSession, tenant_id: UUID, **fields: Any) -> WebhookEvent:
    event_id = f"evt_{uuid.uuid4().hex[:16]}"
    values: dict[str, Any] = {
        "stripe_event_id": event_id,
        "type": "customer.subscription.updated",
        "object_id": f"sub_{uuid.uuid4().hex[:12]}",
        "payload": {"id": event_id},
        "status": "received",
        "attempts": 0,
    }
    values.update(fields)
    return await add(session, WebhookEvent(tenant_id=tenant_id, **values))


@row_factory("billing_course_purchases")
async def make_course_purchase(session: AsyncSession, tenant_id: UUID, **fields: Any) -> CoursePurchase:
    if "user_id" not in fields:
        fields["user_id"] = (await make_user(session, tenant_id)).id
    values: dict[str, Any] = {
        "course_id": uuid.uuid4(),
        "checkout_session_id": f"cs_test_{uuid.uuid4().hex[:16]}",
        "amount_cents": 4900,
        "currency": "EUR",
        "status": "pending",
    }
    values.update(fields)
    return await add(session, CoursePurchase(tenant_id=tenant_id, **values))


@row_factory("billing_seat_snapshots")
async def make_seat_snapshot(session: AsyncSession, tenant_id: UUID, **fields: Any) -> SeatSnapshot:
    values: dict[str, Any] = {"day": date(2026, 1, 1), "used": 3, "licensed": 10}
    values.update(fields)
    return await add(session, SeatSnapshot(tenant_id=tenant_id, **values))


@row_factory("billing_overage_charges")
async def make_overage_charge(session: AsyncSession, tenant_id: UUID, **fields: Any) -> OverageCharge:
    values: dict[str, Any] = {
        "period_start": datetime(2026, 1, 1, tzinfo=UTC),
        "period_end": datetime(2026, 2, 1, tzinfo=UTC),
        "plan_key": "enterprise",
        "status": "pending",
        "currency": "EUR",
        "unit_amount_cents": 2500,
    }
    values.update(fields)
    return await add(session, OverageCharge(tenant_id=tenant_id, **values))


@row_factory("billing_audit_log")
async def make_billing_audit_entry(session: AsyncSession, tenant_id: UUID, **fields: Any) -> BillingAuditEntry:
    values: dict[str, Any] = {"actor": "test", "action": "override", "before": None, "after": {"seats": 1}}
    values.update(fields)
    return await add(session, BillingAuditEntry(tenant_id=tenant_id, **values))
