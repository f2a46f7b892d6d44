"""A tenant's billing account: trial, Checkout, seat changes with proration, portal, invoices,
cancellation, and the state mirrored from its Stripe subscription (dunning included)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import stripe
import structlog
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.models import BillingAccount, BillingAuditEntry, BillingPlan, OverageCharge
from lms.billing.schemas import AccountStatus, InvoiceOut, Overage, OverageStatus, PlanOut, SubscriptionOut
from lms.billing.services.stripe_api import PaymentProviderError, stripe_client
from lms.config import Settings
from lms.identity.queries import tenant_admin_contacts
from lms.learning.queries import seats_in_use
from lms.lib import clock
from lms.lib.errors import Conflict, NotFound, ValidationFailed
from lms.lib.ids import new_id
from lms.notifications import services as notifications
from lms.notifications.schemas import N_
from lms.tenancy.queries import tenant_licence, tenant_profile

log = structlog.get_logger("lms.billing")

STRIPE_STATUS = {
    "trialing": AccountStatus.TRIALING,
    "active": AccountStatus.ACTIVE,
    "past_due": AccountStatus.PAST_DUE,
    "unpaid": AccountStatus.PAST_DUE,
    "incomplete": AccountStatus.PAST_DUE,
    "canceled": AccountStatus.CANCELED,
    "incomplete_expired": AccountStatus.CANCELED,
    "paused": AccountStatus.PAST_DUE,
}


def plan_out(plan: BillingPlan) -> PlanOut:
    return PlanOut(
        plan.key, plan.name, plan.seat_price_cents, plan.currency, plan.interval, list(plan.features), plan.overage
    )


async def list_plans(session: AsyncSession) -> list[PlanOut]:
    """The platform's plan catalogue, cheapest first (the same rows for every tenant)."""
    plans = await session.scalars(select(BillingPlan).order_by(BillingPlan.rank))
    return [plan_out(p) for p in plans]


async def plan_by_key(session: AsyncSession, key: str) -> BillingPlan:
    plan = await session.scalar(select(BillingPlan).where(BillingPlan.key == key))
    if plan is None:
        raise ValidationFailed(f"there is no plan called {key!r}", field="plan")
    return plan


def snapshot(account: BillingAccount) -> dict[str, Any]:
    return {
        "plan": account.plan_key,
        "status": account.status,
        "seats": account.seats,
        "comp_seats": account.comp_seats,
        "trial_ends_at": account.trial_ends_at.isoformat() if account.trial_ends_at else None,
        "cancel_at_period_end": account.cancel_at_period_end,
    }


