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
    # Part of the payment was given back: the learner keeps the course (policy in README).
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class OverageStatus(enum.StrEnum):
    PENDING = "pending"  # the period closed; the charge is not yet on Stripe
    BILLED = "billed"  # an invoice item on the next invoice
    NONE = "none"  # the period closed without seats over the licence


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


class PlanChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    """Move the subscription to another plan; `seats` changes the seats in the same step.

    A downgrade that switches off features in use is refused (409) until `confirm` is true."""

    plan: PlanKey
    seats: SeatCount | None = None
    confirm: bool = False


class FeatureInUse(msgspec.Struct):
    feature: str
    # How many things use it: SSO connections, SCIM tokens, verified custom domains.
    count: int


PlanDirection = Literal["upgrade", "downgrade", "same"]


class PlanChangeOut(msgspec.Struct):
    """What a plan change does, before it is made (the "check your answers" step)."""

    plan: str
    current_plan: str
    direction: PlanDirection
    seats: int
    seats_used: int
    seat_price_cents: int
    current_seat_price_cents: int
    currency: str
    features_gained: list[str]
    features_lost: list[str]
    # The lost features this site uses now: the change switches them off.
    features_in_use: list[FeatureInUse]
    overage_allowed: bool
    needs_confirmation: bool


class OverageChargeOut(msgspec.Struct):
    period_start: datetime
    period_end: datetime
    status: str
    peak_used: int
    licensed: int
    seats_over: int
    unit_amount_cents: int
    amount_cents: int
    currency: str
    billed_at: datetime | None


class OverageOut(msgspec.Struct):
    """Seats over the licence in the current period (billed after it closes) and the last charges."""

    overage_allowed: bool
    period_start: datetime | None
    period_end: datetime | None
    peak_used: int
    licensed: int
    seats_over: int
    unit_amount_cents: int
    pending_amount_cents: int
    currency: str
    charges: list[OverageChargeOut]


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
    amount_refunded_cents: int = 0


class PurchaseRowOut(msgspec.Struct):
    """A course sale as admins see it."""

    id: UUID
    course_id: UUID
    course_title: str
    user_id: UUID
    learner: str
    status: str
    amount_cents: int
    amount_refunded_cents: int
    currency: str
    paid_at: datetime | None
    refunded_at: datetime | None


RefundCents = Annotated[int, msgspec.Meta(ge=1, le=100_000_000, description="cents to refund; all when absent")]


class RefundIn(msgspec.Struct, forbid_unknown_fields=True):
    amount_cents: RefundCents | None = None


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
