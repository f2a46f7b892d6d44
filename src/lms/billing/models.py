"""Billing tables: the platform's plan catalogue, each tenant's billing account, the Stripe inbox,
course purchases, seat snapshots, overage charges and the billing audit trail."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, ForeignKeyConstraint, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from lms.billing.schemas import AccountStatus, InboxStatus, OverageStatus, PurchaseStatus
from lms.db.base import Base, JsonDict, TenantScoped


class BillingPlan(Base):
    """A plan of the platform catalogue: a reference table every tenant reads, written by migrations
    only (lms_app has SELECT, nothing else), so it carries no tenant_id and no tenant policy."""

    __tablename__ = "billing_plans"

    key: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    seat_price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(8))  # month | year
    features: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    overage: Mapped[str] = mapped_column(String(8))
    stripe_price_id: Mapped[str | None] = mapped_column(String(100), default=None)
    rank: Mapped[int] = mapped_column(Integer)


class BillingAccount(TenantScoped, Base):
    """One per tenant: its plan, licensed seats and the state mirrored from its Stripe subscription."""

    __tablename__ = "billing_accounts"
    __tenant_table_args__ = (
        Index("ux_billing_accounts_tenant", "tenant_id", unique=True),
        Index("ix_billing_accounts_customer", "stripe_customer_id"),
    )

    plan_key: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=AccountStatus.TRIALING)
    seats: Mapped[int] = mapped_column(Integer, default=0)
    comp_seats: Mapped[int] = mapped_column(Integer, default=0)
    trial_ends_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(100), default=None)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(100), default=None)
    current_period_start: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    current_period_end: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    past_due_since: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class WebhookEvent(TenantScoped, Base):
    """The Stripe inbox: one row per event id; a duplicate delivery inserts nothing and starts nothing."""

    __tablename__ = "billing_webhook_events"
    __tenant_table_args__ = (
        Index("ux_billing_webhook_events_event", "tenant_id", "stripe_event_id", unique=True),
        Index("ix_billing_webhook_events_status", "tenant_id", "status", "created_at"),
    )

    stripe_event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDict)
    status: Mapped[str] = mapped_column(String(16), default=InboxStatus.RECEIVED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    handled_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class CoursePurchase(TenantScoped, Base):
    """A learner's Checkout payment for a priced course; `paid` is what enrolment requires."""

    __tablename__ = "billing_course_purchases"
    __tenant_table_args__ = (
        Index("ux_billing_course_purchases_session", "tenant_id", "checkout_session_id", unique=True),
        Index("ix_billing_course_purchases_learner", "tenant_id", "user_id", "course_id"),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )

    user_id: Mapped[UUID] = mapped_column()
    course_id: Mapped[UUID] = mapped_column()
    checkout_session_id: Mapped[str] = mapped_column(String(100))
    payment_intent_id: Mapped[str | None] = mapped_column(String(100), default=None)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(24), default=PurchaseStatus.PENDING)
    paid_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    refunded_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # What Stripe reports refunded on the charge (partial refunds keep the access; a full one ends it).
    amount_refunded_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SeatSnapshot(TenantScoped, Base):
    """Seats in use and licensed, and the media storage, once a day (the utilisation history)."""

    __tablename__ = "billing_seat_snapshots"
    __tenant_table_args__ = (Index("ux_billing_seat_snapshots_day", "tenant_id", "day", unique=True),)

    day: Mapped[date] = mapped_column(Date)
    used: Mapped[int] = mapped_column(Integer)
    licensed: Mapped[int] = mapped_column(Integer)
    # Media storage that day; None on days recorded before the snapshot took it.
    storage_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)


class OverageCharge(TenantScoped, Base):
    """The seats used above the licence in one closed billing period, billed once (an invoice item
    on the subscription's next invoice); `period_start` is the unique key that makes it once."""

    __tablename__ = "billing_overage_charges"
    __tenant_table_args__ = (
        Index("ux_billing_overage_charges_period", "tenant_id", "period_start", unique=True),
        Index("ix_billing_overage_charges_status", "status", "tenant_id"),
    )

    # The distribution column is part of the primary key (the table is distributable from the start).
    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    plan_key: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=OverageStatus.PENDING)
    peak_used: Mapped[int] = mapped_column(Integer, default=0)
    licensed: Mapped[int] = mapped_column(Integer, default=0)
    seats_over: Mapped[int] = mapped_column(Integer, default=0)
    unit_amount_cents: Mapped[int] = mapped_column(Integer, default=0)
    amount_cents: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    stripe_invoice_item_id: Mapped[str | None] = mapped_column(String(100), default=None)
    billed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)


class BillingAuditEntry(TenantScoped, Base):
    """Every change of a billing account: who (a user, an operator, Stripe), what, before and after."""

    __tablename__ = "billing_audit_log"
    __tenant_table_args__ = (Index("ix_billing_audit_log_created", "tenant_id", "created_at"),)

    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonDict, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonDict, default=None)
