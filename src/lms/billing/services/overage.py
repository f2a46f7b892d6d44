"""Seat overage on plans that allow it ("bill"): learners past the licence are never refused, and the
seats used above the licence are billed in arrears, once per billing period.

The rule (README, "Seat overage"): the peak of a period is its highest daily snapshot of seats used
above the seats licensed that day (purchased plus complimentary). When the subscription renews, the
period that closed is noted (`record_closed_period`); the next daily seat job bills its peak overage
at the plan's full per-seat price as one invoice item on the subscription, so it appears on the next
invoice. The period's start is unique per tenant and the Stripe call carries an idempotency key made
from it: a period is billed once however often the job or the events run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

import stripe
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.models import BillingAccount, BillingPlan, OverageCharge, SeatSnapshot
from lms.billing.queries import licence_of
from lms.billing.schemas import Overage, OverageChargeOut, OverageOut, OverageStatus
from lms.billing.services.accounts import audit, notify_admins
from lms.billing.services.stripe_api import stripe_client
from lms.config import Settings
from lms.learning.queries import seats_in_use
from lms.lib import clock
from lms.lib.errors import DomainError
from lms.notifications.schemas import N_

log = structlog.get_logger("lms.billing.overage")

CHARGES_SHOWN = 6


@dataclass(frozen=True)
class Peak:
    used: int
    licensed: int

    @property
    def over(self) -> int:
        return max(0, self.used - self.licensed) if self.licensed else 0


async def period_peak(session: AsyncSession, first_day: date, last_day: date, now: Peak | None = None) -> Peak:
    """The day of the period with the most seats above the licence (ties: the most seats used)."""
    rows = await session.execute(
        select(SeatSnapshot.used, SeatSnapshot.licensed).where(
            SeatSnapshot.day >= first_day, SeatSnapshot.day <= last_day, SeatSnapshot.licensed > 0
        )
    )
    days = [Peak(used, licensed) for used, licensed in rows]
    if now is not None:
        days.append(now)
    if not days:
        return Peak(0, 0)
    return max(days, key=lambda p: (p.over, p.used))


def charge_out(charge: OverageCharge) -> OverageChargeOut:
    return OverageChargeOut(
        period_start=charge.period_start,
        period_end=charge.period_end,
        status=charge.status,
        peak_used=charge.peak_used,
        licensed=charge.licensed,
        seats_over=charge.seats_over,
        unit_amount_cents=charge.unit_amount_cents,
        amount_cents=charge.amount_cents,
        currency=charge.currency,
        billed_at=charge.billed_at,
    )


async def current_overage(session: AsyncSession, tenant_id: UUID) -> OverageOut:
    """The current period's peak overage so far (today counted live) and the last charges."""
    account = await session.scalar(select(BillingAccount))
    licence = await licence_of(session, tenant_id)
    plan = await session.scalar(select(BillingPlan).where(BillingPlan.key == licence.plan))
    charges = await session.scalars(
        select(OverageCharge)
        .where(OverageCharge.status != OverageStatus.NONE)
        .order_by(OverageCharge.period_start.desc())
        .limit(CHARGES_SHOWN)
    )
    start = account.current_period_start if account else None
    end = account.current_period_end if account else None
    today = clock.now().date()
    live = Peak(await seats_in_use(session), licence.seat_limit)
    peak = await period_peak(session, start.date(), today, live) if start else live
    bills = plan is not None and plan.overage == Overage.BILL
    unit = plan.seat_price_cents if plan else 0
    return OverageOut(
        overage_allowed=bills,
        period_start=start,
        period_end=end,
        peak_used=peak.used,
        licensed=peak.licensed,
        seats_over=peak.over if bills else 0,
        unit_amount_cents=unit,
        pending_amount_cents=peak.over * unit if bills else 0,
        currency=plan.currency if plan else "EUR",
        charges=[charge_out(c) for c in charges],
    )


def _idempotency_key(tenant_id: UUID, start: datetime) -> str:
    return f"seat-overage:{tenant_id}:{int(start.timestamp())}"


async def bill_closed_periods(session: AsyncSession, settings: Settings, tenant_id: UUID) -> int:
    """Bill each closed period still pending: one invoice item for its peak overage (none when the
    peak stayed within the licence). A Stripe failure leaves it pending for the next day's run."""
    pending = list(
        await session.scalars(
            select(OverageCharge)
            .where(OverageCharge.status == OverageStatus.PENDING)
            .order_by(OverageCharge.period_start)
            .with_for_update(skip_locked=True)
        )
    )
    if not pending:
        return 0
    account = await session.scalar(select(BillingAccount))
    billed = 0
    for charge in pending:
        # The closing day is in the period too (the renewal happens during it).
        peak = await period_peak(session, charge.period_start.date(), charge.period_end.date())
        charge.peak_used, charge.licensed, charge.seats_over = peak.used, peak.licensed, peak.over
        charge.amount_cents = peak.over * charge.unit_amount_cents
        if peak.over == 0:
            charge.status = OverageStatus.NONE
            continue
        if account is None or not account.stripe_customer_id:
            charge.reason = "no payment account"
            continue
        params: dict[str, object] = {
            "customer": account.stripe_customer_id,
            "amount": charge.amount_cents,
            "currency": charge.currency.lower(),
            "description": (
                f"Seats over the licence, {charge.period_start:%Y-%m-%d} to {charge.period_end:%Y-%m-%d}: "
                f"{peak.over} x {charge.unit_amount_cents / 100:.2f} {charge.currency}"
            ),
            "period": {"start": int(charge.period_start.timestamp()), "end": int(charge.period_end.timestamp())},
            "metadata": {
                "tenant_id": str(tenant_id),
                "kind": "seat_overage",
                "period_start": charge.period_start.isoformat(),
                "seats_over": str(peak.over),
            },
        }
        if account.stripe_subscription_id:
            params["subscription"] = account.stripe_subscription_id
        try:
            item = await stripe_client(settings).v1.invoice_items.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": _idempotency_key(tenant_id, charge.period_start)},
            )
        except (stripe.StripeError, DomainError) as exc:
            log.warning("seat overage not billed yet", tenant_id=str(tenant_id), error=str(exc))
            charge.reason = str(exc)[:2000]
            continue
        charge.stripe_invoice_item_id = item.id
        charge.status = OverageStatus.BILLED
        charge.billed_at = clock.now()
        charge.reason = None
        billed += 1
        await session.flush()
        await audit(
            session,
            tenant_id,
            "seat_overage",
            "overage_billed",
            None,
            {
                "period_start": charge.period_start.isoformat(),
                "seats_over": peak.over,
                "amount_cents": charge.amount_cents,
                "invoice_item": item.id,
            },
        )
        await notify_admins(
            session,
            settings,
            tenant_id,
            N_("Seats over your licence were billed"),
            N_(
                "At the busiest point from %(start)s to %(end)s, %(used)s seats were in use of %(licensed)s "
                "licensed. The %(seats)s extra seats (%(amount)s) are on your next invoice."
            ),
            once_as=f"seat-overage:{charge.period_start:%Y-%m-%d}",
            start=f"{charge.period_start:%Y-%m-%d}",
            end=f"{charge.period_end - timedelta(seconds=1):%Y-%m-%d}",
            used=str(peak.used),
            licensed=str(peak.licensed),
            seats=str(peak.over),
            amount=f"{charge.amount_cents / 100:.2f} {charge.currency}",
        )
    await session.flush()
    return billed
