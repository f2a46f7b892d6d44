"""What the operator console shows beyond the tenant records: activity, storage and billing per tenant,
single sign-on state, usage over time, and the platform's health (queues, the progress fold, dead
letters, failed jobs, 5xx)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.analytics.courses.services import tenant_days
from lms.billing.schemas import OperatorBillingOut, OverrideIn
from lms.billing.services.accounts import list_plans
from lms.billing.services.operators import accounts_by_tenant, billing_of
from lms.billing.services.seats import seat_history
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.identity.accounts.services.directory import UserDirectory
from lms.identity.schemas import UserCreate
from lms.learning.queries import seats_in_use_by_tenant
from lms.learning.services import DeadLetterOut, StreamKeys, list_dead_letters
from lms.lib import clock
from lms.lib.errors import ValidationFailed
from lms.lib.metrics import RouteErrors, failed_jobs_key, server_errors_by_route
from lms.lib.pagination import Page
from lms.tenancy.models import Tenant

FAILED_JOBS_SHOWN = 20


@dataclass(frozen=True)
class TenantActivity:
    storage_bytes: int = 0
    last_activity: datetime | None = None
    sso_providers: int = 0


async def tenant_activity(session: AsyncSession, ids: list[UUID]) -> dict[UUID, TenantActivity]:
    """Media storage, the latest sign-in and the single sign-on providers of each tenant (operator session)."""
    found: dict[UUID, dict[str, Any]] = {i: {} for i in ids}
    if not ids:
        return {}
    queries = {
        "storage_bytes": "select tenant_id, coalesce(sum(size_bytes), 0) from media_assets"
        " where tenant_id = any(:ids) group by tenant_id",
        "last_activity": "select tenant_id, max(last_login_at) from users"
        " where tenant_id = any(:ids) group by tenant_id",
        "sso_providers": "select tenant_id, count(*) from sso_providers where tenant_id = any(:ids) group by tenant_id",
    }
    for name, sql in queries.items():
        for tenant_id, value in await session.execute(text(sql), {"ids": ids}):
            found[tenant_id][name] = value
    return {
        tenant_id: TenantActivity(
            storage_bytes=int(values.get("storage_bytes") or 0),
            last_activity=values.get("last_activity"),
            sso_providers=int(values.get("sso_providers") or 0),
        )
        for tenant_id, values in found.items()
    }


@dataclass(frozen=True)
class TenantBilling:
    """A row of the tenants list: the billing account's plan, seats and state (None before the tenant
    has an account: then the plan and seats of the tenant record apply) and the seats in use now."""

    plan: str | None
    status: str | None
    seats: int | None
    comp_seats: int
    seats_used: int
    trial_ends_at: datetime | None


async def billing_by_tenant(session: AsyncSession, ids: list[UUID]) -> dict[UUID, TenantBilling]:
    """The billing columns of the tenants list, for a page of tenants at once (operator session)."""
    accounts = await accounts_by_tenant(session, ids)
    used = await seats_in_use_by_tenant(session, ids)
    found: dict[UUID, TenantBilling] = {}
    for tenant_id in ids:
        account = accounts.get(tenant_id)
        found[tenant_id] = TenantBilling(
            plan=account.plan_key if account else None,
            status=account.status if account else None,
            seats=account.seats if account else None,
            comp_seats=account.comp_seats if account else 0,
            seats_used=used.get(tenant_id, 0),
            trial_ends_at=account.trial_ends_at if account else None,
        )
    return found


USAGE_DAYS = 90


@dataclass(frozen=True)
class UsageDay:
    day: date
    # None on a day without a seat snapshot (the daily job had not run, or the tenant did not exist).
    seats_used: int | None
    seats_licensed: int | None
    enrolments: int
    completions: int
    # Media storage from the same snapshot; None without one (or one taken before storage was recorded).
    storage_bytes: int | None = None


@dataclass(frozen=True)
class TenantUsage:
    days: list[UsageDay]
    billing: OperatorBillingOut


async def tenant_usage(db: Database, settings: Settings, tenant_id: UUID, days: int = USAGE_DAYS) -> TenantUsage:
    """One tenant's billing and its usage per day over the last `days` days (today included): seats and
    storage from the daily seat snapshots, enrolments and completions from the course rollups. Read on a session
    bound to the tenant, so RLS scopes every row as it does for the tenant's own pages."""
    today = clock.now().date()
    since = today - timedelta(days=days - 1)
    async with tenant_session(db.app_sessions, tenant_id) as session:
        billing = await billing_of(session, settings, tenant_id)
        seats = {snapshot.day: snapshot for snapshot in await seat_history(session, since)}
        learning = await tenant_days(session, since)
    series = []
    for offset in range(days):
        day = since + timedelta(days=offset)
        snapshot = seats.get(day)
        enrolled, completed = learning.get(day, (0, 0))
        series.append(
            UsageDay(
                day=day,
                seats_used=snapshot.used if snapshot else None,
                seats_licensed=snapshot.licensed if snapshot else None,
                enrolments=enrolled,
                completions=completed,
                storage_bytes=snapshot.storage_bytes if snapshot else None,
            )
        )
    return TenantUsage(days=series, billing=billing)


