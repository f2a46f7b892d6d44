"""Billing tests: the real `stripe` library against the local Stripe stand-in, signed webhooks
posted to the app, and a real Celery worker configured for the same stand-in."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from lms.app import create_app
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.tenancy.models import Plan, Tenant
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.stripe_standin import API_KEY, WEBHOOK_SECRET, StripeStandIn, running_standin, signed
from tests.support import TEST_BASE_DOMAIN, celery_worker

GRACE_SECONDS = 2.0
WEBHOOK = "/api/v1/billing/webhooks/stripe"

Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="session")
def stripe_standin() -> Iterator[StripeStandIn]:
    with running_standin() as standin:
        yield standin


@pytest.fixture(scope="session")
def billing_settings(settings: Settings, stripe_standin: StripeStandIn) -> Settings:
    return replace(
        settings,
        # A queue of their own: the suite's general worker (no Stripe settings) may also be running.
        celery_queue=f"{settings.celery_queue}-billing",
        stripe_api_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe_standin.api_base,
        billing_grace_days=GRACE_SECONDS / 86400,
        billing_retry_base_seconds=0.2,
        billing_max_attempts=3,
    )


@pytest.fixture(scope="session")
async def client(billing_settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(billing_settings), base_url=f"http://demo.{TEST_BASE_DOMAIN}") as client:
        yield client


@pytest.fixture(scope="session")
def worker(billing_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real worker that reaches the stand-in, on the billing tests' own queue."""
    env = {
        "STRIPE_API_KEY": API_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": billing_settings.stripe_api_base,
        "BILLING_GRACE_DAYS": str(billing_settings.billing_grace_days),
        "BILLING_RETRY_BASE_SECONDS": "0.2",
        "BILLING_MAX_ATTEMPTS": "3",
    }
    log = tmp_path_factory.mktemp("billing-worker") / "worker.log"
    with celery_worker(billing_settings, log, env=env) as process:
        yield process


@dataclass
class Site:
    """A tenant with an admin and a learner, signed in."""

    tenant: Tenant
    base: str
    admin: dict[str, str]
    learner: dict[str, str]
    learner_id: uuid.UUID


MakeSite = Callable[..., Awaitable[Site]]


@pytest.fixture
def make_site(make_tenant: MakeTenant, make_user: MakeUser, login: Login) -> MakeSite:
    async def make(plan: Plan = Plan.TRIAL, seats: int = 0) -> Site:
        tenant = await make_tenant(plan=plan, seats=seats)
        admin = await make_user(tenant, roles=["tenant_admin"])
        learner = await make_user(tenant, roles=["learner"])
        return Site(tenant, host(tenant), await login(admin), await login(learner), learner.id)

    return make


Deliver = Callable[..., Awaitable[list[dict[str, Any]]]]


@pytest.fixture
def deliver(client: Client) -> Deliver:
    """Post events to the webhook as Stripe would (signed); returns each answer's JSON."""

    async def post(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answers = []
        for event in events:
            payload = json.dumps(event).encode()
            response = await client.post(WEBHOOK, content=payload, headers=signed(payload))
            assert response.status_code == 200, response.text
            answers.append(response.json())
        return answers

    return post


def checkout_session_id(url: str) -> str:
    match = re.search(r"(cs_test_[A-Za-z0-9]+)", url)
    assert match, url
    return match.group(1)


async def outbox_subjects(db: Database, tenant: Tenant) -> list[str]:
    from sqlalchemy import text

    async with tenant_session(db.app_sessions, tenant.id) as session:
        rows = await session.execute(text("select subject from email_outbox order by created_at"))
        return [r.subject for r in rows]
