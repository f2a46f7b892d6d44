"""Billing reads other domains may call: the bound tenant's features, seat policy, standing and
whether a learner has paid for a course. Each runs on the caller's tenant-bound session."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.billing.models import BillingAccount, BillingPlan, CoursePurchase
from lms.billing.schemas import AccountStatus, Overage, PurchaseStatus
from lms.tenancy.queries import tenant_licence


@dataclass(frozen=True)
class Licence:
    """What the bound tenant may use: its plan's features and its seats."""

    plan: str
    features: frozenset[str]
    # Licensed plus complimentary seats; 0 = no limit configured.
    seat_limit: int
    overage_allowed: bool
    status: str


async def licence_of(session: AsyncSession, tenant_id: UUID) -> Licence:
    """The tenant's licence: its billing account, or (before it has one) the plan and seats an
    operator or a manifest set on the tenant."""
    account = (
        await session.execute(
            select(BillingAccount.plan_key, BillingAccount.seats, BillingAccount.comp_seats, BillingAccount.status)
        )
    ).first()
    if account is not None:
        plan_key, seats, status = account.plan_key, account.seats + account.comp_seats, account.status
    else:
        given = await tenant_licence(session, tenant_id)
        plan_key, seats, status = (given.plan, given.seats, AccountStatus.ACTIVE) if given else ("trial", 0, "active")
    plan = (
        await session.execute(select(BillingPlan.features, BillingPlan.overage).where(BillingPlan.key == plan_key))
    ).first()
    features = frozenset(plan.features) if plan is not None else frozenset()
    overage = plan is not None and plan.overage == Overage.BILL
    return Licence(plan_key, features, seats, overage, str(status))


async def has_paid_for_course(session: AsyncSession, user_id: UUID, course_id: UUID) -> bool:
    """True when the learner holds a completed Checkout payment for the course that was not refunded
    in full (a partial refund keeps the course)."""
    paid = exists().where(
        CoursePurchase.user_id == user_id,
        CoursePurchase.course_id == course_id,
        CoursePurchase.status.in_([PurchaseStatus.PAID, PurchaseStatus.PARTIALLY_REFUNDED]),
    )
    return bool(await session.scalar(select(paid)))
