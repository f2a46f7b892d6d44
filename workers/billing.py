"""Billing task wrappers: handle stored Stripe events (retried with backoff, then dead-lettered),
enforce grace periods and ended trials, and take the daily seat snapshot (which bills the overage)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.services.accounts import end_expired_trial, enforce_grace_period
from lms.billing.services.inbox import (
    DISPATCH_HOLD_MS,
    Handled,
    dispatch_key,
    handle,
    mark_dead,
    note_failure,
    object_of,
    stale_received_events,
    waiting_event,
)
from lms.billing.services.operators import tenants_due_for_enforcement
from lms.billing.services.overage import bill_closed_periods
from lms.billing.services.seats import snapshot_seats
from lms.billing.tasks import (
    ENFORCE_GRACE_TASK,
    ENFORCE_GRACE_TENANT_TASK,
    HANDLE_EVENT_TASK,
    REQUEUE_EVENTS_TASK,
    SNAPSHOT_SEATS_TASK,
    SNAPSHOT_SEATS_TENANT_TASK,
)
from lms.config import get_settings
from lms.lib.jobs import run_in_tenant
from lms.tenancy.queries import active_tenant_ids
from workers.app import celery_app
from workers.leases import sync_redis
from workers.runtime import TransientFailure, app_sessions, database, run, tenant_task

log = structlog.get_logger("lms.workers.billing")


async def _handle(session: AsyncSession, tenant_id: UUID, row_id: UUID) -> Handled:
    return await handle(session, get_settings(), tenant_id, row_id)


@celery_app.task(name=HANDLE_EVENT_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def handle_stripe_event_task(self: Any, tenant_id: str, row_id: str) -> str:
    """Handle one stored Stripe event once; a failure is retried with exponential backoff and, after
    `BILLING_MAX_ATTEMPTS`, the event is left `dead` with its reason (it blocks no other event)."""
    settings = get_settings()
    tenant, row = UUID(tenant_id), UUID(row_id)
    try:
        handled = run(run_in_tenant(app_sessions(), HANDLE_EVENT_TASK, tenant, row, _handle))
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        attempt = self.request.retries + 1
        if attempt >= settings.billing_max_attempts:
            run(mark_dead(database(), tenant, row, f"gave up after {attempt} attempts: {reason}"))
            _hand_on_safely(tenant, row)
            return "dead"
        run(note_failure(database(), tenant, row, reason))
        raise self.retry(countdown=settings.billing_retry_base_seconds * 2**self.request.retries) from exc
    if handled.object_id is not None:
        _hand_on_safely(tenant, row, handled.object_id)
    return handled.outcome


def _hand_on_safely(tenant_id: UUID, row_id: UUID, object_id: str | None = None) -> None:
    try:
        run(_hand_on(tenant_id, row_id, object_id))
    except Exception:  # the beat re-sends whatever is left unhandled; the handled event stays handled
        log.warning("could not hand on to waiting stripe events", tenant_id=str(tenant_id), exc_info=True)


_dispatch_redis: Any = None


async def _hand_on(tenant_id: UUID, row_id: UUID, object_id: str | None) -> None:
    """Release this object's dispatch claim, then send a job for an event that arrived meanwhile
    (its own accept found the claim held and sent none). `object_id`: the handled event's, when known."""
    global _dispatch_redis
    if _dispatch_redis is None:
        _dispatch_redis = sync_redis(get_settings().redis_url or "")
    object_id = object_id or await object_of(database(), tenant_id, row_id)
    if object_id is None:
        return
    key = dispatch_key(tenant_id, object_id)
    _dispatch_redis.delete(key)
    waiting = await waiting_event(database(), tenant_id, object_id)
    if waiting is not None and _dispatch_redis.set(key, "1", nx=True, px=DISPATCH_HOLD_MS):
        handle_stripe_event_task.delay(str(tenant_id), str(waiting))


@tenant_task(ENFORCE_GRACE_TENANT_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
async def enforce_grace_tenant_task(session: AsyncSession, tenant_id: UUID, _: UUID) -> bool:
    """Suspend the tenant for learners if its grace period (or its trial) is over; idempotent."""
    settings = get_settings()
    return await enforce_grace_period(session, settings, tenant_id) or await end_expired_trial(
        session, settings, tenant_id
    )


async def _due() -> list[UUID]:
    async with database().operator_sessions() as session:
        return await tenants_due_for_enforcement(session)


@celery_app.task(name=ENFORCE_GRACE_TASK)
def enforce_grace_periods_task() -> int:
    """Beat, hourly: one job per tenant that is past due or whose trial ended."""
    due = run(_due())
    for tenant_id in due:
        enforce_grace_tenant_task.delay(str(tenant_id), str(tenant_id))
    return len(due)


@tenant_task(SNAPSHOT_SEATS_TENANT_TASK, autoretry_for=(TransientFailure,), retry_backoff=True, max_retries=5)
async def snapshot_tenant_seats_task(session: AsyncSession, tenant_id: UUID, _: UUID) -> int:
    """Today's seat utilisation of one tenant (an upsert: running twice a day keeps one row), then the
    overage of its closed billing periods, billed once each."""
    used = await snapshot_seats(session, tenant_id)
    await bill_closed_periods(session, get_settings(), tenant_id)
    return used


async def _active() -> list[UUID]:
    async with database().operator_sessions() as session:
        return await active_tenant_ids(session)


@celery_app.task(name=SNAPSHOT_SEATS_TASK)
def snapshot_seats_task() -> int:
    """Beat, daily: the seat snapshot of every active tenant."""
    tenants = run(_active())
    for tenant_id in tenants:
        snapshot_tenant_seats_task.delay(str(tenant_id), str(tenant_id))
    return len(tenants)


async def _stale() -> list[tuple[UUID, UUID]]:
    async with database().operator_sessions() as session:
        return await stale_received_events(session)


@celery_app.task(name=REQUEUE_EVENTS_TASK)
def requeue_stale_events_task() -> int:
    """Beat, every few minutes: events stored but never handled get their job again (handling is idempotent)."""
    stale = run(_stale())
    for tenant_id, row_id in stale:
        handle_stripe_event_task.delay(str(tenant_id), str(row_id))
    return len(stale)
