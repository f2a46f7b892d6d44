"""The Stripe webhook inbox: verify, store once by event id, handle once, in any order.

Accepting an event verifies Stripe's signature on the raw body (Stripe's own library), finds the
tenant in the metadata the platform put on every object it created, and inserts the event with
ON CONFLICT DO NOTHING: a duplicate delivery inserts nothing and sends no job. The job sent after
commit re-reads the object's current state from the API, so the order events arrive in never
matters. A handler that keeps failing leaves the event `dead`, with its reason, for operators.

One Stripe object has at most one handling job in flight (a Redis claim per object): a burst of
events for one subscription is one job, whose single read covers them all, instead of a job each.
The job hands on to the events that arrived while it ran (`waiting_event`), so none is left behind;
were a claim or a send lost, the beat re-sends events left unhandled (`stale_received_events`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import anyio.to_thread
import msgspec
import stripe
import structlog
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.models import CoursePurchase, WebhookEvent
from lms.billing.schemas import AccountStatus, InboxEventOut, InboxStatus, PurchaseStatus
from lms.billing.services.accounts import BillingActor, apply_subscription, ensure_account
from lms.billing.services.purchases import sync_purchase
from lms.billing.services.stripe_api import PaymentProviderError, stripe_client
from lms.billing.tasks import HANDLE_EVENT_TASK
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.db.reads import fetch_row_as, fetch_row_autocommit
from lms.lib import clock
from lms.lib.errors import DomainError
from lms.lib.ids import new_id
from lms.lib.jobs import Job, broker_message, send_now, sender_of
from lms.lib.pagination import Page

log = structlog.get_logger("lms.billing.inbox")

SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
    }
)
CHECKOUT_EVENTS = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})
# A charge (its running `amount_refunded`) or a refund object: both name the payment intent.
REFUND_EVENTS = frozenset({"charge.refunded", "charge.refund.updated", "refund.created", "refund.updated"})
HANDLED_EVENTS = SUBSCRIPTION_EVENTS | CHECKOUT_EVENTS | REFUND_EVENTS

# Stripe's default: a signature older than five minutes is refused (a replay of a captured request).
SIGNATURE_TOLERANCE_SECONDS = 300


class BadSignature(DomainError):
    status = 400
    code = "bad_signature"


@dataclass(frozen=True)
class Accepted:
    stored: bool
    duplicate: bool = False
    ignored: bool = False


def verify(settings: Settings, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, once Stripe's signature over the raw body checks out with the endpoint secret."""
    if not settings.stripe_webhook_secret:
        raise BadSignature("webhooks are not configured (STRIPE_WEBHOOK_SECRET is not set)")
    if not signature:
        raise BadSignature("the Stripe-Signature header is missing", field="Stripe-Signature")
    try:
        # Stripe's own check of the signature and its age; the body is then decoded once, as plain
        # data (`construct_event` would also build a StripeObject tree nobody here reads).
        stripe.WebhookSignature.verify_header(
            payload, signature, settings.stripe_webhook_secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        raise BadSignature(
            f"the signature does not verify: {exc.user_message or exc}", field="Stripe-Signature"
        ) from exc
    try:
        body = msgspec.json.decode(payload)
    except msgspec.DecodeError as exc:
        raise BadSignature("the body is not a Stripe event", field="body") from exc
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not isinstance(body.get("type"), str):
        raise BadSignature("the body is not a Stripe event", field="body")
    return body


def _object_id(event_type: str, obj: dict[str, Any]) -> str | None:
    """The object whose current state the handler re-reads."""
    if event_type.startswith("invoice."):
        parent = (obj.get("parent") or {}).get("subscription_details") or {}
        return parent.get("subscription") or obj.get("subscription")
    if event_type in REFUND_EVENTS:
        return obj.get("payment_intent")
    return obj.get("id")


def _tenant_in(obj: dict[str, Any]) -> str | None:
    for source in (
        obj.get("metadata") or {},
        ((obj.get("parent") or {}).get("subscription_details") or {}).get("metadata") or {},
        (obj.get("subscription_details") or {}).get("metadata") or {},
    ):
        if isinstance(source.get("tenant_id"), str):
            return str(source["tenant_id"])
    return None


async def _tenant_of(settings: Settings, event_type: str, obj: dict[str, Any]) -> UUID | None:
    found = _tenant_in(obj)
    if found is None and event_type in REFUND_EVENTS and obj.get("payment_intent"):
        # A charge carries no metadata of its own; its payment intent has the platform's.
        try:
            intent = await stripe_client(settings).v1.payment_intents.retrieve_async(str(obj["payment_intent"]))
        except stripe.StripeError as exc:
            # Not acknowledged: Stripe delivers the event again later.
            raise PaymentProviderError("the payment provider could not be reached; deliver again later") from exc
        found = _tenant_in(intent.to_dict())
    try:
        return UUID(found) if found else None
    except ValueError:
        return None


# How long a claim holds when its job never hands on (the worker died): then the next event of the
# object sends its own job. Retried handling can outlast it; a second job for one object is harmless.
DISPATCH_HOLD_MS = 60_000


def dispatch_key(tenant_id: UUID, object_id: str) -> str:
    return f"lms:billing:dispatch:{tenant_id}:{object_id}"


# The claim and the job's push in one round trip, atomically: the job is queued exactly when the claim
# is new. KEYS: the claim, the queue's list; ARGV: the hold in ms, the message.
_CLAIM_AND_PUSH = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('LPUSH', KEYS[2], ARGV[2])
  return 1
end
return 0
"""
# Redis names a script by its SHA-1 (an identifier here, not a security measure).
_CLAIM_AND_PUSH_SHA = hashlib.sha1(_CLAIM_AND_PUSH.encode(), usedforsecurity=False).hexdigest()


async def dispatch(
    db: Database, settings: Settings, redis: Redis, tenant_id: UUID, object_id: str, row_id: UUID
) -> None:
    """Send the handling job of a stored event unless one of its object is in flight (that one hands on)."""
    job = Job(HANDLE_EVENT_TASK, (str(tenant_id), str(row_id)))
    sender = sender_of(db.app_sessions)
    message = broker_message(job, sender)
    if message is not None and message.broker_url == settings.redis_url:
        try:
            keys_and_args = (dispatch_key(tenant_id, object_id), message.queue, DISPATCH_HOLD_MS, message.message)
            try:
                await redis.evalsha(_CLAIM_AND_PUSH_SHA, 2, *keys_and_args)
            except NoScriptError:  # the first call on this server (or after its restart) loads the script
                await redis.eval(_CLAIM_AND_PUSH, 2, *keys_and_args)
            return
        except RedisError:
            pass  # sent the ordinary way below (it retries); without the claim, a second job is harmless
    elif not await claim_dispatch(redis, tenant_id, object_id):
        return
    # The broker's client blocks, so off the event loop.
    await anyio.to_thread.run_sync(send_now, job, sender)


async def claim_dispatch(redis: Redis, tenant_id: UUID, object_id: str) -> bool:
    """True when no handling job of this object is in flight: the caller sends one."""
    try:
        return bool(await redis.set(dispatch_key(tenant_id, object_id), "1", nx=True, px=DISPATCH_HOLD_MS))
    except RedisError:
        return True  # without the claim, a second job is harmless; a missing one is not


# One statement, committed in its own (implicit) transaction before the delivery is acknowledged:
# `app.store_webhook_event` (migration 1600) binds the tenant for that transaction with
# `set_config(..., true)` and inserts under the table's forced RLS, as lms_app (SECURITY INVOKER). One round
# trip instead of BEGIN and the binding, the insert, COMMIT. The payload goes in as the text Stripe
# signed: PostgreSQL parses it into jsonb once, instead of the API decoding and encoding it again.
STORE_EVENT = "SELECT app.store_webhook_event($1, $2, $3, $4, $5, $6::jsonb)"


async def store_event(
    db: Database, tenant_id: UUID, row_id: UUID, event: dict[str, Any], object_id: str, payload: bytes
) -> bool:
    """Insert a verified event by its id under the tenant's RLS, committed; False for a duplicate.
    An unknown tenant (the foreign key) raises IntegrityError."""
    row = await fetch_row_autocommit(
        db.app_engine,
        STORE_EVENT,
        tenant_id,
        row_id,
        event["id"][:100],
        event["type"][:100],
        object_id[:100],
        payload.decode(),
    )
    return row is not None and row[0] is not None


async def accept(db: Database, settings: Settings, redis: Redis, payload: bytes, signature: str | None) -> Accepted:
    """Verify and store one delivery; a handling job is sent after commit, only for a new event
    and only if none is in flight for its object (that one hands on to this event)."""
    event = verify(settings, payload, signature)
    event_type = event["type"]
    obj = (event.get("data") or {}).get("object") or {}
    object_id = _object_id(event_type, obj)
    if event_type not in HANDLED_EVENTS or not object_id:
        return Accepted(stored=False, ignored=True)
    tenant_id = await _tenant_of(settings, event_type, obj)
    if tenant_id is None:
        log.warning("stripe event without a tenant", event_id=event["id"], type=event_type)
        return Accepted(stored=False, ignored=True)
    row_id = new_id()
    try:
        inserted = await store_event(db, tenant_id, row_id, event, str(object_id), payload)
    except IntegrityError:
        # The metadata names no tenant of this platform (a deleted one, another deployment's).
        log.warning("stripe event for an unknown tenant", event_id=event["id"], tenant_id=str(tenant_id))
        return Accepted(stored=False, ignored=True)
    if inserted:
        # Sent only now that the row is committed. Were the send lost (the process dies right here),
        # the reaper re-sends received events.
        await dispatch(db, settings, redis, tenant_id, str(object_id), row_id)
    return Accepted(stored=inserted, duplicate=not inserted)


@dataclass(frozen=True)
class Handled:
    """What handling an event did, and its Stripe object (the job then hands on to that object's
    waiting events); no object for an event that is not in the inbox."""

    outcome: str
    object_id: str | None


async def handle(session: AsyncSession, settings: Settings, tenant_id: UUID, row_id: UUID) -> Handled:
    """Handle one stored event, once: the body of the `billing.handle_stripe_event` job."""
    row = await session.scalar(select(WebhookEvent).where(WebhookEvent.id == row_id).with_for_update())
    if row is None:
        return Handled("missing", None)
    if row.status == InboxStatus.HANDLED:
        return Handled("already_handled", row.object_id)
    row.attempts += 1
    if row.type in SUBSCRIPTION_EVENTS:
        read_from = await session.scalar(select(func.clock_timestamp()))
        outcome = await sync_subscription(session, settings, tenant_id, row.object_id)
        await _covered_by_this_read(session, row, read_from)
    elif row.type in CHECKOUT_EVENTS:
        outcome = await _checkout_completed(session, settings, tenant_id, row.object_id)
    else:
        outcome = await _refunded(session, settings, tenant_id, row.object_id)
    row.status = InboxStatus.HANDLED
    row.reason = None
    row.handled_at = clock.now()
    await session.flush()
    return Handled(outcome, row.object_id)


OBJECT_OF = f"SELECT object_id FROM {WebhookEvent.__tablename__} WHERE id = $1"
WAITING_EVENT = f"""
SELECT id FROM {WebhookEvent.__tablename__}
WHERE object_id = $1 AND status = '{InboxStatus.RECEIVED.value}' AND attempts = 0
ORDER BY created_at LIMIT 1"""


async def object_of(db: Database, tenant_id: UUID, row_id: UUID) -> str | None:
    """The Stripe object an inbox row is about (whose dispatch claim its job holds)."""
    row = await fetch_row_as(db.app_engine, tenant_id, OBJECT_OF, row_id)
    return str(row[0]) if row is not None else None


async def waiting_event(db: Database, tenant_id: UUID, object_id: str) -> UUID | None:
    """The oldest event of this object that no job has tried yet: read after the claim is released,
    so an event stored while the last job ran is found here or claims a job of its own. One
    tenant-bound read straight to asyncpg (`lms.db.reads`), no ORM session."""
    row = await fetch_row_as(db.app_engine, tenant_id, WAITING_EVENT, object_id)
    return UUID(str(row[0])) if row is not None else None


async def _covered_by_this_read(session: AsyncSession, row: WebhookEvent, read_from: datetime | None) -> None:
    """Other stored events of the same subscription, received before the read began, changed nothing
    the read did not already see: they are handled by it (once), and their own jobs find them done.
    A burst of events for one subscription costs one API read, not one each.

    Both times are the database's clock (no margin for clocks of different hosts): `created_at` is when
    the insert's transaction began, after Stripe had sent the event; `read_from` was taken before the
    read began. An event stored before `read_from` was sent before the read, which therefore reflects it."""
    if read_from is None:
        return
    # SKIP LOCKED: an event whose own job is running right now is left to it (no lock-order deadlock).
    covered = (
        select(WebhookEvent.id)
        .where(
            WebhookEvent.object_id == row.object_id,
            WebhookEvent.status == InboxStatus.RECEIVED,
            WebhookEvent.type.in_(SUBSCRIPTION_EVENTS),
            WebhookEvent.created_at < read_from,
            WebhookEvent.id != row.id,
        )
        .with_for_update(skip_locked=True)
    )
    await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id.in_(covered.scalar_subquery()))
        .values(status=InboxStatus.HANDLED, attempts=WebhookEvent.attempts + 1, handled_at=clock.now(), reason=None)
    )


async def sync_subscription(session: AsyncSession, settings: Settings, tenant_id: UUID, subscription_id: str) -> str:
    """Mirror the subscription as the API returns it now onto the tenant's account (row locked)."""
    account = await ensure_account(session, settings, tenant_id, lock=True)
    sub = (await stripe_client(settings).v1.subscriptions.retrieve_async(subscription_id)).to_dict()
    current = account.stripe_subscription_id
    if current and current != sub["id"] and account.status != AccountStatus.CANCELED:
        # An older subscription of this tenant (replaced after a cancellation) no longer decides.
        return "superseded"
    await apply_subscription(session, settings, account, sub, BillingActor("stripe"))
    return str(account.status)


async def _checkout_completed(session: AsyncSession, settings: Settings, tenant_id: UUID, session_id: str) -> str:
    checkout = (await stripe_client(settings).v1.checkout.sessions.retrieve_async(session_id)).to_dict()
    if checkout.get("mode") == "subscription":
        if not checkout.get("subscription"):
            return "not_complete"
        return await sync_subscription(session, settings, tenant_id, str(checkout["subscription"]))
    return await sync_purchase(session, settings, tenant_id, session_id)


async def _refunded(session: AsyncSession, settings: Settings, tenant_id: UUID, intent_id: str) -> str:
    purchase = await session.scalar(select(CoursePurchase).where(CoursePurchase.payment_intent_id == intent_id))
    if purchase is None:
        # The refund arrived before the completion was handled: find the purchase by what the
        # payment intent says it paid for.
        intent = (await stripe_client(settings).v1.payment_intents.retrieve_async(intent_id)).to_dict()
        meta = intent.get("metadata") or {}
        try:
            user_id, course_id = UUID(meta.get("user_id", "")), UUID(meta.get("course_id", ""))
        except ValueError:
            return "unknown_purchase"
        purchase = await session.scalar(
            select(CoursePurchase)
            .where(
                CoursePurchase.user_id == user_id,
                CoursePurchase.course_id == course_id,
                CoursePurchase.status != PurchaseStatus.REFUNDED,
            )
            .order_by(CoursePurchase.created_at.desc())
            .limit(1)
        )
        if purchase is None:
            return "unknown_purchase"
    return await sync_purchase(session, settings, tenant_id, purchase.checkout_session_id)


async def mark_dead(db: Database, tenant_id: UUID, row_id: UUID, reason: str) -> None:
    """The event's handler gave up: keep it, with the reason, where operators look (never blocks others)."""
    async with tenant_session(db.app_sessions, tenant_id) as session:
        row = await session.get(WebhookEvent, row_id, with_for_update=True)
        if row is not None and row.status != InboxStatus.HANDLED:
            row.status = InboxStatus.DEAD
            row.reason = reason[:2000]
            log.error("stripe event dead-lettered", event_id=row.stripe_event_id, reason=reason[:300])


async def note_failure(db: Database, tenant_id: UUID, row_id: UUID, reason: str) -> None:
    """Record a failed attempt (the job is retried with backoff)."""
    async with tenant_session(db.app_sessions, tenant_id) as session:
        row = await session.get(WebhookEvent, row_id, with_for_update=True)
        if row is not None and row.status == InboxStatus.RECEIVED:
            row.attempts += 1
            row.reason = reason[:2000]


async def list_events(
    session: AsyncSession, status: str | None, tenant_id: UUID | None, limit: int, offset: int
) -> Page[InboxEventOut]:
    """Inbox events, newest first; `session` is the operator's (platform-wide) one."""
    query = select(WebhookEvent, func.count().over().label("total"))
    if status:
        query = query.where(WebhookEvent.status == status)
    if tenant_id:
        query = query.where(WebhookEvent.tenant_id == tenant_id)
    rows = (await session.execute(query.order_by(WebhookEvent.created_at.desc()).limit(limit).offset(offset))).all()
    items = [
        InboxEventOut(
            id=r.id,
            tenant_id=r.tenant_id,
            stripe_event_id=r.stripe_event_id,
            type=r.type,
            status=r.status,
            attempts=r.attempts,
            reason=r.reason,
            payload=r.payload,
            created_at=r.created_at,
        )
        for r, _ in rows
    ]
    total = rows[0][1] if rows else 0
    return Page(items=items, total=total, limit=limit, offset=offset)


STALE_AFTER = timedelta(minutes=5)


async def stale_received_events(session: AsyncSession) -> list[tuple[UUID, UUID]]:
    """(tenant, row) of events stored but not handled for a while: their job was lost (the process died
    between commit and send) or is waiting out a long retry. The operator's platform-wide session."""
    cutoff = clock.now() - STALE_AFTER
    rows = await session.execute(
        select(WebhookEvent.tenant_id, WebhookEvent.id)
        .where(WebhookEvent.status == InboxStatus.RECEIVED, WebhookEvent.updated_at < cutoff)
        .limit(10_000)
    )
    return [(tenant_id, row_id) for tenant_id, row_id in rows]
