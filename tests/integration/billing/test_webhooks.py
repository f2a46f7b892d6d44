"""The Stripe webhook inbox: forged, stale and replayed deliveries are refused or ignored; duplicated
and reversed events end in the state in-order delivery gives; a handler that keeps failing ends in a
dead letter operators see, without holding up other events."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

from sqlalchemy import text

from lms.billing.services.inbox import dispatch_key
from lms.billing.tasks import HANDLE_EVENT_TASK, REQUEUE_EVENTS_TASK
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib.jobs import Job, build_celery, send_now
from lms.lib.redis_clients import blocking_redis
from lms.tenancy.models import Plan
from tests.conftest import eventually
from tests.factories import billing
from tests.integration.billing.conftest import WEBHOOK, Client, Deliver, MakeSite, Site, checkout_session_id
from tests.stripe_standin import WEBHOOK_SECRET, StripeStandIn, signed


async def inbox_rows(db: Database, site: Site) -> list[Any]:
    async with tenant_session(db.app_sessions, site.tenant.id) as session:
        rows = await session.execute(
            text("select stripe_event_id, status, attempts, reason from billing_webhook_events order by created_at")
        )
        return list(rows)


async def account_state(client: Client, site: Site) -> tuple[str, int, str]:
    body = (await client.get(f"{site.base}/api/v1/billing/subscription", headers=site.admin)).json()
    return body["status"], body["seats"], body["plan"]


async def scenario(client: Client, stripe_standin: StripeStandIn, site: Site) -> list[dict[str, Any]]:
    """Checkout for 50 seats, down to 40, a failed payment, then a successful one: Stripe's events."""
    started = await client.post(
        f"{site.base}/api/v1/billing/checkout", json={"plan": "business", "seats": 50}, headers=site.admin
    )
    session = stripe_standin.state.complete_checkout(checkout_session_id(started.json()["url"]))
    sub_id = session["subscription"]
    item = stripe_standin.state.objects[sub_id]["items"]["data"][0]
    stripe_standin.state.update_subscription(sub_id, {"items": [{"id": item["id"], "quantity": "40"}]})
    stripe_standin.state.payment_failed(sub_id)
    stripe_standin.state.payment_succeeded(sub_id)
    return stripe_standin.take_events()


