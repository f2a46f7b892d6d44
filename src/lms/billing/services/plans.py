"""Plan changes from the tenant side: upgrade or downgrade the subscription's plan (the Stripe
subscription item gets the new plan's price, prorated), after a preview that says which features
the change switches off while the site uses them.

The account's plan follows the subscription as Stripe returns it (its item's price names the plan), the
same state every webhook re-reads, so the response and any late or repeated event agree. An upgrade is
a pending update in Stripe until its prorated invoice is paid: the features follow the payment."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.models import BillingAccount, BillingPlan
from lms.billing.schemas import AccountStatus, FeatureInUse, Overage, PlanChangeOut, PlanDirection
from lms.billing.services.accounts import (
    BillingActor,
    apply_subscription,
    audit,
    ensure_account,
    plan_by_key,
    snapshot,
    stripe_failure,
)
from lms.billing.services.stripe_api import stripe_client
from lms.config import Settings
from lms.identity.queries import active_scim_token_count, sso_provider_count
from lms.learning.queries import seats_in_use
from lms.lib.errors import Conflict, DomainError, ValidationFailed
from lms.tenancy.queries import verified_domain_count


class UpgradePaymentPending(DomainError):
    """402: Stripe holds the upgrade until its invoice is paid (the card was declined)."""

    status = 402
    code = "payment_pending"


class NotSubscribed(Conflict):
    """409: a trial or an operator-set plan has no subscription to change; it chooses a plan through Checkout."""


class ConfirmationRequired(Conflict):
    """409: the downgrade switches off features in use; send it again with `confirm`."""

    code = "confirmation_required"


async def features_in_use(session: AsyncSession) -> dict[str, int]:
    """Plan features the bound tenant uses now, with how many things use each."""
    used = {
        "sso": await sso_provider_count(session),
        "scim": await active_scim_token_count(session),
        "custom_domains": await verified_domain_count(session),
    }
    return {feature: count for feature, count in used.items() if count}


def _is_subscribed(account: BillingAccount) -> bool:
    return bool(account.stripe_subscription_id) and account.status != AccountStatus.CANCELED


async def has_subscription(session: AsyncSession, settings: Settings, tenant_id: UUID) -> bool:
    """Whether the tenant has a Stripe subscription whose plan can be changed (else: Checkout)."""
    return _is_subscribed(await ensure_account(session, settings, tenant_id))


async def _subscribed(session: AsyncSession, settings: Settings, tenant_id: UUID) -> BillingAccount:
    account = await ensure_account(session, settings, tenant_id, lock=True)
    if not _is_subscribed(account):
        # Trials and operator-set plans choose a plan through Checkout.
        raise NotSubscribed("this site has no subscription yet; choose a plan and pay with Checkout", field="plan")
    return account


async def preview_plan_change(
    session: AsyncSession, settings: Settings, tenant_id: UUID, plan_key: str, seats: int | None = None
) -> PlanChangeOut:
    """What moving to `plan_key` does: direction, price per seat, features gained and lost, and the
    lost ones in use (the change needs a confirmation then). Refuses what the change itself would."""
    account = await _subscribed(session, settings, tenant_id)
    current = await plan_by_key(session, account.plan_key)
    plan = await plan_by_key(session, plan_key)
    if plan.key == "trial" or plan.seat_price_cents <= 0:
        raise ValidationFailed("choose a paid plan", field="plan")
    wanted = seats if seats is not None else account.seats
    used = await seats_in_use(session)
    lost = [f for f in current.features if f not in plan.features]
    in_use = await features_in_use(session)
    # A plan that refuses learners past the licence would leave some without a seat; a seat count
    # asked for explicitly is held to the seats in use on any plan (as a seat change is).
    if wanted + account.comp_seats < used and (plan.overage != Overage.BILL or seats is not None):
        raise ValidationFailed(
            "%(used)s seats are in use; license at least that many seats or deactivate learners first",
            field="seats",
            values={"used": used},
        )
    direction: PlanDirection = (
        "same" if plan.key == current.key else ("upgrade" if plan.rank > current.rank else "downgrade")
    )
    lost_in_use = [FeatureInUse(f, in_use[f]) for f in lost if f in in_use]
    return PlanChangeOut(
        plan=plan.key,
        current_plan=current.key,
        direction=direction,
        seats=wanted,
        seats_used=used,
        seat_price_cents=plan.seat_price_cents,
        current_seat_price_cents=current.seat_price_cents,
        currency=plan.currency,
        features_gained=[f for f in plan.features if f not in current.features],
        features_lost=lost,
        features_in_use=lost_in_use,
        overage_allowed=plan.overage == Overage.BILL,
        needs_confirmation=bool(lost_in_use),
    )


async def _price_of(settings: Settings, plan: BillingPlan) -> str:
    """The plan's Stripe price: the configured one, else a price made for it (per seat, recurring)."""
    if plan.stripe_price_id:
        return plan.stripe_price_id
    try:
        price = await stripe_client(settings).v1.prices.create_async(
            {
                "currency": plan.currency.lower(),
                "unit_amount": plan.seat_price_cents,
                "recurring": {"interval": plan.interval},
                "product_data": {"name": f"{plan.name} plan (per seat)"},
                "metadata": {"plan": plan.key},
            }
        )
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from exc
    return str(price.id)


