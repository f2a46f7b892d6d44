"""Paid courses: a learner buys a priced course through Stripe Checkout (payment mode, promotion
codes allowed); the enrolment follows the payment, and a full refund ends it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.models import CoursePurchase
from lms.billing.queries import licence_of
from lms.billing.schemas import CoursePurchaseOut, PurchaseStatus
from lms.billing.services.accounts import BillingActor, audit
from lms.billing.services.stripe_api import PaymentProviderError, stripe_client
from lms.catalog.queries import course_offer, course_price
from lms.config import Settings
from lms.identity.queries import user_contact
from lms.learning.queries import is_enrolled
from lms.learning.services import end_refunded, enroll_purchased
from lms.lib import clock
from lms.lib.errors import Conflict, Forbidden, NotFound, ValidationFailed
from lms.notifications import services as notifications


def purchase_out(purchase: CoursePurchase, url: str | None = None) -> CoursePurchaseOut:
    return CoursePurchaseOut(
        purchase.id, purchase.course_id, purchase.status, purchase.amount_cents, purchase.currency, url
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
    refunded = False
    if checkout.get("payment_intent"):
        intent = (
            await client.v1.payment_intents.retrieve_async(
                str(checkout["payment_intent"]), {"expand": ["latest_charge"]}
            )
        ).to_dict()
        purchase.payment_intent_id = intent["id"]
        charge: dict[str, Any] = intent.get("latest_charge") or {}
        refunded = bool(charge.get("refunded"))
        purchase.amount_cents = int(intent.get("amount_received") or intent.get("amount") or purchase.amount_cents)
    paid = checkout.get("payment_status") == "paid"
    previous = purchase.status
    if refunded:
        purchase.status = PurchaseStatus.REFUNDED
        purchase.refunded_at = purchase.refunded_at or clock.now()
        await end_refunded(session, purchase.user_id, purchase.course_id)
    elif paid:
        purchase.status = PurchaseStatus.PAID
        purchase.paid_at = purchase.paid_at or clock.now()
        await session.flush()
        await enroll_purchased(session, tenant_id, purchase.user_id, purchase.course_id)
    await session.flush()
    if previous != purchase.status:
        await audit(
            session,
            tenant_id,
            BillingActor("stripe").name,
            f"purchase_{purchase.status}",
            {"status": previous},
            {"status": purchase.status, "course_id": str(purchase.course_id)},
        )
        await _receipt(session, settings, tenant_id, purchase)
    return str(purchase.status)


async def _receipt(session: AsyncSession, settings: Settings, tenant_id: UUID, purchase: CoursePurchase) -> None:
    """The learner's receipt or refund notice, through the notification service (once per purchase and status)."""
    price = await course_price(session, purchase.course_id)
    paid = purchase.status == PurchaseStatus.PAID
    await notifications.notify(
        session,
        tenant_id,
        purchase.user_id,
        "purchase_paid" if paid else "purchase_refunded",
        {
            "course": price.title if price else "",
            "amount": f"{purchase.amount_cents / 100:.2f} {purchase.currency.upper()}",
        },
        link=f"/courses/{purchase.course_id}" if paid else "/",
        dedupe_key=f"purchase:{purchase.id}:{purchase.status}",
        settings=settings,
    )
