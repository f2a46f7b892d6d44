"""Billing shapes on the wire: plans, the tenant's subscription, seats, invoices, purchases, overrides."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec


class Feature(enum.StrEnum):
    SSO = "sso"
    SCIM = "scim"
    CUSTOM_DOMAINS = "custom_domains"
    API_ACCESS = "api_access"
    PAID_COURSES = "paid_courses"


class Overage(enum.StrEnum):
    BLOCK = "block"  # a learner past the licensed seats is refused
    BILL = "bill"  # allowed, and the overage is reported for billing


class AccountStatus(enum.StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    SUSPENDED = "suspended"  # past due beyond the grace period: learners are refused, admins can pay
    CANCELED = "canceled"


class PurchaseStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    REFUNDED = "refunded"


class InboxStatus(enum.StrEnum):
    RECEIVED = "received"
    HANDLED = "handled"
    DEAD = "dead"


PlanKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="a plan's key, e.g. business")]
SeatCount = Annotated[int, msgspec.Meta(ge=1, le=100_000, description="seats to license")]
CompSeats = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
PurchasedSeats = Annotated[int, msgspec.Meta(ge=0, le=100_000, description="seats invoiced outside Stripe")]
TrialDays = Annotated[int, msgspec.Meta(ge=1, le=365)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class PlanOut(msgspec.Struct):
    key: str
    name: str
    seat_price_cents: int
    currency: str
    interval: str
    features: list[str]
    overage: str


class SubscriptionOut(msgspec.Struct):
    plan: str
    status: str
    seats: int
    comp_seats: int
    seats_used: int
    seats_available: int
    overage_allowed: bool
    trial_ends_at: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    past_due_since: datetime | None
    # When a past-due tenant is suspended for learners unless it pays.
    suspends_at: datetime | None
    has_payment_account: bool


class CheckoutIn(msgspec.Struct, forbid_unknown_fields=True):
    plan: PlanKey
    seats: SeatCount


class SeatsIn(msgspec.Struct, forbid_unknown_fields=True):
    seats: SeatCount


class RedirectOut(msgspec.Struct):
    """Where to send the browser (Stripe Checkout or the Customer Portal)."""

    url: str


class InvoiceOut(msgspec.Struct):
    id: str
    number: str | None
    status: str | None
    amount_due: int
    amount_paid: int
    currency: str
    created: datetime
    hosted_invoice_url: str | None
    invoice_pdf: str | None


class SeatHolderOut(msgspec.Struct):
    user_id: UUID
    display_name: str
    email: str
    active_enrollments: int


class SeatDayOut(msgspec.Struct):
    day: date
    used: int
    licensed: int
    storage_bytes: int | None = None


class SeatsOut(msgspec.Struct):
    used: int
    licensed: int
    available: int
    overage_allowed: bool
    history: list[SeatDayOut]


class CoursePurchaseOut(msgspec.Struct):
    id: UUID
    course_id: UUID
    status: str
    amount_cents: int
    currency: str
    checkout_url: str | None = None


class WebhookAck(msgspec.Struct):
    received: bool
    duplicate: bool = False
    ignored: bool = False


class OperatorBillingOut(msgspec.Struct):
    tenant_id: UUID
    slug: str
    name: str
    plan: str
    status: str
    seats: int
    comp_seats: int
    seats_used: int
    trial_ends_at: datetime | None
    past_due_since: datetime | None
    stripe_customer_id: str | None
    stripe_subscription_id: str | None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    # When a past-due tenant is suspended for learners unless it pays.
    suspends_at: datetime | None = None


class OverrideIn(msgspec.Struct, forbid_unknown_fields=True):
    """An operator's manual change; every field is optional, the reason is required and audited."""

    reason: Reason
    comp_seats: CompSeats | None = None
    extend_trial_days: TrialDays | None = None
    plan: PlanKey | None = None
    # Only for a tenant without a Stripe subscription (invoiced outside Stripe): Stripe owns the others' seats.
    seats: PurchasedSeats | None = None


class InboxEventOut(msgspec.Struct):
    id: UUID
    tenant_id: UUID
    stripe_event_id: str
    type: str
    status: str
    attempts: int
    reason: str | None
    payload: dict[str, object]
    created_at: datetime


AuditAction = Literal["status", "seats", "plan", "override", "cancel"]