async def test_forged_stale_and_replayed_webhooks_are_refused(
    client: Client, worker: Any, stripe_standin: StripeStandIn, make_site: MakeSite, db: Database
) -> None:
    site = await make_site(Plan.TRIAL)
    events = await scenario(client, stripe_standin, site)
    event = next(e for e in events if e["type"] == "checkout.session.completed")
    payload = json.dumps(event).encode()

    forged = await client.post(WEBHOOK, content=payload, headers=signed(payload, secret="whsec_someone_else"))
    assert forged.status_code == 400
    assert forged.json()["error"]["code"] == "bad_signature"
    tampered = payload.replace(b"business", b"enterprise")
    altered = await client.post(WEBHOOK, content=tampered, headers=signed(payload))
    assert altered.status_code == 400
    stale = await client.post(WEBHOOK, content=payload, headers=signed(payload, at=int(time.time()) - 600))
    assert stale.status_code == 400
    assert "timestamp" in stale.json()["error"]["message"].lower()
    unsigned = await client.post(WEBHOOK, content=payload, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 400
    assert unsigned.json()["error"]["field"] == "Stripe-Signature"
    assert await inbox_rows(db, site) == []  # nothing refused was stored

    first = await client.post(WEBHOOK, content=payload, headers=signed(payload))
    replayed = await client.post(WEBHOOK, content=payload, headers=signed(payload))
    assert first.json() == {"received": True, "duplicate": False, "ignored": False}
    assert replayed.json() == {"received": True, "duplicate": True, "ignored": False}

    async def handled() -> bool:
        rows = await inbox_rows(db, site)
        return len(rows) == 1 and rows[0].status == "handled"

    await eventually(handled)
    assert (await inbox_rows(db, site))[0].attempts == 1  # handled once

    # An event the platform does not act on, or for no tenant of this platform, is acknowledged and dropped.
    other = {**event, "id": "evt_unrelated", "type": "product.created"}
    body = json.dumps(other).encode()
    assert (await client.post(WEBHOOK, content=body, headers=signed(body))).json()["ignored"] is True
    foreign = {**event, "id": "evt_foreign"}
    foreign["data"] = {"object": {**event["data"]["object"], "metadata": {"tenant_id": "0" * 32}}}
    body = json.dumps(foreign).encode()
    assert (await client.post(WEBHOOK, content=body, headers=signed(body))).json()["ignored"] is True
    assert WEBHOOK_SECRET  # the stand-in and the app share the endpoint secret


async def test_duplicated_and_reversed_events_end_in_the_in_order_state(
    client: Client, worker: Any, stripe_standin: StripeStandIn, deliver: Deliver, make_site: MakeSite, db: Database
) -> None:
    in_order, shuffled = await make_site(Plan.TRIAL), await make_site(Plan.TRIAL)
    ordered_events = await scenario(client, stripe_standin, in_order)
    await deliver(ordered_events)
    messy_events = await scenario(client, stripe_standin, shuffled)
    messy = list(reversed(messy_events)) + random.sample(messy_events, len(messy_events))
    answers = await deliver(messy)
    assert sum(a["duplicate"] for a in answers) == len(messy_events)

    async def settled(site: Site, count: int) -> bool:
        rows = await inbox_rows(db, site)
        return len(rows) == count and all(r.status == "handled" for r in rows)

    await eventually(lambda: settled(in_order, len(ordered_events)))
    await eventually(lambda: settled(shuffled, len(messy_events)))
    assert await account_state(client, in_order) == ("active", 40, "business")
    assert await account_state(client, shuffled) == await account_state(client, in_order)
    assert all(r.attempts == 1 for r in await inbox_rows(db, shuffled))


async def test_a_handler_that_keeps_failing_ends_in_a_dead_letter_and_blocks_nothing(
    client: Client,
    worker: Any,
    stripe_standin: StripeStandIn,
    deliver: Deliver,
    make_site: MakeSite,
    db: Database,
    operator_token: str,
) -> None:
    broken, healthy = await make_site(Plan.TRIAL), await make_site(Plan.TRIAL)
    events = await scenario(client, stripe_standin, broken)
    healthy_events = await scenario(client, stripe_standin, healthy)
    stripe_standin.state.failures_left = 10_000  # Stripe answers 500 to everything
    await deliver(events[:1])

    async def dead() -> list[Any]:
        return [r for r in await inbox_rows(db, broken) if r.status == "dead"]

    letters = await eventually(dead, timeout=60)
    assert "gave up after 3 attempts" in letters[0].reason
    stripe_standin.state.failures_left = 0
    await deliver(healthy_events)

    async def healthy_done() -> bool:
        return await account_state(client, healthy) == ("active", 40, "business")

    await eventually(healthy_done)
    ops = {"Authorization": f"Bearer {operator_token}"}
    listed = await client.get(
        f"/api/v1/operator/billing/webhook-events?status=dead&tenant_id={broken.tenant.id}", headers=ops
    )
    assert listed.status_code == 200
    item = listed.json()["items"][0]
    assert item["tenant_id"] == str(broken.tenant.id)
    assert item["payload"]["id"] == events[0]["id"]
    assert "gave up" in item["reason"]
    assert (await client.get("/api/v1/operator/billing/webhook-events", headers=broken.admin)).status_code == 403


async def test_an_event_whose_job_was_lost_is_sent_again_and_handled_once(
    client: Client,
    worker: Any,
    stripe_standin: StripeStandIn,
    make_site: MakeSite,
    db: Database,
    billing_settings: Settings,
) -> None:
    site = await make_site(Plan.TRIAL)
    events = await scenario(client, stripe_standin, site)
    last = events[-1]
    # Stored, but its job never sent (the API process died between commit and send), minutes ago.
    async with tenant_session(db.app_sessions, site.tenant.id) as session:
        await billing.make_webhook_event(
            session,
            site.tenant.id,
            stripe_event_id=last["id"],
            type=last["type"],
            object_id=last["data"]["object"]["id"],
            payload=last,
        )
        await session.execute(text("update billing_webhook_events set updated_at = now() - interval '10 minutes'"))
    send_now(Job(REQUEUE_EVENTS_TASK, ()), build_celery(billing_settings))

    async def handled() -> bool:
        rows = await inbox_rows(db, site)
        return [r.status for r in rows] == ["handled"]

    await eventually(handled)
    assert await account_state(client, site) == ("active", 40, "business")
    assert (await inbox_rows(db, site))[0].attempts == 1


async def test_events_arriving_while_a_job_holds_their_object_are_handed_on_not_sent_each(
    client: Client,
    worker: Any,
    stripe_standin: StripeStandIn,
    deliver: Deliver,
    make_site: MakeSite,
    db: Database,
    billing_settings: Settings,
) -> None:
    site = await make_site(Plan.TRIAL)
    events = await scenario(client, stripe_standin, site)
    subscription_events = [e for e in events if e["type"].startswith("customer.subscription.")]
    first, rest = subscription_events[0], subscription_events[1:]
    object_id = first["data"]["object"]["id"]
    redis = blocking_redis(billing_settings.redis_url or "")
    try:
        # A handling job of this subscription is in flight: new events store, but send no job of their own.
        await redis.set(dispatch_key(site.tenant.id, object_id), "1", px=60_000)
        await deliver(rest)
        await asyncio.sleep(2)
        assert {r.status for r in await inbox_rows(db, site)} == {"received"}
        async with tenant_session(db.app_sessions, site.tenant.id) as session:
            # They arrive while that job runs: after its read began, so its read cannot cover them.
            await session.execute(text("update billing_webhook_events set created_at = now() + interval '1 hour'"))
        # That job is this one: it handles its event, releases the claim and hands on to the waiting ones.
        await deliver([first])
        async with tenant_session(db.app_sessions, site.tenant.id) as session:
            first_row = await session.scalar(
                text("select id from billing_webhook_events where stripe_event_id = :id"), {"id": first["id"]}
            )
        send_now(Job(HANDLE_EVENT_TASK, (str(site.tenant.id), str(first_row))), build_celery(billing_settings))

        async def all_handled() -> bool:
            rows = await inbox_rows(db, site)
            return len(rows) == len(subscription_events) and all(r.status == "handled" for r in rows)

        await eventually(all_handled)
        assert (await account_state(client, site))[1] == 40
        assert await redis.exists(dispatch_key(site.tenant.id, object_id)) == 0  # released by the last job
    finally:
        await redis.aclose()
