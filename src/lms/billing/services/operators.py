"""The operators' view of billing: plan, seats and status of every tenant, and audited overrides."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.guards import forget_licence
from lms.billing.models import BillingAccount
from lms.billing.schemas import AccountStatus, OperatorBillingOut, OverrideIn
from lms.billing.services.accounts import audit, ensure_account, plan_by_key, snapshot, suspends_at
from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.learning.queries import seats_in_use
from lms.lib import clock
from lms.lib.errors import Conflict, ValidationFailed
from lms.tenancy.queries import tenant_profile
from lms.tenancy.services import Actor, TenantAdmin


async def billing_of(session: AsyncSession, settings: Settings, tenant_id: UUID) -> OperatorBillingOut:
    """One tenant's billing (a session bound to that tenant)."""
    account = await ensure_account(session, settings, tenant_id)
    profile = await tenant_profile(session, tenant_id)
    return OperatorBillingOut(
        tenant_id=tenant_id,
        slug=profile.slug if profile else "",
        name=profile.name if profile else "",
        plan=account.plan_key,
        status=account.status,
        seats=account.seats,
        comp_seats=account.comp_seats,
        seats_used=await seats_in_use(session),
        trial_ends_at=account.trial_ends_at,
        past_due_since=account.past_due_since,
        stripe_customer_id=account.stripe_customer_id,
        stripe_subscription_id=account.stripe_subscription_id,
        current_period_end=account.current_period_end,
        cancel_at_period_end=account.cancel_at_period_end,
        suspends_at=suspends_at(account, settings),
    )


async def accounts_by_tenant(session: AsyncSession, tenant_ids: list[UUID]) -> dict[UUID, BillingAccount]:
    """Accounts of many tenants at once (the operator's platform-wide session)."""
    rows = await session.scalars(select(BillingAccount).where(BillingAccount.tenant_id.in_(tenant_ids)))
    return {a.tenant_id: a for a in rows}


async def override(
    session: AsyncSession, settings: Settings, tenant_id: UUID, operator: str, change: OverrideIn
) -> tuple[dict[str, object], dict[str, object]]:
    """Comp seats, extend a trial, set the plan or (without a Stripe subscription) the seats by hand;
    audited with the reason. Returns (before, after)."""
    if all(v is None for v in (change.comp_seats, change.extend_trial_days, change.plan, change.seats)):
        raise ValidationFailed("name at least one change: comp_seats, extend_trial_days, plan or seats", field="body")
    account = await ensure_account(session, settings, tenant_id, lock=True)
    before = snapshot(account)
    if change.plan is not None:
        account.plan_key = (await plan_by_key(session, change.plan)).key
    if change.comp_seats is not None:
        account.comp_seats = change.comp_seats
    if change.seats is not None and change.seats != account.seats:
        if account.stripe_subscription_id and account.status != AccountStatus.CANCELED:
            # The next subscription update from Stripe would overwrite a number set here.
            raise Conflict(
                "this site pays through a Stripe subscription; its seats change there (or comp seats here)",
                field="seats",
            )
        account.seats = change.seats
    if change.extend_trial_days is not None:
        if account.status not in (AccountStatus.TRIALING, AccountStatus.SUSPENDED) or account.stripe_subscription_id:
            raise ValidationFailed(
                "only a tenant on trial (or whose trial ended) can have it extended", field="extend_trial_days"
            )
        start = max(account.trial_ends_at or clock.now(), clock.now())
        account.trial_ends_at = start + timedelta(days=change.extend_trial_days)
        account.status = AccountStatus.TRIALING
    await session.flush()
    after = snapshot(account)
    await audit(session, tenant_id, f"operator:{operator}", "override", before, {**after, "reason": change.reason})
    return before, after


async def apply_override(
    database: Database, settings: Settings, tenant_id: UUID, actor: Actor, change: OverrideIn
) -> OperatorBillingOut:
    """An operator's override of one tenant (the API's and the console's): 404 for an unknown tenant,
    409 for a deleted one; written on the tenant's own bound session, then recorded in the operators'
    audit log with before, after and the reason."""
    async with database.operator_sessions() as session:
        tenant = await TenantAdmin(session, actor, settings.public_base_domain).get(tenant_id)
        if tenant.status.value == "deleted":
            raise Conflict("a deleted tenant's billing cannot be changed", field="tenant_id")
    async with tenant_session(database.app_sessions, tenant_id) as session:
        before, after = await override(session, settings, tenant_id, actor.name, change)
        out = await billing_of(session, settings, tenant_id)
    async with database.operator_sessions() as session, session.begin():
        await TenantAdmin(session, actor, settings.public_base_domain).audit(
            "billing_override", tenant_id, before, {**after, "reason": change.reason}
        )
    forget_licence(tenant_id)
    return out


async def tenants_due_for_enforcement(session: AsyncSession) -> list[UUID]:
    """Tenants past due or on a trial that ended (the operator's platform-wide session, for the beat job);
    the per-tenant job decides, under the tenant's own binding, whether the grace period is over."""
    rows = await session.scalars(
        select(BillingAccount.tenant_id).where(
            (BillingAccount.status == AccountStatus.PAST_DUE)
            | ((BillingAccount.status == AccountStatus.TRIALING) & (BillingAccount.trial_ends_at <= clock.now()))
        )
    )
    return list(rows)
