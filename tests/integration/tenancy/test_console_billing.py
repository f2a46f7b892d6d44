"""Operators read each tenant's billing and usage over time in the console, and override it (comp seats,
extend a trial, change plan and seats) there or through the operator API: validated field by field,
confirmed when it takes something away, and audited with operator, before, after and reason."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from lms.analytics.courses.models import CourseDay
from lms.billing.models import BillingAccount, SeatSnapshot
from lms.billing.services.seats import snapshot_seats
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.lib import clock
from lms.tenancy.console.services import USAGE_DAYS, tenant_usage
from lms.tenancy.models import Plan
from tests import factories
from tests.conftest import Login, MakeTenant, MakeUser
from tests.integration.tenancy.test_operator_api import OPS, Client, bearer
from tests.integration.tenancy.test_operator_console import CONSOLE, audit_of, signed_in_operator

OVERRIDE = OPS + "/billing/tenants/{}/override"


async def account_of(db: Database, tenant_id: uuid.UUID) -> BillingAccount:
    async with tenant_session(db.app_sessions, tenant_id) as session:
        account = await session.scalar(select(BillingAccount))
        assert account is not None
        return account


async def test_the_tenant_page_shows_billing_and_an_operator_comps_seats_with_a_reason(
    client: Client, db: Database, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant(plan=Plan.TRIAL)
    operator = await signed_in_operator(client, db)
    page = await operator.get(f"{CONSOLE}/tenants/{tenant.id}")
    assert page.status_code == 200, page.text
    assert 'id="billing-title"' in page.text
    assert "Usage over the last 90 days" in page.text
    assert "No enrolments in the last 90 days." in page.text  # a chart of zeros says nothing
    assert "Usage per day" in page.text  # the numbers, in a table
    assert "Extend the trial" in page.text

    url = f"{CONSOLE}/tenants/{tenant.id}/billing"
    done = await operator.post(url, {"action": "comp", "comp_seats": "5", "comp_reason": "pilot customer"})
    assert done.status_code == 303, done.text
    assert (await account_of(db, tenant.id)).comp_seats == 5
    (entry,) = [e for e in await audit_of(db, tenant.id) if e.action == "billing_override"]
    assert entry.operator_id is not None
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["comp_seats"], entry.after["comp_seats"], entry.after["reason"]) == (0, 5, "pilot customer")
    shown = await operator.get(f"{CONSOLE}/tenants/{tenant.id}")
    assert "comp_seats: 0 → 5" in shown.text
    assert "pilot customer" in shown.text

    extended = await operator.post(
        url, {"action": "trial", "extend_trial_days": "30", "trial_reason": "evaluation runs late"}
    )
    assert extended.status_code == 303, extended.text
    before = entry.before["trial_ends_at"]
    after = (await account_of(db, tenant.id)).trial_ends_at
    assert after is not None
    assert before is not None
    assert after.isoformat() > before


async def test_bad_overrides_name_the_field_and_change_nothing(
    client: Client, db: Database, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()  # enterprise, 10 seats: active, not on trial
    operator = await signed_in_operator(client, db)
    url = f"{CONSOLE}/tenants/{tenant.id}/billing"
    cases: list[tuple[dict[str, str], str]] = [
        ({"action": "comp", "comp_seats": "many", "comp_reason": "x"}, "comp_seats"),
        ({"action": "comp", "comp_seats": "-1", "comp_reason": "x"}, "comp_seats"),
        ({"action": "comp", "comp_seats": "3", "comp_reason": ""}, "comp_reason"),
        ({"action": "trial", "extend_trial_days": "999", "trial_reason": "x"}, "extend_trial_days"),
        ({"action": "trial", "extend_trial_days": "10", "trial_reason": "x"}, "extend_trial_days"),  # not on trial
        ({"action": "plan", "plan": "platinum", "seats": "10", "plan_reason": "x"}, "plan"),
    ]
    for form, field in cases:
        answer = await operator.post(url, form)
        assert answer.status_code == 422, (form, answer.text)
        assert f'href="#{field}"' in answer.text, (form, field)
    account = await account_of(db, tenant.id)
    assert (account.plan_key, account.seats, account.comp_seats) == ("enterprise", 10, 0)
    assert not [e for e in await audit_of(db, tenant.id) if e.action == "billing_override"]

    unknown = await operator.post(f"{CONSOLE}/tenants/{uuid.uuid4()}/billing", {"action": "comp", "comp_seats": "1"})
    assert unknown.status_code == 404
    no_action = await operator.post(url, {"action": "refund", "comp_reason": "x"})
    assert no_action.status_code == 404


async def test_a_smaller_plan_or_fewer_seats_than_in_use_needs_confirming(
    client: Client, db: Database, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    operator = await signed_in_operator(client, db)
    url = f"{CONSOLE}/tenants/{tenant.id}/billing"
    smaller = {"action": "plan", "plan": "team", "seats": "10", "plan_reason": "downgrade asked by customer"}
    unconfirmed = await operator.post(url, smaller)
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm" in unconfirmed.text
    assert 'id="confirm_plan"' in unconfirmed.text
    assert (await account_of(db, tenant.id)).plan_key == "enterprise"

    confirmed = await operator.post(url, {**smaller, "seats": "25", "confirm": "yes"})
    assert confirmed.status_code == 303, confirmed.text
    account = await account_of(db, tenant.id)
    assert (account.plan_key, account.seats) == ("team", 25)
    # A larger plan takes nothing away: no confirmation.
    larger = await operator.post(url, {"action": "plan", "plan": "business", "plan_reason": "upsell"})
    assert larger.status_code == 303, larger.text
    assert (await account_of(db, tenant.id)).plan_key == "business"


async def test_the_console_refuses_visitors_who_are_not_signed_in_operators(
    client: Client, make_tenant: MakeTenant, make_user: MakeUser, login: Login
) -> None:
    tenant = await make_tenant()
    admin = await make_user(tenant, roles=["tenant_admin"])
    for headers in ({}, await login(admin)):
        page = await client.get(
            f"{CONSOLE}/tenants/{tenant.id}", headers={**headers, "Accept": "text/html"}, follow_redirects=False
        )
        assert page.status_code == 303
        assert page.headers["location"].startswith("/operator/sign-in")


# --- the operator API ----------------------------------------------------------------------------


async def test_the_api_sets_seats_of_a_tenant_invoiced_outside_stripe_but_not_of_a_stripe_subscriber(
    client: Client, db: Database, operator_token: str, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    ops = bearer(operator_token)
    done = await client.post(OVERRIDE.format(tenant.id), json={"reason": "contract", "seats": 40}, headers=ops)
    assert done.status_code == 200, done.text
    assert (done.json()["seats"], done.json()["comp_seats"]) == (40, 0)
    entry = next(e for e in await audit_of(db, tenant.id) if e.action == "billing_override")
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["seats"], entry.after["seats"], entry.after["reason"]) == (10, 40, "contract")

    async with tenant_session(db.app_sessions, tenant.id) as session:
        await session.execute(
            update(BillingAccount).values(stripe_subscription_id="sub_123", stripe_customer_id="cus_1")
        )
    refused = await client.post(OVERRIDE.format(tenant.id), json={"reason": "x", "seats": 60}, headers=ops)
    assert refused.status_code == 409
    assert refused.json()["error"]["field"] == "seats"
    assert (await account_of(db, tenant.id)).seats == 40
    billing = await client.get(f"{OPS}/billing/tenants/{tenant.id}", headers=ops)
    assert billing.json()["stripe_subscription_id"] == "sub_123"

    unknown = await client.post(OVERRIDE.format(uuid.uuid4()), json={"reason": "x", "comp_seats": 1}, headers=ops)
    assert unknown.status_code == 404
    await client.delete(f"{OPS}/tenants/{tenant.id}", headers=ops)
    deleted = await client.post(OVERRIDE.format(tenant.id), json={"reason": "x", "comp_seats": 1}, headers=ops)
    assert deleted.status_code == 409


async def test_usage_over_time_comes_from_the_seat_snapshots_and_the_course_rollups(
    client: Client, db: Database, settings: Settings, operator_token: str, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    today = clock.now().date()
    course = uuid.uuid4()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        for days_ago, used, storage in ((1, 7, 5 * 1_048_576), (10, 4, None), (120, 99, 1)):  # the last: too old
            day = today - timedelta(days=days_ago)
            session.add(SeatSnapshot(tenant_id=tenant.id, day=day, used=used, licensed=10, storage_bytes=storage))
        session.add(CourseDay(tenant_id=tenant.id, course_id=course, day=today - timedelta(days=1), enrolments=3))
        session.add(
            CourseDay(tenant_id=tenant.id, course_id=uuid.uuid4(), day=today - timedelta(days=1), completions=2)
        )

    usage = await tenant_usage(db, settings, tenant.id)
    assert len(usage.days) == USAGE_DAYS
    assert (usage.days[0].day, usage.days[-1].day) == (today - timedelta(days=USAGE_DAYS - 1), today)
    by_day: dict[Any, Any] = {d.day: d for d in usage.days}
    day_before = by_day[today - timedelta(days=1)]
    assert (day_before.seats_used, day_before.seats_licensed, day_before.enrolments, day_before.completions) == (
        7,
        10,
        3,
        2,
    )
    assert (by_day[today - timedelta(days=10)].seats_used, by_day[today - timedelta(days=10)].storage_bytes) == (
        4,
        None,
    )
    assert by_day[today - timedelta(days=2)].seats_used is None  # no snapshot that day: no number, not 0
    assert 99 not in [d.seats_used for d in usage.days]

    ops = bearer(operator_token)
    api = await client.get(f"{OPS}/tenants/{tenant.id}/usage?days=30", headers=ops)
    assert api.status_code == 200, api.text
    assert len(api.json()["days"]) == 30
    assert api.json()["days"][-2] == {
        "day": (today - timedelta(days=1)).isoformat(),
        "seats_used": 7,
        "seats_licensed": 10,
        "enrolments": 3,
        "completions": 2,
        "storage_bytes": 5 * 1_048_576,
    }
    assert (await client.get(f"{OPS}/tenants/{uuid.uuid4()}/usage", headers=ops)).status_code == 404
    assert (await client.get(f"{OPS}/tenants/{tenant.id}/usage?days=0", headers=ops)).status_code == 422
    assert (await client.get(f"{OPS}/tenants/{tenant.id}/usage")).status_code == 401

    operator = await signed_in_operator(client, db)
    page = await operator.get(f"{CONSOLE}/tenants/{tenant.id}")
    assert 'id="chart-seats-title"' in page.text  # the SVG charts, with the numbers in a table below
    assert 'id="chart-learning-title"' in page.text
    assert 'id="chart-storage-title"' in page.text
    assert "5 MB" in page.text
    listed = await operator.get(CONSOLE + "?offset=0")
    assert listed.status_code == 200
    assert "Seats used / licensed" in listed.text


async def test_the_nightly_snapshot_records_seats_and_storage(
    db: Database, settings: Settings, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await factories.media.make_asset(session, tenant.id, size_bytes=3000)
        await factories.media.make_asset(session, tenant.id, size_bytes=500)
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await snapshot_seats(session, tenant.id)
        await snapshot_seats(session, tenant.id)  # a second run the same day keeps one row
    usage = await tenant_usage(db, settings, tenant.id, days=1)
    (today,) = usage.days
    assert (today.seats_used, today.seats_licensed, today.storage_bytes) == (0, 10, 3500)