async def change_plan(
    session: AsyncSession,
    settings: Settings,
    tenant_id: UUID,
    actor: BillingActor,
    plan_key: str,
    seats: int | None = None,
    confirm: bool = False,
) -> BillingAccount:
    """Move the subscription to another plan (and optionally another seat count) in one Stripe update.

    An upgrade is invoiced now for the rest of the period; a downgrade is credited on the next invoice.
    A downgrade that switches off features in use is refused until `confirm`; one that would leave
    learners without a seat on a plan that blocks the overage is refused with the field `seats`."""
    change = await preview_plan_change(session, settings, tenant_id, plan_key, seats)
    account = await _subscribed(session, settings, tenant_id)
    if change.direction == "same":
        raise ValidationFailed("this site is already on this plan; change its seats instead", field="plan")
    if change.needs_confirmation and not confirm:
        names = ", ".join(f.feature for f in change.features_in_use)
        raise ConfirmationRequired(
            "the new plan switches off features this site uses (%(features)s); confirm to go ahead",
            field="confirm",
            values={"features": names},
        )
    plan = await plan_by_key(session, plan_key)
    price = await _price_of(settings, plan)
    client = stripe_client(settings)
    try:
        current = await client.v1.subscriptions.retrieve_async(account.stripe_subscription_id or "")
        item_id = current["items"]["data"][0]["id"]
        params: dict[str, Any] = {"items": [{"id": item_id, "price": price, "quantity": change.seats}]}
        if change.direction == "upgrade":
            # Charged now; the new price (and its features) applies only once that payment succeeds:
            # a declined card leaves the subscription as it was, with the change pending in Stripe.
            params |= {"proration_behavior": "always_invoice", "payment_behavior": "pending_if_incomplete"}
        else:
            # Credited on the next invoice; the label follows (a pending update could not carry it).
            params |= {"proration_behavior": "create_prorations", "metadata": {"plan": plan.key}}
        updated = (await client.v1.subscriptions.update_async(current.id, params)).to_dict()  # type: ignore[arg-type]
    except stripe.StripeError as exc:
        raise stripe_failure(exc) from exc
    before = snapshot(account)
    await apply_subscription(session, settings, account, updated, BillingActor("stripe"))
    if updated.get("pending_update"):
        raise UpgradePaymentPending(
            "the payment for the upgrade did not go through; the plan changes as soon as it is paid "
            "(update the payment method under Payment methods and receipts)",
            field="plan",
        )
    await audit(session, tenant_id, actor.name, "plan", before, snapshot(account))
    return account