async def ensure_account(
    session: AsyncSession, settings: Settings, tenant_id: UUID, *, lock: bool = False
) -> BillingAccount:
    """The tenant's account, created on first use from what an operator gave the tenant: a trial
    tenant starts its trial then; a tenant on a paid plan set by an operator is active (invoiced outside Stripe)."""
    query = select(BillingAccount)
    if lock:
        query = query.with_for_update()
    account = await session.scalar(query)
    if account is not None:
        return account
    given = await tenant_licence(session, tenant_id)
    if given is None:
        raise NotFound("tenant not found")
    trial = given.plan == "trial"
    now = clock.now()
    await session.execute(
        pg_insert(BillingAccount.__table__)  # type: ignore[arg-type]
        .values(
            id=new_id(),
            tenant_id=tenant_id,
            plan_key=given.plan,
            status=AccountStatus.TRIALING if trial else AccountStatus.ACTIVE,
            seats=given.seats,
            comp_seats=0,
            trial_ends_at=now + timedelta(days=settings.billing_trial_days) if trial else None,
            cancel_at_period_end=False,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
    )
    account = await session.scalar(query.execution_options(populate_existing=True))
    assert account is not None
    return account


async def audit(
    session: AsyncSession,
    tenant_id: UUID,
    actor: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    session.add(BillingAuditEntry(tenant_id=tenant_id, actor=actor, action=action, before=before, after=after))
    await session.flush()


async def notify_admins(
    session: AsyncSession,
    settings: Settings,
    tenant_id: UUID,
    subject: str,
    message: str,
    *,
    once_as: str | None = None,
    **params: str,
) -> None:
    """Tell every active tenant admin through the notification service (in the caller's transaction).
    `subject` and `message` are catalogue messages, shown in each admin's language with `params`;
    a notice with `once_as` reaches each admin once."""
    for admin in await tenant_admin_contacts(session):
        await notifications.notify(
            session,
            tenant_id,
            admin.id,
            "billing",
            {"subject": subject, "message": message, **params},
            link="/admin/billing",
            dedupe_key=f"{once_as}:{admin.id}" if once_as else None,
            settings=settings,
        )


def suspends_at(account: BillingAccount, settings: Settings) -> datetime | None:
    if account.past_due_since is None:
        return None
    return account.past_due_since + timedelta(days=settings.billing_grace_days)


async def overview(session: AsyncSession, settings: Settings, tenant_id: UUID) -> SubscriptionOut:
    account = await ensure_account(session, settings, tenant_id)
    plan = await session.scalar(select(BillingPlan).where(BillingPlan.key == account.plan_key))
    used = await seats_in_use(session)
    licensed = account.seats + account.comp_seats
    return SubscriptionOut(
        plan=account.plan_key,
        status=account.status,
        seats=account.seats,
        comp_seats=account.comp_seats,
        seats_used=used,
        seats_available=max(0, licensed - used) if licensed else 0,
        overage_allowed=plan is not None and plan.overage == "bill",
        trial_ends_at=account.trial_ends_at,
        current_period_end=account.current_period_end,
        cancel_at_period_end=account.cancel_at_period_end,
        past_due_since=account.past_due_since,
        suspends_at=suspends_at(account, settings),
        has_payment_account=account.stripe_customer_id is not None,
    )


def stripe_failure(exc: stripe.StripeError) -> PaymentProviderError:
    log.warning("stripe call failed", error=str(exc))
    return PaymentProviderError("the payment provider could not be reached; try again in a minute")


async def _customer_for(session: AsyncSession, settings: Settings, account: BillingAccount, email: str | None) -> str:
    if account.stripe_customer_id:
        return account.stripe_customer_id
    profile = await tenant_profile(session, account.tenant_id)
    try:
        customer = await stripe_client(settings).v1.customers.create_async(
            {
                "name": profile.name if profile else str(account.tenant_id),
                "email": email or "",
                "metadata": {"tenant_id": str(account.tenant_id)},
            }
        )
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from exc
    account.stripe_customer_id = customer.id
    await session.flush()
    return customer.id


@dataclass(frozen=True)
class BillingActor:
    """Who changes the account: `user:<id>`, `operator:<email>` or `stripe`."""

    name: str
    email: str | None = None


async def start_checkout(
    session: AsyncSession,
    settings: Settings,
    tenant_id: UUID,
    actor: BillingActor,
    plan_key: str,
    seats: int,
    return_url: str,
) -> str:
    """A Stripe Checkout session in subscription mode (quantity = seats); the account changes only
    when Stripe reports the subscription (webhook), never on the redirect back."""
    account = await ensure_account(session, settings, tenant_id, lock=True)
    plan = await plan_by_key(session, plan_key)
    if plan.key == "trial":
        raise ValidationFailed("choose a paid plan", field="plan")
    if account.stripe_subscription_id and account.status != AccountStatus.CANCELED:
        raise Conflict("this site already has a subscription; change its seats or plan instead", field="plan")
    customer = await _customer_for(session, settings, account, actor.email)
    metadata = {"tenant_id": str(tenant_id), "plan": plan.key}
    try:
        checkout = await stripe_client(settings).v1.checkout.sessions.create_async(
            {
                "mode": "subscription",
                "customer": customer,
                "line_items": [
                    {
                        "quantity": seats,
                        "price_data": {
                            "currency": plan.currency.lower(),
                            "unit_amount": plan.seat_price_cents,
                            "recurring": {"interval": plan.interval},
                            "product_data": {"name": f"{plan.name} plan (per seat)"},
                        },
                    }
                ],
                "subscription_data": {"metadata": metadata},
                "metadata": metadata,
                "allow_promotion_codes": True,
                "success_url": f"{return_url}?checkout=done",
                "cancel_url": f"{return_url}?checkout=cancelled",
            }
        )
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from exc
    await audit(session, tenant_id, actor.name, "checkout_started", None, {"plan": plan.key, "seats": seats})
    return str(checkout.url)


async def _subscription_of(session: AsyncSession, settings: Settings, tenant_id: UUID) -> BillingAccount:
    account = await ensure_account(session, settings, tenant_id, lock=True)
    if not account.stripe_subscription_id or account.status == AccountStatus.CANCELED:
        raise Conflict("this site has no subscription yet; start one with Checkout", field="seats")
    return account


async def change_seats(
    session: AsyncSession, settings: Settings, tenant_id: UUID, actor: BillingActor, seats: int
) -> BillingAccount:
    """Change the licensed seats; Stripe prorates (an increase is invoiced now, a decrease credited).

    Going below the seats in use is refused: those learners would lose access mid-course."""
    account = await _subscription_of(session, settings, tenant_id)
    used = await seats_in_use(session)
    if seats + account.comp_seats < used:
        raise ValidationFailed(f"{used} seats are in use; deactivate learners before going below that", field="seats")
    client = stripe_client(settings)
    try:
        current = await client.v1.subscriptions.retrieve_async(account.stripe_subscription_id or "")
        item_id = current["items"]["data"][0]["id"]
        updated = await client.v1.subscriptions.update_async(
            current.id,
            {"items": [{"id": item_id, "quantity": seats}], "proration_behavior": "always_invoice"},
        )
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from exc
    before = snapshot(account)
    await apply_subscription(session, settings, account, updated.to_dict(), BillingActor("stripe"))
    await audit(session, tenant_id, actor.name, "seats", before, snapshot(account))
    return account


async def cancel_at_period_end(
    session: AsyncSession, settings: Settings, tenant_id: UUID, actor: BillingActor, cancel: bool = True
) -> BillingAccount:
    account = await _subscription_of(session, settings, tenant_id)
    try:
        updated = await stripe_client(settings).v1.subscriptions.update_async(
            account.stripe_subscription_id or "", {"cancel_at_period_end": cancel}
        )
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from exc
    before = snapshot(account)
    await apply_subscription(session, settings, account, updated.to_dict(), BillingActor("stripe"))
    await audit(session, tenant_id, actor.name, "cancel" if cancel else "resume", before, snapshot(account))
    return account


async def portal_url(session: AsyncSession, settings: Settings, tenant_id: UUID, return_url: str) -> str:
    """The Stripe Customer Portal (payment methods, invoices, receipts) for this tenant."""
    account = await ensure_account(session, settings, tenant_id)
    if not account.stripe_customer_id:
        raise Conflict("this site has no payment account yet; start a subscription first")
    try:
        portal = await stripe_client(settings).v1.billing_portal.sessions.create_async(
            {"customer": account.stripe_customer_id, "return_url": return_url}
        )
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from exc
    return str(portal.url)


async def list_invoices(session: AsyncSession, settings: Settings, tenant_id: UUID, limit: int) -> list[InvoiceOut]:
    account = await ensure_account(session, settings, tenant_id)
    if not account.stripe_customer_id:
        return []
    try:
        page = await stripe_client(settings).v1.invoices.list_async(
            {"customer": account.stripe_customer_id, "limit": limit}
        )
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from exc
    return [
        InvoiceOut(
            id=i["id"],
            number=i.get("number"),
            status=i.get("status"),
            amount_due=int(i.get("amount_due") or 0),
            amount_paid=int(i.get("amount_paid") or 0),
            currency=str(i.get("currency") or "").upper(),
            created=datetime.fromtimestamp(int(i["created"]), UTC),
            hosted_invoice_url=i.get("hosted_invoice_url"),
            invoice_pdf=i.get("invoice_pdf"),
        )
        for i in (invoice.to_dict() for invoice in page.data)
    ]


async def apply_subscription(
    session: AsyncSession, settings: Settings, account: BillingAccount, sub: dict[str, Any], actor: BillingActor
) -> None:
    """Mirror the subscription's current state (as the API returned it) onto the account.

    The state is always the API's current one, never an event's snapshot, so applying it in any
    order and any number of times ends in the same account. A tenant already suspended stays so
    while Stripe still reports the subscription past due."""
    before = snapshot(account)
    closed_start, closed_end, closed_plan = account.current_period_start, account.current_period_end, account.plan_key
    items = (sub.get("items") or {}).get("data") or [{}]
    item = items[0]
    status = STRIPE_STATUS.get(str(sub.get("status")), AccountStatus.PAST_DUE)
    now = clock.now()
    if status == AccountStatus.PAST_DUE:
        account.past_due_since = account.past_due_since or now
        if account.status == AccountStatus.SUSPENDED:
            status = AccountStatus.SUSPENDED
    else:
        account.past_due_since = None
    account.stripe_subscription_id = sub.get("id") or account.stripe_subscription_id
    account.stripe_customer_id = sub.get("customer") or account.stripe_customer_id
    account.seats = int(item.get("quantity") or account.seats)
    plan_key = await _plan_of(session, sub, item)
    if plan_key:
        account.plan_key = plan_key
    period_start = item.get("current_period_start") or sub.get("current_period_start")
    period_end = item.get("current_period_end") or sub.get("current_period_end")
    account.current_period_start = datetime.fromtimestamp(int(period_start), UTC) if period_start else None
    account.current_period_end = datetime.fromtimestamp(int(period_end), UTC) if period_end else None
    if closed_start and account.current_period_start and account.current_period_start > closed_start:
        # The subscription renewed: the period that closed is billed for its overage (once).
        end = closed_end if closed_end and closed_end > closed_start else account.current_period_start
        await record_closed_period(session, account.tenant_id, closed_plan, closed_start, end)
    account.cancel_at_period_end = bool(sub.get("cancel_at_period_end"))
    if status in (AccountStatus.ACTIVE, AccountStatus.PAST_DUE):
        account.trial_ends_at = None
    previous = account.status
    account.status = status
    await session.flush()
    after = snapshot(account)
    if after != before:
        await audit(session, account.tenant_id, actor.name, "subscription", before, after)
    if previous != status:
        await announce_status(session, settings, account, previous)


async def _plan_of(session: AsyncSession, sub: dict[str, Any], item: dict[str, Any]) -> str | None:
    """The plan the subscription is on: its item's price says so first (a plan's configured Stripe
    price, or a price made for a plan change, which names the plan in its metadata), then the
    subscription's metadata (Checkout's inline price names none)."""
    price = item.get("price") or {}
    candidates = [(price.get("metadata") or {}).get("plan"), (sub.get("metadata") or {}).get("plan")]
    if isinstance(price.get("id"), str):
        configured = await session.scalar(select(BillingPlan.key).where(BillingPlan.stripe_price_id == price["id"]))
        candidates.insert(0, configured)
    for key in candidates:
        if key and await session.scalar(select(func.count()).where(BillingPlan.key == key)):
            return str(key)
    return None


async def record_closed_period(
    session: AsyncSession, tenant_id: UUID, plan_key: str, start: datetime, end: datetime
) -> None:
    """Note a closed billing period of a plan that bills the overage; the daily seat job bills it.
    The period's start is unique per tenant, so a repeated or late event notes it once."""
    plan = await session.scalar(select(BillingPlan).where(BillingPlan.key == plan_key))
    if plan is None or plan.overage != Overage.BILL:
        return
    now = clock.now()
    await session.execute(
        pg_insert(OverageCharge.__table__)  # type: ignore[arg-type]
        .values(
            id=new_id(),
            tenant_id=tenant_id,
            period_start=start,
            period_end=end,
            plan_key=plan.key,
            status=OverageStatus.PENDING,
            peak_used=0,
            licensed=0,
            seats_over=0,
            unit_amount_cents=plan.seat_price_cents,
            amount_cents=0,
            currency=plan.currency,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "period_start"])
    )


# What admins are told when the subscription enters a status: (subject, message), catalogue messages.
STATUS_NOTICES = {
    AccountStatus.TRIALING: (N_("Your subscription is on trial"), N_("Your subscription is now on trial.")),
    AccountStatus.ACTIVE: (N_("Your subscription is active"), N_("Your subscription is now active.")),
    AccountStatus.PAST_DUE: (
        N_("Your subscription is past due: the last payment failed"),
        N_(
            "Update the payment method before %(until)s; after that learners cannot sign in until the payment "
            "is made. Administrators can still sign in and pay."
        ),
    ),
    AccountStatus.SUSPENDED: (
        N_("Your subscription is suspended for learners until the payment is made"),
        N_("Learners cannot sign in until the payment is made. Administrators can still sign in and pay."),
    ),
    AccountStatus.CANCELED: (N_("Your subscription is canceled"), N_("Your subscription has ended.")),
}


async def announce_status(session: AsyncSession, settings: Settings, account: BillingAccount, previous: str) -> None:
    status = AccountStatus(account.status)
    subject, message = STATUS_NOTICES[status]
    params: dict[str, str] = {}
    if status == AccountStatus.PAST_DUE and (at := suspends_at(account, settings)):
        params["until"] = f"{at:%Y-%m-%d %H:%M} UTC"
    if status == AccountStatus.ACTIVE and previous in (AccountStatus.PAST_DUE, AccountStatus.SUSPENDED):
        message = N_("The payment went through; learners have access again.")
    await notify_admins(session, settings, account.tenant_id, subject, message, **params)


async def enforce_grace_period(session: AsyncSession, settings: Settings, tenant_id: UUID) -> bool:
    """Suspend a tenant past due for longer than the grace period (learners refused, admins can pay)."""
    account = await session.scalar(select(BillingAccount).with_for_update())
    if account is None or account.status != AccountStatus.PAST_DUE:
        return False
    deadline = suspends_at(account, settings)
    if deadline is None or deadline > clock.now():
        return False
    before = snapshot(account)
    account.status = AccountStatus.SUSPENDED
    await session.flush()
    await audit(session, tenant_id, "grace_period", "suspended", before, snapshot(account))
    await announce_status(session, settings, account, AccountStatus.PAST_DUE)
    return True


async def end_expired_trial(session: AsyncSession, settings: Settings, tenant_id: UUID) -> bool:
    """A trial that ended without a subscription is suspended for learners like an unpaid one."""
    account = await session.scalar(select(BillingAccount).with_for_update())
    if account is None or account.status != AccountStatus.TRIALING or account.trial_ends_at is None:
        return False
    if account.trial_ends_at > clock.now():
        return False
    before = snapshot(account)
    account.status = AccountStatus.SUSPENDED
    await session.flush()
    await audit(session, tenant_id, "trial_ended", "suspended", before, snapshot(account))
    await announce_status(session, settings, account, AccountStatus.TRIALING)
    return True
