"""The inbox's write path: a delivery is stored as Stripe sent it, once per event id however many copies
arrive at the same time, under the tenant's RLS; the handling job goes out once per Stripe object in flight."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from lms.billing.services import inbox
from lms.billing.tasks import HANDLE_EVENT_TASK
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database, create_database
from lms.lib.ids import new_id
from lms.lib.redis_clients import blocking_redis
from lms.tenancy.models import Plan
from tests.integration.billing.conftest import WEBHOOK, Client, MakeSite, Site
from tests.stripe_standin import signed


def subscription_event(site: Site, event_id: str, quantity: int = 7) -> dict[str, Any]:
    """A `customer.subscription.updated` event as Stripe sends it, with text that needs escaping."""
    return {
        "id": event_id,
        "object": "event",
        "type": "customer.subscription.updated",
        "created": 1_700_000_000,
        "data": {
            "object": {
                "id": f"sub_{event_id}",
                "object": "subscription",
                "status": "active",
                "items": {"data": [{"id": "si_1", "quantity": quantity}]},
                "metadata": {"tenant_id": str(site.tenant.id), "note": 'Zürich "Süd" \\ 東京 ✓'},
            }
        },
    }


async def stored(db: Database, site: Site) -> list[Any]:
    async with tenant_session(db.app_sessions, site.tenant.id) as session:
        rows = await session.execute(
            text("select stripe_event_id, type, object_id, payload, status, attempts from billing_webhook_events")
        )
        return list(rows)


async def test_concurrent_copies_of_a_delivery_store_the_event_once_as_sent(
    client: Client, make_site: MakeSite, db: Database
) -> None:
    site = await make_site(Plan.TRIAL)
    event = subscription_event(site, "evt_store_once")
    payload = json.dumps(event, ensure_ascii=False).encode()

    # Stripe retries while the first delivery is still being answered: the copies race on the insert.
    answers = await asyncio.gather(*(client.post(WEBHOOK, content=payload, headers=signed(payload)) for _ in range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 5

    rows = await stored(db, site)
    assert len(rows) == 1
    row = rows[0]
    assert (row.stripe_event_id, row.type, row.object_id) == ("evt_store_once", event["type"], "sub_evt_store_once")
    assert row.payload == event  # the signed text, unicode and escapes included, as jsonb


async def test_the_inbox_insert_binds_its_tenant_for_its_own_transaction_only(
    make_site: MakeSite, db: Database
) -> None:
    site, other = await make_site(Plan.TRIAL), await make_site(Plan.TRIAL)
    event = subscription_event(site, "evt_rls")
    payload = json.dumps(event).encode()
    assert await inbox.store_event(db, site.tenant.id, new_id(), event, "sub_evt_rls", payload) is True
    assert await inbox.store_event(db, site.tenant.id, new_id(), event, "sub_evt_rls", payload) is False

    # The binding ended with the statement: the pooled connection (the same one, the pool is LIFO) has
    # none, so a query on it sees no inbox row at all.
    fairy = await db.app_engine.raw_connection()
    try:
        driver: Any = fairy.driver_connection
        assert await driver.fetchval("select current_setting('app.tenant_id', true)") in (None, "")
        assert await driver.fetchval("select count(*) from billing_webhook_events") == 0
        # It runs as the caller (RLS applies to lms_app, which cannot bypass it), not as its owner.
        invoker = await driver.fetchval("select not prosecdef from pg_proc where proname = 'store_webhook_event'")
        bypass = await driver.fetchval("select rolbypassrls or rolsuper from pg_roles where rolname = current_user")
        assert (invoker, bypass) == (True, False)
    finally:
        fairy.close()

    # Another tenant does not see the row; the tenant does.
    assert await stored(db, other) == []
    assert [r.stripe_event_id for r in await stored(db, site)] == ["evt_rls"]
    # The tenant's own binding cannot write another tenant's row into the inbox.
    async with tenant_session(db.app_sessions, other.tenant.id) as session:
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.execute(
                text(
                    "insert into billing_webhook_events (id, tenant_id, stripe_event_id, type, object_id, payload,"
                    " status, attempts, created_at, updated_at) values (:id, :tenant, 'evt_x', 't', 'o', '{}',"
                    " 'received', 0, now(), now())"
                ),
                {"id": new_id(), "tenant": site.tenant.id},
            )


async def test_an_event_for_no_tenant_of_this_platform_is_not_stored(make_site: MakeSite, db: Database) -> None:
    site = await make_site(Plan.TRIAL)
    event = subscription_event(site, "evt_nobody")
    with pytest.raises(IntegrityError):
        await inbox.store_event(db, new_id(), new_id(), event, "sub_x", json.dumps(event).encode())


async def test_one_job_is_queued_per_object_in_flight(make_site: MakeSite, billing_settings: Settings) -> None:
    site = await make_site(Plan.TRIAL)
    # A queue no worker reads, so the queued jobs stay where they can be read.
    settings = replace(billing_settings, celery_queue=f"inbox-dispatch-{new_id().hex[:8]}")
    db = create_database(settings)
    redis = blocking_redis(settings.redis_url or "")
    try:
        first, second, other = new_id(), new_id(), new_id()
        await inbox.dispatch(db, settings, redis, site.tenant.id, "sub_a", first)
        await inbox.dispatch(db, settings, redis, site.tenant.id, "sub_a", second)  # its job is in flight
        await inbox.dispatch(db, settings, redis, site.tenant.id, "sub_b", other)
        queued = [json.loads(m) for m in await redis.lrange(settings.celery_queue, 0, -1)]
        assert [m["headers"]["task"] for m in queued] == [HANDLE_EVENT_TASK] * 2
        assert sorted(m["headers"]["argsrepr"] for m in queued) == sorted(
            repr([str(site.tenant.id), str(row)]) for row in (first, other)
        )
        assert await redis.pttl(inbox.dispatch_key(site.tenant.id, "sub_a")) > 0
    finally:
        await redis.delete(settings.celery_queue, *(inbox.dispatch_key(site.tenant.id, o) for o in ("sub_a", "sub_b")))
        await redis.aclose()
        await db.dispose()
