"""Paid courses: a priced course is enrolled only after a completed Checkout payment; a refund ends
the enrolment; promotion codes are allowed; receipts are e-mailed."""

from __future__ import annotations

from typing import Any

from lms.db.engines import Database
from lms.tenancy.models import Plan
from tests.conftest import Login, MakeUser, eventually
from tests.integration.billing.conftest import Client, Deliver, MakeSite, Site, checkout_session_id, outbox_subjects
from tests.integration.catalog.helpers import build_course, instructor
from tests.stripe_standin import StripeStandIn


async def enrolment_status(client: Client, site: Site, course_id: str) -> str | None:
    page = await client.get(f"{site.base}/api/v1/enrollments?course_id={course_id}", headers=site.learner)
    items = page.json()["items"]
    return items[0]["status"] if items else None


async def test_learner_buys_a_course_is_enrolled_then_refunded_and_loses_access(
    client: Client,
    worker: Any,
    stripe_standin: StripeStandIn,
    deliver: Deliver,
    make_site: MakeSite,
    make_user: MakeUser,
    login: Login,
    db: Database,
) -> None:
    site = await make_site(Plan.TEAM)
    _, author = await instructor(make_user, login, site.tenant)
    course = await build_course(client, site.tenant, author, price_cents=4900, currency="EUR")

    free_ride = await client.post(
        f"{site.base}/api/v1/enrollments", json={"course_id": course.id}, headers=site.learner
    )
    assert free_ride.status_code == 402
    assert free_ride.json()["error"]["code"] == "payment_required"
    assert free_ride.json()["error"]["field"] == "course_id"

    bought = await client.post(f"{site.base}/api/v1/billing/courses/{course.id}/checkout", headers=site.learner)
    assert bought.status_code == 201, bought.text
    assert bought.json()["status"] == "pending"
    session_id = checkout_session_id(bought.json()["checkout_url"])
    checkout = stripe_standin.state.objects[session_id]
    assert checkout["mode"] == "payment"
    assert checkout["allow_promotion_codes"] is True
    assert checkout["amount_total"] == 4900
    # Nothing is granted before Stripe confirms the payment.
    assert await enrolment_status(client, site, course.id) is None

    paid = stripe_standin.state.complete_checkout(session_id, promotion_off_cents=900)
    await deliver(stripe_standin.take_events())

    async def enrolled() -> bool:
        return await enrolment_status(client, site, course.id) == "active"

    await eventually(enrolled)
    lesson = next(iter(course.lessons.values()))
    lesson_url = f"{site.base}/api/v1/me/learning/courses/{course.id}/lessons/{lesson}"
    opened = await client.get(lesson_url, headers=site.learner)
    assert opened.status_code == 200, opened.text

    stripe_standin.state.refund(paid["payment_intent"])
    await deliver(stripe_standin.take_events())

    async def refunded() -> bool:
        return await enrolment_status(client, site, course.id) == "refunded"

    await eventually(refunded)
    closed = await client.get(lesson_url, headers=site.learner)
    assert closed.status_code in (403, 404)
    again = await client.post(f"{site.base}/api/v1/enrollments", json={"course_id": course.id}, headers=site.learner)
    assert again.status_code in (200, 402)
    assert await enrolment_status(client, site, course.id) == "refunded"
    subjects = await outbox_subjects(db, site.tenant)
    assert any(": Receipt: " in s for s in subjects)
    assert any(": Refund: " in s for s in subjects)


async def test_a_refund_that_arrives_before_the_payment_still_ends_refunded(
    client: Client,
    worker: Any,
    stripe_standin: StripeStandIn,
    deliver: Deliver,
    make_site: MakeSite,
    make_user: MakeUser,
    login: Login,
) -> None:
    site = await make_site(Plan.TEAM)
    _, author = await instructor(make_user, login, site.tenant)
    course = await build_course(client, site.tenant, author, price_cents=1500, currency="EUR")
    bought = await client.post(f"{site.base}/api/v1/billing/courses/{course.id}/checkout", headers=site.learner)
    session_id = checkout_session_id(bought.json()["checkout_url"])
    paid = stripe_standin.state.complete_checkout(session_id)
    stripe_standin.state.refund(paid["payment_intent"])
    await deliver(list(reversed(stripe_standin.take_events())))

    async def refunded() -> bool:
        return await enrolment_status(client, site, course.id) in ("refunded", None)

    await eventually(refunded)
    assert await enrolment_status(client, site, course.id) != "active"


async def test_courses_are_not_sold_on_plans_without_it_and_free_courses_are_not_sold(
    client: Client, make_site: MakeSite, make_user: MakeUser, login: Login
) -> None:
    trial = await make_site(Plan.TRIAL)
    _, author = await instructor(make_user, login, trial.tenant)
    priced = await build_course(client, trial.tenant, author, price_cents=900, currency="EUR")
    refused = await client.post(f"{trial.base}/api/v1/billing/courses/{priced.id}/checkout", headers=trial.learner)
    assert refused.status_code == 403
    team = await make_site(Plan.TEAM)
    _, team_author = await instructor(make_user, login, team.tenant)
    free = await build_course(client, team.tenant, team_author)
    not_for_sale = await client.post(f"{team.base}/api/v1/billing/courses/{free.id}/checkout", headers=team.learner)
    assert not_for_sale.status_code == 422
    # Another site's course does not exist here.
    foreign = await client.post(f"{team.base}/api/v1/billing/courses/{priced.id}/checkout", headers=team.learner)
    assert foreign.status_code == 404
    # Admins assign priced courses on the organisation's behalf, without a payment.
    assigned = await client.post(
        f"{trial.base}/api/v1/enrollments",
        json={"course_id": priced.id, "user_id": str(trial.learner_id)},
        headers=trial.admin,
    )
    assert assigned.status_code == 201, assigned.text