async def override_confirmation(db: Database, settings: Settings, tenant_id: UUID, change: OverrideIn) -> str | None:
    """What an override would take away, so the operator confirms it first: "seats" when it brings the
    licensed seats below those in use (new learners are refused), "plan" when it moves the tenant to a
    smaller plan (features stop); None when it takes nothing away."""
    async with tenant_session(db.app_sessions, tenant_id) as session:
        current = await billing_of(session, settings, tenant_id)
        ranks = {plan.key: rank for rank, plan in enumerate(await list_plans(session))}
    seats = change.seats if change.seats is not None else current.seats
    comp = change.comp_seats if change.comp_seats is not None else current.comp_seats
    # 0 licensed seats means no limit is configured.
    if 0 < seats + comp < current.seats + current.comp_seats and seats + comp < current.seats_used:
        return "seats"
    # An unknown plan is refused by the override itself, naming the field.
    if change.plan in ranks and ranks[change.plan or ""] < ranks.get(current.plan, 0):
        return "plan"
    return None


def first_admin(email: str, name: str) -> UserCreate:
    """The invitation of a new tenant's first administrator, checked before anything is written."""
    try:
        return msgspec.convert({"email": email, "display_name": name or email, "roles": ["tenant_admin"]}, UserCreate)
    except msgspec.ValidationError as exc:
        field_name = "admin_email" if "email" in str(exc) else "admin_name"
        raise ValidationFailed(
            "enter the administrator's e-mail address, like name@example.com", field=field_name
        ) from exc


async def invite_first_admin(db: Database, settings: Settings, tenant: Tenant, invitation: UserCreate) -> None:
    """Invite the tenant's first administrator: an invitation e-mail with a link to choose a password."""
    local = settings.public_base_domain == "localhost"
    host = f"{tenant.slug}.{settings.public_base_domain}"
    site = f"http://{host}:{settings.port}" if local else f"{settings.public_scheme}://{host}"
    async with tenant_session(db.app_sessions, tenant.id) as session:
        await UserDirectory(session, tenant.id, settings, site).create_with_link(invitation)


@dataclass(frozen=True)
class FailedJob:
    task: str
    task_id: str
    tenant_id: str | None
    error: str
    at: str


@dataclass(frozen=True)
class PlatformHealth:
    queues: list[tuple[str, int]]
    fold_backlog: int
    fold_lag_seconds: float
    dead_letters: Page[DeadLetterOut]
    failed_jobs: list[FailedJob]
    errors_by_route: list[RouteErrors] = field(default_factory=list)


async def fold_backlog(redis: Any, stream: str) -> tuple[int, float]:
    """(entries waiting, seconds the oldest has waited): the fold deletes what it has stored."""
    waiting = int(await redis.xlen(stream))
    if not waiting:
        return 0, 0.0
    first = await redis.xrange(stream, min="-", max="+", count=1)
    if not first:
        return 0, 0.0
    entry_id = first[0][0].decode() if isinstance(first[0][0], bytes) else str(first[0][0])
    return waiting, max(0.0, time.time() - int(entry_id.split("-", 1)[0]) / 1000.0)


async def platform_health(db: Database, redis: Any, settings: Settings, limit: int, offset: int) -> PlatformHealth:
    queue = settings.celery_queue
    waiting, lag = await fold_backlog(redis, StreamKeys.for_queue(queue).stream)
    async with db.operator_sessions() as session:
        letters = await list_dead_letters(session, None, limit, offset)
    failed = []
    for raw in await redis.lrange(failed_jobs_key(queue), 0, FAILED_JOBS_SHOWN - 1):
        try:
            record = json.loads(raw)
            failed.append(
                FailedJob(
                    str(record.get("task", "")),
                    str(record.get("task_id", "")),
                    record.get("tenant_id"),
                    str(record.get("error", "")),
                    str(record.get("at", "")),
                )
            )
        except (ValueError, AttributeError):
            continue
    return PlatformHealth(
        queues=[(queue, int(await redis.llen(queue)))],
        fold_backlog=waiting,
        fold_lag_seconds=lag,
        dead_letters=letters,
        failed_jobs=failed,
        errors_by_route=server_errors_by_route(),
    )
