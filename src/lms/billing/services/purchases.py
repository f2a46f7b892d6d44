"""Paid courses: a learner buys a priced course through Stripe Checkout (payment mode, promotion
codes allowed); the enrolment follows the payment. A full refund ends it; a partial refund (from
Stripe or an administrator) is recorded with its amount and keeps the course."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import stripe
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.models import CoursePurchase
from lms.billing.queries import licence_of
from lms.billing.schemas import CoursePurchaseOut, PurchaseRowOut, PurchaseStatus
from lms.billing.services.accounts import BillingActor, audit
from lms.billing.services.stripe_api import PaymentProviderError, stripe_client
from lms.catalog.queries import course_offer, course_price, course_titles
from lms.config import Settings
from lms.identity.queries import user_contact, user_contacts
from lms.learning.queries import is_enrolled
from lms.learning.services import end_refunded, enroll_purchased
from lms.lib import clock
from lms.lib.errors import Conflict, Forbidden, NotFound, ValidationFailed
from lms.notifications import services as notifications


def purchase_out(purchase: CoursePurchase, url: str | None = None) -> CoursePurchaseOut:
    return CoursePurchaseOut(
        purchase.id,
        purchase.course_id,
        purchase.status,
        purchase.amount_cents,
        purchase.currency,
        url,
        purchase.amount_refunded_cents,
    )


async def start_course_checkout(
    session: AsyncSession, settings: Settings, tenant_id: UUID, user_id: UUID, course_id: UUID, return_url: str
) -> CoursePurchaseOut:
    """A Checkout session for one course; the learner is enrolled when Stripe reports it paid."""
    licence = await licence_of(session, tenant_id)
    if "paid_courses" not in licence.features:
        raise Forbidden("this site does not sell courses on its plan", field="course_id")
    price = await course_price(session, course_id)
    offer = await course_offer(session, course_id)
    if price is None or offer is None or not offer.visible_to_learners or not offer.offered:
        raise NotFound("course not found", field="course_id")
    if price.price_cents <= 0:
        raise ValidationFailed("this course is free; enrol directly", field="course_id")
    if not offer.self_enrollment:
        raise Forbidden("this course is assigned by administrators and cannot be bought", field="course_id")
    if await is_enrolled(session, user_id, course_id):
        raise Conflict("you are already enrolled in this course", field="course_id")
    contact = await user_contact(session, user_id)
    metadata = {"tenant_id": str(tenant_id), "user_id": str(user_id), "course_id": str(course_id)}
    try:
        checkout = await stripe_client(settings).v1.checkout.sessions.create_async(
            {
                "mode": "payment",
                "customer_email": contact.email if contact else "",
                "client_reference_id": str(user_id),
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": price.currency.lower(),
                            "unit_amount": price.price_cents,
                            "product_data": {"name": price.title},
                        },
                    }
                ],
                "allow_promotion_codes": True,
                "metadata": metadata,
                "payment_intent_data": {"metadata": metadata},
                "success_url": f"{return_url}?purchase=done",
                "cancel_url": f"{return_url}?purchase=cancelled",
            }
        )
    except stripe.StripeError as exc:
        raise PaymentProviderError("the payment provider could not be reached; try again in a minute") from exc
    purchase = CoursePurchase(
        tenant_id=tenant_id,
        user_id=user_id,
        course_id=course_id,
        checkout_session_id=checkout.id,
        amount_cents=price.price_cents,
        currency=price.currency,
        status=PurchaseStatus.PENDING,
    )
    session.add(purchase)
    await session.flush()
    return purchase_out(purchase, str(checkout.url))


async def sync_purchase(session: AsyncSession, settings: Settings, tenant_id: UUID, checkout_session_id: str) -> str:
    """Bring a purchase to the state Stripe reports now (paid, refunded), in any order of events.

    The Checkout session and its payment intent (with the charge) are read from the API; the purchase
    row is locked while that happens, so two events of one purchase apply one after the other."""
    purchase = await session.scalar(
        select(CoursePurchase).where(CoursePurchase.checkout_session_id == checkout_session_id).with_for_update()
    )
    if purchase is None:
        return "unknown_purchase"
    client = stripe_client(settings)
    checkout = (await client.v1.checkout.sessions.retrieve_async(checkout_session_id)).to_dict()
    refunded_cents = 0
    fully_refunded = False
    if checkout.get("payment_intent"):
        intent = (
            await client.v1.payment_intents.retrieve_async(
                str(checkout["payment_intent"]), {"expand": ["latest_charge"]}
            )
        ).to_dict()
        purchase.payment_intent_id = intent["id"]
        charge: dict[str, Any] = intent.get("latest_charge") or {}
        purchase.amount_cents = int(intent.get("amount_received") or intent.get("amount") or purchase.amount_cents)
        # The charge's running total: every refund so far, whichever of their events came first.
        refunded_cents = int(charge.get("amount_refunded") or 0)
        fully_refunded = bool(charge.get("refunded")) or 0 < purchase.amount_cents <= refunded_cents
    paid = checkout.get("payment_status") == "paid"
    previous, previous_refunded = purchase.status, purchase.amount_refunded_cents
    # Refunds only add up: an older read never lowers what is recorded.
    purchase.amount_refunded_cents = max(purchase.amount_refunded_cents, refunded_cents)
    if fully_refunded or previous == PurchaseStatus.REFUNDED:
        purchase.status = PurchaseStatus.REFUNDED
        purchase.refunded_at = purchase.refunded_at or clock.now()
        await end_refunded(session, purchase.user_id, purchase.course_id)
    elif paid:
        # A partial refund keeps the course (README, "Refunds"); the enrolment follows the payment.
        partly = purchase.amount_refunded_cents > 0
        purchase.status = PurchaseStatus.PARTIALLY_REFUNDED if partly else PurchaseStatus.PAID
        purchase.paid_at = purchase.paid_at or clock.now()
        if partly:
            purchase.refunded_at = purchase.refunded_at or clock.now()
        await session.flush()
        await enroll_purchased(session, tenant_id, purchase.user_id, purchase.course_id)
    await session.flush()
    if previous != purchase.status or previous_refunded != purchase.amount_refunded_cents:
        await audit(
            session,
            tenant_id,
            BillingActor("stripe").name,
            f"purchase_{purchase.status}",
            {"status": previous, "amount_refunded_cents": previous_refunded},
            {
                "status": purchase.status,
                "course_id": str(purchase.course_id),
                "amount_refunded_cents": purchase.amount_refunded_cents,
            },
        )
        await _receipt(session, settings, tenant_id, purchase)
    return str(purchase.status)


def _money(cents: int, currency: str) -> str:
    return f"{cents / 100:.2f} {currency.upper()}"


async def _receipt(session: AsyncSession, settings: Settings, tenant_id: UUID, purchase: CoursePurchase) -> None:
    """The learner's receipt or refund notice, through the notification service: once per purchase and
    status, and once per refunded total (a second partial refund is a second notice)."""
    price = await course_price(session, purchase.course_id)
    status = PurchaseStatus(purchase.status)
    if status == PurchaseStatus.PENDING:
        return
    params = {
        "course": price.title if price else "",
        "amount": _money(purchase.amount_cents, purchase.currency),
        "refunded": _money(purchase.amount_refunded_cents, purchase.currency),
        "kept": _money(max(0, purchase.amount_cents - purchase.amount_refunded_cents), purchase.currency),
    }
    kind, dedupe = {
        PurchaseStatus.PAID: ("purchase_paid", f"purchase:{purchase.id}:paid"),
        PurchaseStatus.PARTIALLY_REFUNDED: (
            "purchase_partially_refunded",
            f"purchase:{purchase.id}:refunded:{purchase.amount_refunded_cents}",
        ),
        PurchaseStatus.REFUNDED: ("purchase_refunded", f"purchase:{purchase.id}:refunded"),
    }[status]
    if status == PurchaseStatus.REFUNDED:
        # The notice states what came back: the whole payment, or the rest after earlier partial refunds.
        params["amount"] = params["refunded"]
    await notifications.notify(
        session,
        tenant_id,
        purchase.user_id,
        kind,
        params,
        link=f"/courses/{purchase.course_id}" if status != PurchaseStatus.REFUNDED else "/",
        dedupe_key=dedupe,
        settings=settings,
    )


async def refund_purchase(
    session: AsyncSession,
    settings: Settings,
    tenant_id: UUID,
    actor: BillingActor,
    purchase_id: UUID,
    amount_cents: int | None = None,
) -> CoursePurchase:
    """An administrator refunds a course sale, all of it or part (`amount_cents`), through Stripe; the
    purchase then mirrors the charge as any refund does (a partial one keeps the course)."""
    purchase = await session.scalar(select(CoursePurchase).where(CoursePurchase.id == purchase_id).with_for_update())
    if purchase is None:
        raise NotFound("purchase not found", field="purchase_id")
    if (
        purchase.status not in (PurchaseStatus.PAID, PurchaseStatus.PARTIALLY_REFUNDED)
        or not purchase.payment_intent_id
    ):
        raise Conflict("only a paid purchase can be refunded", field="purchase_id")
    remaining = purchase.amount_cents - purchase.amount_refunded_cents
    amount = remaining if amount_cents is None else amount_cents
    if not 1 <= amount <= remaining:
        raise ValidationFailed(
            "refund at most %(remaining)s (what is left of the payment)",
            field="amount_cents",
            values={"remaining": _money(remaining, purchase.currency)},
        )
    try:
        await stripe_client(settings).v1.refunds.create_async(
            {
                "payment_intent": purchase.payment_intent_id,
                "amount": amount,
                "reason": "requested_by_customer",
                "metadata": {"tenant_id": str(tenant_id), "purchase_id": str(purchase.id), "by": actor.name},
            },
            # A double submit of the same refund (same purchase, same total so far) refunds once.
            {"idempotency_key": f"refund:{purchase.id}:{purchase.amount_refunded_cents}:{amount}"},
        )
    except stripe.StripeError as exc:
        message = getattr(exc, "user_message", None) or str(exc)
        if isinstance(exc, stripe.InvalidRequestError):
            raise ValidationFailed(
                "the payment provider refused the refund: %(reason)s", field="amount_cents", values={"reason": message}
            ) from exc
        raise PaymentProviderError("the payment provider could not be reached; try again in a minute") from exc
    await audit(
        session,
        tenant_id,
        actor.name,
        "purchase_refund_requested",
        {"amount_refunded_cents": purchase.amount_refunded_cents},
        {"purchase_id": str(purchase.id), "amount_cents": amount},
    )
    await sync_purchase(session, settings, tenant_id, purchase.checkout_session_id)
    return purchase


async def list_purchases(session: AsyncSession, limit: int, offset: int) -> tuple[list[PurchaseRowOut], int]:
    """Course sales of the bound tenant, newest first (pending checkouts left out)."""
    query = select(CoursePurchase).where(CoursePurchase.status != PurchaseStatus.PENDING)
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = list(await session.scalars(query.order_by(CoursePurchase.created_at.desc()).limit(limit).offset(offset)))
    titles = await course_titles(session, {p.course_id for p in rows})
    people = await user_contacts(session, {p.user_id for p in rows})
    return [
        PurchaseRowOut(
            id=p.id,
            course_id=p.course_id,
            course_title=titles.get(p.course_id, ""),
            user_id=p.user_id,
            learner=people[p.user_id].display_name if p.user_id in people else "",
            status=p.status,
            amount_cents=p.amount_cents,
            amount_refunded_cents=p.amount_refunded_cents,
            currency=p.currency,
            paid_at=p.paid_at,
            refunded_at=p.refunded_at,
        )
        for p in rows
    ], total


async def purchase_row(session: AsyncSession, purchase_id: UUID) -> PurchaseRowOut:
    purchase = await session.get(CoursePurchase, purchase_id)
    if purchase is None or purchase.status == PurchaseStatus.PENDING:
        raise NotFound("purchase not found", field="purchase_id")
    titles = await course_titles(session, {purchase.course_id})
    people = await user_contacts(session, {purchase.user_id})
    contact = people.get(purchase.user_id)
    return PurchaseRowOut(
        id=purchase.id,
        course_id=purchase.course_id,
        course_title=titles.get(purchase.course_id, ""),
        user_id=purchase.user_id,
        learner=contact.display_name if contact else "",
        status=purchase.status,
        amount_cents=purchase.amount_cents,
        amount_refunded_cents=purchase.amount_refunded_cents,
        currency=purchase.currency,
        paid_at=purchase.paid_at,
        refunded_at=purchase.refunded_at,
    )
